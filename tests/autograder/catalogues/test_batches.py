"""Catalogue entries share a graded notebook only where a test keeps each one apart, and an
entry its shared notebook cannot decide is graded again alone."""

from __future__ import annotations

import nbformat
import pytest

from tests.autograder.catalogues.batches import isolating_tests, pack
from tests.autograder.catalogues.grading_runs import ASSIGNMENTS, Job, undecided
from tests.autograder.catalogues.mutations import (
    ALTERNATIVES,
    MUTANTS,
    Variant,
    reach_in,
    reach_of_tests,
)


def _entry(id_: str, function: str) -> Variant:
    return Variant(id_, "toy", function, None, "return 0")


REACH = {  # g calls f; h stands alone
    "test_f": frozenset({"f"}),
    "test_g": frozenset({"f", "g"}),
    "test_h": frozenset({"h"}),
}


def test_a_test_reaches_the_functions_it_names_and_those_they_call():
    reach = reach_of_tests("rnn_forward")
    assert reach["test_rnn_cell_forward_matches_torch"] == {"rnn_cell_forward"}
    assert reach["test_rnn_forward_matches_torch"] == {"rnn_forward", "rnn_cell_forward"}


def test_hidden_tests_count_in_the_reach():
    # the accuracy tiers name every function only inside their hidden part
    reach = reach_of_tests("forecasting")
    assert reach["test_heldout_near_reference"] == {"make_windows", "Forecaster", "train",
                                                    "forecast"}


def _toy_notebook(*cells: tuple[str, str | None]) -> nbformat.NotebookNode:
    """Code cells (source, grade_id of a test cell or None)."""
    nb = nbformat.v4.new_notebook()
    for source, grade_id in cells:
        cell = nbformat.v4.new_code_cell(source)
        if grade_id:
            cell.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": grade_id}
        nb.cells.append(cell)
    return nb


TOY_BODIES = {"train": "return fit(data)", "fit": "return 1", "sample": "return model"}


def test_a_test_reaches_the_functions_behind_the_variables_it_reads_from_earlier_cells():
    nb = _toy_notebook(("model = train(data)\nsteps = 3", None),
                       ("model2 = model", None),
                       ("out = sample(model2)\nassert out == 1", "test_sample"),
                       ("assert steps == 3", "test_steps"),
                       ("out = out + 1\nassert out == 2", "test_out"))
    reach = reach_in(nb, TOY_BODIES)
    assert reach["test_sample"] == {"sample", "train", "fit"}
    assert reach["test_steps"] == {"train", "fit"}  # the cell that set it called train
    assert reach["test_out"] == {"sample", "train", "fit"}  # reads out before it assigns it


def test_a_variable_the_test_assigns_before_reading_is_its_own():
    nb = _toy_notebook(("model = train(data)", None),
                       ("model = 1\nassert sample(model) == 1", "test_sample"))
    assert reach_in(nb, TOY_BODIES)["test_sample"] == {"sample"}


def test_a_test_that_reaches_another_changed_function_does_not_isolate():
    f, g, h = _entry("f1", "f"), _entry("g1", "g"), _entry("h1", "h")
    assert isolating_tests(g, [f, g], REACH) == []
    assert isolating_tests(f, [f, g], REACH) == ["test_f"]
    assert isolating_tests(g, [g, h], REACH) == ["test_g"]


def test_mutants_share_a_notebook_only_when_each_keeps_an_isolating_test():
    entries = [_entry("f1", "f"), _entry("f2", "f"), _entry("g1", "g"), _entry("h1", "h")]
    batches = pack(entries, REACH)
    assert sorted(len(b) for b in batches) == [1, 1, 2]  # f1+h1, f2, g1
    for batch in batches:
        assert len({v.function for v in batch}) == len(batch)
        assert {"f", "g"} not in [{v.function for v in batch}], batch
        assert all(isolating_tests(v, batch, REACH) for v in batch)


def test_alternatives_share_a_notebook_one_per_function():
    entries = [_entry("f1", "f"), _entry("f2", "f"), _entry("g1", "g")]
    assert [len(b) for b in pack(entries)] == [2, 1]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_catalogue_notebook_keeps_its_mutants_apart(assignment):
    reach = reach_of_tests(assignment)
    mutants = [m for m in MUTANTS if m.assignment == assignment]
    batches = pack(mutants, reach)
    assert sorted(v.id for b in batches for v in b) == sorted(m.id for m in mutants)
    for batch in batches:
        assert all(isolating_tests(m, batch, reach) for m in batch), batch


def _result(passed: dict[str, bool]) -> dict:
    return {"score": sum(passed.values()), "max_score": len(passed),
            "tests": [{"name": n, "passed": p} for n, p in passed.items()]}


def test_a_mutant_whose_isolating_tests_all_pass_is_graded_again_alone():
    f = next(m for m in MUTANTS if m.assignment == "char_lm" and m.function == "embed_forward")
    s = next(m for m in MUTANTS if m.assignment == "char_lm" and m.function == "sample_next")
    reach = reach_of_tests("char_lm")
    job = Job("char_lm", f"{f.id}+{s.id}", (f, s))
    tests = dict.fromkeys(reach, True)
    tests["test_sample_next_distribution"] = False
    assert undecided(job, _result(tests), reach) == [f]
    tests["test_train_char_lm_learns"] = False  # reaches embed_forward, not sample_next
    assert undecided(job, _result(tests), reach) == []


def test_every_alternative_of_a_notebook_short_of_full_marks_is_graded_again_alone():
    a, b = [next(v for v in ALTERNATIVES if v.assignment == "char_lm" and v.function == fn
                 and not v.fails) for fn in ("embed_forward", "sample_next")]
    reach = reach_of_tests("char_lm")
    job = Job("char_lm", f"{a.id}+{b.id}", (a, b))
    tests = dict.fromkeys(reach, True)
    assert undecided(job, _result(tests), reach) == []
    tests["test_sample_next_greedy"] = False
    assert undecided(job, _result(tests), reach) == [a, b]


def test_alternatives_that_fail_only_the_tests_they_declare_are_decided():
    """A shared notebook whose alternatives fail exactly the tests they declare (an in-place
    change, say) is decided; one more failure sends them to be graded again alone."""
    a = next(v for v in ALTERNATIVES if v.assignment == "char_lm" and v.fails)
    b = next(v for v in ALTERNATIVES if v.assignment == "char_lm" and not v.fails
             and v.function != a.function)
    reach = reach_of_tests("char_lm")
    job = Job("char_lm", f"{a.id}+{b.id}", (a, b))
    tests = dict.fromkeys(reach, True) | dict.fromkeys(a.fails, False)
    assert undecided(job, _result(tests), reach) == []
    tests[next(t for t in reach if t not in a.fails)] = False
    assert undecided(job, _result(tests), reach) == [a, b]
