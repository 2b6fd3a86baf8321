"""The gradebook on a real PostgreSQL server: named by ``--db`` or by the course's
nbgrader_config.py (what formgrader reads), with ``export`` and ``feedback`` as on SQLite."""

from __future__ import annotations

import csv

import pytest

from autograder.commands.export import export
from autograder.commands.feedback import feedback
from autograder.commands.grade import grade
from autograder.core.course import gradebook_url
from autograder.core.gradebook import GradebookUnavailable
from autograder.settings import NBGRADER_CONFIG, Limits, gradebook_file
from tests.autograder.commands.test_grade import CORRECT, PARTIAL, fresh_class

pytestmark = pytest.mark.slow  # grades notebooks

LIMITS = Limits(cell_timeout=10, notebook_timeout=60)


def configure(course, url: str) -> None:
    """The course's own nbgrader_config.py names the gradebook, as an instructor's would."""
    (course / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821\n"
        f"load_subconfig({str(NBGRADER_CONFIG)!r})  # noqa: F821\n"
        f"c.CourseDirectory.db_url = {url!r}\n")


@pytest.fixture(scope="module")
def graded_on_postgres(tmp_path_factory, postgres):
    """A toy class graded into a PostgreSQL gradebook that only its configuration names."""
    course = fresh_class(tmp_path_factory.mktemp("pg"), {"alice": CORRECT, "bob": PARTIAL})
    url = postgres.create_database("toy_class")
    configure(course, url)
    rows = grade(course, jobs=2, limits=LIMITS, progress=False)
    return course, url, rows


def test_the_course_configuration_puts_the_gradebook_on_postgresql(graded_on_postgres):
    course, url, rows = graded_on_postgres
    assert gradebook_url(course) == url
    assert {r.student: r.score for r in rows} == {"alice": 3.0, "bob": 1.0}
    assert not gradebook_file(course).exists()  # no SQLite file on the side


def test_export_reads_the_postgresql_gradebook(graded_on_postgres, tmp_path):
    course, _, _ = graded_on_postgres
    grades, tests = export(course, tmp_path)
    rows = list(csv.DictReader(grades.open()))
    assert {r["student_id"]: float(r["score"]) for r in rows} == {"alice": 3.0, "bob": 1.0}
    assert len(list(csv.DictReader(tests.open()))) == 4


def test_feedback_reads_the_postgresql_gradebook(graded_on_postgres):
    course, _, _ = graded_on_postgres
    files = feedback(course, ["add"])
    assert sorted(p.parent.parent.name for p in files) == ["alice", "bob"]
    assert "HIDDEN TESTS" not in files[0].read_text()


def test_grading_again_with_force_replaces_each_entry(graded_on_postgres):
    course, url, _ = graded_on_postgres
    rows = grade(course, jobs=2, limits=LIMITS, progress=False, force=True, db=url)
    assert len(rows) == 2
    from nbgrader.api import Gradebook

    with Gradebook(url) as gb:
        assert sorted(s.student.id for s in gb.find_assignment("add").submissions) == [
            "alice", "bob"]


def test_the_unix_socket_address_works_too(postgres, tmp_path):
    course = fresh_class(tmp_path, {"carol": CORRECT})
    postgres.create_database("socket_class")
    rows = grade(course, jobs=1, limits=LIMITS, progress=False,
                 db=postgres.socket_url("socket_class"))
    assert [r.score for r in rows] == [3.0]


def test_a_server_that_is_down_is_one_line_saying_what_to_do(tmp_path):
    course = fresh_class(tmp_path, {"dave": CORRECT})
    with pytest.raises(GradebookUnavailable, match="start the database server") as err:
        grade(course, limits=LIMITS, progress=False,
              db="postgresql://grader:secret@127.0.0.1:9/none")
    assert "secret" not in str(err.value)
