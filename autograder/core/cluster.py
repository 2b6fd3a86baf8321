"""``grade --scheduler tcp://HOST:PORT``: the class graded on a Dask distributed cluster.

The instructor starts the cluster with Dask's own tools (``dask scheduler`` and
``dask worker``, dask-jobqueue on Slurm, dask-kubernetes); this module is its client:

1. the assignment's template course (``core.template``, built here from this checkout's
   ``solutions/``) is packed once and scattered to every worker; each task carries the hash
   of that ``solutions/`` folder and of the archive, and the worker checks both before it
   grades (``cluster_task.unpack_template``);
2. each submission is one task (``cluster_task.grade_submission``: notebook bytes in,
   ``Result.to_dict()`` and the graded notebook out), ``pure=False`` with ``retries``; a few
   times as many tasks as the cluster has threads are in flight, so memory stays bounded;
3. results are stored here, by this one process, as they complete (``gradebook.store``:
   replace by student and assignment), with a progress bar.

A worker that dies mid-task loses nothing: the scheduler runs its tasks again on another
worker, and a task's result reaches this client once. Each task is graded on its worker
by the same ``worker.grade_one`` as ``grade`` on one machine (``Limits.submission_timeout``
for the grading process and its fallback together). A submission the machine could not
grade (``scheduler.machine_failure``: its grading process out of time or memory, or crashed
with its fallback) is stored nowhere and listed at the end as not graded; a worker that
cannot grade at all (no sandbox, a damaged template) stops the run.
"""

from __future__ import annotations

import io
import shutil
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from tqdm import tqdm

from autograder.core import gradebook
from autograder.core.cluster_task import TemplateMismatch, archive_hash, grade_submission
from autograder.core.course import source_notebook
from autograder.core.scheduler import machine_failure
from autograder.core.template import source_hash
from autograder.core.types import Result
from autograder.errors import AutograderError, SandboxUnavailable
from autograder.runner import leftovers
from autograder.settings import Limits

RETRIES = 2  # a task that raises is run again this many times (a lost worker: Dask's own)
IN_FLIGHT_PER_THREAD = 4  # tasks submitted ahead of the results, per worker thread
CONNECT_SECONDS = 10  # to reach the scheduler
WORKERS_SECONDS = 120  # for the first worker to join


class ClusterUnavailable(AutograderError):
    """The Dask scheduler cannot be reached, or its workers cannot grade."""


def connect(address: str):
    """A client of the Dask scheduler at ``address`` with at least one worker."""
    from distributed import Client

    try:
        client = Client(address, timeout=CONNECT_SECONDS, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as err:
        raise ClusterUnavailable(
            f"cannot reach the Dask scheduler at {address} ({type(err).__name__}): start it "
            "(`dask scheduler`, then `dask worker ADDRESS` on each machine), check the "
            "address, or grade on this machine without --scheduler") from None
    try:
        client.wait_for_workers(1, timeout=WORKERS_SECONDS)
    except TimeoutError:
        client.close()
        raise ClusterUnavailable(
            f"the Dask scheduler at {address} has no workers after {WORKERS_SECONDS} s: "
            f"start some with `dask worker {address} --nthreads 1`") from None
    return client


def pack(template: Path) -> bytes:
    """The template course folder as a gzipped tar archive."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(template, arcname=".")
    return buffer.getvalue()


def _threads(client) -> int:
    return max(1, sum(client.nthreads().values()))


def _submit(client, archive, assignment: str, source: str, digest: str, p, limits: Limits):
    notebook = p.path.read_bytes() if p.path is not None else None
    return client.submit(
        grade_submission, archive, assignment, source, digest, p.student,
        p.path.name if p.path is not None else None, notebook, limits.as_dict(),
        key=f"grade-{assignment}-{p.student}-{uuid.uuid4().hex[:8]}", pure=False,
        retries=RETRIES)


def _answers(client, archive, assignment: str, source: str, digest: str, todo: list,
             limits: Limits) -> Iterator[tuple[object, dict | BaseException]]:
    """(pending submission, the task's answer or its exception) as tasks complete."""
    from distributed import as_completed

    waiting = list(reversed(todo))
    window = IN_FLIGHT_PER_THREAD * _threads(client)
    owner = {}
    first = []
    while waiting and len(first) < window:
        p = waiting.pop()
        future = _submit(client, archive, assignment, source, digest, p, limits)
        owner[future] = p
        first.append(future)
    running = as_completed(first, loop=client.loop)
    try:
        for future in running:
            p = owner.pop(future)
            try:
                answer: dict | BaseException = future.result()
            except (SandboxUnavailable, TemplateMismatch):
                raise
            except Exception as err:  # noqa: BLE001  (its worker's error, for this one only)
                answer = err
            future.release()
            if waiting:
                nxt = waiting.pop()
                new = _submit(client, archive, assignment, source, digest, nxt, limits)
                owner[new] = nxt
                running.add(new)
            yield p, answer
    finally:
        for future in owner:
            future.cancel()


def _store(root: Path, db: str, assignment: str, p, result: Result,
           graded: dict[str, bytes]) -> Result:
    result.student, result.digest, result.submitted = p.student, p.digest, p.submitted
    folder = leftovers.mkdtemp("rnncourse-graded")
    try:
        for name, data in graded.items():
            relative = Path(name)
            if relative.is_absolute() or ".." in relative.parts:
                continue
            (folder / relative).parent.mkdir(parents=True, exist_ok=True)
            (folder / relative).write_bytes(data)
        gradebook.store(root, db, assignment, p.student, folder if graded else None, result)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return result


def grade_assignment(client, root: Path, db: str, assignment: str, todo: list,
                     template: Path, limits: Limits, bar: tqdm
                     ) -> tuple[list[Result], list[str]]:
    """Grade the pending submissions ``todo`` of ``assignment`` on the cluster of ``client``;
    store each result in the gradebook ``db`` as it comes in. Returns the results and one
    line per submission that could not be graded."""
    archive_bytes = pack(template)
    source = source_hash(template / "solutions" / assignment)
    digest = archive_hash(archive_bytes)
    archive = client.scatter(archive_bytes, broadcast=True, hash=False)
    notebook = f"{source_notebook(root, assignment).stem}.ipynb"
    rows, failures = [], []
    try:
        for p, answer in _answers(client, archive, assignment, source, digest, todo, limits):
            if isinstance(answer, BaseException):
                why = f"could not be graded: {type(answer).__name__}: {str(answer)[:300]}"
            else:
                result, graded = Result.from_dict(answer["result"]), answer["graded"]
                why = answer["failure"] or machine_failure(result, notebook in graded)
            if why:  # the machine's failure, not a score: stored nowhere, graded next time
                failures.append(f"{p.student}: {why}")
            else:
                rows.append(_store(root, db, assignment, p, result, graded))
            bar.update(1)
    except (SandboxUnavailable, TemplateMismatch) as err:
        raise ClusterUnavailable(f"a worker cannot grade: {type(err).__name__}: {err}") from None
    finally:
        archive.release()
    return rows, failures
