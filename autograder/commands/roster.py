"""``roster import``: the class roster of Canvas or Moodle into nbgrader's students table and
the record of learners, so that collected files are matched by LMS id and exports carry the
ids each LMS imports by.

``core.roster`` reads the file and decides who each row is; here the result is stored, the
gradebook first (each learner's first and last name, email and Canvas user id, in one
transaction), then ``grading/submitted/.learners.json`` (their ids in each LMS, which
``collect`` and ``core.lms`` read). A roster is the LMS's word on names: a name it gives
replaces the gradebook's; a field it leaves empty is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.api import Gradebook, Student
from sqlalchemy.exc import SQLAlchemyError

from autograder.core import roster
from autograder.core.course import assignments as course_assignments
from autograder.core.course import gradebook_url
from autograder.core.exports import printable
from autograder.core.gradebook import check, safe_url
from autograder.core.learners import Registry
from autograder.errors import AutograderError, UnknownAssignment
from autograder.settings import COURSE_ID, grading_dir

FORMAT_CHOICES = ("auto", *roster.FORMATS)


@dataclass
class RosterReport:
    """What ``import_roster`` did, learner by learner (student ids), with each row's warning
    and each refused row."""

    format: str
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    warnings: list[tuple[int, str]] = field(default_factory=list)  # line, what
    refused: list[tuple[int, str]] = field(default_factory=list)

    @property
    def exit_status(self) -> int:
        """1 when a row was refused (a learner not imported), else 0."""
        return 1 if self.refused else 0

    def lines(self) -> list[str]:
        out = [f"{roster.FORMATS[self.format].what}: added {len(self.added)}, updated "
               f"{len(self.updated)}, unchanged {len(self.unchanged)}, warnings "
               f"{len(self.warnings)}, refused {len(self.refused)}"]
        out += [f"  added   {printable(s)}" for s in self.added]
        out += [f"  updated {printable(s)}" for s in self.updated]
        out += [f"  line {n}: {printable(why, 400)}" for n, why in sorted(self.warnings)]
        out += [f"  REFUSED line {n}: {printable(why, 400)}" for n, why in sorted(self.refused)]
        if self.refused:
            out.append(f"{len(self.refused)} row(s) refused: those learners were not imported, "
                       "the rest were; fix what each line says and import again")
        return out


def import_roster(root: Path, path: Path, fmt: str = "auto", assignment: str | None = None,
                  db: str | None = None) -> RosterReport:
    """Import the roster CSV at ``path`` (see the module docstring); ``fmt``: a
    ``core.roster.FORMATS`` name or auto (from its header); ``assignment``: the course
    assignment a Moodle grading worksheet is of."""
    if fmt not in FORMAT_CHOICES:
        raise AutograderError(f"unknown roster format {fmt!r}: use one of "
                              f"{', '.join(FORMAT_CHOICES)}")
    table = roster.read(path, fmt)
    if table.format.name == "moodle-worksheet":
        known = course_assignments(root)
        if assignment is None:
            raise AutograderError(f"{path} is a Moodle grading worksheet, whose participant "
                                  "ids are one assignment's: say which with --assignment "
                                  f"NAME (one of: {', '.join(known)})")
        if assignment not in known:
            raise UnknownAssignment(f"no assignment named {assignment!r} (known: "
                                    f"{', '.join(known)})")
    registry = Registry.load(root)
    merged = roster.merge(registry, table.people, assignment if table.format.name ==
                          "moodle-worksheet" else None)
    report = RosterReport(table.format.name, warnings=table.warnings + merged.warnings,
                          refused=table.refused + merged.refused)
    grading_dir(root).mkdir(parents=True, exist_ok=True)  # a course's first command
    changed = write_students(gradebook_url(root, db), merged.placed)
    registry.save()
    seen: set[str] = set()
    for _, sid, state in merged.placed:
        if state == "unchanged" and sid in changed:
            state = "updated"
        if sid not in seen:  # two rows of one learner: counted once
            seen.add(sid)
            {"added": report.added, "updated": report.updated,
             "unchanged": report.unchanged}[state].append(sid)
    return report


def student_fields(person: roster.Person) -> dict[str, str]:
    """The gradebook's fields a roster row gives (empty ones left out)."""
    email = person.email or (person.sis_login_id if "@" in person.sis_login_id else "")
    values = {"first_name": person.first_name, "last_name": person.last_name,
              "email": email if len(email) <= roster.DB_FIELD else "",
              "lms_user_id": person.canvas_id}
    return {k: v for k, v in values.items() if v}


def write_students(db: str, placed: list[tuple[roster.Person, str, str]]) -> set[str]:
    """Create or update each learner's row of nbgrader's students table, in one transaction;
    the student ids whose row changed."""
    check(db)
    changed: set[str] = set()
    try:
        with Gradebook(db, COURSE_ID) as gb:
            try:
                rows = {s.id: s for s in gb.db.query(Student)}
                for person, sid, _ in placed:
                    student = rows.get(sid)
                    if student is None:
                        student = rows[sid] = Student(id=sid)
                        gb.db.add(student)
                    for name, value in student_fields(person).items():
                        if getattr(student, name) != value:
                            setattr(student, name, value)
                            changed.add(sid)
                gb.db.commit()
            except BaseException:
                gb.db.rollback()
                raise
    except SQLAlchemyError as err:
        reason = str(getattr(err, "orig", None) or err).strip().splitlines()[0][:200]
        raise AutograderError(f"the gradebook at {safe_url(db)} could not be written "
                              f"({reason}); nothing was imported: fix it and import the "
                              "roster again") from None
    return changed
