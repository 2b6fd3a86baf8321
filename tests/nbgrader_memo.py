"""``nbgrader generate_assignment`` run once per distinct input in a test session.

The tests build many small courses from the same few sources (``tests/builders.py``), and each
one's release and template course ran nbgrader's ``generate_assignment`` again: about 100 runs
of a process that imports nbgrader (1.7 s of CPU) and, for a new gradebook, runs ``alembic
heads`` in a process of its own (1.1 s more). That was a fifth of the whole suite's CPU time.

:func:`memoised` wraps ``autograder.core.course.run_nbgrader``: a ``generate_assignment`` whose
inputs were seen before in this session (the source folder's files, the arguments, the
course's ``nbgrader_config.py``, the course configuration it loads, nbgrader's version) writes
the files the first run wrote, byte for byte, and returns its log. Anything else, or a first
run, is nbgrader itself; a run that fails is not kept. The outputs are kept only when they
landed where nothing stood before (no release folder, no gradebook), so that restoring them
reproduces the run exactly. The store is a folder shared by the session's xdist workers; an
entry appears by an atomic rename, whole or not at all.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import nbgrader

from autograder.core.template import source_hash
from autograder.settings import NBGRADER_CONFIG, gradebook_file, grading_dir

LOG = "nbgrader.log"
FILES = "files"


def input_key(root: Path, args: tuple[str, ...]) -> str | None:
    """The key of a ``generate_assignment`` run in course ``root`` with ``args`` (None: not
    one that can be kept: another command, or outputs already in place)."""
    if not args or args[0] != "generate_assignment" or len(args) < 2:
        return None
    assignment = args[1]
    source = root / "solutions" / assignment
    if (not source.is_dir() or (root / "exercises" / assignment).exists()
            or gradebook_file(root).exists()):
        return None
    digest = hashlib.sha256()
    digest.update(repr((args, nbgrader.__version__)).encode())
    config = root / "nbgrader_config.py"
    digest.update(config.read_bytes() if config.exists() else b"<none>")
    digest.update(NBGRADER_CONFIG.read_bytes())
    digest.update(source_hash(source).encode())
    return digest.hexdigest()


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {p.relative_to(root).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in root.rglob("*") if p.is_file()}


def memoised(real: Callable[..., str], store: Path) -> Callable[..., str]:
    """``real`` (``run_nbgrader``), with ``generate_assignment`` kept in ``store``."""

    def run_nbgrader(root: Path, *args: str, **kwargs) -> str:
        key = None if kwargs.get("db") else input_key(Path(root), args)
        if key is None:
            return real(root, *args, **kwargs)
        entry = store / key
        if entry.is_dir():
            grading_dir(Path(root)).mkdir(exist_ok=True)  # as run_nbgrader does
            shutil.copytree(entry / FILES, root, dirs_exist_ok=True)
            return (entry / LOG).read_text(encoding="utf-8")
        before = _snapshot(Path(root))
        log = real(root, *args, **kwargs)
        after = _snapshot(Path(root))
        store.mkdir(parents=True, exist_ok=True)
        build = Path(tempfile.mkdtemp(prefix=".entry-", dir=store))
        for rel, stamp in after.items():
            if before.get(rel) != stamp:
                (build / FILES / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(Path(root) / rel, build / FILES / rel)
        (build / FILES).mkdir(exist_ok=True)
        (build / LOG).write_text(log, encoding="utf-8")
        try:
            os.rename(build, entry)
        except OSError:  # another worker kept the same run first
            shutil.rmtree(build, ignore_errors=True)
        return log

    run_nbgrader.__wrapped__ = real
    return run_nbgrader
