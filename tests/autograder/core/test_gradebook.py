"""Storing results in the course's gradebook: one entry per submission, however often it is
stored, and one open connection for a run's stores; a re-grade updates the entry in place,
keeping what graders did in formgrader."""

from __future__ import annotations

import pytest
from nbgrader.api import Grade, Gradebook, GradeCell, SolutionCell

from autograder.core import gradebook
from autograder.core.course import gradebook_url
from autograder.core.template import template_course
from autograder.core.types import Result
from autograder.core.types import TestResult as Outcome  # not a pytest class
from autograder.settings import db_url, gradebook_file

pytestmark = pytest.mark.slow


def _result(db: str, student: str) -> Result:
    """Full marks for ``student``."""
    tests = gradebook.zero_result(db, "add", Result("add", 0.0, 0.0, [])).tests
    full = sum(t.max_points for t in tests)
    return Result("add", full, full, [Outcome(t.name, t.max_points, t.max_points, True)
                                      for t in tests], student=student)


def _scores(db: str) -> dict[str, float]:
    with Gradebook(db) as gb:
        return {s.student.id: s.score for s in gb.find_assignment("add").submissions}


def test_a_run_opens_the_gradebook_once_and_storing_again_replaces(toy_course, monkeypatch):
    db = gradebook_url(toy_course)
    gradebook.ensure_assignment(toy_course, db, "add", template_course(toy_course, "add"))
    results = [_result(db, student) for student in ("ada", "bo", "ada")]
    opened = []
    real = gradebook.Gradebook
    monkeypatch.setattr(gradebook, "Gradebook", lambda *a, **k: opened.append(a) or real(*a, **k))
    with gradebook.writers():
        for r in results:
            gradebook.store(toy_course, db, "add", r.student, None, r)
    assert len(opened) == 1
    full = results[0].max_score
    assert _scores(db) == {"ada": full, "bo": full}


def test_a_gradebook_replaced_between_runs_is_opened_afresh(toy_course):
    # A connection kept past its run would write into the deleted file ("readonly database").
    db = gradebook_url(toy_course)
    template = template_course(toy_course, "add")
    gradebook.ensure_assignment(toy_course, db, "add", template)
    with gradebook.writers():
        gradebook.store(toy_course, db, "add", "ada", None, _result(db, "ada"))
    (toy_course / "grading" / "gradebook.db").unlink()
    gradebook.ensure_assignment(toy_course, db, "add", template)
    with gradebook.writers():
        gradebook.store(toy_course, db, "add", "bo", None, _result(db, "bo"))
    assert list(_scores(db)) == ["bo"]


# A re-grade (grade --force, a new attempt) keeps what graders did in formgrader.

def _stored(course, digest: str = "v1", points: dict[str, float] | None = None) -> Result:
    """``ada``'s submission of ``add`` (notebook version ``digest``), stored as ``grade``
    stores it: full marks but for the tests in ``points``."""
    db = gradebook_url(course)
    result = _result(db, "ada")
    result.digest = digest
    for name, value in (points or {}).items():
        result.tests = [Outcome(t.name, value, t.max_points, False, "failed")
                        if t.name == name else t for t in result.tests]
    result.score = sum(t.points for t in result.tests)
    gradebook.store(course, db, "add", "ada", None, result)
    return result


@pytest.fixture
def graded_by_hand(toy_course):
    """``ada``'s entry, autograded once (version ``v1``), then graded by hand as formgrader
    does: a manual score on ``test_add``, extra credit on ``test_add_negative`` and a comment
    on the answer cell."""
    db = gradebook_url(toy_course)
    gradebook.ensure_assignment(toy_course, db, "add", template_course(toy_course, "add"))
    _stored(toy_course)
    with Gradebook(db) as gb:
        score = gb.find_grade("test_add", "add", "add", "ada")
        score.manual_score, score.needs_manual_grade = 1.5, False
        bonus = gb.find_grade("test_add_negative", "add", "add", "ada")
        bonus.extra_credit, bonus.needs_manual_grade = 0.5, False
        gb.find_comment("add", "add", "add", "ada").manual_comment = "Good, but see line 2."
        gb.db.commit()
    return toy_course


def _entry(db: str) -> dict:
    """``ada``'s entry: ids, and per cell its grade's or comment's values."""
    with Gradebook(db) as gb:
        sub = gb.find_submission("add", "ada")
        nb = sub.notebooks[0]
        return {"ids": (sub.id, nb.id, sorted(g.id for g in nb.grades),
                        sorted(c.id for c in nb.comments)),
                "flagged": nb.flagged, "score": sub.score, "max_score": sub.max_score,
                "grades": {g.name: (g.auto_score, g.manual_score, g.extra_credit,
                                    g.needs_manual_grade) for g in nb.grades},
                "comments": {c.name: (c.auto_comment, c.manual_comment) for c in nb.comments}}


def test_a_re_grade_keeps_manual_scores_extra_credit_comments_and_ids(graded_by_hand):
    """After grade --force on the same notebook, are the manual score, the extra credit and
    the comment kept, the ids formgrader links to unchanged, and the auto scores the new
    run's?"""
    db = gradebook_url(graded_by_hand)
    before = _entry(db)
    result = _stored(graded_by_hand, points={"test_add_negative": 0.0})
    after = _entry(db)
    assert after["ids"] == before["ids"]
    assert after["grades"] == {"test_add": (2.0, 1.5, None, False),
                               "test_add_negative": (0.0, None, 0.5, False)}
    assert after["comments"]["add"] == (None, "Good, but see line 2.")
    assert after["score"] == 1.5 + 0.0 + 0.5
    assert not result.flagged and not after["flagged"]
    assert gradebook.read_result(graded_by_hand, "add", "ada").score == 2.0


def test_a_new_version_keeps_the_manual_grade_and_asks_for_a_review(graded_by_hand):
    """When the notebook changed since it was graded by hand (a new attempt collected), is
    the manual grade kept, the result flagged with why, and does the flag last until a
    grader saves the grade again in formgrader?"""
    db = gradebook_url(graded_by_hand)
    result = _stored(graded_by_hand, digest="v2")
    entry = _entry(db)
    assert result.flagged and gradebook.REVIEW in result.flags and entry["flagged"]
    assert entry["grades"]["test_add"] == (2.0, 1.5, None, True)
    assert entry["comments"]["add"] == ("Autograder: " + gradebook.REVIEW,
                                        "Good, but see line 2.")
    assert gradebook.REVIEW in _stored(graded_by_hand, digest="v2").flags  # not reviewed yet
    with Gradebook(db) as gb:  # the grader saves both grades again, as formgrader does
        for cell in ("test_add", "test_add_negative"):
            gb.find_grade(cell, "add", "add", "ada").needs_manual_grade = False
        gb.db.commit()
    again = _stored(graded_by_hand, digest="v2")
    assert not again.flagged and not _entry(db)["flagged"]
    assert _entry(db)["grades"]["test_add"] == (2.0, 1.5, None, False)


def test_a_manual_comment_alone_on_an_old_version_asks_for_a_review(toy_course):
    """Is a new version flagged when a grader only wrote a comment on the old one?"""
    db = gradebook_url(toy_course)
    gradebook.ensure_assignment(toy_course, db, "add", template_course(toy_course, "add"))
    _stored(toy_course)
    with Gradebook(db) as gb:
        gb.find_comment("add", "add", "add", "ada").manual_comment = "See me."
        gb.db.commit()
    assert not _stored(toy_course).flagged
    assert gradebook.REVIEW in _stored(toy_course, digest="v2").flags
    assert _entry(db)["comments"]["add"][1] == "See me."


def test_a_grader_flag_survives_and_the_autograder_flag_is_the_new_runs(toy_course):
    """Does a flag a grader set in formgrader survive a re-grade, while the autograder's own
    flag goes once the new run has nothing to flag?"""
    db = gradebook_url(toy_course)
    gradebook.ensure_assignment(toy_course, db, "add", template_course(toy_course, "add"))
    flagged = _result(db, "ada")
    flagged.flagged, flagged.flags, flagged.digest = True, ["cell 3 timed out"], "v1"
    gradebook.store(toy_course, db, "add", "ada", None, flagged)
    assert _entry(db)["flagged"]
    assert _entry(db)["comments"]["add"] == ("Autograder: cell 3 timed out", None)
    _stored(toy_course)
    assert not _entry(db)["flagged"]
    assert _entry(db)["comments"]["add"] == (None, None)
    with Gradebook(db) as gb:
        gb.find_submission_notebook("add", "add", "ada").flagged = True  # formgrader's Flag
        gb.db.commit()
    _stored(toy_course)
    assert _entry(db)["flagged"]


def test_the_note_older_versions_wrote_as_a_manual_comment_is_not_kept(toy_course):
    """Is the autograder's note, which older versions wrote as a manual comment, replaced by
    the new run's rather than kept as if a grader had written it?"""
    db = gradebook_url(toy_course)
    gradebook.ensure_assignment(toy_course, db, "add", template_course(toy_course, "add"))
    flagged = _result(db, "ada")
    flagged.flagged, flagged.flags, flagged.digest = True, ["cell 3 timed out"], "v1"
    gradebook.store(toy_course, db, "add", "ada", None, flagged)
    with Gradebook(db) as gb:  # as versions before the in-place update wrote it
        comment = gb.find_comment("add", "add", "add", "ada")
        comment.auto_comment, comment.manual_comment = None, "Autograder: cell 3 timed out"
        gb.db.commit()
    result = _stored(toy_course)
    assert not result.flagged
    assert _entry(db)["comments"]["add"] == (None, None)


def _without_cell(course, tmp_path, kind: type, name: str):
    """A copy of ``add``'s template whose gradebook no longer has the cell ``name`` of class
    ``kind`` (as when an instructor takes a test or an answer cell out of the source)."""
    template = tmp_path / "template-without"
    (template / "grading").mkdir(parents=True)
    src = gradebook_file(template_course(course, "add"))
    (template / "grading" / src.name).write_bytes(src.read_bytes())
    with Gradebook(db_url(template)) as gb:
        gb.db.delete(gb.db.query(kind).filter_by(name=name).one())
        gb.db.commit()
    return template


def test_a_test_taken_out_of_the_source_no_longer_counts_and_manual_grades_stay(
        graded_by_hand, tmp_path):
    """When a grade cell disappears from the assignment, is its grade removed from the
    learner's entry (score and maximum), and the other cell's manual score kept?"""
    db = gradebook_url(graded_by_hand)
    before = _entry(db)
    gradebook.ensure_assignment(graded_by_hand, db, "add", _without_cell(
        graded_by_hand, tmp_path, GradeCell, "test_add_negative"))
    _stored(graded_by_hand)  # its tests are the gradebook's: test_add only
    after = _entry(db)
    assert after["grades"] == {"test_add": (2.0, 1.5, None, False)}
    assert (after["score"], after["max_score"]) == (1.5, before["max_score"] - 1.0)
    assert after["ids"][:2] == before["ids"][:2]
    with Gradebook(db) as gb:
        cells = [c.name for c in gb.find_notebook("add", "add").grade_cells]
    assert cells == ["test_add"]


def test_an_answer_cell_taken_out_of_the_source_loses_its_comment(graded_by_hand, tmp_path):
    """When only an answer (solution) cell disappears, does the course's gradebook see the
    change, and the comment on it go, the grades staying?"""
    db = gradebook_url(graded_by_hand)
    gradebook.ensure_assignment(graded_by_hand, db, "add",
                                _without_cell(graded_by_hand, tmp_path, SolutionCell, "add"))
    _stored(graded_by_hand)
    after = _entry(db)
    assert after["comments"] == {}
    assert after["grades"]["test_add"] == (2.0, 1.5, None, False)


def test_a_store_killed_while_writing_leaves_the_old_entry_whole(graded_by_hand, monkeypatch):
    """If the process dies while the new grades are being written, is the old entry (manual
    work included) still there, whole, and the submission not marked graded?"""
    from sqlalchemy.orm import Session

    db = gradebook_url(graded_by_hand)
    before = _entry(db)
    commit = Session.commit

    def dying_commit(session):
        if any(isinstance(row, Grade) for row in [*session.new, *session.dirty]):
            raise KeyboardInterrupt  # killed as the new grades are written
        commit(session)

    monkeypatch.setattr(Session, "commit", dying_commit)
    with pytest.raises(KeyboardInterrupt):
        _stored(graded_by_hand, points={"test_add": 0.0})
    monkeypatch.setattr(Session, "commit", commit)
    assert _entry(db) == before
    assert gradebook.read_result(graded_by_hand, "add", "ada") is None  # graded again next run
    _stored(graded_by_hand, points={"test_add": 0.0})
    assert _entry(db)["grades"]["test_add"][:2] == (0.0, 1.5)
