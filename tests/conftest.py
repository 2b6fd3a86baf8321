from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.builders import add_assignment, make_course

ROOT = Path(__file__).resolve().parents[1]

# `make test` and `make check` run the tests on every core (pytest-xdist, `--dist loadscope`),
# with the scheduler below: each test module is one unit of work, kept on one worker, so that
# what a module grades or starts once (a catalogue, a server) is done once; modules that share
# such a thing share a unit. (xdist's own `xdist_group` marks no longer group anything under
# pytest 9.2: pytest-dev/pytest-xdist#1386.)
SHARED_GROUPS = {
    "tests/autograder/catalogues/test_mutations.py": "catalogues",  # grading_runs.graded()
    "tests/autograder/test_assignments.py": "catalogues",
    "tests/autograder/catalogues/test_direct.py": "catalogues",  # the same grading run
    "tests/autograder/distributed/": "distributed",  # one PostgreSQL server
    "tests/autograder/service/": "service",  # one course, one reference run, per session
}


def group_of(nodeid: str) -> str:
    """The unit of work of a test: its shared group, else its module."""
    path = nodeid.split("::")[0]
    return next((g for prefix, g in SHARED_GROUPS.items() if path.startswith(prefix)), path)


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """`--dist loadscope` with ``group_of`` as its scope (largest unit first, as loadscope)."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModuleGroups(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid)

    return ModuleGroups(config, log)


@pytest.fixture(scope="session", autouse=True)
def generate_once_per_input(tmp_path_factory):
    """``nbgrader generate_assignment`` run once per distinct input in the session, its
    outputs restored for the next course built from the same source (``tests/nbgrader_memo.py``:
    a fifth of the suite's CPU time went to generating the same small courses again); and
    the head revision of nbgrader's gradebook schema, which nbgrader asks a new ``alembic``
    process for with every new gradebook, asked once."""
    import nbgrader.api

    from autograder.commands import release
    from autograder.core import template
    from tests.nbgrader_memo import memoised

    base = tmp_path_factory.getbasetemp()
    store = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "generated"
    patch = pytest.MonkeyPatch()
    for module in (template, release):  # the two that generate
        patch.setattr(module, "run_nbgrader", memoised(module.run_nbgrader, store))
    patch.setattr(nbgrader.api, "get_alembic_version",
                  functools.cache(nbgrader.api.get_alembic_version))
    yield
    patch.undo()


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
