"""Every assignment's solution scores full marks and its release scores 0, through the
autograder with hidden tests, without a grader error."""

from __future__ import annotations

import re

import nbformat
import pytest

from tests.autograder.catalogues.grading_runs import ASSIGNMENTS, graded_result
from tests.autograder.catalogues.mutations import ROOT


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



def _intro_rows(nb: nbformat.NotebookNode) -> list[tuple[str, str, int]]:
    """(part, function, points) of each row of the intro's table ("2 + 2" sums)."""
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")]
            for line in nb.cells[0].source.splitlines() if line.startswith("|")]
    return [(r[0], r[1], sum(int(p) for p in r[2].strip("*").split("+")))
            for r in rows if len(r) == 3 and re.fullmatch(r"[\d*+ ]+", r[2])]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_notebooks_texts_state_the_points_its_test_cells_give(assignment):
    """Do the intro's table (the total, each function's row: its tests are named
    test_<function>...) and each part's heading state the points the test cells give?"""
    nb = nbformat.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    points = {m["grade_id"]: int(m["points"]) for m in
              (c.metadata.get("nbgrader", {}) for c in nb.cells) if m.get("grade")}
    rows = _intro_rows(nb)
    assert [p for _, f, p in rows if "**total**" in f] == [sum(points.values())]
    for _, function, stated in rows:
        names = re.findall(r"`(\w+)\(", function)
        owned = [sum(p for g, p in points.items() if f"{g}_".startswith(f"test_{n}_"))
                 for n in names]
        if names and all(owned):
            assert stated == sum(owned), (function, owned)
    for cell in nb.cells:
        for m in re.finditer(r"^## Part (\d+):.*\((\d+) points?\)$", cell.source, re.M):
            in_rows = sum(p for part, _, p in rows if re.fullmatch(rf"{m[1]}[a-z]?", part))
            assert int(m[2]) == in_rows, m[0]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_hidden_tests_use_no_ingredient_their_visible_twin_lacks(assignment):
    """Does every hidden test check data of the kind its visible part shows: no switch
    (``padded=True``, ``large=True``, ...) in the hidden cases that the visible calls lack?"""
    nb = nbformat.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("grade") or "### BEGIN HIDDEN TESTS" not in cell.source:
            continue
        visible, hidden = cell.source.split("### BEGIN HIDDEN TESTS", 1)
        switches = set(re.findall(r"\b(\w+)=True\b", hidden))
        assert switches <= set(re.findall(r"\b(\w+)=True\b", visible)), (
            meta["grade_id"], switches)
