"""Hostile uploads to the running service: no token, another learner's, huge bodies, bodies
that are no notebook, and a learner sending a thousand checks a minute. The service grades
nothing here (``--jobs 0``): what is tested is what it admits."""

from __future__ import annotations

import socket
import time

import pytest

from tests.autograder.service.conftest import clear_checks, notebook_bytes, start_service

pytestmark = pytest.mark.slow  # a service process, bursts of requests

LIMIT = 256 * 2**10  # the service's upload limit in these tests


@pytest.fixture(scope="module")
def service(course, tokens):
    service = start_service(course, "--jobs", "0", "--max-notebook-bytes", str(LIMIT),
                            "--queue-limit", "4", "--per-hour", "1000", name="hostile")
    yield service
    service.stop()


@pytest.fixture
def fresh(service, course):
    """The service, its queue emptied (the checks of earlier tests would count)."""
    clear_checks(course)
    yield service
    clear_checks(course)


def test_no_token_is_401_with_what_to_do(service, course):
    reply = service.submit(None, notebook_bytes(course))
    assert reply.status == 401 and "Authorization: token" in reply.body["error"]


def test_an_unknown_token_is_401(service, course):
    assert service.submit("not-a-token", notebook_bytes(course)).status == 401
    assert service.request("GET", "/api/checks/abc", "not-a-token").status == 401


def test_another_learners_check_is_404_like_one_that_does_not_exist(fresh, course, tokens):
    mine = fresh.submit(tokens["alice"], notebook_bytes(course)).body["id"]
    theirs = fresh.request("GET", f"/api/checks/{mine}", tokens["bob"])
    missing = fresh.request("GET", "/api/checks/no-such-check", tokens["bob"])
    assert theirs.status == missing.status == 404
    assert theirs.body == missing.body
    assert fresh.request("GET", "/api/checks?assignment=add", tokens["bob"]).body["checks"] == []
    assert fresh.request("GET", f"/api/checks/{mine}", tokens["alice"]).status == 200


def test_an_instructor_view_refuses_a_learner(service, tokens):
    assert service.request("GET", "/api/instructor/latest", tokens["alice"]).status == 403
    assert service.request("GET", "/api/instructor/latest", tokens["prof"]).status == 200


@pytest.mark.parametrize("body", [b"{not json", b"\xff" * 100, b'{"cells": "no"}', b"[]",
                                  b'{"cells": [{"cell_type": "code", "source": 7}]}'])
def test_a_body_that_is_no_notebook_is_400_and_not_queued(fresh, tokens, body):
    reply = fresh.submit(tokens["alice"], body)
    assert reply.status == 400 and "not a Jupyter notebook" in reply.body["error"]
    assert fresh.request("GET", "/api/checks", tokens["alice"]).body["checks"] == []


def test_an_unknown_assignment_is_400_naming_the_known_ones(service, course, tokens):
    reply = service.submit(tokens["alice"], notebook_bytes(course), assignment="../etc")
    assert reply.status == 400 and "add" in reply.body["error"]


def read_reply(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_an_announced_huge_body_is_413_before_any_of_it_is_sent(service, tokens):
    """A request announcing a gigabyte, of which nothing is sent: is it answered 413 at
    once (and not left waiting for the body, nor cut with a bare 400)?"""
    with socket.create_connection(("127.0.0.1", service.port), timeout=10) as sock:
        sock.sendall(b"POST /api/checks?assignment=add HTTP/1.1\r\nHost: x\r\n"
                     b"Authorization: token " + tokens["alice"].encode() +
                     b"\r\nContent-Length: 1000000000\r\n\r\n")
        reply = read_reply(sock)
    assert reply.startswith(b"HTTP/1.1 413 ")
    assert b'"error": "the notebook is larger than' in reply
    assert b"400 Bad Request" not in reply


def test_an_endless_chunked_body_is_cut_off_past_the_limit(service, tokens):
    """A body with no length, sent on and on: does the server stop it soon after the limit,
    holding no more than about the limit in memory?"""
    rss_before = service.rss_kb()
    sent = 0
    chunk = b"x" * 65536
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    with socket.create_connection(("127.0.0.1", service.port), timeout=10) as sock:
        sock.sendall(b"POST /api/checks?assignment=add HTTP/1.1\r\nHost: x\r\n"
                     b"Authorization: token " + tokens["alice"].encode() +
                     b"\r\nTransfer-Encoding: chunked\r\n\r\n")
        try:
            while sent < 200 * LIMIT:
                sock.sendall(framed)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            reply = read_reply(sock)
        except ConnectionResetError:
            reply = b""
    assert sent < 200 * LIMIT, "the server read the whole endless body"
    assert reply == b"" or reply.startswith(b"HTTP/1.1 413 ")
    assert service.rss_kb() - rss_before < 20 * LIMIT // 1024


def test_a_thousand_checks_a_minute_from_one_learner_queue_one(fresh, course, tokens):
    """A learner sends 1,000 checks as fast as they can: is one queued and every other
    refused with 429 and Retry-After, the queue not growing?"""
    nb = notebook_bytes(course)
    statuses = []
    start = time.monotonic()
    for _ in range(1000):
        reply = fresh.submit(tokens["carol"], nb)
        statuses.append(reply.status)
        if reply.status == 429:
            assert int(reply.headers["retry-after"]) > 0
            assert "wait for its result" in reply.body["error"]
    assert time.monotonic() - start < 60, "the burst took more than a minute"
    assert statuses.count(202) == 1 and statuses.count(429) == 999
    assert len(fresh.request("GET", "/api/checks", tokens["carol"]).body["checks"]) == 1


def test_a_full_queue_is_503_with_retry_after(fresh, course, tokens):
    nb = notebook_bytes(course)
    replies = [fresh.submit(tokens[who], nb) for who in ("alice", "bob", "carol", "dave", "erin")]
    assert [r.status for r in replies] == [202, 202, 202, 202, 503]
    assert [r.body["position"] for r in replies[:4]] == [0, 1, 2, 3]
    assert int(replies[4].headers["retry-after"]) > 0
    assert "queue is full" in replies[4].body["error"]


def test_every_reply_forbids_scripts_and_sniffing(service, tokens):
    for reply in (service.request("GET", "/api/checks", tokens["alice"]),
                  service.request("GET", "/"), service.request("GET", "/instructor")):
        assert "default-src" in reply.headers["content-security-policy"]
        assert "'unsafe-inline'" not in reply.headers["content-security-policy"]
        assert reply.headers["x-content-type-options"] == "nosniff"
