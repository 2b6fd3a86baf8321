"""A stand-in for JupyterHub on 127.0.0.1: the hub's endpoints that a hub service's
``HubOAuth`` calls (``jupyterhub/services/auth.py``), and the proxy's part of a sign-in.

- ``GET /hub/api/oauth2/authorize``: the browser, signed in to the hub as ``browser_user``,
  is sent back to the service's ``redirect_uri`` with a one-time code and the service's state
  (the proxy's job on a real hub: the service's address is made absolute here);
- ``POST /hub/api/oauth2/token``: the code traded for an access token, only by the client
  whose secret is the service's API token, with the PKCE verifier of the code's challenge;
- ``GET /hub/api/user``: the model of the token in ``Authorization: token <T>``, 403 for an
  unknown one, as the hub answers.

Tokens are made by the test (:meth:`FakeHub.token`) with the model the hub would give:
a user's or a service's, with its scopes.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import threading
from dataclasses import dataclass, field
from urllib.parse import urlencode

import tornado.httpserver
import tornado.netutil
import tornado.web

SERVICE = "grading"
CLIENT_ID = f"service-{SERVICE}"
PREFIX = f"/services/{SERVICE}/"
ACCESS = f"access:services!service={SERVICE}"


@dataclass
class FakeHub:
    """The hub's state: its tokens and codes, and who the test's browser is signed in as."""

    api_token: str = field(default_factory=lambda: secrets.token_hex(16))
    tokens: dict[str, dict] = field(default_factory=dict)
    codes: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    browser_user: str = "alice"
    service_origin: str = ""
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def token(self, name: str, *, kind: str = "user", scopes: tuple[str, ...] = (ACCESS,)
              ) -> str:
        """A new token of the hub ``kind`` ``name`` holding ``scopes``."""
        token = secrets.token_hex(16)
        self.tokens[token] = {"kind": kind, "name": name, "admin": False, "groups": [],
                              "scopes": list(scopes)}
        return token

    def environment(self) -> dict[str, str]:
        """The service environment the hub gives a service it runs."""
        return {
            "JUPYTERHUB_API_TOKEN": self.api_token,
            "JUPYTERHUB_API_URL": f"{self.url}/hub/api",
            "JUPYTERHUB_CLIENT_ID": CLIENT_ID,
            "JUPYTERHUB_SERVICE_PREFIX": PREFIX,
            "JUPYTERHUB_SERVICE_NAME": SERVICE,
            "JUPYTERHUB_OAUTH_CALLBACK_URL": f"{PREFIX}oauth_callback",
            "JUPYTERHUB_HOST": self.url,  # the sign-in page's origin (the proxy's, on a hub)
            "JUPYTERHUB_BASE_URL": "/",
        }


class Authorize(tornado.web.RequestHandler):
    def initialize(self, hub: FakeHub) -> None:
        self.hub = hub

    def get(self) -> None:
        if self.get_argument("client_id") != CLIENT_ID:
            raise tornado.web.HTTPError(400, "unknown client")
        code = secrets.token_hex(8)
        redirect = self.get_argument("redirect_uri")
        self.hub.codes[code] = (self.hub.browser_user, self.get_argument("code_challenge", ""),
                                redirect)
        if redirect.startswith("/"):
            redirect = self.hub.service_origin + redirect
        self.redirect(redirect + "?" + urlencode({"code": code,
                                                  "state": self.get_argument("state")}))


class Token(tornado.web.RequestHandler):
    def initialize(self, hub: FakeHub) -> None:
        self.hub = hub

    def check_xsrf_cookie(self) -> None:
        """An API endpoint of the hub (no cookie)."""

    def post(self) -> None:
        arg = self.get_body_argument
        if arg("client_id") != CLIENT_ID or arg("client_secret") != self.hub.api_token:
            raise tornado.web.HTTPError(403, "wrong client")
        user, challenge, redirect = self.hub.codes.pop(arg("code"), (None, "", ""))
        if user is None or redirect != arg("redirect_uri"):
            raise tornado.web.HTTPError(400, "unknown code")
        verifier = hashlib.sha256(arg("code_verifier", "").encode()).digest()
        if base64.urlsafe_b64encode(verifier).decode().rstrip("=") != challenge:
            raise tornado.web.HTTPError(400, "PKCE verifier does not match")
        token = self.hub.token(user)
        self.finish(json.dumps({"access_token": token, "token_type": "Bearer"}))


class User(tornado.web.RequestHandler):
    def initialize(self, hub: FakeHub) -> None:
        self.hub = hub

    def get(self) -> None:
        scheme, _, token = self.request.headers.get("Authorization", "").partition(" ")
        model = self.hub.tokens.get(token.strip()) if scheme.lower() == "token" else None
        if model is None:
            self.set_status(403)
            self.finish(json.dumps({"status": 403, "message": "unknown token"}))
            return
        self.finish(json.dumps(model))


def start_fake_hub() -> tuple[FakeHub, callable]:
    """A fake hub listening on a free port of 127.0.0.1, in a thread; and its stop."""
    hub = FakeHub()
    started = threading.Event()
    state: dict = {}

    def run() -> None:
        async def main() -> None:
            app = tornado.web.Application([
                (r"/hub/api/oauth2/authorize", Authorize, {"hub": hub}),
                (r"/hub/api/oauth2/token", Token, {"hub": hub}),
                (r"/hub/api/user", User, {"hub": hub}),
            ])
            server = tornado.httpserver.HTTPServer(app)
            sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
            server.add_sockets(sockets)
            hub.port = sockets[0].getsockname()[1]
            state["stop"] = asyncio.Event()
            state["loop"] = asyncio.get_running_loop()
            started.set()
            await state["stop"].wait()
            server.stop()

        asyncio.run(main())

    thread = threading.Thread(target=run, name="fake-hub", daemon=True)
    thread.start()
    started.wait(30)

    def stop() -> None:
        state["loop"].call_soon_threadsafe(state["stop"].set)
        thread.join(30)

    return hub, stop
