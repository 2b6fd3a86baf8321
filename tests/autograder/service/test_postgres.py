"""``serve --db postgresql://...``: the queue, the tokens and the results live in the
PostgreSQL database (a throwaway server of the distributed tests' fixture), beside nothing of
the course's own SQLite; a service killed (SIGKILL) with one check graded and others waiting
is restarted and loses nothing: the graded result stays as it was, the others are graded."""

from __future__ import annotations

import csv
import signal

import pytest
from sqlalchemy import create_engine, inspect, select

from autograder.commands.serve import issue_tokens
from autograder.service.store import checks
from tests.autograder.distributed.conftest import postgres  # noqa: F401  (the fixture)
from tests.autograder.service.conftest import notebook_bytes

pytestmark = pytest.mark.slow  # a PostgreSQL server, notebooks graded, a service killed

LEARNERS = ["alice", "bob", "carol"]


def pg_rows(url: str) -> dict[str, tuple]:
    """(learner, status, attempts, finished, result) of each check in the database."""
    engine = create_engine(url)
    try:
        with engine.connect() as db:
            return {r.id: (r.learner, r.status, r.attempts, r.finished, r.result)
                    for r in db.execute(select(checks.c.id, checks.c.learner,
                                               checks.c.status, checks.c.attempts,
                                               checks.c.finished, checks.c.result))}
    finally:
        engine.dispose()


def test_the_queue_and_results_live_in_postgresql_and_a_restart_loses_nothing(
        service_factory, course, postgres):  # noqa: F811
    url = postgres.create_database("service_checks")
    out = course.parent / "pg-tokens.csv"
    out.unlink(missing_ok=True)
    issue_tokens(course, out, db=url, students=LEARNERS)
    with out.open(newline="") as handle:
        tokens = {row["student"]: row["token"] for row in csv.DictReader(handle)}
    local = course / "grading" / "service.db"
    before = local.stat().st_mtime_ns if local.exists() else None

    first = service_factory("--db", url, "--jobs", "1", name="pg-before-kill")
    ids = {who: first.submit(tokens[who], notebook_bytes(course)).body["id"]
           for who in LEARNERS}
    assert set(pg_rows(url)) == set(ids.values())  # each in PostgreSQL before its reply
    graded = first.result(tokens["alice"], ids["alice"], timeout=600)
    assert graded["status"] == "done" and graded["score"] == 3.0
    first.stop(signal.SIGKILL)
    at_kill = pg_rows(url)
    assert at_kill[ids["alice"]][1] == "done"
    assert {at_kill[ids[w]][1] for w in ("bob", "carol")} <= {"queued", "running"}

    second = service_factory("--db", url, "--jobs", "1", name="pg-after-kill")
    results = {who: second.result(tokens[who], ids[who], timeout=600) for who in LEARNERS}
    assert all(r["status"] == "done" and r["score"] == 3.0 for r in results.values())
    after = pg_rows(url)
    assert set(after) == set(ids.values())  # none lost, none added
    assert after[ids["alice"]] == at_kill[ids["alice"]]  # graded once, kept as it was
    engine = create_engine(url)
    assert {"service_checks", "service_tokens"} <= set(inspect(engine).get_table_names())
    engine.dispose()
    # the course's own SQLite database of checks was neither created nor written
    assert (local.stat().st_mtime_ns if local.exists() else None) == before
