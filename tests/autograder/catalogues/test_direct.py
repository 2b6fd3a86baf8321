"""Grading a catalogue notebook directly (``direct.py``: the grader's code, no kernel) is a
shortcut the catalogues can trust: it gives what the full pipeline gives, on every notebook
graded both ways, and the learner's code it runs in-process keeps a time limit, stays out of
the tests' output, and leaves no state to the next notebook."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from autograder.runner.execute import MAX_CALLBACK_CALLS
from autograder.runner.plan import plan_of
from autograder.settings import Limits
from tests.autograder.catalogues.direct import (
    TORCH_INITIAL_SEED,
    fresh_process_state,
    grade_directly,
    run_notebook,
)
from tests.autograder.catalogues.grading_runs import (
    ASSIGNMENTS,
    PIPELINE_ENTRIES,
    entry,
    graded_directly_result,
    graded_result,
    pipeline_jobs,
)
from tests.autograder.catalogues.mutations import ROOT, Variant, learner_notebook

BOTH_WAYS = [(a, job.key) for a in ASSIGNMENTS for job in pipeline_jobs(a)]
FIELDS = ("passed", "points", "max_points", "message")


def _source(assignment: str) -> Path:
    return ROOT / "solutions" / assignment / f"{assignment}.ipynb"


def differences(pipeline: dict, direct: dict) -> list[str]:
    """What differs between two results' tests, one line per test (empty: they agree)."""
    by_name = {t["name"]: t for t in direct["tests"]}
    out = []
    if [t["name"] for t in pipeline["tests"]] != [t["name"] for t in direct["tests"]]:
        out.append(f"tests: pipeline {[t['name'] for t in pipeline['tests']]}, "
                   f"directly {[t['name'] for t in direct['tests']]}")
    for p in pipeline["tests"]:
        d = by_name.get(p["name"])
        for field in FIELDS:
            if d is not None and p[field] != d[field]:
                out.append(f"{p['name']}.{field}: pipeline {p[field]!r}, directly {d[field]!r}")
    return out


def test_every_assignment_has_one_mutant_and_one_alternative_through_the_pipeline():
    from tests.autograder.catalogues.mutations import ALTERNATIVES, MUTANTS

    assert set(PIPELINE_ENTRIES) == set(ASSIGNMENTS)
    for assignment, (mutant, alternative) in PIPELINE_ENTRIES.items():
        assert entry(mutant) in MUTANTS and entry(mutant).assignment == assignment
        assert entry(alternative) in ALTERNATIVES
        assert entry(alternative).assignment == assignment


def test_a_difference_in_any_field_of_any_test_is_reported_by_name():
    """Does the comparison name the test and the field that differ?"""
    a = {"tests": [{"name": "t1", "passed": True, "points": 1.0, "max_points": 1.0,
                    "message": ""}]}
    b = {"tests": [{**a["tests"][0], "passed": False, "message": "ValueError: x"}]}
    assert differences(a, a) == []
    found = differences(a, b)
    assert len(found) == 2 and all(line.startswith("t1.") for line in found)
    assert differences(a, {"tests": []}) == ["tests: pipeline ['t1'], directly []"]


@pytest.mark.slow
@pytest.mark.parametrize(("assignment", "key"), BOTH_WAYS, ids=lambda x: x)
def test_direct_grading_gives_what_the_pipeline_gives(assignment, key):
    """Same tests, in the same order, with the same passed flags, points and messages?"""
    pipeline = graded_result(assignment, key)
    direct = graded_directly_result(assignment, key)
    found = differences(pipeline, direct)
    assert not found, f"{assignment} {key} graded directly differs:\n" + "\n".join(found)
    assert (direct["score"], direct["max_score"]) == (pipeline["score"], pipeline["max_score"])


def _rnn_forward_with(body: str) -> nbformat.NotebookNode:
    """rnn_forward's release with the reference everywhere but ``rnn_cell_forward``."""
    return learner_notebook("rnn_forward", Variant("toy", "rnn_forward", "rnn_cell_forward",
                                                   None, body))


def test_learner_code_that_never_returns_fails_its_tests_on_the_time_limit():
    """Does a call that loops for ever stop at the cell's time limit, with the pipeline's
    message, and do the other tests still run?"""
    result = grade_directly(_rnn_forward_with("while True:\n    pass"),
                            _source("rnn_forward"), "rnn_forward", Limits(cell_timeout=1))
    failed = {t["name"]: t["message"] for t in result["tests"] if not t["passed"]}
    assert failed and all("CellTimeoutError: the cell ran past its time limit (1 s)" in m
                          for m in failed.values()), failed
    assert set(failed) == {t["name"] for t in result["tests"]}  # each ran, none "not run"


def test_what_the_learner_prints_during_a_call_stays_out_of_the_tests_output():
    """The kernel's output during a test's call is dropped, never shown under the test."""
    nb = _rnn_forward_with('print("LEARNER-TEXT")\n'
                           "return np.tanh(x @ W_xh + h_prev @ W_hh + b_h)")
    cells, _ = run_notebook(nb, plan_of(_source("rnn_forward")), Limits())
    shown = [o.get("text", "") for c in cells if c.cell_type == "code" for o in c.outputs]
    assert not any("LEARNER-TEXT" in text for text in shown), shown


def test_each_notebook_starts_from_a_fresh_kernels_torch_state():
    """A notebook that changes torch's default dtype, seed or gradient mode leaves nothing of
    it to the next one graded in the same process."""
    import torch

    torch.set_default_dtype(torch.float64)
    torch.manual_seed(1)
    torch.set_grad_enabled(False)
    try:
        fresh_process_state()
        assert torch.get_default_dtype() == torch.float32
        assert torch.initial_seed() == TORCH_INITIAL_SEED
        assert torch.is_grad_enabled()
    finally:
        torch.set_default_dtype(torch.float32)
        torch.set_grad_enabled(True)


def test_learner_code_that_floods_the_graders_function_stops_as_the_pipeline_stops_it():
    """A call asking the grader's function for more values than a call may ask (the kernel's
    stdin budget) fails with the pipeline's ChannelLimit, and the later cells are not run."""
    flood = Variant("toy", "bptt", "numerical_gradient", None,
                    f"for _ in range({MAX_CALLBACK_CALLS + 1}):\n    f(x)\n"
                    "return np.zeros(x.shape)")
    result = grade_directly(learner_notebook("bptt", flood), _source("bptt"), "bptt")
    messages = [t["message"] for t in result["tests"] if not t["passed"]]
    assert any(m.startswith("ChannelLimit: ") and "the kernel was stopped" in m
               for m in messages), messages
    assert any(m.startswith("NotRun: ") for m in messages), messages
