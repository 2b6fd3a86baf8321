"""`make test` runs on every core, and each test module stays on one worker, with the modules
of a shared group on one worker together: what they grade or start once (a catalogue, a
server) is done once (tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, group_of

MODULE = '''
import os

import pytest


@pytest.mark.parametrize("i", range({n}))
def test_runs(i):
    with open(os.environ["WORKERS_LOG"], "a") as f:
        f.write(f"{{__name__}} {{os.environ['PYTEST_XDIST_WORKER']}}\\n")
'''
# Two modules of the distributed group, larger than the others: xdist's own loadscope would
# hand them to the two workers first, one each.
MODULES = {"tests/autograder/distributed/test_a.py": 8, "tests/autograder/distributed/test_b.py": 8,
           "tests/test_c.py": 4, "tests/test_d.py": 4}


def test_a_test_belongs_to_its_shared_group_else_to_its_module():
    assert group_of("tests/autograder/distributed/test_cluster.py::test_x[1]") == "distributed"
    assert group_of("tests/autograder/test_assignments.py::test_y") == "catalogues"
    assert group_of("tests/test_book.py::test_z[a::b]") == "tests/test_book.py"


@pytest.mark.slow  # a pytest run of its own, on two workers
def test_the_modules_of_a_group_run_on_one_worker_and_both_workers_work(tmp_path):
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "conftest.py").write_text(
        "from tests.conftest import pytest_xdist_make_scheduler  # noqa: F401\n")
    for path, n in MODULES.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(MODULE.format(n=n))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WORKERS_LOG": str(tmp_path / "workers")}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2",
         "--dist", "loadscope", "."],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = (tmp_path / "workers").read_text().split()
    workers: dict[str, set[str]] = {}
    for module, worker in zip(lines[::2], lines[1::2], strict=True):
        workers.setdefault(module, set()).add(worker)
    assert sorted(workers) == ["test_a", "test_b", "test_c", "test_d"]
    assert all(len(w) == 1 for w in workers.values()), workers
    assert workers["test_a"] == workers["test_b"], workers
    assert len(set().union(*workers.values())) == 2, f"one worker did everything: {workers}"
