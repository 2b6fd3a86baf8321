"""Fixtures of the distributed tests: a throwaway PostgreSQL server (one per session) and a
Dask scheduler with two workers (one per test), real processes on 127.0.0.1 (``servers``).
One that cannot start fails the test with one line saying why, never a skip."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.autograder.distributed.servers import (
    DaskCluster,
    Postgres,
    ServerError,
    postgres_server,
    start_dask_cluster,
)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A PostgreSQL server of its own; ``create_database(name)`` gives a new database."""
    try:
        with postgres_server() as server:
            yield server
    except ServerError as err:
        pytest.fail(str(err), pytrace=False)


@pytest.fixture
def dask_cluster(tmp_path) -> Iterator[DaskCluster]:
    """A scheduler and two workers, ``w1`` and ``w2``, one thread each."""
    try:
        with start_dask_cluster(tmp_path, workers=2) as cluster:
            yield cluster
    except ServerError as err:
        pytest.fail(str(err), pytrace=False)
