"""One resource boundary per submission: a control group (v2, or v1's memory, pids and cpuacct
hierarchies) that holds every process of a learner's kernel.

It caps the memory of all the processes together (tmpfs pages written by them included) and
their number; its CPU time is read by a watchdog (``SandboxKernelManager``) that stops the
whole group when the submission's CPU budget is spent. A grading process (``core.worker``)
gets one of its own too, ``kind="grader"``: the memory that grading one submission takes in
the grader. Creating one needs root (or a delegated hierarchy); where that is impossible
:func:`create` returns None and the kernel runs under per-process limits only
(``sandbox_status`` says so).

Each group's name carries its owner's mark (``runner.leftovers``): a group left behind by a
grading process killed by a signal is removed at the next start.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
V1 = ("memory", "pids", "cpuacct")


class Cgroup:
    """A control group of one kernel (remove it with :meth:`remove`)."""

    def __init__(self, dirs: dict[str, Path], v2: bool) -> None:
        self.dirs, self.v2 = dirs, v2

    def join_command(self, cmd: list[str]) -> list[str]:
        """``cmd`` started inside this group (the shell joins it, then becomes ``cmd``)."""
        files = " ".join(f"'{d / 'cgroup.procs'}'" for d in dict.fromkeys(self.dirs.values()))
        return ["/bin/sh", "-c", f'for f in {files}; do echo $$ > "$f" || exit 97; done; '
                                 'exec "$@"', "rnncourse-cgroup", *cmd]

    def cpu_seconds(self) -> float:
        try:
            if self.v2:
                for line in (self.dirs["cpu"] / "cpu.stat").read_text().splitlines():
                    if line.startswith("usage_usec "):
                        return int(line.split()[1]) / 1e6
                return 0.0
            return int((self.dirs["cpuacct"] / "cpuacct.usage").read_text()) / 1e9
        except (OSError, ValueError):
            return 0.0

    def hit_memory_limit(self) -> bool:
        try:
            if self.v2:
                events = (self.dirs["memory"] / "memory.events").read_text()
                return any(line.split()[0] in ("oom", "oom_kill") and int(line.split()[1]) > 0
                           for line in events.splitlines())
            return int((self.dirs["memory"] / "memory.failcnt").read_text()) > 0
        except (OSError, ValueError, IndexError):
            return False

    def oom_kills(self) -> int:
        """How many processes of the group the kernel killed for want of memory."""
        name = "memory.events" if self.v2 else "memory.oom_control"
        try:
            for line in (self.dirs["memory"] / name).read_text().splitlines():
                if line.startswith("oom_kill "):
                    return int(line.split()[1])
        except (OSError, ValueError, IndexError):
            pass
        return 0

    def peak_mb(self) -> float | None:
        """The most memory the group's processes held at once since it was made, in MB."""
        name = "memory.peak" if self.v2 else "memory.max_usage_in_bytes"
        try:
            return int((self.dirs["memory"] / name).read_text()) / 2**20
        except (OSError, ValueError):
            return None

    def hit_process_limit(self) -> bool:
        try:
            events = (self.dirs["pids"] / "pids.events").read_text().split()
            return len(events) >= 2 and int(events[1]) > 0
        except (OSError, ValueError):
            return False

    def pids(self) -> list[int]:
        out: set[int] = set()
        for d in self.dirs.values():
            try:
                out |= {int(p) for p in (d / "cgroup.procs").read_text().split()}
            except (OSError, ValueError):
                pass
        return sorted(out)

    def kill(self) -> None:
        """Stop every process of the group."""
        if self.v2 and (self.dirs["memory"] / "cgroup.kill").exists():
            try:
                (self.dirs["memory"] / "cgroup.kill").write_text("1")
                return
            except OSError:
                pass
        for _ in range(20):
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.05)

    def remove(self) -> None:
        self.kill()
        for d in dict.fromkeys(self.dirs.values()):
            for _ in range(40):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)


def _write(path: Path, value: str) -> None:
    path.write_text(value)


def _v2_root() -> Path | None:
    if not (ROOT / "cgroup.controllers").exists():
        return None
    wanted = {"memory", "pids", "cpu"}
    if not wanted <= set((ROOT / "cgroup.controllers").read_text().split()):
        return None
    return ROOT


def create(memory_mb: int, processes: int, kind: str = "kernel") -> Cgroup | None:
    """A new control group with these limits, owned by this process (its name carries the
    mark of ``runner.leftovers``), or None where none can be made here."""
    from autograder.runner.leftovers import mark

    name = f"rnncourse-{kind}{mark()}{uuid.uuid4().hex[:12]}"
    made: list[Path] = []
    try:
        v2 = _v2_root()
        if v2 is not None:
            parent = v2 / "rnncourse"
            parent.mkdir(exist_ok=True)
            _write(parent / "cgroup.subtree_control", "+memory +pids +cpu")
            d = parent / name
            d.mkdir()
            made.append(d)
            _write(d / "memory.max", str(memory_mb * 2**20))
            if (d / "memory.swap.max").exists():
                _write(d / "memory.swap.max", "0")
            _write(d / "pids.max", str(processes))
            return Cgroup({"memory": d, "pids": d, "cpu": d}, v2=True)
        dirs = {}
        for controller in V1:
            if not (ROOT / controller / "cgroup.procs").exists():
                return None
            d = ROOT / controller / name
            d.mkdir()
            made.append(d)
            dirs[controller] = d
        _write(dirs["memory"] / "memory.limit_in_bytes", str(memory_mb * 2**20))
        _write(dirs["pids"] / "pids.max", str(processes))
        return Cgroup(dirs, v2=False)
    except OSError:
        for d in made:
            try:
                d.rmdir()
            except OSError:
                pass
        return None


def _group_dirs(name: str) -> dict[str, Path]:
    v2 = _v2_root()
    if v2 is not None:
        d = v2 / "rnncourse" / name
        return {"memory": d, "pids": d, "cpu": d} if d.is_dir() else {}
    return {c: ROOT / c / name for c in V1 if (ROOT / c / name).is_dir()}


def marked_groups() -> list[Path]:
    """Every control group of ours whose name carries an owner's mark (one path per group)."""
    v2 = _v2_root()
    parents = [v2 / "rnncourse"] if v2 is not None else [ROOT / c for c in V1]
    names: dict[str, Path] = {}
    for parent in parents:
        try:
            for d in parent.iterdir():
                if d.name.startswith("rnncourse-") and "-p" in d.name and d.is_dir():
                    names.setdefault(d.name, d)
        except OSError:
            continue
    return list(names.values())


def remove_stale(name: str) -> bool:
    """Stop every process left in the group ``name`` and remove it; True when it is gone."""
    dirs = _group_dirs(name)
    if not dirs:
        return False
    group = Cgroup(dirs, v2=_v2_root() is not None)
    group.remove()
    return not any(d.exists() for d in dirs.values())


def available() -> bool:
    """Can this process make control groups (checked by making one)?"""
    group = create(64, 8)
    if group is None:
        return False
    group.remove()
    return True
