"""Who the hub names is a learner of the service only when: a user (not a service), holding
this service's access scope, named exactly as a learner of the course; and the service is
a hub service only when the hub's whole service environment is there."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from autograder.service.auth import LEARNER, Identity
from autograder.service.hub import Hub, on_a_hub
from tests.autograder.service.fakehub import ACCESS, FakeHub

HUB = Hub(auth=SimpleNamespace(access_scopes={ACCESS}), learners=lambda: {"alice", "bob"})


def model(name="alice", kind="user", scopes=(ACCESS,)) -> dict:
    return {"kind": kind, "name": name, "scopes": list(scopes), "groups": [], "admin": False}


def test_a_user_with_the_services_scope_named_as_a_learner_is_that_learner():
    assert HUB.learner(model()) == Identity("alice", LEARNER)
    assert HUB.learner(model(scopes=("access:services",))) == Identity("alice", LEARNER)


@pytest.mark.parametrize("given", [
    model(name="mallory"),  # not in the course
    model(name="Alice"),  # another name, to the character
    model(name="alice "),
    model(kind="service"),  # a service of the hub, named as a learner
    model(scopes=("access:services!service=other",)),  # a token for another service
    model(scopes=()),
    {**model(), "name": ["alice"]},  # not a name
    {**model(), "scopes": "access:services"},  # not a list of scopes
    None,
])
def test_anyone_else_is_no_learner(given):
    assert HUB.learner(given) is None


def test_the_service_is_on_a_hub_only_with_the_whole_service_environment():
    environment = FakeHub().environment()
    assert on_a_hub(environment)
    for name in ("JUPYTERHUB_API_TOKEN", "JUPYTERHUB_API_URL", "JUPYTERHUB_CLIENT_ID",
                 "JUPYTERHUB_SERVICE_PREFIX"):
        assert not on_a_hub({k: v for k, v in environment.items() if k != name})
