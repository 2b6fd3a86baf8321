"""Deadlines and late penalties, in nbgrader's own places and by nbgrader's own rule.

* **The due date** of an assignment is nbgrader's ``Assignment.duedate`` in the course's
  gradebook (set by ``python -m autograder due``, or in formgrader's *Manage Assignments*:
  the same field); a learner's extension is nbgrader's too (``SubmittedAssignment.extension``).
* **The submission time** is nbgrader's ``timestamp.txt`` beside the collected notebook
  (``collect`` writes it when the export gives the time). ``grade`` reads it through
  ``attempts.parse_time`` (a date, a time and UTC or an offset, nothing else) and stores it
  as the entry's ``SubmittedAssignment.timestamp``. A submission without a time (none in the
  export, or one that cannot be read) has none: nbgrader counts it zero seconds late, and it is
  never penalised.
* **The penalty** is nbgrader's ``AssignLatePenalties`` preprocessor, configured as nbgrader
  documents (``c.AssignLatePenalties.plugin_class``, ``c.LateSubmissionPlugin.penalty_method``)
  in the course's ``nbgrader_config.py``, run on the course's gradebook entry once ``grade``
  has stored it (the scratch course where nbgrader autogrades knows neither the due date nor a
  grader's manual scores, which nbgrader's score, and so its penalty, include). nbgrader's
  plugins are ``none`` (its default: lateness recorded, no penalty) and ``zero``;
  :class:`PerDayPenalty` takes a percentage of the score per day or part of a day late.

``apply`` runs it on a submission late for the current due date, or penalised before (a due
date moved later takes the penalty back): ``grade`` after each store (``--force`` re-applies
the current due date), ``due`` on every graded submission of the assignment at once.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import nbformat
from nbgrader.api import Gradebook
from nbgrader.plugins import LateSubmissionPlugin
from traitlets import Float

from autograder.core.attempts import TIMESTAMP_FILE, parse_time
from autograder.errors import AutograderError
from autograder.settings import NBGRADER_CONFIG

TIMESTAMP_BYTES = 100  # of timestamp.txt: one line of a date, a time and a zone
SECONDS_PER_DAY = 86400.0


class PerDayPenalty(LateSubmissionPlugin):
    """A late-penalty plugin: ``percent_per_day`` of the score for each day or part of a day
    late, at most ``max_percent``. Select it in nbgrader_config.py with
    ``c.AssignLatePenalties.plugin_class = "autograder.core.late.PerDayPenalty"``."""

    percent_per_day = Float(10.0, help="Percent of the score taken per day (or part of a day) "
                                       "late.").tag(config=True)
    max_percent = Float(100.0, help="The most taken, in percent of the score.").tag(config=True)

    def late_submission_penalty(self, student_id: str, score: float,
                                total_seconds_late: float) -> float | None:
        """The points taken from ``score``, ``total_seconds_late`` seconds after the due date."""
        days = math.ceil(total_seconds_late / SECONDS_PER_DAY)
        percent = min(self.max_percent, self.percent_per_day * days)
        return score * max(0.0, percent) / 100.0


def submission_time(folder: Path) -> str | None:
    """The submission time in ``folder``'s ``timestamp.txt`` as ISO 8601 (UTC, naive, as
    nbgrader keeps it); None when there is none, or it is longer than a time, or not a time
    ``parse_time`` reads."""
    try:
        with open(folder / TIMESTAMP_FILE, "rb") as stamp:
            data = stamp.read(TIMESTAMP_BYTES + 1)
    except OSError:
        return None
    if len(data) > TIMESTAMP_BYTES:  # not one line of a time: never cut to one
        return None
    text = data.decode("utf-8", "replace").strip()
    when = parse_time(text)
    return when.isoformat() if when is not None else None


def parse_due(text: str, zone: str = "UTC") -> datetime:
    """The due date ``text`` (``YYYY-MM-DD HH:MM[:SS]``, optionally with UTC, Z or an offset
    such as +01:00) in UTC, naive as nbgrader keeps it; ``zone`` (an IANA name such as
    Europe/Berlin, or UTC) is the time zone of a time given without one."""
    when = parse_time(text.strip())
    if when is None:
        raise AutograderError(f"{text!r} is not a due date: write it as \"YYYY-MM-DD HH:MM\", "
                              "e.g. \"2026-12-10 17:00\" (a zone: --timezone, or +01:00 after "
                              "the time)")
    if not _has_zone(text):
        try:
            tz = ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise AutograderError(f"unknown time zone {zone!r}: give an IANA name such as "
                                  "Europe/Berlin or America/New_York, or UTC") from None
        when = when.replace(tzinfo=tz).astimezone(timezone.utc).replace(tzinfo=None)
    return when


def _has_zone(text: str) -> bool:
    from autograder.core.attempts import TIME_TEXT

    m = TIME_TEXT.fullmatch(text.strip())
    return bool(m and m["zone"])


@lru_cache(maxsize=8)
def _config_of(config_file: Path, mtime_ns: int):
    from traitlets.config.loader import PyFileConfigLoader

    return PyFileConfigLoader(config_file.name, path=str(config_file.parent)).load_config()


def course_config(root: Path):
    """The course's nbgrader configuration: ``root``'s ``nbgrader_config.py`` (which loads the
    course's own), else the course's own (``autograder/nbgrader_config.py``)."""
    config_file = root / "nbgrader_config.py"
    if not config_file.is_file():
        config_file = NBGRADER_CONFIG
    try:
        return _config_of(config_file.resolve(), config_file.stat().st_mtime_ns)
    except Exception as err:  # noqa: BLE001  (any error in the instructor's file)
        raise AutograderError(f"{config_file} cannot be read ({type(err).__name__}: {err}): "
                              "fix it (c.AssignLatePenalties.plugin_class and the "
                              "plugin's settings)") from None


def needs_penalty(sub) -> bool:
    """Whether nbgrader's penalty must run on the gradebook entry ``sub``: it is late for its
    due date now, or carries a penalty from before."""
    return sub.total_seconds_late > 0 or any(nb.late_submission_penalty
                                             for nb in sub.notebooks)


def apply(root: Path, db: str, assignment: str, student: str, notebooks: list[str]) -> float:
    """Run nbgrader's ``AssignLatePenalties``, configured by the course, on the ``notebooks``
    of ``student``'s entry of ``assignment`` in the gradebook ``db`` (committed); the entry's
    penalty now."""
    from nbgrader.preprocessors import AssignLatePenalties

    penalties = AssignLatePenalties(config=course_config(root))
    for name in notebooks:
        resources = {"nbgrader": {"notebook": name, "assignment": assignment,
                                  "student": student, "db_url": db}}
        penalties.preprocess(nbformat.v4.new_notebook(), resources)
    with Gradebook(db) as gb:
        return float(gb.find_submission(assignment, student).late_submission_penalty or 0.0)


def reapply(root: Path, db: str, assignment: str) -> dict[str, float]:
    """``apply`` on every entry of ``assignment`` that is late for its current due date or
    was penalised before (``due``, after changing the date); the penalty of each, by student."""
    with Gradebook(db) as gb:
        todo = [(sub.student.id, [nb.name for nb in sub.notebooks])
                for sub in gb.find_assignment(assignment).submissions if needs_penalty(sub)]
    return {student: apply(root, db, assignment, student, notebooks)
            for student, notebooks in todo}
