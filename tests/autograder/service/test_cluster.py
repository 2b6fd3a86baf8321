"""``serve --scheduler ADDRESS``: checks graded on a Dask cluster (a scheduler and two workers,
separate processes on 127.0.0.1, as the distributed tests start them) through the core of
``grade --scheduler``; a cluster that cannot be reached stops the service at start, saying
what to do."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.autograder.distributed.servers import ServerError, free_port, start_dask_cluster
from tests.autograder.service.conftest import clear_checks, notebook_bytes

pytestmark = pytest.mark.slow  # a Dask cluster, notebooks graded in sandboxed kernels


@pytest.fixture
def dask_cluster(tmp_path):
    try:
        with start_dask_cluster(tmp_path, workers=2) as cluster:
            yield cluster
    except ServerError as err:
        pytest.fail(str(err), pytrace=False)


def cluster_tasks(address: str) -> set[str]:
    """The kinds of task the scheduler at ``address`` has run (their key's prefix)."""
    from distributed import Client

    with Client(address, timeout=30, set_as_default=False) as client:
        return set(client.run_on_scheduler(lambda dask_scheduler: list(
            dask_scheduler.task_prefixes)))


def test_checks_sent_to_a_service_with_a_scheduler_are_graded_on_the_cluster(
        service_factory, course, tokens, dask_cluster):
    """A correct and a wrong notebook: each gets its score, graded by the cluster's
    workers (the scheduler ran the service's tasks), the service grading none itself."""
    clear_checks(course)
    service = service_factory("--jobs", "2", "--scheduler", dask_cluster.address,
                              name="cluster")
    right = service.submit(tokens["alice"], notebook_bytes(course)).body["id"]
    wrong = service.submit(tokens["bob"], notebook_bytes(course, "return a - b")).body["id"]
    good, bad = service.result(tokens["alice"], right), service.result(tokens["bob"], wrong)
    assert good["status"] == "done" and good["score"] == good["max_score"] == 3.0, good
    assert bad["status"] == "done" and bad["score"] < bad["max_score"], bad
    assert "check-add" in cluster_tasks(dask_cluster.address)
    assert "on the Dask cluster" in service.log.read_text()


def test_a_service_whose_scheduler_cannot_be_reached_stops_saying_what_to_do(course):
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    run = subprocess.run(
        [sys.executable, "-m", "autograder.service", "--port", "0", "--scheduler", address],
        cwd=course, capture_output=True, text=True, timeout=120,
        env={"RNNCOURSE_ROOT": str(course), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 2
    assert "cannot reach the Dask scheduler" in run.stderr and "dask scheduler" in run.stderr
