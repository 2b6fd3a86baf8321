"""``grade --scheduler`` on a real Dask cluster into a real PostgreSQL gradebook.

A class of the real assignment ``rnn_forward`` (correct, wrong and hostile notebooks mixed)
is graded by a scheduler and two workers, separate processes on 127.0.0.1; one worker is
killed mid-run. Every submission must then be in the PostgreSQL gradebook exactly once, with
the score the same notebook gets when graded on this machine into SQLite.
"""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook
from sqlalchemy import create_engine, text

from autograder.commands.grade import grade
from autograder.core.cluster import ClusterUnavailable
from autograder.settings import Limits, results_dir, submitted_dir
from tests.autograder.catalogues.hostile import ATTACKS, ROOT, write

pytestmark = pytest.mark.slow  # grades a class on a cluster

ASSIGNMENT = "rnn_forward"
STUDENTS = 100
LIMITS = Limits(cell_timeout=10, notebook_timeout=60, cpu_seconds=10, memory_mb=1024,
                tmp_mb=32, workdir_mb=32, repair_seconds=20)
# Correct, partly and wholly wrong answers, and quick attacks of the hostile catalogue.
VARIANTS = ["correct", "partial", "correct_with_noise", "correct", "defines_check_helpers",
            "imports_the_reference", "reads_the_solutions", "ndarray_subclass_says_allclose",
            "self_undoing_patch", "links_the_host_into_its_folder", "huge_error_message",
            "not_utf8", "cells_is_not_a_list", "correct", "partial", "float32_result"]


def variant(i: int) -> str:
    return VARIANTS[i % len(VARIANTS)]


def course_of(base: Path, students: dict[str, str]) -> Path:
    """A course of ``rnn_forward`` whose learners (name -> variant) have submitted."""
    course = base / "course"
    shutil.copytree(ROOT / "solutions" / ASSIGNMENT, course / "solutions" / ASSIGNMENT)
    (course / "autograder").mkdir()
    release = nbformat.read(ROOT / "exercises" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", 4)
    attacks = {a.name: a for a in ATTACKS}
    for student, name in students.items():
        folder = submitted_dir(course) / student / ASSIGNMENT
        folder.mkdir(parents=True)
        write(attacks[name], release, folder / f"{ASSIGNMENT}.ipynb")
    return course


@pytest.fixture(scope="module")
def local_scores(tmp_path_factory) -> dict[str, float]:
    """The score of each variant, graded on this machine into SQLite."""
    course = course_of(tmp_path_factory.mktemp("local"), {v: v for v in set(VARIANTS)})
    rows = grade(course, jobs=2, limits=LIMITS, progress=False)
    assert len(rows) == len(set(VARIANTS))
    return {r.student: r.score for r in rows} | {"max": rows[0].max_score}


def pg_scores(url: str) -> dict[str, float]:
    with Gradebook(url) as gb:
        return {s.student.id: s.score for s in gb.find_assignment(ASSIGNMENT).submissions}


def test_a_class_graded_on_a_cluster_that_loses_a_worker_is_stored_once_each(
        tmp_path, postgres, dask_cluster, local_scores):
    students = {f"s{i:03d}": variant(i) for i in range(STUDENTS)}
    course = course_of(tmp_path, students)
    url = postgres.create_database("cluster_class")
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["rows"] = grade(course, scheduler=dask_cluster.address, db=url,
                                    limits=LIMITS, progress=False,
                                    failures=outcome.setdefault("failures", []))
        except BaseException as err:  # noqa: BLE001  (reported by the assertion below)
            outcome["error"] = err

    grading = threading.Thread(target=run)
    grading.start()
    results = results_dir(course) / ASSIGNMENT
    deadline = time.monotonic() + 300
    while (len(list(results.glob("*.json"))) < STUDENTS // 4 and grading.is_alive()
           and time.monotonic() < deadline):
        time.sleep(0.2)
    stored_before = len(list(results.glob("*.json")))
    dask_cluster.kill_worker("w1")  # mid-run: the tasks it held run again on w2
    grading.join(timeout=900)
    assert not grading.is_alive(), "grading did not finish in 15 minutes"
    assert "error" not in outcome, repr(outcome.get("error"))
    assert STUDENTS // 4 <= stored_before < STUDENTS

    rows = outcome["rows"]
    assert sorted(r.student for r in rows) == sorted(students)
    with create_engine(url).connect() as conn:
        counts = conn.execute(text(
            "SELECT s.student_id, count(*) FROM submitted_assignment s "
            "JOIN assignment a ON a.id = s.assignment_id WHERE a.name = :a "
            "GROUP BY s.student_id"), {"a": ASSIGNMENT}).all()
    assert sorted(student for student, _ in counts) == sorted(students)
    assert all(n == 1 for _, n in counts)
    assert local_scores["correct"] == local_scores["max"]
    assert 0 < local_scores["partial"] < local_scores["max"]
    expected = {s: local_scores[v] for s, v in students.items()}
    assert pg_scores(url) == expected
    assert {r.student: r.score for r in rows} == expected
    assert outcome["failures"] == []


def test_grade_says_what_to_do_when_no_scheduler_answers(tmp_path):
    course = course_of(tmp_path, {"alice": "correct"})
    with pytest.raises(ClusterUnavailable, match="start it"):
        grade(course, scheduler="tcp://127.0.0.1:9", limits=LIMITS, progress=False)

