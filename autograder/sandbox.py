"""Run a learner's kernel in a sandbox: bubblewrap, an unprivileged user, and resource limits.

Design. nbgrader stays *outside* the sandbox: it holds the gradebook, the source notebook
with the hidden tests and the other submissions, and it decides the grades. Only the kernel,
the process that runs the learner's code (and the test cells, which are restored from the
source), runs inside. ``SandboxKernelManager`` (the kernel manager of
``autograder.execute.GuardedExecute``) wraps the kernel's command line::

    bwrap <no network, pid, ipc namespaces; read-only system and Python; the notebook's folder
           read-write; a private tmpfs /tmp>
      setpriv --reuid=<a fresh uid> --clear-groups --inh-caps=-all
        prlimit --cpu --as --nproc --fsize --nofile
          python -m ipykernel_launcher -f <connection file>

* The kernel talks to nbgrader over ZeroMQ *ipc* sockets (files in a private folder bound into
  the sandbox), not TCP, so the kernel can live in its own, empty network namespace:
  no loopback, no internet, no reaching other kernels.
* Inside, the file system holds only /usr, the Python installation, the course package
  ``rnncourse`` (read-only: the test helpers), /proc, /dev, an empty /tmp, and the notebook's
  own folder (read-write). solutions/, the gradebook, other learners' folders and the rest of
  the course are not there to be read.
* The kernel runs as an unprivileged uid of its own (root ignores RLIMIT_NPROC, and a fresh
  uid means a fork bomb only counts against itself), with limits on CPU seconds, address
  space, processes (threads count), file size and open files. The per-cell and per-notebook
  timeouts, and the cap on output size, are enforced outside, by ``GuardedExecute``.
* Interrupts go as Jupyter ``interrupt_request`` messages (bwrap does not forward signals).
* When bubblewrap is missing or does not work here, the kernel runs with the same limits but
  without the sandbox, and ``sandbox_status()`` says so; ``grade`` and ``score`` print it.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import Enum, Integer

SHARED_PACKAGES = ("rnncourse",)  # importable read-only inside the sandbox (test helpers)
ETC_FILES = ("/etc/alternatives", "/etc/ld.so.cache", "/etc/localtime", "/etc/fonts")


@dataclass(frozen=True)
class Limits:
    """Resource limits of one kernel (one submission)."""

    cpu_seconds: int = 600
    memory_mb: int = 4096
    processes: int = 128
    file_mb: int = 64
    open_files: int = 512


@functools.lru_cache(maxsize=1)
def bwrap_path() -> str | None:
    """The bubblewrap executable if it exists and can build a sandbox here, else None."""
    exe = shutil.which("bwrap")
    if exe is None:
        return None
    try:
        proc = subprocess.run([exe, "--unshare-net", "--unshare-pid", "--die-with-parent",
                               "--ro-bind", "/", "/", "true"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return exe if proc.returncode == 0 else None


def sandbox_status() -> str:
    """One line for the user: is student code sandboxed?"""
    if bwrap_path():
        return "sandbox: bubblewrap (no network, private file system, resource limits)"
    return ("WARNING: bubblewrap is missing or cannot run here, so learners' code runs WITHOUT a "
            "sandbox (resource limits only). Install it: apt-get install -y bubblewrap")


@functools.lru_cache(maxsize=1)
def matplotlib_cache() -> str | None:
    """The grader's matplotlib cache folder when it holds a font list (each kernel gets a
    copy, so it does not rebuild the list); else None."""
    try:
        import matplotlib

        path = Path(matplotlib.get_cachedir()).resolve()
    except Exception:  # noqa: BLE001  (no matplotlib, or no usable cache: kernels build one)
        return None
    return str(path) if any(path.glob("fontlist-*.json")) else None


def _package_dirs() -> list[str]:
    dirs = []
    for name in SHARED_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec and spec.submodule_search_locations:
            dirs.extend(str(Path(p).resolve()) for p in spec.submodule_search_locations)
    return dirs


def _parents(path: str) -> list[str]:
    parts = Path(path).parts[1:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def limit_command(cmd: list[str], limits: Limits, uid: int | None) -> list[str]:
    """``cmd`` under prlimit, and as ``uid`` (when we are root and setpriv exists)."""
    out = []
    if uid is not None and os.geteuid() == 0 and shutil.which("setpriv"):
        out += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                "--inh-caps=-all"]
    if shutil.which("prlimit"):
        out += ["prlimit", f"--cpu={limits.cpu_seconds}", f"--as={limits.memory_mb * 2**20}",
                f"--fsize={limits.file_mb * 2**20}", f"--nofile={limits.open_files}"]
        if uid is not None and os.geteuid() == 0:
            out.append(f"--nproc={limits.processes}")
        out.append("--")
    return out + cmd


def bwrap_command(cmd: list[str], *, writable: list[str], limits: Limits, uid: int | None,
                  workdir: str, mplconfig: str | None = None) -> list[str]:
    """``cmd`` inside bubblewrap: only ``writable`` folders are visible and writable."""
    exe = bwrap_path()
    assert exe is not None
    ro = sorted({str(Path(sys.base_prefix).resolve()), str(Path(sys.prefix).resolve()),
                 *_package_dirs()})
    args = [exe, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
            "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--clearenv",
            "--setenv", "PATH", f"{Path(sys.executable).parent}:/usr/bin:/bin",
            "--setenv", "HOME", workdir, "--setenv", "MPLBACKEND", "Agg",
            "--setenv", "MPLCONFIGDIR", mplconfig or "/tmp",
            "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
            "--setenv", "OMP_NUM_THREADS", "1", "--setenv", "LANG", "C.UTF-8",
            "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib",
            "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/bin", "/bin",
            "--symlink", "usr/sbin", "/sbin", "--proc", "/proc", "--dev", "/dev",
            "--perms", "1777", "--tmpfs", "/tmp"]
    for path in ETC_FILES:
        args += ["--ro-bind-try", path, path]
    made: set[str] = {"/usr", "/tmp"}
    for path in [*ro, *writable]:
        for parent in _parents(path):  # bwrap would create parents mode 0700
            if parent not in made:
                args += ["--perms", "0755", "--dir", parent]
                made.add(parent)
    for path in ro:
        args += ["--ro-bind", path, path]
    for path in writable:
        args += ["--bind", path, path]
    args += ["--chdir", workdir, "--"]
    return args + limit_command(cmd, limits, uid)


def _chown_tree(path: Path, uid: int) -> None:
    for folder, _dirs, files in os.walk(path):
        os.chown(folder, uid, uid)
        for name in files:
            os.chown(os.path.join(folder, name), uid, uid, follow_symlinks=False)


class SandboxKernelManager(AsyncKernelManager):
    """A kernel manager that starts the kernel inside the sandbox (see the module docstring)."""

    sandbox = Enum(["auto", "bwrap", "none"], "auto", config=True,
                   help="bwrap: always (fail if missing); auto: when it works; none: never")
    cpu_seconds = Integer(Limits.cpu_seconds, config=True, help="CPU seconds of the kernel")
    memory_mb = Integer(Limits.memory_mb, config=True, help="address space of the kernel")
    processes = Integer(Limits.processes, config=True, help="processes and threads")
    file_mb = Integer(Limits.file_mb, config=True, help="largest file the kernel may write")

    def _use_bwrap(self) -> bool:
        if self.sandbox == "none":
            return False
        if self.sandbox == "bwrap" and not bwrap_path():
            raise RuntimeError(sandbox_status())
        return bool(bwrap_path())

    async def _async_pre_start_kernel(self, **kw):
        limits = Limits(self.cpu_seconds, self.memory_mb, self.processes, self.file_mb)
        uid = 100_000 + uuid.uuid4().int % 900_000 if os.geteuid() == 0 else None
        self._private = Path(tempfile.mkdtemp(prefix="rnncourse-kernel-"))
        if self._use_bwrap():
            self.transport = "ipc"
            self.connection_file = str(self._private / "kernel.json")
            self.ip = str(self._private / "kernel-ipc")
        cmd, kw = await super()._async_pre_start_kernel(**kw)
        # The kernel's own stdout and stderr carry nothing for grading (outputs travel as
        # messages) and must not mix into the grader's: ``score --json``, a worker's answers.
        kw["stdout"] = kw["stderr"] = subprocess.DEVNULL
        workdir = str(Path(kw.get("cwd") or os.getcwd()).resolve())
        if self._use_bwrap():
            self.kernel_spec.interrupt_mode = "message"  # signals do not cross bwrap
            mplconfig = None
            if matplotlib_cache():
                mplconfig = self._private / "matplotlib"
                shutil.copytree(matplotlib_cache(), mplconfig,
                                ignore=shutil.ignore_patterns("tex.cache", "*.lock"))
            if uid is not None:
                _chown_tree(Path(workdir), uid)
                _chown_tree(self._private, uid)
            cmd = bwrap_command(cmd, writable=[str(self._private), workdir], limits=limits,
                                uid=uid, workdir=workdir,
                                mplconfig=str(mplconfig) if mplconfig else None)
            kw["env"] = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        else:
            cmd = limit_command(cmd, limits, None)
        return cmd, kw

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        private = getattr(self, "_private", None)
        if private is not None and not restart:
            shutil.rmtree(private, ignore_errors=True)

    cleanup_resources = _async_cleanup_resources
