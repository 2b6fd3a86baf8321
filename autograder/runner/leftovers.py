"""Scratch folders and control groups that name the process owning them, and the removal of
those whose owner is gone.

Grading makes scratch folders (a scratch course per submission, a kernel's connection folder)
and control groups (one per kernel, one per grading process). Each is removed by its owner
when done; a grading process killed by a signal cannot. So every one carries its owner in its
name, ``<prefix>-p<pid>.<start>-<random>`` (``start``: the owner's start time in clock ticks,
so that a reused pid is never taken for the owner), and :func:`sweep` (run when ``score``,
``grade`` or a grading process starts, and when a grading process is stopped) removes those
whose owner no longer runs. Names without the mark (made by older versions) are left alone.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import tempfile
from pathlib import Path

MARK = re.compile(r"-p(\d+)\.(\d+)-")


def start_time(pid: int) -> int | None:
    """The start time of process ``pid`` in clock ticks since boot, or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    try:  # the command name, in parentheses, may itself hold spaces and parentheses
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (IndexError, ValueError):
        return None


def mark() -> str:
    """``-p<pid>.<start>-``: put it in the name of anything this process must clean up."""
    pid = os.getpid()
    return f"-p{pid}.{start_time(pid) or 0}-"


def owner_alive(name: str) -> bool:
    """Is the process named in ``name``'s mark still running (True when there is no mark)?"""
    found = MARK.search(name)
    if found is None:
        return True
    pid, start = int(found.group(1)), int(found.group(2))
    return start_time(pid) == start


def owned_by(name: str, pid: int) -> bool:
    """Does ``name`` carry the mark of process ``pid``?"""
    found = MARK.search(name)
    return found is not None and int(found.group(1)) == pid


def mkdtemp(prefix: str, dir: Path | str | None = None) -> Path:
    """A new scratch folder ``<prefix>-p<pid>.<start>-<random>`` owned by this process."""
    return Path(tempfile.mkdtemp(prefix=prefix.rstrip("-") + mark(), dir=dir))


def short_tmp() -> Path:
    """The temporary folder, or /tmp when its path is too long for the kernel's sockets (a
    socket's path has at most 107 bytes; a scratch folder's name takes about 40)."""
    base = Path(tempfile.gettempdir())
    return base if len(str(base)) <= 48 else Path("/tmp")


def temporary_folders() -> tuple[Path, ...]:
    """Where scratch folders and kernels' connection folders are made."""
    return tuple(dict.fromkeys([Path(tempfile.gettempdir()), short_tmp()]))


def _stale_folders(folder: Path, pid: int | None) -> list[Path]:
    try:
        entries = list(folder.iterdir())
    except OSError:
        return []
    out = []
    for entry in entries:
        if not MARK.search(entry.name) or entry.is_symlink() or not entry.is_dir():
            continue
        if (pid is None and not owner_alive(entry.name)) or (
                pid is not None and owned_by(entry.name, pid)):
            out.append(entry)
    return out


def _remove(path: Path) -> None:
    def writable(func, p, _exc):  # a folder the grader made read-only (a kernel's)
        os.chmod(os.path.dirname(p) or p, 0o700)
        func(p)

    shutil.rmtree(path, onerror=writable)


def sweep(*folders: Path, pid: int | None = None) -> list[str]:
    """Remove the scratch folders under ``folders`` (default: the temporary folders) and the
    control groups whose owner is gone (with ``pid``: those of that process, which the
    caller knows to be dead). Returns what was removed."""
    from autograder.runner import cgroups

    removed = []
    for folder in folders or temporary_folders():
        for path in _stale_folders(Path(folder), pid):
            try:
                _remove(path)
                removed.append(str(path))
            except OSError:
                pass
    for group in cgroups.marked_groups():
        name = group.name
        if (pid is None and not owner_alive(name)) or (pid is not None and owned_by(name, pid)):
            if cgroups.remove_stale(name):
                removed.append(f"control group {name}")
    return removed


@functools.lru_cache(maxsize=1)
def sweep_once() -> list[str]:
    """:func:`sweep` of the temporary folders, once per process (at its start)."""
    return sweep()
