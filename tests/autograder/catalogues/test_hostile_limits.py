"""The outer limits of grading, on a toy class: what a submission can make the grading
process itself do (hang, take memory), what the kernel can write on the host, and what a
killed grading run leaves behind.

The grader's own hang and blow-up are played by a stand-in grading process
(``tests/autograder/core/fake_worker.py``: ``core.worker`` itself, except that it hangs, or
takes memory, for the students it is told to), as a hostile kernel made the real one do in
the issue (a send blocked for ever, a decoder of a hostile answer). Each test fails without
the defence its docstring names.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat
import pytest

from autograder.commands import score as scoring
from autograder.commands.grade import grade
from autograder.commands.release import generate
from autograder.commands.score import exit_status, score_notebook
from autograder.core import worker
from autograder.core.worker import Worker
from autograder.runner import cgroups, leftovers
from autograder.settings import Limits
from tests.autograder.commands.test_grade import CORRECT, fresh_class, gradebook_scores
from tests.autograder.core.test_worker import FAKE_WORKER
from tests.builders import filled

pytestmark = pytest.mark.slow  # grades notebooks in sandboxed kernels

# A short outer limit: 20 + 5 + 10 = 35 s for a whole submission (a real one takes 3-5 s
# idle; on a machine loaded by six test workers a correct one passed 10 s of notebook time).
LIMITS = Limits(cell_timeout=10, notebook_timeout=20, repair_seconds=5, startup_seconds=10)


@pytest.fixture
def own_score_worker(monkeypatch):
    """``score`` starts a grading process of its own for the test, stopped after it."""
    local = threading.local()
    monkeypatch.setattr(scoring, "_LOCAL", local)
    yield
    if getattr(local, "worker", None) is not None:
        local.worker.close()


@pytest.fixture
def fake(monkeypatch, own_score_worker):
    """Grading processes are the stand-in; ``fake("hang:bob")`` says what it does for whom."""
    monkeypatch.setattr(Worker, "command", [sys.executable, FAKE_WORKER])
    return lambda spec: monkeypatch.setenv("RNNCOURSE_FAKE_WORKER", spec)


@pytest.fixture
def no_second_grading(monkeypatch):
    """Fails the test if a submission is graded again in a fallback process."""
    again: list = []

    def fallback(root, assignment, subs, *args, **kwargs):
        again.extend(s.student for s in subs)
        raise RuntimeError("graded again")

    monkeypatch.setattr(worker, "autograde_batch", fallback)  # grade_one's fallback
    return again


def test_grade_stops_a_hung_grading_and_lists_it_not_graded(
        tmp_path, fake, no_second_grading):
    """A grading that never ends (the grader blocked): is its process stopped at the
    submission's outer limit, the submission listed as not graded with why (the grader's
    limit, the machine's failure: no score, nothing stored), not graded again in this run
    with another full limit, and the rest of the class graded?"""
    fake("hang:bob")
    course = fresh_class(tmp_path, {"alice": CORRECT, "bob": CORRECT, "carol": CORRECT})
    failures: list[str] = []
    rows = {r.student: r for r in grade(course, jobs=1, limits=LIMITS, progress=False,
                                        failures=failures)}
    assert {s: r.score for s, r in rows.items()} == {"alice": 3.0, "carol": 3.0}
    assert len(failures) == 1 and failures[0].startswith("add/bob: grading stopped: ")
    assert f"ran past its time limit ({LIMITS.submission_timeout} s)" in failures[0], failures
    assert no_second_grading == []
    assert gradebook_scores(course) == {"alice": 3.0, "carol": 3.0}


def test_grade_stops_a_grading_that_outgrows_the_graders_memory_and_goes_on(
        tmp_path, fake, no_second_grading):
    """A grading that takes ever more of the grader's memory (a decoder blown up by a
    hostile answer): is it stopped at ``grader_memory_mb``, listed as not graded (nothing
    stored), not graded again in this run, and the rest of the class graded?"""
    fake("hog:bob")
    limits = Limits(cell_timeout=10, notebook_timeout=60, grader_memory_mb=1200)
    course = fresh_class(tmp_path, {"alice": CORRECT, "bob": CORRECT, "carol": CORRECT})
    failures: list[str] = []
    rows = {r.student: r for r in grade(course, jobs=1, limits=limits, progress=False,
                                        failures=failures)}
    assert {s: r.score for s, r in rows.items()} == {"alice": 3.0, "carol": 3.0}
    assert len(failures) == 1 and failures[0].startswith("add/bob: ")
    assert "more than 1200 MB of the grader's memory" in failures[0], failures
    assert no_second_grading == []
    log = (course / "grading" / "logs" / "grade-add.log").read_text()
    print([line for line in log.splitlines() if "peak" in line])


def test_score_of_a_hung_grading_ends_not_graded_with_exit_status_1(
        tmp_path, fake, toy_course):
    """``score`` of a notebook whose grading never ends: does it end, at the outer limit,
    with no score (not graded), a flag saying why, and exit status 1?"""
    fake("hang:learner")
    release = generate(toy_course, "add", toy_course / "exercises") / "add.ipynb"
    path = tmp_path / "add.ipynb"
    nbformat.write(filled(nbformat.read(release, 4), CORRECT), path)
    limits = Limits(notebook_timeout=2, repair_seconds=1, startup_seconds=2)  # 5 s
    result = score_notebook(path, limits=limits)
    assert (result.tests, result.flagged) == ([], True)
    assert "ran past its time limit (5 s)" in result.flags[0]
    assert exit_status(result) == 1


FILL_THE_CONNECTION_FOLDER = """import os, sys
_folder = os.path.dirname(sys.argv[sys.argv.index('-f') + 1])
_written = 0
for _i in range(20):  # 20 files of 4 MB (the issue: 20 of 60 MB)
    try:
        with open(os.path.join(_folder, f'fill{_i}'), 'wb') as _f:
            _f.write(b'x' * (4 * 2**20))
        _written += 1
    except OSError:
        pass


def add(a, b):
    return a + b if _written == 0 else 0
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="the kernel's own user needs root")
def test_the_kernel_cannot_fill_the_hosts_disk_through_its_connection_folder(
        tmp_path, toy_course, own_score_worker):
    """A learner's cell that writes files into the kernel's connection folder (the one
    folder of the host it shares with the grader): is every write refused? (Its ``add`` is
    right only if nothing was written.)"""
    release = generate(toy_course, "add", toy_course / "exercises") / "add.ipynb"
    path = tmp_path / "add.ipynb"
    nbformat.write(filled(nbformat.read(release, 4), FILL_THE_CONNECTION_FOLDER), path)
    assert score_notebook(path, limits=LIMITS).score == 3.0


def _ours(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("rnncourse-"))


def _groups_of_session(session: int) -> set[str]:
    """Our control groups whose owner runs in process session ``session``. (Groups are
    machine-wide: any other ``score`` or ``grade`` that starts, such as a test on another
    worker, sweeps those of a dead owner, so a test follows its own run's groups by name.)"""
    out = set()
    for group in cgroups.marked_groups():
        found = leftovers.MARK.search(group.name)
        try:
            if found is not None and os.getsid(int(found.group(1))) == session:
                out.add(group.name)
        except OSError:  # its owner is gone
            continue
    return out


def _existing(groups: set[str]) -> set[str]:
    return groups & {g.name for g in cgroups.marked_groups()}


def test_a_grade_killed_by_a_signal_leaves_nothing_behind_after_the_next_start(tmp_path,
                                                                              request):
    """``grade`` killed mid-run (SIGKILL: nothing of it can clean up): are its scratch
    courses, its kernel's connection folder and control groups removed when grading starts
    again?"""
    learners = {f"s{i}": CORRECT for i in range(3)}
    course = fresh_class(tmp_path / "class", learners)
    scratch = Path(tempfile.mkdtemp(prefix="h", dir="/tmp"))  # short: the sockets are there
    request.addfinalizer(lambda: shutil.rmtree(scratch, ignore_errors=True))
    env = {**os.environ, "RNNCOURSE_ROOT": str(course), "TMPDIR": str(scratch)}
    cmd = [sys.executable, "-m", "autograder", "grade", "add", "--jobs", "1",
           "--cell-timeout", "10", "--notebook-timeout", "60"]
    first = subprocess.Popen(cmd, env=env, cwd=course, start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with_groups = cgroups.available()
    deadline = time.monotonic() + 300
    groups: set[str] = set()
    while time.monotonic() < deadline:  # a learner's kernel (after the pre-flight's) runs
        ours = _ours(scratch)
        groups = _groups_of_session(first.pid) if with_groups else set()
        if (any(n.startswith("rnncourse-grade-") for n in ours)
                and any(n.startswith("rnncourse-kernel-") for n in ours)
                and (groups or not with_groups)):
            break
        time.sleep(0.05)
    os.killpg(first.pid, signal.SIGKILL)  # the grader, its worker and the kernel, at once
    first.wait()
    time.sleep(0.5)
    left = _ours(scratch)
    assert any(n.startswith("rnncourse-kernel-") for n in left), left  # left behind ...
    assert any(n.startswith("rnncourse-grade-") for n in left), left
    if with_groups:
        assert groups, "the run made no control group before it was killed"

    again = subprocess.run(cmd + ["--json"], env=env, cwd=course, capture_output=True,
                           text=True, timeout=600, check=True)
    assert '"flagged": true' not in again.stdout  # the next run grades as it should ...
    assert _ours(scratch) == []  # ... and removes what the killed one left
    assert _existing(groups) == set()
