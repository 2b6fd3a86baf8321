"""The service's queue, tokens and learner-facing results, without a server."""

from __future__ import annotations

import threading

import pytest

from autograder.core import types
from autograder.core.types import Result
from autograder.service.app import not_a_notebook
from autograder.service.auth import INSTRUCTOR, digest, identify, issue, token_of
from autograder.service.config import ServiceConfig
from autograder.service.grading import WITHHELD, learner_result
from autograder.service.store import DONE, QUEUED, RUNNING, Refused, Store, open_engine, tokens


def make_store(tmp_path, **config) -> Store:
    return Store(open_engine(f"sqlite:///{tmp_path / 'service.db'}"), ServiceConfig(**config))


def test_a_learner_with_a_check_queued_is_refused_another(tmp_path):
    store = make_store(tmp_path)
    store.admit("alice", "add", b"{}")
    with pytest.raises(Refused) as refused:
        store.admit("alice", "add", b"{}")
    assert refused.value.status == 429 and refused.value.retry_after > 0
    assert store.count(QUEUED) == 1


def test_the_hourly_limit_refuses_once_used_up_and_says_when_to_retry(tmp_path):
    store = make_store(tmp_path, max_active=10, checks_per_hour=3)
    for _ in range(3):
        store.admit("alice", "add", b"{}")
    with pytest.raises(Refused) as refused:
        store.admit("alice", "add", b"{}")
    assert refused.value.status == 429
    assert 0 < refused.value.retry_after <= 3601
    store.admit("bob", "add", b"{}")  # another learner's hour is their own


def test_a_full_queue_refuses_with_503(tmp_path):
    store = make_store(tmp_path, queue_limit=2)
    store.admit("alice", "add", b"{}")
    store.admit("bob", "add", b"{}")
    with pytest.raises(Refused) as refused:
        store.admit("carol", "add", b"{}")
    assert refused.value.status == 503


def test_positions_count_the_checks_ahead(tmp_path):
    store = make_store(tmp_path)
    checks = [store.admit(who, "add", b"{}") for who in ("alice", "bob", "carol")]
    assert [store.position(c) for c in checks] == [0, 1, 2]


def test_no_two_workers_take_one_check(tmp_path):
    """Eight threads claim from a queue of 40 checks: is each taken exactly once?"""
    store = make_store(tmp_path, queue_limit=100)
    for k in range(40):
        store.admit(f"learner{k}", "add", b"{}")
    taken: list[str] = []
    lock = threading.Lock()

    def work():
        while (check := store.claim()) is not None:
            with lock:
                taken.append(check.id)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(taken) == 40 and len(set(taken)) == 40
    assert store.count(RUNNING) == 40


def test_running_checks_go_back_to_the_queue_on_restart(tmp_path):
    store = make_store(tmp_path)
    check = store.admit("alice", "add", b"{}")
    assert store.claim().id == check.id
    assert store.requeue_running() == 1
    again = store.claim()
    assert again.id == check.id and again.attempts == 2


def test_a_result_is_stored_only_for_a_running_check(tmp_path):
    store = make_store(tmp_path)
    check = store.admit("alice", "add", b"{}")
    assert not store.finish(check.id, DONE, "{}")  # still queued: not ours
    store.claim()
    assert store.finish(check.id, DONE, "{}")
    assert not store.finish(check.id, DONE, "{}")  # graded once only


def test_another_learners_check_is_not_found(tmp_path):
    store = make_store(tmp_path)
    check = store.admit("alice", "add", b"{}")
    assert store.get(check.id, "alice") is not None
    assert store.get(check.id, "bob") is None


def test_only_the_tokens_digest_is_stored(tmp_path):
    store = make_store(tmp_path)
    token = issue(store, "prof", INSTRUCTOR)
    with store.engine.connect() as db:
        stored = [tuple(r) for r in db.execute(tokens.select())]
    assert token not in repr(stored) and stored[0][0] == digest(token)
    assert identify(store, token).role == INSTRUCTOR
    assert identify(store, token + "x") is None and identify(store, None) is None


def test_a_new_token_revokes_the_old_one(tmp_path):
    store = make_store(tmp_path)
    old = issue(store, "alice")
    new = issue(store, "alice")
    assert identify(store, old) is None and identify(store, new).learner == "alice"


@pytest.mark.parametrize("header", [None, "", "token", "Bearer abc", "token " + "a" * 500])
def test_a_header_that_is_no_token_gives_none(header):
    assert token_of(header) is None


def test_a_message_quoting_a_hidden_test_is_withheld():
    """Does a test message or flag that quotes a hidden test's line ever get stored?"""
    secret = "assert add(2, 2) == 4, 'add(2, 2) should be 4'"
    result = Result("add", 1.0, 3.0, [
        types.TestResult("test_add", 0.0, 2.0, False, f"AssertionError in line: {secret}"),
        types.TestResult("test_add_negative", 1.0, 1.0, True, ""),
    ], flags=[f"flagged near {secret}"])
    view = learner_result(result, [secret])
    assert view["tests"][0]["message"] == WITHHELD and view["flags"] == [WITHHELD]
    assert secret not in repr(view)
    assert view["score"] == 1.0 and view["tests"][1]["message"] == ""


def test_a_result_with_no_test_has_no_score():
    view = learner_result(Result("add", 0.0, 0.0, [], flags=["grading stopped: time"]), [])
    assert view["score"] is None and view["max_score"] is None


@pytest.mark.parametrize("body", [b"", b"{", b"\xff\xfe", b"[1, 2]", b'{"cells": 3}',
                                  b'{"cells": [{"cell_type": "evil"}]}', b"[" * 100_000])
def test_what_is_not_a_notebook_is_named(body):
    assert not_a_notebook(body)


def test_a_notebook_is_one():
    assert not_a_notebook(b'{"cells": [], "metadata": {}, "nbformat": 4}') is None
