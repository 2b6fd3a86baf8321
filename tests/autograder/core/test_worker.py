"""The grading process (``core.worker``) is bounded from outside: a grading that hangs is
stopped at its deadline, one that outgrows the grader's memory cap is stopped, and what a
stopped process leaves behind is removed at once. The stand-in ``fake_worker`` hangs or
takes memory for the students it is told to."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from autograder.core import worker as grading
from autograder.core.worker import MEMORY, TIMEOUT, Worker, batch_task
from autograder.runner import cgroups
from autograder.settings import Limits

FAKE_WORKER = str(Path(__file__).with_name("fake_worker.py"))


@pytest.fixture
def fake(monkeypatch):
    """Workers are the stand-in; ``fake("hang:bob")`` says what it does for whom."""
    monkeypatch.setattr(Worker, "command", [sys.executable, FAKE_WORKER])
    return lambda spec: monkeypatch.setenv("RNNCOURSE_FAKE_WORKER", spec)


def one_task(tmp_path: Path, student: str, limits: Limits) -> dict:
    return batch_task(tmp_path, "add", [(student, None)], tmp_path / "work", limits)


def test_a_hung_grading_is_stopped_at_its_deadline(fake, tmp_path):
    """Does a grading process that never answers get stopped, and say it ran out of time?"""
    fake("hang:bob")
    limits = Limits()
    w = Worker(tmp_path / "log", tmp_path, limits)
    try:
        assert w.run(one_task(tmp_path, "bob", limits), timeout=2) is None
        assert w.failure == TIMEOUT
        assert not w.alive
    finally:
        w.kill()


@pytest.mark.parametrize("cap", ["control group", "data segment"])
def test_a_grading_that_outgrows_the_graders_memory_cap_is_stopped(cap, fake, tmp_path,
                                                                   monkeypatch):
    """Does a grading process that takes ever more memory get stopped at its cap, and say
    why: by its control group (as root), or by the limit of its data segment (elsewhere)?"""
    if cap == "control group" and not cgroups.available():
        pytest.fail("control groups need root (CI runs as root)")
    if cap == "data segment":
        monkeypatch.setattr(grading.cgroups, "create", lambda *a, **k: None)
    fake("hog:bob")
    limits = Limits(grader_memory_mb=300)
    w = Worker(tmp_path / "log", tmp_path, limits)
    try:
        answer = w.run(one_task(tmp_path, "bob", limits), timeout=120)
        assert answer is None, answer
        assert w.failure == MEMORY
        assert not w.alive
    finally:
        w.kill()


def test_the_flag_of_a_stopped_grading_says_why_and_that_it_was_not_graded_again():
    limits = Limits(grader_memory_mb=512)
    assert "512 MB" in grading.stopped_reason(MEMORY, limits, 750)
    why = grading.stopped_reason(TIMEOUT, limits, 750)
    assert "time limit (750 s)" in why and "not graded again" in why
    result = grading.stopped_result("add", "bob", why)
    assert (result.score, result.flagged, result.flags) == (0.0, True, [why])


@pytest.fixture
def dead_worker(fake, tmp_path):
    """A grading process that died before its task (as one that crashed mid-grading)."""
    w = Worker(tmp_path / "log", tmp_path, Limits())
    w.proc.kill()
    w.proc.wait()
    yield w
    w.kill()


def test_grade_one_grades_again_in_a_process_of_its_own_when_the_worker_died(
        dead_worker, tmp_path, monkeypatch):
    """Is a submission whose grading process died graded again by the fallback, within the
    time left of its one budget, in a folder of its own, and is the fallback's result kept?"""
    calls = []

    def fallback(root, assignment, subs, workdir, limits, **kw):
        calls.append((subs[0].student, workdir, kw["in_process"], kw["timeout"]))
        return {"bob": grading.Result(assignment, 1.0, 3.0, [], student="bob")}

    monkeypatch.setattr(grading, "autograde_batch", fallback)
    limits = Limits()
    lines: list[str] = []
    graded = grading.grade_one(dead_worker, tmp_path, "add", "bob", None, tmp_path / "s",
                               limits, log=lines.append)
    [(student, workdir, in_process, seconds)] = calls
    assert (student, workdir, in_process) == ("bob", tmp_path / "s" / "fallback", False)
    assert 0 < seconds <= limits.submission_timeout
    assert (graded.workdir, graded.result.score, graded.failure) == (workdir, 1.0, "")
    assert lines[0].startswith("worker failed on bob")


def test_grade_one_lists_a_fallback_that_failed_too_as_not_graded(dead_worker, tmp_path,
                                                                  monkeypatch):
    def fallback(*args, **kwargs):
        raise RuntimeError("nbgrader exploded")

    monkeypatch.setattr(grading, "autograde_batch", fallback)
    graded = grading.grade_one(dead_worker, tmp_path, "add", "bob", None, tmp_path / "s",
                               Limits())
    why = "could not be graded: RuntimeError: nbgrader exploded"
    assert (graded.result.tests, graded.result.flags, graded.failure) == ([], [why], why)


def test_grade_one_starts_no_fallback_when_the_run_is_being_stopped(dead_worker, tmp_path,
                                                                    monkeypatch):
    """Ctrl-C kills the workers: is the submission left ungraded, with no nbgrader started?"""
    calls = []
    monkeypatch.setattr(grading, "autograde_batch", lambda *a, **k: calls.append(a))
    with pytest.raises(grading.RunStopped):
        grading.grade_one(dead_worker, tmp_path, "add", "bob", None, tmp_path / "s", Limits(),
                          stopping=lambda: True)
    assert calls == []
