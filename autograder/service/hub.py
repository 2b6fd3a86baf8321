"""Signing in through a JupyterHub: the service as a hub service, its learners known by the
hub's OAuth (``jupyterhub.services.auth.HubOAuth``).

When the hub runs the service (or its configuration names it), the hub hands it
``JUPYTERHUB_API_TOKEN``, ``JUPYTERHUB_API_URL``, ``JUPYTERHUB_CLIENT_ID`` and
``JUPYTERHUB_SERVICE_PREFIX`` (:func:`on_a_hub`). Then:

- the upload page sends a browser without the service's cookie to the hub's sign-in (OAuth
  with a state cookie and PKCE); the hub sends it back to ``oauth_callback``, which trades the
  code for a token, stores it in a cookie signed with the service's secret, and returns to the
  page. The page's script sends that cookie with the hub's XSRF token;
- the API also takes a hub token as ``Authorization: token <T>`` (the ``JUPYTERHUB_API_TOKEN``
  of a learner's server, which ``rnncourse.check`` sends on a hub): the hub says whose it is;
- per-learner tokens of the service keep working, checked first.

Whoever the hub names is a learner only when (:meth:`Hub.learner`): the hub's model is a
*user* (never a service, whatever its name), the token holds one of the service's access
scopes (``access:services!service=<name>``: a token the hub issued for another service
holds none), and the user name is, character for character, one of the course's learners
(the class the tokens are issued to). Anyone else is refused.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler, HubOAuthenticated
from jupyterhub.services.auth import check_scopes as hub_check_scopes

from autograder.errors import AutograderError
from autograder.service.auth import LEARNER, Identity

log = logging.getLogger("autograder.service")
HUB_ENVIRONMENT = ("JUPYTERHUB_API_TOKEN", "JUPYTERHUB_API_URL", "JUPYTERHUB_CLIENT_ID",
                   "JUPYTERHUB_SERVICE_PREFIX")
NOT_IN_COURSE = ("you are signed in to the hub as {name}, who is not a learner of this "
                 "course: sign in as yourself, or ask your instructor to add you")


def on_a_hub(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the JupyterHub service environment is present (every variable set)."""
    return all(environ.get(name) for name in HUB_ENVIRONMENT)


@dataclass
class Hub:
    """The hub's OAuth client of this service and who may check a notebook through it."""

    auth: HubOAuth
    learners: Callable[[], set[str]]  # the course's learners, exact names

    @property
    def scopes(self) -> set[str]:
        """The scopes a token must hold to reach this service (one of them)."""
        return set(self.auth.access_scopes)

    def learner(self, model: dict | None) -> Identity | None:
        """The learner the hub's ``model`` names, or None: not a user, without this
        service's access scope, or not a learner of the course."""
        if not isinstance(model, dict):
            return None
        if model.get("kind", "user") != "user":
            return _refused(model, "a hub service is no learner")
        scopes = model.get("scopes")
        if not isinstance(scopes, list) or not hub_check_scopes(self.scopes, set(scopes)):
            return _refused(model, "the token has none of the service's access scopes")
        name = model.get("name")
        if type(name) is not str or name not in self.learners():
            return _refused(model, "not a learner of the course")
        return Identity(learner=name, role=LEARNER)


def _refused(model: dict, why: str) -> None:
    """Log (for the instructor) whom the hub named and why they were refused."""
    log.warning("refused hub %s %r: %s", model.get("kind", "user"), model.get("name"), why)


def hub_from_environment(base_url: str, learners: Callable[[], set[str]]) -> Hub:
    """The hub of the service environment (:func:`on_a_hub`), serving under ``base_url``."""
    auth = HubOAuth(base_url=base_url, cache_max_age=60)
    if not auth.access_scopes:
        raise AutograderError(
            "the hub gave the service no access scope (JUPYTERHUB_OAUTH_ACCESS_SCOPES or "
            "JUPYTERHUB_SERVICE_NAME unset): run the service as one of "
            "c.JupyterHub.services, named, with oauth_no_confirm and a role (see the "
            "instructors' guide)")
    return Hub(auth, learners)


class HubSignIn(HubOAuthenticated):
    """Mixed into a handler of a service on a hub: who the hub says sends the request.

    Tornado checks XSRF before ``prepare``, when the credential is not known yet: nothing is
    checked then. A request the hub identifies by its cookie is checked by the hub's own XSRF
    rule while the cookie is read (``HubOAuth._get_user_cookie``); one identified by a
    token in its header needs none (a browser never adds that header on its own)."""

    hub: Hub | None = None
    _reading_hub_cookie = False

    def check_xsrf_cookie(self) -> None:
        if self._reading_hub_cookie:
            self.hub_auth.check_xsrf_cookie(self)

    async def hub_model(self) -> dict | None:
        """The hub's model of the sender (token header, else the signed cookie)."""
        self._reading_hub_cookie = True
        try:
            return await self.hub_auth.get_user(self, sync=False)
        finally:
            self._reading_hub_cookie = False


def hub_handlers(hub: Hub, at: str) -> list[tuple]:
    """The route of the OAuth callback under the escaped prefix ``at``."""
    return [(at + r"oauth_callback", OAuthCallback, {"hub": hub})]


class OAuthCallback(HubOAuthCallbackHandler):
    """``GET oauth_callback``: the hub's answer to a sign-in (state checked, code traded for
    a token, the token kept in the service's signed cookie)."""

    def initialize(self, hub: Hub) -> None:
        self.hub_auth = hub.auth

