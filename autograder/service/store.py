"""The service's database: tokens, and the queue of checks with their results.

A check is in the database, its notebook's bytes with it, before the service replies 202: a
service killed at any moment loses no check it accepted. The database is SQLite
(``grading/service.db``, write-ahead log, every commit synced) or any database SQLAlchemy
reaches (``--db postgresql://...``: the gradebook's, whose nbgrader tables are left alone:
the service's tables are its own, ``service_tokens`` and ``service_checks``).

A check's status moves queued -> running -> done | not graded, each step one
``UPDATE ... WHERE status = <the step before>``: a worker owns a check only when its UPDATE
changed the row, so no two workers grade one check. On start, checks left running by a
killed service are queued again (:meth:`Store.requeue_running`). One service process serves a
database: admission (the per-learner and class limits, then the INSERT) is serialised by a
lock of that process.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    Column,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    and_,
    create_engine,
    event,
    func,
    select,
    update,
)
from sqlalchemy.engine import Engine

from autograder.service.config import ServiceConfig

QUEUED, RUNNING, DONE, NOT_GRADED = "queued", "running", "done", "not graded"
ACTIVE = (QUEUED, RUNNING)
HOUR = 3600.0

metadata = MetaData()
tokens = Table(
    "service_tokens", metadata,
    Column("digest", String(64), primary_key=True),  # SHA-256 of the token, hex
    Column("learner", String(200), nullable=False),
    Column("role", String(16), nullable=False),  # learner | instructor
    Column("issued", Float, nullable=False),
)
checks = Table(
    "service_checks", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),  # the queue's order
    Column("id", String(64), unique=True, nullable=False),  # opaque, random
    Column("learner", String(200), nullable=False, index=True),
    Column("assignment", String(200), nullable=False),
    Column("status", String(16), nullable=False, index=True),
    Column("submitted", Float, nullable=False),  # seconds since the epoch, UTC
    Column("finished", Float, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),  # times a worker took it
    Column("notebook", LargeBinary, nullable=False),
    Column("result", Text, nullable=True),  # the learner-facing result, JSON
)


class Refused(Exception):
    """A check not admitted: ``status`` (429 or 503), ``retry_after`` seconds, and why."""

    def __init__(self, status: int, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.status, self.message, self.retry_after = status, message, retry_after


@dataclass(frozen=True)
class Check:
    """One check as stored (its notebook's bytes only when a worker took it)."""

    seq: int
    id: str
    learner: str
    assignment: str
    status: str
    submitted: float
    finished: float | None
    attempts: int
    result: str | None
    notebook: bytes = b""


def iso(seconds: float) -> str:
    """``seconds`` since the epoch as ISO 8601, UTC (``2026-12-03T12:41:05Z``)."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """Write-ahead log (readers never wait for the writer), every commit synced to disk,
    and a writer that waits for another rather than failing."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def open_engine(url: str) -> Engine:
    """The database at ``url``, with the service's tables created if missing."""
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    metadata.create_all(engine)
    return engine


_SUMMARY = [checks.c.seq, checks.c.id, checks.c.learner, checks.c.assignment, checks.c.status,
            checks.c.submitted, checks.c.finished, checks.c.attempts, checks.c.result]


def _check(row, notebook: bytes = b"") -> Check:
    return Check(*row[:9], notebook=notebook)


class Store:
    """The queue of checks and the tokens, in one database."""

    def __init__(self, engine: Engine, config: ServiceConfig | None = None) -> None:
        self.engine = engine
        self.config = config or ServiceConfig()
        self._admit = threading.Lock()
        self.arrived = threading.Event()  # set when a check is queued: wakes a worker

    # -- tokens ---------------------------------------------------------------------------

    def add_token(self, digest: str, learner: str, role: str) -> None:
        """Store a token's digest for ``learner``, replacing any earlier token of theirs in
        that role (the old one stops working)."""
        with self.engine.begin() as db:
            db.execute(tokens.delete().where(and_(tokens.c.learner == learner,
                                                  tokens.c.role == role)))
            db.execute(tokens.insert().values(digest=digest, learner=learner, role=role,
                                              issued=time.time()))

    def token(self, digest: str) -> tuple[str, str, str] | None:
        """(stored digest, learner, role) of the token whose digest is ``digest``."""
        with self.engine.connect() as db:
            row = db.execute(select(tokens.c.digest, tokens.c.learner, tokens.c.role)
                             .where(tokens.c.digest == digest)).first()
        return tuple(row) if row else None

    def holders(self, role: str) -> set[str]:
        """The learners (or instructors) who hold a token of ``role``."""
        with self.engine.connect() as db:
            return set(db.scalars(select(tokens.c.learner).where(tokens.c.role == role)))

    # -- admission ------------------------------------------------------------------------

    def refusal(self, learner: str, now: float | None = None) -> Refused | None:
        """Why a new check of ``learner`` would be refused now, if it would: a check of
        theirs still queued or running, the hour's checks used up (429), or the class's
        queue full (503)."""
        now = time.time() if now is None else now
        cfg = self.config
        with self.engine.connect() as db:
            active = db.scalar(select(func.count()).where(
                checks.c.learner == learner, checks.c.status.in_(ACTIVE)))
            hour = list(db.scalars(select(checks.c.submitted).where(
                checks.c.learner == learner, checks.c.submitted > now - HOUR)
                .order_by(checks.c.submitted)))
            queued = db.scalar(select(func.count()).where(checks.c.status == QUEUED))
        if active >= cfg.max_active:
            return Refused(429, "you have a check queued or running: wait for its result "
                                "(GET /api/checks/<id>, or the page shows it) before sending "
                                "another", 10)
        if len(hour) >= cfg.checks_per_hour:
            wait = int(hour[len(hour) - cfg.checks_per_hour] + HOUR - now) + 1
            return Refused(429, f"you have sent {len(hour)} checks in the last hour, the "
                                f"most allowed: try again in {wait} seconds", wait)
        if queued >= cfg.queue_limit:
            return Refused(503, f"the grading queue is full ({queued} checks waiting): try "
                                "again in a minute", 60)
        return None

    def admit(self, learner: str, assignment: str, notebook: bytes) -> Check:
        """Queue a check, committed to disk before this returns; or raise Refused."""
        with self._admit:
            now = time.time()
            refused = self.refusal(learner, now)
            if refused:
                raise refused
            check_id = secrets.token_urlsafe(18)
            with self.engine.begin() as db:
                db.execute(checks.insert().values(
                    id=check_id, learner=learner, assignment=assignment, status=QUEUED,
                    submitted=now, attempts=0, notebook=notebook))
        self.arrived.set()
        found = self.get(check_id, learner)
        assert found is not None
        return found

    # -- reading --------------------------------------------------------------------------

    def get(self, check_id: str, learner: str | None) -> Check | None:
        """The check ``check_id`` if it is ``learner``'s (any learner's when None)."""
        query = select(*_SUMMARY).where(checks.c.id == check_id)
        if learner is not None:
            query = query.where(checks.c.learner == learner)
        with self.engine.connect() as db:
            row = db.execute(query).first()
        return _check(row) if row else None

    def position(self, check: Check) -> int | None:
        """How many queued checks are ahead of ``check`` (None once it left the queue)."""
        if check.status != QUEUED:
            return None
        with self.engine.connect() as db:
            return db.scalar(select(func.count()).where(checks.c.status == QUEUED,
                                                        checks.c.seq < check.seq))

    def history(self, learner: str, assignment: str | None) -> list[Check]:
        """``learner``'s checks, newest first (at most ``config.history``)."""
        query = select(*_SUMMARY).where(checks.c.learner == learner)
        if assignment:
            query = query.where(checks.c.assignment == assignment)
        query = query.order_by(checks.c.seq.desc()).limit(self.config.history)
        with self.engine.connect() as db:
            return [_check(r) for r in db.execute(query)]

    def latest(self) -> list[Check]:
        """Each learner's latest check of each assignment, by learner then assignment."""
        newest = (select(func.max(checks.c.seq))
                  .group_by(checks.c.learner, checks.c.assignment).scalar_subquery())
        query = (select(*_SUMMARY).where(checks.c.seq.in_(newest))
                 .order_by(checks.c.learner, checks.c.assignment))
        with self.engine.connect() as db:
            return [_check(r) for r in db.execute(query)]

    def count(self, status: str) -> int:
        with self.engine.connect() as db:
            return db.scalar(select(func.count()).where(checks.c.status == status))

    # -- the workers' side ----------------------------------------------------------------

    def requeue_running(self) -> int:
        """Queue again the checks a killed service left running; how many."""
        with self.engine.begin() as db:
            return db.execute(update(checks).where(checks.c.status == RUNNING)
                              .values(status=QUEUED)).rowcount

    def claim(self) -> Check | None:
        """Take the oldest queued check for this worker (queued -> running), or None."""
        while True:
            with self.engine.connect() as db:
                seq = db.scalar(select(checks.c.seq).where(checks.c.status == QUEUED)
                                .order_by(checks.c.seq).limit(1))
            if seq is None:
                return None
            with self.engine.begin() as db:
                taken = db.execute(update(checks)
                                   .where(checks.c.seq == seq, checks.c.status == QUEUED)
                                   .values(status=RUNNING,
                                           attempts=checks.c.attempts + 1)).rowcount
                if taken == 1:
                    row = db.execute(select(*_SUMMARY, checks.c.notebook)
                                     .where(checks.c.seq == seq)).first()
                    return _check(row, bytes(row[9]))
            # another worker took it first: try the next one

    def finish(self, check_id: str, status: str, result: str) -> bool:
        """Store a running check's result (running -> done | not graded); False when the
        check was not running (it was never ours, or is finished already)."""
        with self.engine.begin() as db:
            return db.execute(update(checks)
                              .where(checks.c.id == check_id, checks.c.status == RUNNING)
                              .values(status=status, result=result,
                                      finished=time.time())).rowcount == 1
