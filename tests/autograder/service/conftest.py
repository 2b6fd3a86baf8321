"""The grading service, started for real: a small course, its tokens, and the service in a
process of its own on 127.0.0.1 at a free port."""

from __future__ import annotations

import csv
import http.client
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest

from autograder.commands.release import generate
from autograder.commands.serve import issue_tokens
from tests.builders import add_assignment, make_course

LEARNERS = ["alice", "bob", "carol", "dave", "erin", "frank"]
START_SECONDS = 60  # the service is listening within this, or the fixture fails


@pytest.fixture(scope="session")
def course(tmp_path_factory) -> Path:
    """A course with the assignment ``add``, released (shared by the modules of a test
    process: the pre-flight of ``add`` is then paid once)."""
    root = make_course(tmp_path_factory.mktemp("service") / "course", {"add": add_assignment()})
    generate(root, "add", root / "exercises")
    return root


@pytest.fixture(scope="session")
def tokens(course) -> dict[str, str]:
    """Each learner's token and the instructor's (``prof``), as the CSV hands them out."""
    out = course.parent / "tokens.csv"
    issue_tokens(course, out, students=LEARNERS, instructors=["prof"])
    with out.open(newline="") as handle:
        return {row["student"]: row["token"] for row in csv.DictReader(handle)}


def notebook_bytes(course: Path, body: str | None = None) -> bytes:
    """The released ``add`` notebook, its answer ``def add(a, b): <body>`` (None: the
    reference's answer)."""
    nb = nbformat.read(course / "exercises" / "add" / "add.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = f"def add(a, b):\n    {body or 'return a + b'}"
    return nbformat.writes(nb).encode()


@dataclass
class Reply:
    status: int
    headers: dict
    body: dict = field(default_factory=dict)


@dataclass
class Service:
    """A running service process and the requests tests send it."""

    proc: subprocess.Popen
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def request(self, method: str, path: str, token: str | None = None,
                body: bytes | None = None, headers: dict | None = None) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            sent = dict(headers or {})
            if token is not None:
                sent["Authorization"] = f"token {token}"
            conn.request(method, path, body=body, headers=sent)
            resp = conn.getresponse()
            raw = resp.read()
            data = json.loads(raw) if raw and "json" in resp.getheader("Content-Type", "") \
                else {}
            return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
        finally:
            conn.close()

    def submit(self, token: str, notebook: bytes, assignment: str = "add") -> Reply:
        return self.request("POST", f"/api/checks?assignment={assignment}", token, notebook)

    def result(self, token: str, check_id: str, timeout: float = 600) -> dict:
        """The check once graded (done or not graded)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            check = self.request("GET", f"/api/checks/{check_id}", token).body
            if check["status"] in ("done", "not graded"):
                return check
            time.sleep(0.5)
        raise AssertionError(f"check {check_id} not graded in {timeout} s; log:\n"
                             f"{self.log.read_text()[-3000:]}")

    def rss_kb(self) -> int:
        """The service process's resident memory."""
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith("VmRSS")))

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_service(course: Path, *args: str, name: str = "service",
                  env: dict[str, str] | None = None) -> Service:
    """``python -m autograder.service`` on a free port of 127.0.0.1, with ``args``, in this
    process's environment without its JupyterHub variables (tests run on a hub are no hub
    service), with ``env`` besides."""
    ready = course.parent / f"{name}.port"
    ready.unlink(missing_ok=True)
    log = course.parent / f"{name}.log"
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTERHUB_")}
    env = {**inherited, **(env or {}), "RNNCOURSE_ROOT": str(course)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "autograder.service", "--port", "0", "--ready-file", str(ready),
         *args], cwd=course, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + START_SECONDS
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the service did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)
    return Service(proc, int(ready.read_text()), log)


@pytest.fixture
def service_factory(course, tokens):
    """Start services with given flags; each is stopped at the end of the test."""
    started: list[Service] = []

    def start(*args: str, name: str = "service") -> Service:
        service = start_service(course, *args, name=name)
        started.append(service)
        return service

    yield start
    for service in started:
        service.stop()


def clear_checks(course: Path) -> None:
    """Delete every check of the course's service database."""
    from autograder.commands.serve import open_store
    from autograder.service.store import checks

    store = open_store(course)
    with store.engine.begin() as db:
        db.execute(checks.delete())
    store.engine.dispose()


@pytest.fixture(scope="module")
def hub():
    """A stand-in JupyterHub on loopback (fakehub.py), one per test module."""
    from tests.autograder.service.fakehub import start_fake_hub

    hub, stop = start_fake_hub()
    yield hub
    stop()
