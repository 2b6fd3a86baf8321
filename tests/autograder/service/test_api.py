"""A learner checks notebooks through the running service's API, graded for real (the
sandboxed kernel, the hidden tests), and sees scores and messages, never a test's source."""

from __future__ import annotations

import json

import pytest

from autograder.commands.feedback import hidden_lines
from tests.autograder.service.conftest import clear_checks, notebook_bytes, start_service

pytestmark = pytest.mark.slow  # grades notebooks in sandboxed kernels


@pytest.fixture(scope="module")
def service(course, tokens):
    clear_checks(course)
    service = start_service(course, "--jobs", "1", "--max-active", "3", name="api")
    yield service
    service.stop()


def test_a_correct_notebook_gets_full_marks(service, course, tokens):
    reply = service.submit(tokens["alice"], notebook_bytes(course))
    assert reply.status == 202
    assert set(reply.body) == {"id", "status", "position"} and reply.body["status"] == "queued"
    check = service.result(tokens["alice"], reply.body["id"])
    assert check["status"] == "done"
    assert (check["score"], check["max_score"]) == (3.0, 3.0)
    assert [t["name"] for t in check["tests"]] == ["test_add", "test_add_negative"]
    assert set(check["tests"][0]) == {"name", "points", "max_points", "message"}
    assert check["submitted"].endswith("Z") and check["position"] is None


def test_a_hidden_test_fails_with_its_message_and_never_its_source(service, course, tokens):
    reply = service.submit(tokens["bob"], notebook_bytes(course, "return a + b if a != 2 else 0"))
    check = service.result(tokens["bob"], reply.body["id"])
    assert check["score"] == 1.0
    assert check["tests"][0]["message"] == "AssertionError: add(2, 2) should be 4"
    text = json.dumps(check)
    assert hidden_lines(course, "add") and not any(s in text for s in hidden_lines(course, "add"))


def test_a_learners_html_comes_back_as_text_in_json(service, course, tokens):
    body = "raise ValueError('<script>alert(1)</script>')"
    reply = service.submit(tokens["carol"], notebook_bytes(course, body))
    check = service.result(tokens["carol"], reply.body["id"])
    assert "<script>alert(1)</script>" in check["tests"][0]["message"]
    got = service.request("GET", f"/api/checks/{reply.body['id']}", tokens["carol"])
    assert got.headers["content-type"].startswith("application/json")


def test_the_learners_checks_are_listed_newest_first(service, course, tokens):
    ids = []
    for _ in range(2):
        reply = service.submit(tokens["dave"], notebook_bytes(course))
        ids.append(reply.body["id"])
        service.result(tokens["dave"], reply.body["id"])
    listed = service.request("GET", "/api/checks?assignment=add", tokens["dave"]).body["checks"]
    assert [c["id"] for c in listed] == ids[::-1]


def test_the_instructor_sees_each_learners_latest_check(service, tokens):
    rows = service.request("GET", "/api/instructor/latest", tokens["prof"]).body["checks"]
    by_learner = {r["learner"]: r for r in rows}
    assert {"alice", "bob", "carol", "dave"} <= set(by_learner)
    assert by_learner["alice"]["score"] == 3.0
    assert len([r for r in rows if r["learner"] == "dave"]) == 1
