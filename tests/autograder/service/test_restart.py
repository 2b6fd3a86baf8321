"""A service killed (SIGKILL) with checks queued and one running: restarted, it grades every
one of them, loses none and grades none twice."""

from __future__ import annotations

import signal
import time

import pytest
from sqlalchemy import select

from autograder.commands.serve import open_store
from autograder.service.store import checks
from tests.autograder.service.conftest import clear_checks, notebook_bytes

pytestmark = pytest.mark.slow  # grades notebooks in sandboxed kernels, kills a service

LEARNERS = ["alice", "bob", "carol", "dave"]


def rows(course) -> dict[str, tuple]:
    store = open_store(course)
    with store.engine.connect() as db:
        found = {r.id: (r.status, r.attempts, r.finished)
                 for r in db.execute(select(checks.c.id, checks.c.status, checks.c.attempts,
                                            checks.c.finished))}
    store.engine.dispose()
    return found


def test_a_killed_service_loses_no_check_and_grades_none_twice(service_factory, course,
                                                                tokens):
    clear_checks(course)
    first = service_factory("--jobs", "1", name="before-kill")
    ids = {who: first.submit(tokens[who], notebook_bytes(course)).body["id"]
           for who in LEARNERS}
    deadline = time.monotonic() + 300
    while not any(s == "running" for s, _, _ in rows(course).values()):
        assert time.monotonic() < deadline, first.log.read_text()[-2000:]
        time.sleep(0.05)
    first.stop(signal.SIGKILL)
    at_kill = rows(course)
    running = [i for i, (s, _, _) in at_kill.items() if s == "running"]
    queued = [i for i, (s, _, _) in at_kill.items() if s == "queued"]
    assert len(running) == 1 and queued

    second = service_factory("--jobs", "2", name="after-kill")
    status, attempts, _ = rows(course)[running[0]]
    assert (status, attempts) != ("running", 1), "the check cut off by the kill is stuck"
    results = {who: second.result(tokens[who], ids[who], timeout=300) for who in LEARNERS}
    assert all(r["status"] == "done" and r["score"] == 3.0 for r in results.values())
    after = rows(course)
    assert set(after) == set(ids.values())  # none lost, none added
    assert all(after[i][1] == 1 for i in queued)  # each queued check taken once
    assert after[running[0]][1] == 2  # the one cut off by the kill, taken again once
