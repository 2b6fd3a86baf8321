"""Every assignment's solution scores full marks and its release scores 0, through the
autograder with hidden tests, without a grader error."""

from __future__ import annotations

import pytest

from tests.autograder.catalogues.grading_runs import ASSIGNMENTS, graded_result


def _failures(result: dict) -> str:
    return "; ".join(f"{t['name']}: {t['message']}" for t in result["tests"] if not t["passed"])


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_scores_full_marks(assignment):
    result = graded_result(assignment, "solution")
    assert result["max_score"] > 0
    assert result["score"] == result["max_score"], _failures(result)


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_scores_zero_with_every_test_graded(assignment):
    result = graded_result(assignment, "release")
    assert result["score"] == 0
    assert result["tests"] and all(not t["passed"] for t in result["tests"])
    # Each test fails because the learner's code is missing, not because grading broke.
    for t in result["tests"]:
        assert "NotImplementedError" in t["message"] or "NameError" in t["message"], t


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_tests_total_the_points_of_the_intro_table(assignment):
    result = graded_result(assignment, "solution")
    assert sum(t["max_points"] for t in result["tests"]) == result["max_score"]
