"""What a Dask worker runs for ``grade --scheduler``: one submission in, its result out, as data.

The task gets the learner's notebook as bytes, the template course of the assignment as a
tar archive (sent once per run and shared by every task: ``core.cluster``), the hashes that
name the exact ``solutions/`` version the run uses, and the limits. It grades the notebook
here, in a scratch folder, through the same ``worker.grade_one`` as ``grade`` on one
machine: a long-lived grading process (``core.worker``, one per worker thread) runs nbgrader,
the learner's cells run in the sandboxed kernel on this machine; a grading process out of
its time or memory is stopped and the submission not graded (nor again in this run), one
that dies otherwise is replaced while the submission is graded again in an nbgrader process
of its own, within what is left of its time. Scratch folders carry their owner's mark
(``runner.leftovers``): those of a killed process are removed at the next task. It returns
``Result.to_dict()`` and the graded notebook's files; it writes nothing to the gradebook, so
a task that runs twice (its worker died, Dask ran it elsewhere) counts nothing twice.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import tarfile
import tempfile
import threading
from pathlib import Path

from autograder.core.batch import graded_dir
from autograder.core.template import source_hash
from autograder.core.worker import Graded, Worker, grade_one
from autograder.errors import AutograderError
from autograder.files import sha256
from autograder.runner import leftovers
from autograder.settings import Limits

_LOCK = threading.Lock()  # guards the template cache and the sandbox check of this process
_LOCAL = threading.local()  # each worker thread keeps one grading process busy
_VERIFIED: set[Path] = set()
_SANDBOX_OK: set[str] = set()
_SWEPT: list[bool] = []


class TemplateMismatch(AutograderError):
    """The template course a worker received is not the ``solutions/`` version of the run."""


def base_dir() -> Path:
    """This machine's folder for templates, scratch courses and the grading log."""
    folder = Path(tempfile.gettempdir()) / f"rnncourse-dask-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def archive_hash(archive: bytes) -> str:
    return sha256(archive)


def unpack_template(archive: bytes, assignment: str, source: str, digest: str) -> Path:
    """The template course in ``archive``, unpacked once per machine and checked: the
    archive's sha256 is ``digest`` and the hash of its ``solutions/<assignment>`` is
    ``source`` (``template.source_hash``, as the run's own ``solutions/``)."""
    dest = base_dir() / "templates" / f"{assignment}-{source}-{digest[:16]}"
    with _LOCK:
        if dest in _VERIFIED:
            return dest
        if archive_hash(archive) != digest:
            raise TemplateMismatch(f"the template of {assignment} arrived damaged on "
                                   f"{socket.gethostname()}: run grade again")
        if not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            build = leftovers.mkdtemp(".unpack", dir=dest.parent)
            with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
                tar.extractall(build, filter="data")
            try:
                os.rename(build, dest)
            except OSError:  # another worker process of this machine unpacked it first
                shutil.rmtree(build, ignore_errors=True)
        found = source_hash(dest / "solutions" / assignment)
        if found != source:
            raise TemplateMismatch(
                f"the template of {assignment} on {socket.gethostname()} is solutions/ "
                f"version {found}, the run grades {source}: delete {dest} and run again")
        _VERIFIED.add(dest)
    return dest


def _sweep_once() -> None:
    """Remove what grading processes of this machine killed by a signal left behind: here,
    in this machine's folder and its templates' folder, and in the temporary folder."""
    with _LOCK:
        if not _SWEPT:
            leftovers.sweep(base_dir(), base_dir() / "templates", Path(tempfile.gettempdir()))
            _SWEPT.append(True)


def _check_sandbox(sandbox: str) -> None:
    """SandboxUnavailable when this machine cannot run the sandbox the run asks for."""
    from autograder.runner.sandbox import require_sandbox

    with _LOCK:
        if sandbox not in _SANDBOX_OK:
            require_sandbox(sandbox)
            _SANDBOX_OK.add(sandbox)


def _worker(cwd: Path, limits: Limits) -> Worker:
    worker = getattr(_LOCAL, "worker", None)
    if worker is None or not worker.alive:
        worker = _LOCAL.worker = Worker(base_dir() / "grade.log", cwd, limits)
    return worker


def _grade(template: Path, assignment: str, student: str, path: Path | None, scratch: Path,
           limits: Limits) -> Graded:
    """Grade as ``grade`` does on one machine (``worker.grade_one``), in this worker thread's
    grading process, from the template course ``template``."""
    return grade_one(_worker(base_dir(), limits), template, assignment, student, path, scratch,
                     limits, template=template)


def _files(folder: Path) -> dict[str, bytes]:
    """The regular files under ``folder`` by relative path (links are never followed)."""
    out: dict[str, bytes] = {}
    if not folder.is_dir() or folder.is_symlink():
        return out
    for dirpath, _, names in os.walk(folder):
        for name in names:
            path = Path(dirpath) / name
            if path.is_file() and not path.is_symlink():
                out[path.relative_to(folder).as_posix()] = path.read_bytes()
    return out


def grade_submission(archive: bytes, assignment: str, source: str, digest: str, student: str,
                     filename: str | None, notebook: bytes | None, limits: dict) -> dict:
    """The Dask task: grade ``student``'s notebook (``filename``, ``notebook`` its bytes; None:
    the folder held none). Returns ``{"result": Result.to_dict(), "failure": why or '',
    "graded": {relative path: bytes}, "host": the machine}``."""
    lim = Limits.from_dict(limits)
    _check_sandbox(lim.sandbox)
    _sweep_once()
    template = unpack_template(archive, assignment, source, digest)
    scratch = leftovers.mkdtemp("task", dir=base_dir())
    try:
        path = None
        if filename is not None and notebook is not None:
            path = scratch / "submission" / Path(filename).name
            path.parent.mkdir()
            path.write_bytes(notebook)
        workdir, result, failure = _grade(template, assignment, student, path, scratch, lim)
        graded = _files(graded_dir(workdir, student, assignment)) if not failure else {}
        return {"result": result.to_dict(), "failure": failure, "graded": graded,
                "host": socket.gethostname()}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
