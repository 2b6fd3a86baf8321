"""What the JupyterLab tests share (``tests/test_lab.py``, ``tests/test_lab_learner.py``): a real
JupyterLab on loopback with a scratch prefix, and headless Chromium through Playwright.

``launch_lab`` starts ``jupyter lab`` in a folder of the caller's choosing (a scratch course,
or a clone of the repository), configured by ``rnncourse.lab.setup(role)`` in a scratch prefix
that the server reads through ``JUPYTER_CONFIG_PATH`` (and ``LabApp.app_settings_dir``), with
user folders of its own, so that neither the environment's configuration nor the user's
changes what it shows.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from rnncourse import lab

ROOT = Path(__file__).resolve().parents[1]
EXERCISE = "exercises/rnn_forward/rnn_forward.ipynb"
CHAPTER = "book/cells/simple_rnn.md"

# What a learner saw in the log (issue 29), and the exchange's errors.
NOISE = (
    "Kernel is running over TCP without encryption",
    "websocket_ping_timeout",
    "WebSocket ping timeout",
    "is not trusted",
    "Formgrader config is not serializable",
    "exchange directory does not exist",
    "Unwritable directory",
    "Error fetching courses",
    "Traceback",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scratch_course(folder: Path) -> Path:
    """The course's nbgrader configuration, one released exercise and one chapter."""
    folder.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", folder)
    (folder / "autograder").mkdir()
    shutil.copy(ROOT / "autograder" / "nbgrader_config.py", folder / "autograder")
    (folder / "autograder" / "templates").symlink_to(ROOT / "autograder" / "templates")
    for relative in (EXERCISE, CHAPTER):
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / relative, folder / relative)
    return folder


@dataclass
class Lab:
    """A running JupyterLab: its address, token and log file."""

    base: str
    token: str
    log_file: Path

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    def get(self, path: str, **kwargs):
        import requests

        return requests.get(self.base + path, headers=self.headers, timeout=60, **kwargs)

    def post(self, path: str, **kwargs):
        import requests

        return requests.post(self.base + path, headers=self.headers, timeout=120, **kwargs)

    def put(self, path: str, **kwargs):
        import requests

        return requests.put(self.base + path, headers=self.headers, timeout=120, **kwargs)

    def log(self) -> str:
        return self.log_file.read_text(encoding="utf-8", errors="replace")

    def page_config(self) -> dict:
        html = self.get("/lab").text
        match = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)'
                          r"</script>", html, re.S)
        assert match, "no page config in /lab"
        return json.loads(match.group(1))


def lab_environment(tmp: Path, prefix: Path) -> dict[str, str]:
    """The environment of a Lab configured by ``prefix``, with user folders under ``tmp``."""
    bin_dir = Path(sys.executable).parent
    return {**os.environ,
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            "JUPYTER_CONFIG_PATH": str(prefix / "etc" / "jupyter"),
            "JUPYTER_CONFIG_DIR": str(tmp / "user-config"),
            "JUPYTER_DATA_DIR": str(tmp / "user-data"),
            "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
            "JUPYTERLAB_SETTINGS_DIR": str(tmp / "user-settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces")}


def launch_lab(tmp: Path, role: lab.Role, root: Path) -> Iterator[Lab]:
    """``jupyter lab`` started in ``root`` (its file browser's root), configured by
    ``setup(role)`` in a scratch prefix under ``tmp``; stopped when the generator closes."""
    import requests

    prefix = tmp / "prefix"
    lab.setup(role, prefix)
    port, token, log_file = free_port(), secrets.token_hex(16), tmp / "lab.log"
    bin_dir = Path(sys.executable).parent
    env = lab_environment(tmp, prefix)
    with log_file.open("w") as log:
        server = subprocess.Popen(
            [str(bin_dir / "jupyter"), "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
             f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
             f"--ServerApp.root_dir={root}", f"--IdentityProvider.token={token}",
             f"--LabApp.app_settings_dir={prefix / 'share' / 'jupyter' / 'lab' / 'settings'}",
             *(["--allow-root"] if os.geteuid() == 0 else [])],
            cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    running = Lab(f"http://127.0.0.1:{port}", token, log_file)
    try:
        for _ in range(240):  # until it answers, or it has stopped
            if server.poll() is not None:
                pytest.fail(f"jupyter lab stopped:\n{running.log()[-3000:]}")
            try:
                running.get("/api/status").raise_for_status()
                break
            except requests.RequestException:
                time.sleep(0.5)
        else:
            pytest.fail(f"jupyter lab did not answer in 120 s:\n{running.log()[-3000:]}")
        yield running
    finally:
        stop(server)


def stop(server: subprocess.Popen) -> None:
    """Stop a server this module or ``tests/formgrader.py`` started: terminated, or killed
    when it has not ended 30 s later."""
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()


def start_lab(tmp: Path, role: lab.Role) -> Iterator[Lab]:
    """JupyterLab in a scratch course, configured by ``setup(role)`` in a scratch prefix."""
    yield from launch_lab(tmp, role, scratch_course(tmp / "course"))


def run_in_a_kernel(running: Lab, code: str) -> str:
    """Starts a kernel, runs ``code`` through its websocket as Lab does, returns its stdout."""
    import websocket  # websocket-client, a dependency of jupyter_server

    kernel = running.post("/api/kernels", json={"name": "python3"}).json()
    session = uuid.uuid4().hex
    url = (running.base.replace("http", "ws", 1) + f"/api/kernels/{kernel['id']}/channels"
           f"?session_id={session}")
    ws = websocket.create_connection(url, header=[f"Authorization: token {running.token}"],
                                     timeout=60)
    try:
        msg_id = uuid.uuid4().hex
        ws.send(json.dumps({
            "header": {"msg_id": msg_id, "username": "learner", "session": session,
                       "msg_type": "execute_request", "version": "5.3", "date": ""},
            "parent_header": {}, "metadata": {}, "channel": "shell",
            "content": {"code": code, "silent": False, "store_history": False,
                        "user_expressions": {}, "allow_stdin": False}}))
        out = []
        while True:
            reply = json.loads(ws.recv())
            if reply.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if reply["msg_type"] == "stream":
                out.append(reply["content"]["text"])
            if reply["msg_type"] == "status" and reply["content"]["execution_state"] == "idle":
                return "".join(out)
    finally:
        ws.close()


CHROMIUM = os.environ.get("RNN_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update"]
LAB_TIMEOUT_MS = 120_000


def chromium_context(profile: Path) -> Iterator:
    """Debian's headless Chromium through playwright (no browser download), its profile in
    ``profile``; a failure, never a skip, when it is missing. A test module's ``chromium``
    fixture yields from it."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not installed ({CHROMIUM} missing): run `bash "
                    "scripts/prereqs.sh` (or `apt-get install chromium`), or name one in "
                    "RNN_CHROMIUM.", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM,
            headless=True, args=CHROMIUM_FLAGS, viewport={"width": 1280, "height": 900})
        yield context
        context.close()


def open_in_lab(context, running: Lab, path: str):
    """A new tab with ``path`` opened in Lab, once its document has rendered."""
    page = context.new_page()
    page.set_default_timeout(LAB_TIMEOUT_MS)
    page.goto(f"{running.base}/lab/tree/{path}?reset&token={running.token}")
    page.wait_for_selector(".jp-MainAreaWidget .jp-Notebook, .jp-MainAreaWidget .jp-FileEditor")
    return page


def noise_in(running: Lab) -> list[str]:
    """The lines of the log a learner should never see."""
    return [line for line in running.log().splitlines() if any(n in line for n in NOISE)]


def wait_for_an_idle_kernel(running: Lab) -> None:
    """Waits until the server has a kernel that has started and answered (the one Lab
    started for the open notebook)."""
    for _ in range(240):
        if any(k["execution_state"] == "idle" for k in running.get("/api/kernels").json()):
            return
        time.sleep(0.5)
    pytest.fail(f"no kernel became idle in 120 s:\n{running.log()[-3000:]}")


def menu_titles(page) -> list[str]:
    page.wait_for_selector("#jp-menu-panel .lm-MenuBar-itemLabel")
    return page.locator("#jp-menu-panel .lm-MenuBar-itemLabel").all_inner_texts()
