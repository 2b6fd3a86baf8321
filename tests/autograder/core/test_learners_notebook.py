"""A notebook from the learners' tree (its tests run on the grading service) is graded as an
unedited notebook: the rewritten test cells are no repair."""

from __future__ import annotations

from pathlib import Path

import nbformat

from autograder.core.learners_notebook import learners_notebook, published_sources
from autograder.core.repair import repair

ROOT = Path(__file__).resolve().parents[3]
ASSIGNMENT = "rnn_forward"


def _release() -> nbformat.NotebookNode:
    return nbformat.read(ROOT / "exercises" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", 4)


def _learners_copy(release: nbformat.NotebookNode) -> nbformat.NotebookNode:
    return nbformat.reads(learners_notebook(nbformat.writes(release), ASSIGNMENT), 4)


def test_a_notebook_from_the_learners_tree_needs_no_repair():
    """Are the service_test cells of the learners' tree recognised as the release's own?"""
    release = _release()
    _, repairs = repair(_learners_copy(release), release,
                        published=published_sources(release, ASSIGNMENT))
    assert repairs == []


def test_without_the_learners_tree_version_its_test_cells_count_as_edited():
    """The defence's counterpart: the same notebook, not recognised, reports restored cells
    (so the test above checks something)."""
    release = _release()
    _, repairs = repair(_learners_copy(release), release)
    assert any("restored the edited test cell" in r for r in repairs)


def test_a_test_cell_edited_in_the_learners_tree_is_still_restored():
    """Does recognising the learners' tree's cells leave a really edited test cell restored?"""
    release = _release()
    nb = _learners_copy(release)
    test = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")
                and not c.metadata["nbgrader"].get("solution"))
    test.source += "\nprint('mine')"
    _, repairs = repair(nb, release, published=published_sources(release, ASSIGNMENT))
    assert repairs == [f"restored the edited test cell {test.metadata['nbgrader']['grade_id']!r}"
                       " from the source"]
