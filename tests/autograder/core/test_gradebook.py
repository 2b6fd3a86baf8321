"""Storing results in the course's gradebook: one entry per submission, however often it is
stored, and one open connection for a run's stores."""

from __future__ import annotations

import pytest
from nbgrader.api import Gradebook

from autograder.core import gradebook
from autograder.core.course import gradebook_url
from autograder.core.template import template_course
from autograder.core.types import Result
from autograder.core.types import TestResult as Outcome  # not a pytest class

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
