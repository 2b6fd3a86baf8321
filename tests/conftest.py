from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.builders import add_assignment, make_course

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def root() -> Path:
    """The repository: the course root."""
    return ROOT


@pytest.fixture
def toy_course(tmp_path, monkeypatch) -> Path:
    """A temporary course with one small assignment, ``add``; the working directory is its root."""
    course = make_course(tmp_path / "course", {"add": add_assignment()})
    monkeypatch.chdir(course)
    monkeypatch.setenv("RNNCOURSE_ROOT", str(course))
    return course


@pytest.fixture
def run_autograder():
    """Run ``python -m autograder ARGS`` and check its exit code; return the finished process."""

    def run(*args: str, retcode: int = 0, cwd: Path | None = None) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, "-m", "autograder", *map(str, args)],
                              capture_output=True, text=True, cwd=cwd, env=dict(os.environ))
        assert proc.returncode == retcode, (
            f"exit {proc.returncode}, expected {retcode}\n{proc.stdout}\n{proc.stderr}")
        return proc

    return run
