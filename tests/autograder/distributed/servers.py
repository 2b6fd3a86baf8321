"""Real servers for the distributed tests and benchmarks/bench_cluster.py: a throwaway
PostgreSQL server and a Dask cluster.

Each is started as separate processes on 127.0.0.1 (PostgreSQL also on a Unix socket) from a
temporary folder, and stopped, with everything it started, when its ``with`` block ends. A
missing program raises ServerError with one line saying how to install it.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from autograder.core.course import child_env

UNPRIVILEGED = "nobody"  # initdb and postgres refuse to run as root


class ServerError(RuntimeError):
    """A server could not be started; the message says why and what to do."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_bindir() -> Path:
    """The folder of initdb and postgres: on PATH, from `pg_config --bindir`, or Debian's
    /usr/lib/postgresql/<version>/bin."""
    candidates = []
    if shutil.which("initdb"):
        candidates.append(Path(shutil.which("initdb")).resolve().parent)
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        candidates.append(Path(out.stdout.strip()))
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    for folder in candidates:
        if (folder / "initdb").exists() and (folder / "postgres").exists():
            return folder
    raise ServerError("PostgreSQL is not installed (no initdb/postgres): run "
                      "`bash scripts/prereqs.sh` (Debian package postgresql)")


def _as_server_user() -> list[str]:
    """The command prefix that runs PostgreSQL's programs as an unprivileged user when the
    tests run as root (as CI does); nothing otherwise."""
    if os.getuid() != 0:
        return []
    return ["setpriv", f"--reuid={UNPRIVILEGED}", f"--regid={_group()}", "--clear-groups",
            "--"]


def _group() -> int:
    import pwd

    return pwd.getpwnam(UNPRIVILEGED).pw_gid


def _own(path: Path) -> None:
    if os.getuid() == 0:
        import pwd

        entry = pwd.getpwnam(UNPRIVILEGED)
        os.chown(path, entry.pw_uid, entry.pw_gid)


@dataclass
class Postgres:
    """A running throwaway server; ``url(database)`` addresses one of its databases."""

    port: int
    socket_dir: Path
    user: str = "grader"

    def url(self, database: str) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def socket_url(self, database: str) -> str:
        return f"postgresql://{self.user}@/{database}?host={self.socket_dir}&port={self.port}"

    def create_database(self, name: str) -> str:
        """A new empty database ``name``; its address."""
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user=self.user,
                             dbname="postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@contextmanager
def postgres_server() -> Iterator[Postgres]:
    """A PostgreSQL server of its own in a temporary folder, on 127.0.0.1 and a Unix socket;
    trust authentication for the user ``grader``; stopped and deleted afterwards."""
    bindir = postgres_bindir()
    base = Path(tempfile.mkdtemp(prefix="rnncourse-pg-"))
    base.chmod(0o755)
    data, sockets = base / "data", base / "socket"
    for folder in (data, sockets):
        folder.mkdir(mode=0o700)
        _own(folder)
    as_user = _as_server_user()
    init = subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-U", "grader",
                           "--auth=trust", "--encoding=UTF8", "--no-sync"],
                          capture_output=True, text=True)
    if init.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        raise ServerError(f"initdb failed: {init.stderr.strip()[-300:]}")
    port = free_port()
    log = open(base / "server.log", "wb")
    server = subprocess.Popen(
        [*as_user, str(bindir / "postgres"), "-D", str(data), "-p", str(port),
         "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={sockets}",
         "-c", "fsync=off", "-c", "max_connections=50"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    pg = Postgres(port, sockets)
    try:
        _wait_for_postgres(pg, server, base / "server.log")
        yield pg
    finally:
        server.send_signal(signal.SIGINT)  # fast shutdown
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()
        shutil.rmtree(base, ignore_errors=True)


def _wait_for_postgres(pg: Postgres, server: subprocess.Popen, log: Path) -> None:
    import psycopg

    deadline = time.monotonic() + 60
    while True:
        if server.poll() is not None:
            raise ServerError(f"postgres stopped: {log.read_text()[-300:]}")
        try:
            psycopg.connect(host="127.0.0.1", port=pg.port, user=pg.user,
                            dbname="postgres").close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise ServerError(
                    f"postgres did not start in 60 s: {log.read_text()[-300:]}") from None
            time.sleep(0.2)


@dataclass
class DaskCluster:
    """A Dask scheduler and its workers, each a process group of its own on 127.0.0.1."""

    address: str
    folder: Path
    scheduler: subprocess.Popen
    workers: dict[str, subprocess.Popen] = field(default_factory=dict)

    def start_worker(self, name: str) -> None:
        self.workers[name] = _spawn(
            self.folder / f"{name}.log",
            ["worker", self.address, "--name", name, "--host", "127.0.0.1", "--nthreads", "1",
             "--nworkers", "1", "--no-dashboard", "--local-directory",
             str(self.folder / name)])

    def kill_worker(self, name: str) -> None:
        """SIGKILL the worker and everything it started, as if its machine died."""
        _killpg(self.workers.pop(name))

    def wait_for_workers(self, n: int, timeout: float = 120) -> None:
        from distributed import Client

        with Client(self.address, timeout=30, set_as_default=False) as client:
            client.wait_for_workers(n, timeout=timeout)

    def stop(self) -> None:
        for proc in [*self.workers.values(), self.scheduler]:
            _killpg(proc)
        self.workers.clear()


def _spawn(log: Path, args: list[str]) -> subprocess.Popen:
    dask = Path(sys.executable).parent / "dask"
    with open(log, "wb") as out:
        return subprocess.Popen([str(dask), *args], stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=child_env(),
                                cwd=log.parent, start_new_session=True)


def _killpg(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


@contextmanager
def start_dask_cluster(folder: Path, workers: int = 2) -> Iterator[DaskCluster]:
    """A scheduler and ``workers`` workers (``w1``, ``w2``, ...: one thread each) as separate
    processes on 127.0.0.1, logging into ``folder``; every process they started is killed
    when the block ends."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler = _spawn(folder / "scheduler.log",
                       ["scheduler", "--host", "127.0.0.1", "--port", str(port),
                        "--no-dashboard"])
    cluster = DaskCluster(address, folder, scheduler)
    try:
        for k in range(1, workers + 1):
            cluster.start_worker(f"w{k}")
        cluster.wait_for_workers(workers)
        yield cluster
    finally:
        cluster.stop()
