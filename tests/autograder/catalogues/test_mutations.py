"""The graders are fair: every plausible bug loses points, every correct variant gets full
marks. Catalogue entries (mutations.py, variants_*.py) are injected into the release
notebook, whose other functions are filled with the reference code, and graded by the
grader's own code without a kernel (direct.py; test_direct.py checks it against the full
pipeline); entries of different functions share a notebook where tests keep them apart
(batches.py)."""

from __future__ import annotations

import ast

import pytest

from tests.autograder.catalogues.grading_runs import ASSIGNMENTS, verdict
from tests.autograder.catalogues.mutations import (
    ALTERNATIVES,
    MUTANTS,
    learner_notebook,
    solution_bodies,
)

ALL = MUTANTS + ALTERNATIVES


def test_catalogue_has_at_least_thirty_mutants_covering_every_assignment():
    assert len(MUTANTS) >= 30
    assert {m.assignment for m in MUTANTS} == set(ASSIGNMENTS)
    assert {a.assignment for a in ALTERNATIVES} == set(ASSIGNMENTS)


def test_catalogue_ids_are_unique():
    ids = [v.id for v in ALL]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("variant", ALL, ids=lambda v: v.id)
def test_variant_edits_the_reference_and_gives_valid_python(variant):
    bodies = solution_bodies(variant.assignment)
    assert variant.function in bodies, f"no solution region for {variant.function}"
    body = variant.body(bodies[variant.function])
    assert body != bodies[variant.function]
    nb = learner_notebook(variant.assignment, variant)
    for cell in nb.cells:
        if cell.cell_type == "code":
            ast.parse(cell.source)
            assert "raise NotImplementedError()" not in cell.source


@pytest.mark.slow
@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda v: v.id)
def test_mutant_loses_points(mutant):
    v = verdict(mutant)
    deciding = [t for t in v.result["tests"] if v.deciding is None or t["name"] in v.deciding]
    assert any(not t["passed"] for t in deciding), (
        f"{mutant.id} survived: {'every test' if v.deciding is None else v.deciding} passed")


@pytest.mark.slow
@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda v: v.id)
def test_mutant_feedback_is_a_short_diagnostic_not_a_grader_error(mutant):
    v = verdict(mutant)
    messages = [t["message"] for t in v.result["tests"] if not t["passed"]]
    assert messages and all(m and m.count("\n") <= 2 for m in messages), messages
    assert not any("NotImplementedError" in m for m in messages), messages


def test_only_alternatives_expect_failed_tests_and_only_mutants_name_their_mistake():
    assert not any(m.fails for m in MUTANTS)
    assert not any(a.names for a in ALTERNATIVES)


@pytest.mark.slow
@pytest.mark.parametrize("mutant", [m for m in MUTANTS if m.names], ids=lambda v: v.id)
def test_mutant_feedback_names_its_mistake(mutant):
    v = verdict(mutant)
    deciding = [t for t in v.result["tests"] if v.deciding is None or t["name"] in v.deciding]
    messages = [t["message"] for t in deciding if not t["passed"]]
    assert any(mutant.names in m for m in messages), messages


@pytest.mark.slow
@pytest.mark.parametrize("alternative", ALTERNATIVES, ids=lambda v: v.id)
def test_alternative_gets_full_marks(alternative):
    """Full marks, or exactly the tests the entry expects to fail (an in-place change of an
    argument loses that function's in-place test, never a test of its values)."""
    v = verdict(alternative)
    failed = {t["name"]: t["message"] for t in v.result["tests"] if not t["passed"]}
    shared = [e for e in ALTERNATIVES if e.id in v.shared_with]  # in one notebook with it
    expected = set(alternative.fails).union(*(e.fails for e in shared))
    assert set(failed) == expected, "; ".join(f"{k}: {m}" for k, m in failed.items())
    lost = sum(t["max_points"] for t in v.result["tests"] if t["name"] in expected)
    assert v.result["score"] == v.result["max_score"] - lost
