"""The service's two pages: the learners' upload form and the instructor's table.

Both are Tornado templates (every value escaped: ``autoescape``) with no inline script: the
upload page's script is a static file, ``static/check.js``, which writes what the API returns
into the page as text (``textContent``), never as HTML. Every page is sent with a Content
Security Policy that allows scripts, styles and images from the service itself only, so a
learner's text that reached a page as markup could still run nothing.

The instructor signs in with their token in a form (protected by tornado's XSRF cookie); the
page then knows them by a signed, HTTP-only, same-site cookie holding the token's digest, which
is checked against the stored tokens on every request (a revoked token signs them out).

On a JupyterHub the upload page signs the learner in through the hub (``HubUploadPage``,
``service.hub``): it asks for no token, and its script sends the hub's cookie with the hub's
XSRF token, which the page carries.
"""

from __future__ import annotations

import json
from pathlib import Path

import tornado.web

from autograder.core.course import assignments
from autograder.service.auth import INSTRUCTOR, Identity, digest, identify
from autograder.service.hub import NOT_IN_COURSE, Hub, HubSignIn
from autograder.service.store import Store, iso

PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
               "connect-src 'self'; object-src 'none'; base-uri 'none'; "
               "frame-ancestors 'none'; form-action 'self'")
COOKIE = "instructor"


class Page(tornado.web.RequestHandler):
    """A page: the policy and the headers every page is sent with."""

    def set_default_headers(self) -> None:
        self.set_header("Content-Security-Policy", PAGE_POLICY)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("Cache-Control", "no-store")


class UploadPage(Page):
    """``GET /``: the form a learner checks a notebook with."""

    def initialize(self, store: Store, root: Path, course: str) -> None:
        self.store, self.root, self.course = store, root, course

    def get(self) -> None:
        self.render("upload.html", course=self.course, assignments=assignments(self.root),
                    hub_user=None, xsrf="")


class HubUploadPage(HubSignIn, UploadPage):
    """``GET /`` on a hub: a browser the hub has not signed in is sent to the hub's sign-in;
    a hub user who is not a learner of the course is refused (403)."""

    learner: Identity | None = None

    def initialize(self, store: Store, root: Path, course: str, hub: Hub) -> None:
        super().initialize(store, root, course)
        self.hub, self.hub_auth = hub, hub.auth

    async def prepare(self) -> None:
        model = await self.hub_model()
        self.learner = self.hub.learner(model)
        if self.learner is not None:
            return
        if model is None:
            self.redirect(self.get_login_url())
            return
        self.set_status(403)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(NOT_IN_COURSE.format(name=model.get("name")))

    def get(self) -> None:
        token = self.xsrf_token
        self.render("upload.html", course=self.course, assignments=assignments(self.root),
                    hub_user=self.learner.learner,
                    xsrf=token.decode() if isinstance(token, bytes) else token)


class InstructorHandler(Page):
    """``GET /instructor``: each learner's latest check of each assignment (signed in), or
    the sign-in form."""

    def initialize(self, store: Store, course: str) -> None:
        self.store, self.course = store, course

    def get_current_user(self) -> str | None:
        signed = self.get_signed_cookie(COOKIE, max_age_days=1)
        if not signed:
            return None
        found = self.store.token(signed.decode())
        return found[1] if found and found[2] == INSTRUCTOR else None

    def get(self) -> None:
        if not self.current_user:
            self.render("login.html", course=self.course, problem=None)
            return
        self.render("instructor.html", course=self.course, instructor=self.current_user,
                    checks=[(c, json.loads(c.result) if c.result else {})
                            for c in self.store.latest()], iso=iso)


class LoginHandler(Page):
    """``POST /instructor/login``: the instructor's token, from the sign-in form."""

    def initialize(self, store: Store) -> None:
        self.store = store

    def post(self) -> None:
        token = self.get_body_argument("token", "")
        who = identify(self.store, token)
        if who is None or who.role != INSTRUCTOR:
            self.set_status(403)
            self.render("login.html", course="", problem="this is not an instructor token: "
                        "use the one `serve --issue-tokens --instructor NAME` wrote")
            return
        base = self.settings["base_url"]
        self.set_signed_cookie(COOKIE, digest(token), expires_days=1, httponly=True,
                               samesite="Strict", path=base,
                               secure=self.request.protocol == "https")
        self.redirect(base + "instructor")

