"""``serve``: the grading service, through which learners check a notebook with the hidden
tests without having them (``autograder.service``); and ``serve --issue-tokens``, the tokens
the instructor hands out.

The checks live in the service's own tables, in ``grading/service.db`` (SQLite) or in the
database ``--db`` names (the gradebook's PostgreSQL, beside nbgrader's tables): a self-check
is never a learner's submission in nbgrader's gradebook, so it can neither overwrite an
instructor's manual grade nor stand in for the collected, official submission. The instructor's
page shows each learner's latest check. This module holds the service's database, the
class and the tokens; the server itself is ``autograder.service.server.serve``.
"""

from __future__ import annotations

import csv
import logging
import os
import sys
from pathlib import Path

from autograder.errors import AutograderError
from autograder.service.config import ServiceConfig
from autograder.settings import grading_dir

log = logging.getLogger("autograder.service")


def service_db_url(root: Path, db: str | None = None) -> str:
    """The service's database: ``db`` when given, else SQLite ``grading/service.db``."""
    if db:
        return "postgresql://" + db.split("://", 1)[1] if db.startswith("postgres://") else db
    folder = grading_dir(root)
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'service.db'}"


def open_store(root: Path, db: str | None = None, config: ServiceConfig | None = None):
    """The service's store at ``db`` (default ``grading/service.db``)."""
    from autograder.service.store import Store, open_engine

    return Store(open_engine(service_db_url(root, db)), config)


# -- tokens -----------------------------------------------------------------------------------

def class_students(root: Path, db: str | None = None) -> list[str]:
    """The class: the gradebook's students table, else grading/submitted/.learners.json."""
    from autograder.core.course import gradebook_url

    url = gradebook_url(root, db)
    students: list[str] = []
    if not url.startswith("sqlite:///") or Path(url.removeprefix("sqlite:///")).is_file():
        from nbgrader.api import Gradebook

        with Gradebook(url) as gb:
            students = [s.id for s in gb.students]
    if not students:
        from autograder.core.learners import Registry

        students = list(Registry.load(root).owners)
    return sorted(students)


def read_students(path: Path) -> list[str]:
    """Student ids from ``path``: one a line, or a CSV whose header has ``student`` or
    ``id`` (the first such column)."""
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    if lines and "," in lines[0]:
        rows = list(csv.reader(lines))
        header = [h.strip().lower() for h in rows[0]]
        column = next((header.index(h) for h in ("student", "id") if h in header), None)
        if column is None:
            raise AutograderError(f"{path}: its header names no 'student' or 'id' column: "
                                  "give one student id a line, or such a column")
        return [r[column].strip() for r in rows[1:] if len(r) > column and r[column].strip()]
    return lines


def issue_tokens(root: Path, out: Path, *, db: str | None = None,
                 students: list[str] | None = None, instructors: list[str] = (),
                 renew: bool = False) -> list[tuple[str, str]]:
    """Issue tokens and write them to ``out`` as CSV ``student,token`` (readable by its
    owner only; an existing file is never overwritten). Each student of ``students`` (default:
    the class) without a token gets one; with ``renew``, every one of them gets a new one
    (their old one stops working). Each of ``instructors`` gets a new instructor token."""
    from autograder.service.auth import INSTRUCTOR, LEARNER, issue

    store = open_store(root, db)
    students = class_students(root, db) if students is None else students
    if not students and not instructors:
        raise AutograderError("no students to issue tokens to: import the roster (`python -m "
                              "autograder roster import FILE`), or name them with "
                              "--students FILE (one student id a line)")
    have = set() if renew else store.holders(LEARNER)
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise AutograderError(f"{out} exists: hand out its tokens and delete it, or name "
                              "another file with --tokens-out") from None
    issued = []
    with os.fdopen(fd, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "token"])
        for student in students:
            if student not in have:
                issued.append((student, issue(store, student, LEARNER)))
        for name in instructors:
            issued.append((name, issue(store, name, INSTRUCTOR)))
        writer.writerows(issued)
    store.engine.dispose()
    return issued


# -- the service ------------------------------------------------------------------------------

def configure_logging() -> None:
    """The service's log on stderr, one line per event."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
