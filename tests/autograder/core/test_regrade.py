"""grade --force after a grader's work in formgrader, end to end: the manual score, the extra
credit and the comment survive, formgrader's links (the entry's ids) stay valid, feedback
shows the comment, and a new attempt keeps the manual grade but asks for a review."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder.commands.due import due
from autograder.commands.feedback import feedback
from autograder.commands.grade import grade
from autograder.commands.release import generate
from autograder.core.gradebook import REVIEW
from autograder.settings import Limits, db_url, submitted_dir
from tests.autograder.core.test_late import DUE, _grades_csv, configure, plugin
from tests.builders import add_assignment, filled, make_course

LIMITS = Limits(cell_timeout=10, notebook_timeout=60)
CORRECT = "def add(a, b):\n    return a + b"
PARTIAL = "def add(a, b):\n    return a + b if a != 2 else 0"  # fails the hidden test only
COMMENT = "Right, but say why in a comment."

pytestmark = pytest.mark.slow  # grades notebooks in sandboxed kernels


def hand_in(course: Path, student: str, source: str) -> None:
    """``student``'s notebook with ``source`` as answer, where ``collect`` puts it."""
    release = nbformat.read(course / "exercises" / "add" / "add.ipynb", 4)
    path = submitted_dir(course) / student / "add" / "add.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(filled(release, source), path)


def entry(course: Path) -> tuple[tuple, dict, str | None, float, bool]:
    """ada's entry: its ids, (auto, manual, extra credit) per test, her answer's comment, her
    score and whether it is flagged."""
    with Gradebook(db_url(course)) as gb:
        sub = gb.find_submission("add", "ada")
        nb = sub.notebooks[0]
        ids = (sub.id, nb.id, *sorted(g.id for g in nb.grades), *sorted(c.id for c in nb.comments))
        grades = {g.name: (g.auto_score, g.manual_score, g.extra_credit) for g in nb.grades}
        comment = gb.find_comment("add", "add", "add", "ada").manual_comment
        return ids, grades, comment, sub.score, bool(nb.flagged)


@pytest.fixture
def graded_by_hand(tmp_path):
    """ada's correct answer graded, then graded by hand as in formgrader: 1 of 2 points on
    ``test_add``, half a point of extra credit on ``test_add_negative``, a comment."""
    course = make_course(tmp_path / "course", {"add": add_assignment()})
    generate(course, "add", course / "exercises")
    hand_in(course, "ada", CORRECT)
    assert [r.score for r in grade(course, jobs=1, limits=LIMITS, progress=False)] == [3.0]
    with Gradebook(db_url(course)) as gb:
        score = gb.find_grade("test_add", "add", "add", "ada")
        score.manual_score, score.needs_manual_grade = 1.0, False
        bonus = gb.find_grade("test_add_negative", "add", "add", "ada")
        bonus.extra_credit, bonus.needs_manual_grade = 0.5, False
        gb.find_comment("add", "add", "add", "ada").manual_comment = COMMENT
        gb.db.commit()
    return course


def test_grade_force_keeps_the_graders_work_and_formgraders_links(graded_by_hand):
    """Does grade --force keep the manual score, extra credit and comment, the ids
    formgrader's links use, and show the comment in the feedback?"""
    before = entry(graded_by_hand)
    rows = grade(graded_by_hand, force=True, jobs=1, limits=LIMITS, progress=False)
    assert [(r.student, r.score, r.flagged) for r in rows] == [("ada", 3.0, False)]
    assert entry(graded_by_hand) == before
    assert before[1:] == ({"test_add": (2.0, 1.0, None), "test_add_negative": (1.0, None, 0.5)},
                          COMMENT, 1.0 + 1.5, False)
    [page] = feedback(graded_by_hand, ["add"])
    assert COMMENT in page.read_text()


def test_a_new_attempt_keeps_the_manual_grade_and_is_flagged_for_review(graded_by_hand):
    """When ada's file is replaced by a new attempt, does the next grade update the autograded
    score, keep the manual grade and comment, and flag the result with why?"""
    before = entry(graded_by_hand)
    hand_in(graded_by_hand, "ada", PARTIAL)
    [row] = grade(graded_by_hand, jobs=1, limits=LIMITS, progress=False)
    assert (row.score, row.flagged, REVIEW in row.flags) == (1.0, True, True)
    ids, grades, comment, score, flagged = entry(graded_by_hand)
    assert ids == before[0]
    assert grades == {"test_add": (0.0, 1.0, None), "test_add_negative": (1.0, None, 0.5)}
    assert (comment, score, flagged) == (COMMENT, 2.5, True)


def test_grade_force_applies_the_current_due_date_and_keeps_the_graders_work(graded_by_hand):
    """ada's notebook was submitted an hour late (collect's timestamp.txt); the course takes
    50 % a day. After a due date is set, does grade --force record her time, keep every manual
    grade and the comment, take half of the score they make, and does the export show it?"""
    configure(graded_by_hand, *plugin(50.0))
    folder = submitted_dir(graded_by_hand) / "ada" / "add"
    (folder / "timestamp.txt").write_text("2026-12-10 18:00:00.000000 UTC")
    before = entry(graded_by_hand)
    due(graded_by_hand, "add", DUE)
    [row] = grade(graded_by_hand, force=True, jobs=1, limits=LIMITS, progress=False)
    assert (row.submitted, row.late_penalty, row.flagged) == ("2026-12-10T18:00:00", 1.25,
                                                              False)
    assert entry(graded_by_hand) == before  # ids, manual grades, comment, score 2.5
    csv_row = _grades_csv(graded_by_hand)["ada"]
    assert (csv_row["timestamp"], float(csv_row["late_submission_penalty"]),
            float(csv_row["score"])) == ("2026-12-10 18:00:00", 1.25, 1.25)
