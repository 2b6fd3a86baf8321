"""Pre-flight: ``grade`` and ``score`` grade nothing unless this machine grades the reference
solution to full marks; a pass is remembered per environment, a failure names its cause and
its fix.

The broken environment of the issue (a kernel that cannot start in the sandbox) is played
by a kernel specification whose command does not exist, put first on ``JUPYTER_PATH``: the
grading processes find it as they would find a broken environment's.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.core import preflight
from autograder.core.preflight import PreflightFailed, require_reference
from autograder.core.types import Result
from autograder.core.types import TestResult as Outcome
from autograder.settings import Limits
from tests.autograder.commands.test_grade import CORRECT, fresh_class

LIMITS = Limits(cell_timeout=10, notebook_timeout=60)
KERNEL_DIED = ("nbgrader could not grade this notebook (RuntimeError: Kernel died before "
               "replying to kernel_info)")


class Counting:
    """A stand-in for the reference's run: returns ``result``, counts its calls."""

    def __init__(self, result: Result) -> None:
        self.result, self.calls = result, 0

    def __call__(self, root: Path, assignment: str, limits: Limits) -> Result:
        self.calls += 1
        return self.result


def full() -> Result:
    return Result("add", 3.0, 3.0, [Outcome("test_add", 2.0, 2.0, True),
                                    Outcome("test_add_negative", 1.0, 1.0, True)])


def broken() -> Result:
    """What a reference run gave in the issue: every test zero, flagged."""
    return Result("add", 0.0, 3.0, [Outcome("test_add", 0.0, 2.0, False, KERNEL_DIED),
                                    Outcome("test_add_negative", 0.0, 1.0, False,
                                               KERNEL_DIED)],
                  flagged=True, flags=[KERNEL_DIED])


def test_a_passed_check_is_remembered_and_not_run_again(toy_course):
    """Is the second check of the same environment and source answered from the cache,
    without grading the reference again?"""
    run = Counting(full())
    first = require_reference(toy_course, "add", LIMITS, run=run)
    second = require_reference(toy_course, "add", LIMITS, run=run)
    assert run.calls == 1
    assert "checked now" in first and "checked before" in second


def test_a_changed_solution_is_checked_again(toy_course):
    run = Counting(full())
    require_reference(toy_course, "add", LIMITS, run=run)
    path = toy_course / "solutions" / "add" / "add.ipynb"
    nb = nbformat.read(path, 4)
    nb.cells.append(nbformat.v4.new_markdown_cell("A new remark."))
    nbformat.write(nb, path)
    require_reference(toy_course, "add", LIMITS, run=run)
    assert run.calls == 2


@pytest.mark.parametrize("change", ["limits", "sandbox", "lock", "python through a link"])
def test_another_environment_or_other_limits_are_checked_again(toy_course, monkeypatch,
                                                               tmp_path, change):
    """A pass holds for the environment it was made in: the same prefix reached through a
    link (the issue's set-up), another lock file, another sandbox or other limits are
    checked again."""
    run = Counting(full())
    require_reference(toy_course, "add", LIMITS, run=run)
    limits = LIMITS
    if change == "limits":
        limits = Limits(cell_timeout=5, notebook_timeout=60)
    elif change == "sandbox":
        limits = Limits(cell_timeout=10, notebook_timeout=60, sandbox="none")
    elif change == "lock":
        (toy_course / "requirements.lock").write_text("numpy==0.0\n")
    else:
        link = tmp_path / "linkedenv"
        link.symlink_to(Path(sys.prefix).resolve(), target_is_directory=True)
        monkeypatch.setattr(sys, "executable", str(link / "bin" / Path(sys.executable).name))
        monkeypatch.setattr(sys, "prefix", str(link))
    require_reference(toy_course, "add", limits, run=run)
    assert run.calls == 2


def test_a_failed_check_stops_with_the_cause_and_the_fix_and_is_not_remembered(toy_course):
    run = Counting(broken())
    for _ in range(2):
        with pytest.raises(PreflightFailed) as err:
            require_reference(toy_course, "add", LIMITS, run=run)
    assert run.calls == 2  # checked again: the user may have fixed it meanwhile
    message = str(err.value)
    assert "reference solution of add (solutions/add/add.ipynb)" in message
    assert "(0/3)" in message and "no notebook was graded" in message
    assert f"Cause: {KERNEL_DIED}" in message
    assert "make venv" in message and "bubblewrap" in message
    assert not list((toy_course / "grading" / "cache").glob("preflight/*.json"))


def test_a_reference_that_fails_a_test_names_the_test(toy_course):
    result = full()
    result.tests[1] = Outcome("test_add_negative", 0.0, 1.0, False,
                                 "ModuleNotFoundError: No module named 'scipy'")
    result.score = 2.0
    with pytest.raises(PreflightFailed, match="Cause: test_add_negative failed: "
                                              "ModuleNotFoundError.*requirements.lock"):
        require_reference(toy_course, "add", LIMITS, run=Counting(result))


def test_a_reference_the_machine_did_not_grade_says_so(toy_course):
    why = "grading stopped: the grading process took more than 2048 MB (--grader-memory-mb)"
    not_graded = Result("add", 0.0, 0.0, [], flagged=True, flags=[why])
    with pytest.raises(PreflightFailed, match="it was not graded.*--grader-memory-mb"):
        require_reference(toy_course, "add", LIMITS, run=Counting(not_graded))


@pytest.mark.parametrize("cause, fix", [
    ("cell 3 timed out", "--cell-timeout (now 10)"),
    ("the kernel died in cell 2: the submission hit its memory limit (4096 MB over all its "
     "processes)", "--memory-mb (now 4096)"),
    ("AssertionError: add(2, 2) should be 4", "make venv"),
])
def test_the_fix_follows_the_cause(cause, fix):
    assert fix in preflight.fix_for(cause, Path("solutions/add/add.ipynb"), LIMITS)


# -- a real broken environment: the kernel cannot start -----------------------------------

@pytest.fixture
def kernel_that_cannot_start(tmp_path, monkeypatch) -> None:
    """The kernel's command names an interpreter that does not exist (first on JUPYTER_PATH,
    which the grading processes inherit)."""
    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(tmp_path / "gone" / "bin" / "python"), "-m", "ipykernel_launcher",
                 "-f", "{connection_file}"],
        "display_name": "Python 3", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))


@pytest.mark.slow  # grades the reference solution in a sandboxed kernel
def test_score_in_a_broken_environment_stops_naming_the_cause_and_the_fix(
        toy_course, kernel_that_cannot_start, run_autograder):
    """The issue: the reference itself got 0/10, flagged, and ``score`` exited 0. Does
    ``score`` now stop, exit 2, and say the kernel died and what to do?"""
    solution = toy_course / "solutions" / "add" / "add.ipynb"
    proc = run_autograder("score", solution, retcode=2)
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("PreflightFailed: this machine does not grade the reference "
                           "solution of add"), proc.stderr
    assert "Kernel died before replying to kernel_info" in last
    assert "make venv" in last
    assert proc.stdout == ""  # no report, no score


@pytest.mark.slow  # grades the reference solution in a sandboxed kernel
def test_grade_in_a_broken_environment_grades_nothing_and_says_why(
        tmp_path, kernel_that_cannot_start, run_autograder, monkeypatch):
    """Does ``grade`` stop before any submission is graded, store nothing, and exit 2 with
    the cause, instead of giving the class zeros?"""
    course = fresh_class(tmp_path, {"alice": CORRECT})
    monkeypatch.setenv("RNNCOURSE_ROOT", str(course))
    proc = run_autograder("grade", "add", "--cell-timeout", "10", retcode=2)
    assert "PreflightFailed" in proc.stderr and "Kernel died before replying" in proc.stderr
    assert proc.stdout == ""
    assert not (course / "grading" / "results").exists()
    assert not (course / "grading" / "autograded").exists()


@pytest.mark.slow  # grades the reference solution in a sandboxed kernel, twice
def test_the_real_check_passes_here_and_then_comes_from_the_cache(toy_course, monkeypatch):
    """In a sound environment, does the reference pass, and is the next check answered
    without starting a grading process?"""
    first = require_reference(toy_course, "add", LIMITS)
    assert "scores 3/3" in first

    def no_worker(*args, **kwargs):
        raise AssertionError("a grading process was started for a remembered check")

    monkeypatch.setattr(preflight, "Worker", no_worker)
    assert "checked before" in require_reference(toy_course, "add", LIMITS)
