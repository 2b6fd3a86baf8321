"""collect, grade, feedback, export and formgrader on a toy class; the sandbox's set-up."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder.commands.collect import collect
from autograder.commands.export import export
from autograder.commands.feedback import feedback
from autograder.commands.grade import grade
from autograder.commands.release import generate
from autograder.core.gradebook import result_file
from autograder.errors import AutograderError
from autograder.settings import Limits, db_url
from tests.builders import add_assignment, filled, make_course

LIMITS = Limits(cell_timeout=10, notebook_timeout=60)
CORRECT = "def add(a, b):\n    return a + b"
PARTIAL = "def add(a, b):\n    return a + b if a != 2 else 0"  # fails the hidden test only

pytestmark = pytest.mark.slow  # grades notebooks in sandboxed kernels


def submit(inbox: Path, student: str, source: str, name: str = "add.ipynb") -> Path:
    release = nbformat.read(inbox.parent / "course" / "exercises" / "add" / "add.ipynb", 4)
    path = inbox / student / "add" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(filled(release, source), path)
    return path


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """A toy class: the course ``add``, its release, and an inbox of two learners."""
    base = tmp_path_factory.mktemp("class")
    course = make_course(base / "course", {"add": add_assignment()})
    generate(course, "add", course / "exercises")
    inbox = base / "inbox"
    submit(inbox, "alice", CORRECT)
    submit(inbox, "bob", PARTIAL)
    (inbox / "readme.txt").write_text("not a submission")
    return course, inbox


@pytest.fixture(scope="module")
def graded(toy):
    """The toy class collected and graded once, in parallel."""
    course, inbox = toy
    report = collect(course, inbox, progress=False)
    rows = grade(course, jobs=2, limits=LIMITS, progress=False)
    return course, inbox, report, rows


# -- collect ----------------------------------------------------------------------------------

def test_collect_imports_each_learner_and_reports_what_it_could_not_match(graded):
    course, _, report, _ = graded
    assert sorted(s for s, _, _ in report.imported) == ["alice", "bob"]
    assert [f for f, _ in report.unmatched] == ["readme.txt"]
    assert (course / "grading" / "submitted" / "alice" / "add" / "add.ipynb").exists()


def test_collect_twice_imports_nothing_the_second_time(graded):
    course, inbox, _, _ = graded
    again = collect(course, inbox, progress=False)
    assert again.imported == [] and again.updated == [] and len(again.skipped) == 2


def test_collect_reads_a_folder_given_by_a_relative_path(toy, tmp_path, monkeypatch):
    _, inbox = toy
    course = make_course(tmp_path / "course", {"add": add_assignment()})
    monkeypatch.chdir(course)
    relative = Path(os.path.relpath(inbox, course))  # ../../.../inbox: '..' is not hidden
    report = collect(course, relative, progress=False)
    assert sorted(s for s, _, _ in report.imported) == ["alice", "bob"]


@pytest.mark.parametrize("member, student", [  # the id keeps the export's learner id
    ("doejane_12345_678901_add.ipynb", "doejane_12345"),  # Canvas
    ("doejane_LATE_12345_678901_add-1.ipynb", "doejane_12345"),  # Canvas, late resubmission
    ("Jane Doe_424242_assignsubmission_file_/add.ipynb", "jane_doe_424242"),  # Moodle
])
def test_collect_reads_lms_zip_exports(toy, tmp_path, member, student):
    course, inbox = toy
    root = make_course(tmp_path / "course", {"add": add_assignment()})
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(inbox / "alice" / "add" / "add.ipynb", member)
        zf.writestr("feedback_template.docx", b"nothing")
    report = collect(root, archive, progress=False)
    assert report.imported == [(student, "add", member)]
    assert report.unmatched[0][0] == "feedback_template.docx"
    assert (root / "grading" / "submitted" / student / "add" / "add.ipynb").exists()


# -- grade ------------------------------------------------------------------------------------

def test_grade_stores_every_submission_in_the_gradebook(graded):
    course, _, _, rows = graded
    assert {r.student: r.score for r in rows} == {"alice": 3.0, "bob": 1.0}
    with Gradebook(db_url(course)) as gb:
        scores = {s.student.id: s.score for s in gb.find_assignment("add").submissions}
    assert scores == {"alice": 3.0, "bob": 1.0}


def test_grade_again_skips_what_is_graded(graded):
    course, _, _, _ = graded
    assert grade(course, jobs=2, limits=LIMITS, progress=False) == []


def test_a_run_killed_midway_resumes_without_counting_twice(graded):
    course, _, _, _ = graded
    result_file(course, "add", "bob").unlink()  # as if killed before bob's result was final
    rows = grade(course, jobs=2, limits=LIMITS, progress=False)
    assert [r.student for r in rows] == ["bob"]
    with Gradebook(db_url(course)) as gb:
        subs = gb.find_assignment("add").submissions
        assert sorted(s.student.id for s in subs) == ["alice", "bob"]
        assert gb.find_submission("add", "bob").score == 1.0


def fresh_class(base: Path, learners: dict[str, str]) -> Path:
    """A course of the toy assignment whose learners (name -> answer) are collected."""
    course = make_course(base / "course", {"add": add_assignment()})
    generate(course, "add", course / "exercises")
    for student, source in learners.items():
        submit(base / "inbox", student, source)
    collect(course, base / "inbox", progress=False)
    return course


def gradebook_scores(course: Path) -> dict[str, float]:
    with Gradebook(db_url(course)) as gb:
        return {s.student.id: s.score for s in gb.find_assignment("add").submissions}


def test_a_worker_that_dies_loses_no_submission(tmp_path, monkeypatch):
    import autograder.core.scheduler as grading

    course = fresh_class(tmp_path, {"alice": CORRECT, "bob": PARTIAL, "carol": CORRECT})

    class DyingOnBob(grading.Worker):
        def run(self, t, timeout):
            if t["student"] == "bob":
                self.proc.kill()  # as if nbgrader itself crashed on bob's notebook
            return super().run(t, timeout)

    monkeypatch.setattr(grading, "Worker", DyingOnBob)
    rows = grade(course, jobs=1, limits=LIMITS, progress=False)
    assert {r.student: r.score for r in rows} == {"alice": 3.0, "bob": 1.0, "carol": 3.0}
    assert gradebook_scores(course) == {"alice": 3.0, "bob": 1.0, "carol": 3.0}
    log = (course / "grading" / "logs" / "grade-add.log").read_text()
    assert "worker failed on bob" in log


def test_grade_killed_midway_resumes_and_counts_nothing_twice(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    learners = {f"s{i}": CORRECT if i % 2 else PARTIAL for i in range(5)}
    course = fresh_class(tmp_path, learners)
    env = {**os.environ, "RNNCOURSE_ROOT": str(course)}
    cmd = [sys.executable, "-m", "autograder", "grade", "add", "--jobs", "1",
           "--cell-timeout", "10", "--notebook-timeout", "60"]
    first = subprocess.Popen(cmd, env=env, cwd=course, start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = course / "grading" / "results" / "add"
    deadline = time.monotonic() + 300
    while not list(results.glob("*.json")) and time.monotonic() < deadline:
        time.sleep(0.1)
    os.killpg(first.pid, signal.SIGKILL)  # the grader and its workers, mid-run
    first.wait()
    done_first = {p.stem for p in results.glob("*.json")}
    assert 1 <= len(done_first) < len(learners)

    second = subprocess.run(cmd + ["--json"], env=env, cwd=course, capture_output=True,
                            text=True, timeout=600)
    lines = [json.loads(line) for line in second.stdout.splitlines()]
    assert lines[-1]["summary"]["graded"] == len(lines) - 1  # the last line: the summary
    regraded = {line["student"] for line in lines[:-1]}
    assert regraded == set(learners) - done_first
    expected = {s: 3.0 if src == CORRECT else 1.0 for s, src in learners.items()}
    assert gradebook_scores(course) == expected


def test_formgrader_api_lists_the_graded_submissions(graded):
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    course, _, _, _ = graded
    config = Config()
    config.CourseDirectory.root = str(course)
    config.CourseDirectory.submitted_directory = "grading/submitted"
    config.CourseDirectory.autograded_directory = "grading/autograded"
    config.CourseDirectory.db_url = db_url(course)
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    subs = {s["student"]: s for s in api.get_submissions("add")}
    assert set(subs) == {"alice", "bob"}
    assert all(s["autograded"] for s in subs.values())
    assert subs["bob"]["score"] == 1.0


# -- feedback and export ----------------------------------------------------------------------

def test_feedback_hides_hidden_tests_and_their_tracebacks(graded):
    course, _, _, _ = graded
    files = feedback(course, ["add"])
    assert sorted(p.parent.parent.name for p in files) == ["alice", "bob"]
    bob = next(p for p in files if p.parent.parent.name == "bob").read_text()
    assert "add(2, 2) should be 4" in bob  # the failure message is shown ...
    assert "assert add(2, 2) == 4" not in bob  # ... the hidden test's code is not
    assert "HIDDEN TESTS" not in bob


def test_export_writes_grades_and_a_per_test_breakdown(graded, tmp_path):
    course, _, _, _ = graded
    grades, tests = export(course, tmp_path)
    rows = list(csv.DictReader(grades.open()))
    assert {r["student_id"]: float(r["score"]) for r in rows} == {"alice": 3.0, "bob": 1.0}
    per_test = list(csv.DictReader(tests.open()))
    assert len(per_test) == 4
    bob = {r["test"]: float(r["points"]) for r in per_test if r["student"] == "bob"}
    assert bob == {"test_add": 0.0, "test_add_negative": 1.0}


def test_commands_have_help(run_autograder):
    for command in ("release", "collect", "grade", "feedback", "export", "score"):
        assert "usage: autograder " + command in run_autograder(command, "--help").stdout


def test_grade_says_which_sandbox_it_uses(toy_course, run_autograder):
    proc = run_autograder("grade")
    assert proc.stderr.startswith("sandbox: bubblewrap")


def test_grade_goes_on_past_a_submission_it_cannot_grade_and_lists_it_not_graded(
        tmp_path, monkeypatch):
    """The grader's own crash (its process and the fallback both fail on bob): is bob
    listed as not graded, given no score, stored nowhere (no gradebook entry, no result
    file), and graded by the next run, while the rest of the class is graded?"""
    import autograder.core.scheduler as grading
    import autograder.core.worker as one_path  # grade_one, with its fallback

    course = fresh_class(tmp_path, {"alice": CORRECT, "bob": PARTIAL, "carol": CORRECT})

    class DyingOnBob(grading.Worker):
        def run(self, t, timeout):
            if t["student"] == "bob":
                self.proc.kill()
            return super().run(t, timeout)

    def broken_fallback(*args, **kwargs):
        raise RuntimeError("nbgrader exploded")

    with monkeypatch.context() as patch:
        patch.setattr(grading, "Worker", DyingOnBob)
        patch.setattr(one_path, "autograde_batch", broken_fallback)
        failures: list[str] = []
        rows = grade(course, jobs=1, limits=LIMITS, progress=False, failures=failures)
    assert {r.student: (r.score, r.flagged) for r in rows} == {"alice": (3.0, False),
                                                              "carol": (3.0, False)}
    assert failures == ["add/bob: could not be graded: RuntimeError: nbgrader exploded"]
    assert gradebook_scores(course) == {"alice": 3.0, "carol": 3.0}
    assert not result_file(course, "add", "bob").exists()
    again = grade(course, jobs=1, limits=LIMITS, progress=False)
    assert [(r.student, r.score) for r in again] == [("bob", 1.0)]


def test_a_grading_stopped_by_the_machines_own_limits_is_not_a_score(tmp_path, monkeypatch):
    """The grading process of bob outgrew the grader's memory cap (the machine's limit, not
    the learner's: the kernel's limits stop the learner's code): is bob not graded, stored
    nowhere, listed with why, and the rest graded?"""
    import autograder.core.scheduler as grading
    from autograder.core.worker import MEMORY

    course = fresh_class(tmp_path, {"alice": CORRECT, "bob": CORRECT})

    class OutOfMemoryOnBob(grading.Worker):
        def run(self, t, timeout):
            if t["student"] != "bob":
                return super().run(t, timeout)
            self.kill()
            self.failure = MEMORY
            return None

    monkeypatch.setattr(grading, "Worker", OutOfMemoryOnBob)
    failures: list[str] = []
    rows = grade(course, jobs=1, limits=LIMITS, progress=False, failures=failures)
    assert [r.student for r in rows] == ["alice"]
    assert failures == [f"add/bob: grading stopped: the grading process took more than "
                        f"{LIMITS.grader_memory_mb} MB of the grader's memory "
                        "(--grader-memory-mb)"]
    assert gradebook_scores(course) == {"alice": 3.0}
    assert not result_file(course, "add", "bob").exists()


HANG = "def add(a, b):\n    while True:\n        pass"
CRASH = "def add(a, b):\n    import os\n    os._exit(3)"


def test_a_learners_code_that_hangs_or_kills_its_kernel_keeps_its_flagged_zero(tmp_path):
    """The learner's side: code that runs past its cell's time limit, or kills its own
    kernel, is the learner's doing: graded (zero for what it broke), flagged, stored, and
    not listed as not graded."""
    course = fresh_class(tmp_path, {"alice": CORRECT, "hang": HANG, "crash": CRASH})
    failures: list[str] = []
    limits = Limits(cell_timeout=3, notebook_timeout=30)
    rows = {r.student: r for r in grade(course, jobs=1, limits=limits, progress=False,
                                        failures=failures)}
    assert failures == []
    assert {s: (r.score, r.flagged) for s, r in rows.items()} == {
        "alice": (3.0, False), "crash": (0.0, True), "hang": (0.0, True)}
    assert [t.max_points for t in rows["hang"].tests] == [2.0, 1.0]
    assert gradebook_scores(course) == {"alice": 3.0, "crash": 0.0, "hang": 0.0}
    assert result_file(course, "add", "hang").exists()


def test_a_kernel_that_cannot_start_grades_no_one_and_stores_nothing(tmp_path, monkeypatch):
    """The issue's broken set-up reached ``grade`` (without the pre-flight check of the
    command line): is every submission listed as not graded with the kernel's failure,
    none stored as a zero, and graded once the set-up is mended?"""
    course = fresh_class(tmp_path, {"alice": CORRECT, "bob": PARTIAL})
    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(tmp_path / "gone" / "python"), "-m", "ipykernel_launcher", "-f",
                 "{connection_file}"], "display_name": "Python 3", "language": "python"}))
    failures: list[str] = []
    with monkeypatch.context() as patch:
        patch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
        assert grade(course, jobs=1, limits=LIMITS, progress=False, failures=failures) == []
    assert [f.split(":")[0] for f in failures] == ["add/alice", "add/bob"]
    assert all("Kernel died before replying to kernel_info" in f for f in failures), failures
    assert not list((course / "grading" / "results").rglob("*.json"))
    assert gradebook_scores(course) == {}
    rows = grade(course, jobs=1, limits=LIMITS, progress=False)
    assert {r.student: r.score for r in rows} == {"alice": 3.0, "bob": 1.0}


def test_grade_exits_1_and_says_what_was_not_graded(toy_course, monkeypatch, capsys):
    """Does the command line exit 1, and its summary list each submission not graded and
    what happens to it, when the machine failed any?"""
    from autograder import cli
    from autograder.commands import grade as grading

    def one_not_graded(root, names, *, failures, preflight, **kwargs):
        failures.append("add/bob: grading stopped: the grading process took more than 2048 "
                        "MB (--grader-memory-mb)")
        return []

    monkeypatch.setattr(grading, "grade_all", one_not_graded)
    assert cli.main(["grade"]) == 1
    err = capsys.readouterr().err
    assert "not graded 1" in err
    assert "NOT GRADED add/bob: grading stopped" in err
    assert "the next `grade` grades them again" in err


def test_result_file_records_the_submission_it_graded(graded):
    course, _, _, _ = graded
    record = json.loads(result_file(course, "add", "alice").read_text())
    data = (course / "grading" / "submitted" / "alice" / "add" / "add.ipynb").read_bytes()
    assert record["digest"] == hashlib.sha256(b"add.ipynb\0" + data).hexdigest()


# -- one learner, and what a lecturer reads at the end ------------------------------------------

def test_grade_of_one_student_grades_that_learner_only(tmp_path):
    """``grade add --student bob --force``: is bob graded again, and nobody else?"""
    course = make_course(tmp_path / "course", {"add": add_assignment()})
    generate(course, "add", course / "exercises")
    inbox = tmp_path / "inbox"
    submit(inbox, "alice", CORRECT)
    submit(inbox, "bob", PARTIAL)
    collect(course, inbox, progress=False)
    rows = grade(course, jobs=1, limits=LIMITS, progress=False, force=True, students=["bob"])
    assert [r.student for r in rows] == ["bob"]
    assert not result_file(course, "add", "alice").exists()
    with pytest.raises(AutograderError, match="nothing collected for 'carol'"):
        grade(course, jobs=1, limits=LIMITS, progress=False, students=["carol"])


def test_the_summary_gives_each_flag_its_reason_and_json_ends_with_it():
    from autograder.commands.grade import summary, summary_record
    from autograder.core.types import Result

    flagged = Result("add", 0.0, 3.0, [], flagged=True, flags=["cell 12 timed out"])
    flagged.student = "bob"
    lines = summary([flagged], ["add/carol: grading stopped: the grader ran out of memory"])
    assert "  FLAGGED add/bob: cell 12 timed out" in lines
    assert "  NOT GRADED add/carol: grading stopped: the grader ran out of memory" in lines
    assert summary_record([], []) == {"summary": {"graded": 0, "flagged": 0, "not_graded": []}}
    assert json.loads(json.dumps(summary_record([flagged], [])))["summary"]["flagged"] == 1


def test_the_summary_lists_each_late_penalty():
    from autograder.commands.grade import summary
    from autograder.core.types import Result

    late = Result("add", 3.0, 3.0, [], student="ada", submitted="2026-12-10T18:00:00",
                  late_penalty=0.3)
    on_time = Result("add", 3.0, 3.0, [], student="bo", submitted="2026-12-10T16:00:00")
    lines = summary([late, on_time], [])
    assert "  LATE add/ada: submitted 2026-12-10T18:00:00 UTC, late penalty 0.3 point(s)" in lines
    assert not any("bo" in line for line in lines)


@pytest.mark.slow
def test_learners_collected_before_the_gradebook_existed_get_their_names(tmp_path):
    """Collected from a Canvas export into a course with no gradebook yet, are the learners
    named in the gradebook once graded (formgrader lists them by name, not "None, None")?"""
    course = make_course(tmp_path / "course", {"add": add_assignment()})
    generate(course, "add", course / "exercises")
    release = nbformat.read(course / "exercises" / "add" / "add.ipynb", 4)
    export_zip = tmp_path / "canvas.zip"
    with zipfile.ZipFile(export_zip, "w") as zf:
        zf.writestr("núñezjosé_12345_900001_add.ipynb",
                    nbformat.writes(filled(release, "def add(a, b):\n    return a + b")))
    collect(course, export_zip, progress=False)
    [row] = grade(course, jobs=1, limits=LIMITS, progress=False)
    with Gradebook(db_url(course)) as gb:
        student = gb.find_student(row.student)
        assert (student.first_name, student.last_name) == ("", "núñezjosé")
