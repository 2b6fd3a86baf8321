"""Deadlines and late penalties: the submission time reaches nbgrader's gradebook entry, the due
date is nbgrader's ``Assignment.duedate``, and nbgrader's ``AssignLatePenalties`` with the
plugin the course's configuration selects takes the penalty off a late submission only."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from autograder.commands.due import describe, due
from autograder.commands.export import export
from autograder.core import gradebook, late
from autograder.core.course import gradebook_url
from autograder.core.scheduler import find_submissions
from autograder.core.template import template_course
from autograder.core.types import Result
from autograder.core.types import TestResult as Outcome  # not a pytest class
from autograder.errors import AutograderError
from autograder.settings import NBGRADER_CONFIG, submitted_dir

DUE = "2026-12-10 17:00"
ONE_HOUR_LATE = "2026-12-10T18:00:00"
ON_TIME = "2026-12-10T16:59:59"
PER_DAY = "autograder.core.late.PerDayPenalty"


def configure(course: Path, *lines: str) -> None:
    """The course root's nbgrader_config.py: the course's configuration and ``lines``."""
    (course / "nbgrader_config.py").write_text("\n".join([
        "c = get_config()  # noqa: F821",
        f"load_subconfig({str(NBGRADER_CONFIG)!r})  # noqa: F821", *lines, ""]))


def plugin(percent: float = 10.0) -> tuple[str, str]:
    return (f"c.AssignLatePenalties.plugin_class = {PER_DAY!r}",
            f"c.PerDayPenalty.percent_per_day = {percent}")


# --- the plugin and the times, without a gradebook -----------------------------------------

@pytest.mark.parametrize(("seconds", "percent"), [(1, 10), (86400, 10), (86401, 20),
                                                  (30 * 86400, 100)])
def test_per_day_penalty_takes_a_share_of_the_score_per_day_or_part_of_a_day(seconds, percent):
    """Is a second late one day late, a day and a second two, and is the share capped?"""
    penalty = late.PerDayPenalty(percent_per_day=10.0).late_submission_penalty("ada", 8.0,
                                                                               seconds)
    assert penalty == pytest.approx(8.0 * percent / 100)


def test_the_submission_time_is_read_from_nbgraders_timestamp_file(tmp_path):
    (tmp_path / "timestamp.txt").write_text("2026-12-10 18:00:00.000000 UTC\n")
    assert late.submission_time(tmp_path) == ONE_HOUR_LATE


@pytest.mark.parametrize("text", ["2026-12-10 18:00:00 /etc/localtime",  # a zone "name": a file
                                  "tomorrow", "", "2026-12-10 18:00" + " " * 200 + "UTC"])
def test_a_timestamp_that_is_not_a_plain_time_is_no_time(tmp_path, text):
    """Is a zone name (which nbgrader's parse_utc would open as a file), text, or an overlong
    file no submission time, so never late?"""
    (tmp_path / "timestamp.txt").write_text(text)
    assert late.submission_time(tmp_path) is None


def test_a_folder_without_a_timestamp_has_no_time(tmp_path):
    assert late.submission_time(tmp_path) is None


def test_a_due_date_is_read_in_the_given_zone_and_kept_in_utc():
    assert late.parse_due(DUE) == datetime(2026, 12, 10, 17, 0)
    assert late.parse_due(DUE, "Europe/Berlin") == datetime(2026, 12, 10, 16, 0)
    assert late.parse_due(DUE + " +02:00", "Europe/Berlin") == datetime(2026, 12, 10, 15, 0)


@pytest.mark.parametrize(("text", "zone"), [("next friday", "UTC"), (DUE, "Mars/Olympus")])
def test_a_due_date_that_cannot_be_read_says_how_to_write_it(text, zone):
    with pytest.raises(AutograderError, match="YYYY-MM-DD HH:MM|IANA"):
        late.parse_due(text, zone)


def test_find_submissions_carries_the_submission_time(toy_course):
    folder = submitted_dir(toy_course) / "ada" / "add"
    folder.mkdir(parents=True)
    (folder / "add.ipynb").write_text("{}")
    (folder / "timestamp.txt").write_text("2026-12-10 19:00:00+01:00")
    [pending] = find_submissions(toy_course, "add")
    assert pending.submitted == ONE_HOUR_LATE


# --- in the gradebook (nbgrader generates the template: slow) ------------------------------

def _full(db: str, student: str, submitted: str | None) -> Result:
    tests = gradebook.zero_result(db, "add", Result("add", 0.0, 0.0, [])).tests
    full = sum(t.max_points for t in tests)
    return Result("add", full, full, [Outcome(t.name, t.max_points, t.max_points, True)
                                      for t in tests], student=student, submitted=submitted)


def _store(course: Path, student: str, submitted: str | None) -> Result:
    db = gradebook_url(course)
    gradebook.ensure_assignment(course, db, "add", template_course(course, "add"))
    result = _full(db, student, submitted)
    gradebook.store(course, db, "add", student, None, result)
    return result


def _entry(course: Path, student: str) -> tuple[datetime | None, float, float]:
    with Gradebook(gradebook_url(course)) as gb:
        sub = gb.find_submission("add", student)
        return sub.timestamp, sub.score, sub.late_submission_penalty


def _grades_csv(course: Path) -> dict[str, dict]:
    grades, _ = export(course, course / "out")
    with open(grades, newline="") as f:
        return {row["student_id"]: row for row in csv.DictReader(f)}


@pytest.mark.slow
def test_a_late_submission_carries_its_time_and_penalty_to_gradebook_and_export(toy_course):
    """One hour late, 10 % a day: does the entry hold the time and 0.3 of 3 points taken off,
    and does grades.csv show the due date, the time, the penalty and the score that counts?"""
    configure(toy_course, *plugin(10.0))
    due(toy_course, "add", DUE)
    result = _store(toy_course, "ada", ONE_HOUR_LATE)
    assert result.late_penalty == pytest.approx(0.3)
    assert _entry(toy_course, "ada") == (datetime(2026, 12, 10, 18), 3.0, pytest.approx(0.3))
    row = _grades_csv(toy_course)["ada"]
    assert (row["duedate"], row["timestamp"]) == ("2026-12-10 17:00:00", "2026-12-10 18:00:00")
    assert (float(row["late_submission_penalty"]), float(row["score"])) == (
        pytest.approx(0.3), pytest.approx(2.7))


@pytest.mark.slow
def test_on_time_and_timeless_submissions_are_never_penalised(toy_course):
    """With nbgrader's harshest plugin ('zero'), is a submission on time, or with no time at
    all (the export gave none), left its full score?"""
    configure(toy_course, "c.LateSubmissionPlugin.penalty_method = 'zero'")
    due(toy_course, "add", DUE)
    assert _store(toy_course, "ada", ON_TIME).late_penalty == 0.0
    assert _store(toy_course, "bo", None).late_penalty == 0.0
    assert _entry(toy_course, "ada") == (datetime(2026, 12, 10, 16, 59, 59), 3.0, 0.0)
    assert _entry(toy_course, "bo") == (None, 3.0, 0.0)
    assert _store(toy_course, "cy", ONE_HOUR_LATE).late_penalty == 3.0  # the plugin works


@pytest.mark.slow
def test_without_a_plugin_lateness_is_recorded_and_nothing_taken(toy_course):
    """nbgrader's default ('none'): is the late time kept, with no penalty?"""
    due(toy_course, "add", DUE)
    assert _store(toy_course, "ada", ONE_HOUR_LATE).late_penalty == 0.0
    assert _entry(toy_course, "ada") == (datetime(2026, 12, 10, 18), 3.0, 0.0)


@pytest.mark.slow
def test_changing_the_due_date_applies_again_to_graded_submissions(toy_course):
    """Does a due date set after grading penalise, and one moved later take it back?"""
    configure(toy_course, *plugin(50.0))
    _store(toy_course, "ada", ONE_HOUR_LATE)
    assert _entry(toy_course, "ada")[2] == 0.0  # no due date yet
    when, penalties = due(toy_course, "add", DUE)
    assert (when, penalties) == (datetime(2026, 12, 10, 17), {"ada": 1.5})
    assert describe("add", when, penalties) == ["add: due 2026-12-10 17:00:00 UTC",
                                                "  late ada: penalty 1.5 point(s)"]
    assert due(toy_course, "add", "2026-12-11 17:00")[1] == {"ada": 0.0}
    assert _entry(toy_course, "ada")[2] == 0.0
    assert due(toy_course, "add") == (datetime(2026, 12, 11, 17), {})
    assert due(toy_course, "add", clear=True) == (None, {})


@pytest.mark.slow
def test_a_regrade_keeps_manual_grades_and_penalises_the_score_they_make(toy_course):
    """Storing again (grade --force) with a grader's manual score: is it kept, and is the
    penalty taken from the score with it, as nbgrader's own autograde would?"""
    configure(toy_course, *plugin(50.0))
    due(toy_course, "add", DUE)
    _store(toy_course, "ada", ONE_HOUR_LATE)
    with Gradebook(gradebook_url(toy_course)) as gb:
        grade = gb.find_grade("test_add", "add", "add", "ada")
        grade.manual_score, grade.needs_manual_grade = 1.0, False
        gb.db.commit()
    assert _store(toy_course, "ada", ONE_HOUR_LATE).late_penalty == pytest.approx(1.0)
    assert _entry(toy_course, "ada")[1:] == (2.0, pytest.approx(1.0))


def test_due_refuses_an_unknown_assignment_and_a_date_with_clear(toy_course):
    with pytest.raises(AutograderError, match="no assignment named 'nope'"):
        due(toy_course, "nope", DUE)
    with pytest.raises(AutograderError, match="not both"):
        due(toy_course, "add", DUE, clear=True)


def test_the_example_in_the_root_configuration_selects_the_per_day_plugin(tmp_path):
    """Uncommented, do the root nbgrader_config.py's late-penalty lines select the course's
    plugin with its setting, through nbgrader's own AssignLatePenalties?"""
    from nbgrader.preprocessors import AssignLatePenalties

    root_config = (Path(__file__).parents[3] / "nbgrader_config.py").read_text()
    lines = [line.removeprefix("# ") for line in root_config.splitlines()
             if line.startswith(("# c.AssignLatePenalties", "# c.PerDayPenalty"))]
    assert len(lines) == 2
    configure(tmp_path, *lines)
    penalties = AssignLatePenalties(config=late.course_config(tmp_path))
    penalties.init_plugin()
    assert type(penalties.plugin_inst) is late.PerDayPenalty
    assert penalties.plugin_inst.late_submission_penalty("ada", 10.0, 1.0) == 1.0


@pytest.mark.slow
def test_a_result_graded_on_a_cluster_is_stored_with_its_submission_time(toy_course):
    """The Dask path: does the client store the time of the submission it sent out?"""
    from autograder.core.cluster import _store as store_from_cluster
    from autograder.core.scheduler import Pending

    configure(toy_course, *plugin(10.0))
    due(toy_course, "add", DUE)
    db = gradebook_url(toy_course)
    pending = Pending("ada", "add", None, "digest", ONE_HOUR_LATE)
    stored = store_from_cluster(toy_course, db, "add", pending, _full(db, "ada", None), {})
    assert (stored.submitted, stored.late_penalty) == (ONE_HOUR_LATE, pytest.approx(0.3))
    assert _entry(toy_course, "ada") == (datetime(2026, 12, 10, 18), 3.0, pytest.approx(0.3))
