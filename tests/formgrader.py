"""A real formgrader for tests: a Jupyter server started in a course folder, as
``make formgrader`` starts it in the repository."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.lab_helpers import stop


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def formgrader_server(course: Path, root_dir: Path) -> Iterator[tuple[str, str]]:
    """A Jupyter server (with nbgrader's formgrader) working in ``course``, serving
    ``root_dir``; yields its address and its token, and stops it."""
    import requests

    port, token = free_port(), secrets.token_hex(16)
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
           "JUPYTER_CONFIG_DIR": str(course / ".jupyter")}
    server = subprocess.Popen(
        [str(bin_dir / "jupyter"), "server", "--no-browser", f"--ServerApp.root_dir={root_dir}",
         f"--ServerApp.port={port}", "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1",
         f"--IdentityProvider.token={token}",
         # the course's environment turns formgrader off for learners (rnncourse.lab)
         "--ServerApp.jpserver_extensions=nbgrader.server_extensions.formgrader=True",
         *(["--allow-root"] if os.geteuid() == 0 else [])],
        cwd=course, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):  # until the server answers, or it has stopped
            if server.poll() is not None:
                pytest.fail(f"jupyter server stopped: {server.stderr.read()[-2000:]}")
            try:
                requests.get(f"{base}/api/status", timeout=2,
                             headers={"Authorization": f"token {token}"}).raise_for_status()
                break
            except requests.RequestException:
                time.sleep(0.5)
        else:
            pytest.fail("jupyter server did not answer in 120 s")
        yield base, token
    finally:
        stop(server)
