"""The JSON API and the routes of the grading service (Tornado).

``POST /api/checks?assignment=NAME`` (the notebook's bytes as the body) queues a check;
``GET /api/checks/<id>`` is one of the learner's own checks; ``GET /api/checks`` lists them.
Every request carries ``Authorization: token <T>`` (a learner's token of the service; on a
JupyterHub, also a hub token, or the hub's sign-in cookie of the upload page with the hub's
XSRF token: ``service.hub``). Errors are JSON, ``{"error": "..."}``, one sentence saying what
to do.

The upload is checked before its body is read: the token (401), the assignment (400), the
learner's and the class's limits (429, 503, with ``Retry-After``) and a ``Content-Length``
over the limit (413) are answered at once, and the connection closed, so nothing is read of a
body that is refused. A body is streamed (``stream_request_body``) and counted as it comes: one
over the limit without a ``Content-Length`` is refused (413) when it passes the limit; the
server holds at most the limit of any upload. The check is then parsed (400 unless it is a
notebook) and stored before the reply (202).
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import tornado.web
from tornado.ioloop import IOLoop

from autograder.core.course import assignments
from autograder.core.notebooks import clean_notebook
from autograder.errors import UnreadableNotebook
from autograder.service.auth import INSTRUCTOR, Identity, identify, token_of
from autograder.service.config import ServiceConfig
from autograder.service.hub import Hub, HubSignIn, hub_handlers
from autograder.service.store import Check, Refused, Store, iso

log = logging.getLogger("autograder.service")
API_POLICY = "default-src 'none'; frame-ancestors 'none'"
UNAUTHORISED = ("send your token as the header 'Authorization: token <your token>' (your "
                "instructor gave it to you)")
UNAUTHORISED_ON_HUB = ("sign in through the hub (open the service's page from the hub), or "
                       "send a token as the header 'Authorization: token <token>': your "
                       "server's $JUPYTERHUB_API_TOKEN, or the one your instructor gave you")
STATIC = Path(__file__).resolve().parent / "static"
TEMPLATES = Path(__file__).resolve().parent / "templates"


def check_json(store: Store, check: Check) -> dict:
    """The API's view of a check: status, queue position and the learner-facing result."""
    result = json.loads(check.result) if check.result else {}
    return {
        "id": check.id,
        "assignment": check.assignment,
        "status": check.status,
        "position": store.position(check),
        "score": result.get("score"),
        "max_score": result.get("max_score"),
        "tests": result.get("tests", []),
        "flags": result.get("flags", []),
        "submitted": iso(check.submitted),
    }


class ApiHandler(tornado.web.RequestHandler):
    """A JSON endpoint: authenticated by its token header, errors as JSON, no cookies."""

    identity: Identity | None = None
    hub: Hub | None = None

    def initialize(self, store: Store, config: ServiceConfig, root: Path,
                   hub: Hub | None = None) -> None:
        self.store, self.config, self.root, self.hub = store, config, root, hub
        if hub is not None:
            self.hub_auth = hub.auth

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Content-Security-Policy", API_POLICY)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Cache-Control", "no-store")

    def check_xsrf_cookie(self) -> None:
        """The API is authenticated by a header a browser never adds on its own, not by a
        cookie: there is no cross-site request to forge."""

    def fail(self, status: int, message: str, retry_after: int | None = None) -> None:
        """Answer ``status`` with ``{"error": message}`` and end the request."""
        self.set_status(status)
        if retry_after is not None:
            self.set_header("Retry-After", str(retry_after))
        self.finish(json.dumps({"error": message}))

    def write_error(self, status_code: int, **kwargs) -> None:
        self.finish(json.dumps({"error": f"the service could not answer ({status_code} "
                                         f"{self._reason}): try again later"}))

    async def authenticate(self) -> bool:
        """Set ``identity`` from the service's token, else (on a hub) from whom the hub
        says sent the request; or answer 401. Whether to go on."""
        self.identity = identify(self.store, token_of(self.request.headers.get("Authorization")))
        if self.identity is None and self.hub is not None:
            self.identity = self.hub.learner(await self.hub_model())
        if self.identity is None:
            self.fail(401, UNAUTHORISED if self.hub is None else UNAUTHORISED_ON_HUB)
            return False
        return True

    async def hub_model(self) -> dict | None:  # HubSignIn's, on a hub
        return None


@tornado.web.stream_request_body
class ChecksHandler(ApiHandler):
    """``POST /api/checks?assignment=NAME`` and ``GET /api/checks?assignment=NAME``."""

    async def prepare(self) -> None:
        self._chunks: list[bytes] = []
        self._size = 0
        # nothing is read of a refused upload (the reply closes the connection), so tornado
        # must not refuse a large one first with a bare 400 of its own
        self.request.connection.set_max_body_size(2**62)
        if not await self.authenticate():
            return
        if self.request.method != "POST":
            return
        assignment = self.get_query_argument("assignment", "")
        if assignment not in assignments(self.root):
            known = ", ".join(assignments(self.root))
            self.fail(400, f"name the assignment as ?assignment=NAME, one of: {known}")
            return
        limit = self.config.max_notebook_bytes
        length = self.request.headers.get("Content-Length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            self.fail(413, f"the notebook is larger than {limit} bytes, the most the "
                           "service takes: clear its outputs (Kernel > Restart Kernel and "
                           "Clear Outputs) and send it again")
            return
        refused = self.store.refusal(self.identity.learner)
        if refused:
            self.fail(refused.status, refused.message, refused.retry_after)
            return
        # a body with no Content-Length is counted in data_received; tornado's own cut-off
        # (a bare 400) only beyond that
        self.request.connection.set_max_body_size(limit + 2**20)
        self.request.connection.set_body_timeout(self.config.body_timeout)

    def data_received(self, chunk: bytes) -> None:
        if self._finished:
            return
        self._size += len(chunk)
        if self._size > self.config.max_notebook_bytes:
            self._chunks.clear()
            self.fail(413, f"the notebook is larger than {self.config.max_notebook_bytes} "
                           "bytes, the most the service takes: clear its outputs and send "
                           "it again")
            return
        self._chunks.append(chunk)

    async def post(self) -> None:
        body = b"".join(self._chunks)
        self._chunks.clear()
        problem = await IOLoop.current().run_in_executor(None, not_a_notebook, body)
        if problem:
            self.fail(400, f"the body is not a Jupyter notebook ({problem}): send the "
                           ".ipynb file itself, saved from Jupyter")
            return
        assignment = self.get_query_argument("assignment")
        try:
            check = await IOLoop.current().run_in_executor(
                None, self.store.admit, self.identity.learner, assignment, body)
        except Refused as refused:
            self.fail(refused.status, refused.message, refused.retry_after)
            return
        log.info("queued check %s of %s (%s)", check.id, self.identity.learner, assignment)
        self.set_status(202)
        self.finish(json.dumps({"id": check.id, "status": check.status,
                                "position": self.store.position(check)}))

    def get(self) -> None:
        assignment = self.get_query_argument("assignment", None)
        found = self.store.history(self.identity.learner, assignment)
        self.finish(json.dumps({"checks": [check_json(self.store, c) for c in found]}))


class CheckHandler(ApiHandler):
    """``GET /api/checks/<id>``: one of the learner's own checks (another's is not found)."""

    async def prepare(self) -> None:
        await self.authenticate()

    def get(self, check_id: str) -> None:
        check = self.store.get(check_id, self.identity.learner)
        if check is None:
            self.fail(404, "no check of yours has this id: send the id the upload answered")
            return
        self.finish(json.dumps(check_json(self.store, check)))


class LatestHandler(ApiHandler):
    """``GET /api/instructor/latest``: each learner's latest check per assignment."""

    async def prepare(self) -> None:
        if await self.authenticate() and self.identity.role != INSTRUCTOR:
            self.fail(403, "this is the instructor's view: use an instructor token")

    def get(self) -> None:
        rows = [{"learner": c.learner, **check_json(self.store, c)} for c in self.store.latest()]
        self.finish(json.dumps({"checks": rows}))


def not_a_notebook(body: bytes) -> str | None:
    """Why ``body`` is not a notebook the grader can read, or None."""
    try:
        raw = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as err:
        return f"invalid JSON: {str(err)[:120]}"
    try:
        clean_notebook(raw)
    except UnreadableNotebook as err:
        return str(err)
    return None


class HubChecksHandler(HubSignIn, ChecksHandler):
    """``ChecksHandler`` on a hub: its learners known by the hub too."""


class HubCheckHandler(HubSignIn, CheckHandler):
    """``CheckHandler`` on a hub: its learners known by the hub too."""


class HubLatestHandler(HubSignIn, LatestHandler):
    """``LatestHandler`` on a hub (an instructor's token only: the hub names learners)."""


def make_app(store: Store, root: Path, config: ServiceConfig, *, cookie_secret: str,
             course: str = "RNN course", base_url: str = "/",
             hub: Hub | None = None) -> tornado.web.Application:
    """The service's routes, under ``base_url`` (``/services/grading/`` as a JupyterHub
    service): the API, the two pages and their static files. The pages and their script
    use relative addresses, so they work under any base. With ``hub``, learners also sign
    in through the hub (``service.hub``)."""
    from autograder.service.pages import (
        HubUploadPage,
        InstructorHandler,
        LoginHandler,
        UploadPage,
    )

    base = "/" + base_url.strip("/") + "/" if base_url.strip("/") else "/"
    at = re.escape(base)
    api = {"store": store, "config": config, "root": root, "hub": hub}
    page = {"store": store, "root": root, "course": course}
    on_hub = hub is not None
    return tornado.web.Application(
        [
            (at + r"api/checks", HubChecksHandler if on_hub else ChecksHandler, api),
            (at + r"api/checks/([A-Za-z0-9_\-]{1,64})",
             HubCheckHandler if on_hub else CheckHandler, api),
            (at + r"api/instructor/latest", HubLatestHandler if on_hub else LatestHandler,
             api),
            (at, HubUploadPage, {**page, "hub": hub}) if on_hub else (at, UploadPage, page),
            (at + r"instructor", InstructorHandler, {"store": store, "course": course}),
            (at + r"instructor/login", LoginHandler, {"store": store}),
            *(hub_handlers(hub, at) if on_hub else []),
        ],
        base_url=base,
        static_path=str(STATIC),
        static_url_prefix=base + "static/",
        template_path=str(TEMPLATES),
        autoescape="xhtml_escape",
        xsrf_cookies=True,
        cookie_secret=cookie_secret,
        compress_response=False,
    )
