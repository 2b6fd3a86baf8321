"""Run a learner's kernel in a sandbox: bubblewrap, an unprivileged user, a control group.

The grader (nbgrader, the test cells, the references, the gradebook) stays outside; only the
kernel that runs the learner's own cells is inside. ``SandboxKernelManager`` (the kernel
manager of ``autograder.runner.execute.SplitExecute``) wraps the kernel's command line::

    sh (joins the submission's control group: memory and processes of all its processes)
      bwrap <no network, pid, ipc, uts namespaces; /usr, the Python standard library and an
             allow-list of packages read-only; a private tmpfs /tmp and working folder, each
             of a fixed size; nothing else of the host>
        setpriv --reuid=<a fresh uid> --clear-groups --inh-caps=-all
          prlimit --cpu --as --fsize --nofile (--nproc where there is no group)
            python -m ipykernel_launcher -f <connection file>

* **Packages by allow-list.** The kernel's site-packages is an empty tmpfs into which only the
  distributions of the kernel itself (ipykernel and what it requires) and of the assignment's
  ``kernel_packages`` (default NumPy and matplotlib) are bound. torch, the course's package,
  the grader and its answer keys are not on disk in the sandbox: a NumPy part cannot call
  torch, and nothing there can be imported to reach a reference.
* **Nothing written outside.** The working folder and /tmp are size-limited tmpfs that vanish
  with the kernel: a link the learner makes is never followed by anything outside. The
  matplotlib font list is bound read-only into /tmp/matplotlib (a folder of that tmpfs).
* The kernel talks to the grader over ZeroMQ *ipc* sockets in a private folder on the host, so
  it lives in an empty network namespace. That folder is the one place of the host the kernel
  may write to, and only while it starts: it belongs to root, the kernel's group may create
  its sockets there, and once the five sockets are bound (before any learner code can run:
  that comes only after the kernel's info reply) :meth:`SandboxKernelManager.seal` takes the
  write permission away; the connection file is root's, readable by the kernel's group. (Not
  as root, the kernel runs as the grader's own user, who owns that folder: then nothing can
  be taken away, and ``require_sandbox`` says so.) Interrupts go as messages (bwrap does not
  forward signals).
* The connection folder and the control group carry their owner's mark
  (``runner.leftovers``): when a grading process is killed, the next one removes them.
* A watchdog stops the whole control group when the submission's CPU time is spent.
* ``sandbox="none"`` runs the kernel with the per-process limits only, for trusted notebooks
  (the course's own solutions); ``require_sandbox`` refuses to grade otherwise.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.metadata as metadata
import os
import shutil
import subprocess
import sys
import sysconfig
import threading
import time
import uuid
from pathlib import Path

import zmq
import zmq.asyncio
from jupyter_client.manager import AsyncKernelManager
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from traitlets import Instance

from autograder.errors import SandboxUnavailable
from autograder.runner import cgroups, leftovers
from autograder.settings import DEFAULT_KERNEL_PACKAGES, KERNEL_BASE_PACKAGES, Limits

ETC_FILES = ("/etc/alternatives", "/etc/ld.so.cache", "/etc/localtime", "/etc/fonts")
WORKDIR = "/home/learner"  # the kernel's working folder inside the sandbox
MPLCONFIGDIR = "/tmp/matplotlib"  # matplotlib's folder inside the sandbox (in /tmp's tmpfs)
SOCKETS = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")
SEAL_SECONDS = 60  # the longest wait for a starting kernel to bind its sockets
INSTALL_HINT = "apt-get install -y bubblewrap"


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


@functools.lru_cache(maxsize=1)
def cgroups_available() -> bool:
    return cgroups.available()


def require_sandbox(sandbox: str) -> str:
    """One line saying which sandbox learners' code runs in; SandboxUnavailable when the
    bubblewrap sandbox is asked for (the default) and cannot run here."""
    if sandbox == "none":
        return "sandbox: none (--sandbox none: for trusted notebooks only)"
    if not bwrap_path():
        why = "is not installed" if not shutil.which("bwrap") else "cannot run here"
        raise SandboxUnavailable(
            f"bubblewrap {why}, and learners' code is never run without a sandbox. Install "
            f"it ({INSTALL_HINT}), or pass --sandbox none for trusted notebooks only")
    limits = ("one control group per submission" if cgroups_available() else
              "per-process limits only: run as root for a control group per submission and "
              "a connection folder the kernel cannot write to")
    return f"sandbox: bubblewrap (no network, allow-listed packages, private files; {limits})"


# -- the packages a kernel may import ---------------------------------------------------------

def _closure(names: tuple[str, ...]) -> list[metadata.Distribution]:
    seen: dict[str, metadata.Distribution] = {}
    todo = list(names)
    while todo:
        name = canonicalize_name(todo.pop())
        if name in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen[name] = dist
        for line in dist.requires or []:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return list(seen.values())


@functools.lru_cache(maxsize=16)
def allowed_entries(packages: tuple[str, ...]) -> tuple[str, ...]:
    """The site-packages entries (folders and files) of ``packages``, the kernel's own
    packages, and everything they require: what the sandbox's site-packages holds."""
    site = Path(sysconfig.get_paths()["purelib"]).resolve()
    entries: set[str] = set()
    for dist in _closure(KERNEL_BASE_PACKAGES + tuple(packages)):
        for f in dist.files or []:
            top = str(f).split("/")[0]
            if top in ("..", "__pycache__") or top.endswith(".pth"):
                continue
            if (site / top).exists():
                entries.add(str(site / top))
    return tuple(sorted(entries))


# -- the command line -------------------------------------------------------------------------

def limit_command(cmd: list[str], limits: Limits, uid: int | None,
                  count_processes: bool = True) -> list[str]:
    """``cmd`` under prlimit, and as ``uid`` (when we are root and setpriv exists).

    ``count_processes``: also cap the processes of ``uid`` (RLIMIT_NPROC). Only where no
    control group does: the group counts every process of the submission, and a limit that
    refused a fork first would leave no trace in the group's events, so the submission would
    not be flagged for it."""
    out = []
    if uid is not None and os.geteuid() == 0 and shutil.which("setpriv"):
        out += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                "--inh-caps=-all"]
    if shutil.which("prlimit"):
        out += ["prlimit", f"--cpu={limits.cpu_seconds}", f"--as={limits.memory_mb * 2**20}",
                f"--fsize={limits.file_mb * 2**20}", "--nofile=512"]
        if count_processes and uid is not None and os.geteuid() == 0:
            out.append(f"--nproc={limits.processes}")
        out.append("--")
    return out + cmd


def _parents(path: str) -> list[str]:
    parts = Path(path).parts[1:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def sandbox_interpreter(executable: str | None = None) -> str:
    """This Python (``sys.executable``) as the sandbox can start it: its folder resolved,
    its own name kept.

    Only the resolved prefixes are bound into the sandbox, so a path through a link (an
    environment reached as ``/tmp/linkedenv``, a ``.venv`` that links to one elsewhere) does
    not exist there, and a kernel started by it dies before it replies. The last link (a
    virtual environment's ``bin/python``) is kept: Python finds its environment
    (``pyvenv.cfg``) beside the path it was started by, not beside the file it links to."""
    path = Path(executable or sys.executable)
    return str(path.parent.resolve() / path.name)


def bwrap_command(cmd: list[str], *, private: str, limits: Limits, uid: int | None,
                  packages: tuple[str, ...], mplcache: str | None = None,
                  count_processes: bool = True) -> list[str]:
    """``cmd`` inside bubblewrap (see the module docstring); ``mplcache``: the grader's
    matplotlib cache folder, whose font lists are bound read-only into the kernel's;
    ``count_processes`` as in :func:`limit_command`."""
    exe = bwrap_path()
    assert exe is not None
    site = str(Path(sysconfig.get_paths()["purelib"]).resolve())
    stdlib = str(Path(sysconfig.get_paths()["stdlib"]).resolve())
    base_site = str(Path(stdlib) / "site-packages")
    pyexe = Path(sandbox_interpreter())
    # the kernel's command names this Python as the host sees it (jupyter_client puts
    # sys.executable there): name it as the sandbox sees it
    cmd = [str(pyexe) if arg == sys.executable else arg for arg in cmd]
    args = [exe, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
            "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--clearenv",
            "--setenv", "PATH", f"{pyexe.parent}:/usr/bin:/bin",
            "--setenv", "HOME", WORKDIR, "--setenv", "MPLBACKEND", "Agg",
            "--setenv", "MPLCONFIGDIR", MPLCONFIGDIR if mplcache else "/tmp",
            "--setenv", "PYTHONDONTWRITEBYTECODE", "1", "--setenv", "PYTHONNOUSERSITE", "1",
            "--setenv", "OMP_NUM_THREADS", "1", "--setenv", "LANG", "C.UTF-8",
            "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib",
            "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/bin", "/bin",
            "--symlink", "usr/sbin", "/sbin", "--proc", "/proc", "--dev", "/dev",
            "--perms", "1777", "--size", str(limits.tmp_mb * 2**20), "--tmpfs", "/tmp"]
    if mplcache:  # a writable folder in the /tmp tmpfs, the font lists read-only in it
        args += ["--perms", "1777", "--dir", MPLCONFIGDIR]
        for font_list in sorted(Path(mplcache).glob("fontlist-*.json")):
            args += ["--ro-bind", str(font_list), f"{MPLCONFIGDIR}/{font_list.name}"]
    for path in ETC_FILES:
        args += ["--ro-bind-try", path, path]
    prefixes = sorted({str(Path(sys.base_prefix).resolve()), str(Path(sys.prefix).resolve())})
    made: set[str] = {"/usr", "/tmp"}
    for path in [*prefixes, private, WORKDIR]:
        for parent in _parents(path):  # bwrap would create parents mode 0700
            if parent not in made:
                args += ["--perms", "0755", "--dir", parent]
                made.add(parent)
    for path in prefixes:  # the interpreter and the standard library
        args += ["--ro-bind", path, path]
    # site-packages: an empty tmpfs with only the allowed packages in it
    for folder in dict.fromkeys([site, base_site]):
        if Path(folder).is_dir():
            args += ["--perms", "0755", "--tmpfs", folder]
    for entry in allowed_entries(packages):
        args += ["--ro-bind", entry, entry]
    args += ["--bind", private, private,
             "--perms", "1777", "--size", str(limits.workdir_mb * 2**20), "--tmpfs", WORKDIR,
             "--chdir", WORKDIR, "--"]
    return args + limit_command(cmd, limits, uid, count_processes)


SEND_TIMEOUT_MS = 5000  # the longest a message to a kernel may wait to be sent


@functools.lru_cache(maxsize=4)
def capped_context(max_message_bytes: int) -> zmq.asyncio.Context:
    """A ZeroMQ context for the grader's side of a kernel's channels, whose sockets

    * refuse any message over ``max_message_bytes`` (it is dropped and its sender
      disconnected, for good): a kernel cannot make the grader hold a huge message;
    * give up sending after ``SEND_TIMEOUT_MS`` (``zmq.Again``): a kernel whose channel is cut,
      or that stops reading, cannot block the grader (jupyter_client sends synchronously).

    Socket options set on a context are the defaults of every socket it makes (pyzmq's
    ``Context.setsockopt``), and a kernel client takes its ``context``: public API at both
    ends. One per limit, shared by the clients of the process (their sockets close with their
    channels)."""
    context = zmq.asyncio.Context()
    context.setsockopt(zmq.MAXMSGSIZE, max_message_bytes)
    context.setsockopt(zmq.SNDTIMEO, SEND_TIMEOUT_MS)
    return context


@functools.lru_cache(maxsize=1)
def matplotlib_cache() -> str | None:
    """The grader's matplotlib cache folder when it holds a font list (bound read-only into
    each kernel's, so that it does not rebuild the list); else None."""
    try:
        import matplotlib

        path = Path(matplotlib.get_cachedir()).resolve()
    except Exception:  # noqa: BLE001  (no matplotlib, or no usable cache: kernels build one)
        return None
    return str(path) if any(path.glob("fontlist-*.json")) else None


class SandboxKernelManager(AsyncKernelManager):
    """Starts the kernel inside the sandbox (see the module docstring). The executor sets
    ``limits`` and ``packages`` before the kernel starts."""

    limits = Instance(Limits, args=())
    packages = Instance(tuple, args=(DEFAULT_KERNEL_PACKAGES,))

    def client(self, **kwargs):
        """A kernel client whose sockets drop messages over ``limits.max_message_bytes``."""
        kwargs.setdefault("context", capped_context(self.limits.max_message_bytes))
        return super().client(**kwargs)

    async def _async_pre_start_kernel(self, **kw):
        limits = self.limits
        self.limit_hit: str | None = None
        uid = 100_000 + uuid.uuid4().int % 900_000 if os.geteuid() == 0 else None
        self._uid = uid
        self._private = leftovers.mkdtemp("rnncourse-kernel", dir=leftovers.short_tmp())
        sandboxed = limits.sandbox != "none"
        if sandboxed:
            if not bwrap_path():
                raise SandboxUnavailable(f"bubblewrap is missing ({INSTALL_HINT})")
            self.transport = "ipc"
            self.connection_file = str(self._private / "kernel.json")
            self.ip = str(self._private / "ipc")  # ipc-<port>: a socket's path, < 108 bytes
        cmd, kw = await super()._async_pre_start_kernel(**kw)
        self._cgroup = cgroups.create(limits.memory_mb, limits.processes)
        count_processes = self._cgroup is None  # else the group counts them (limit_command)
        # The kernel's own stdout and stderr carry nothing for grading (outputs travel as
        # messages) and must not mix into the grader's: ``score --json``, a worker's answers.
        kw["stdout"] = kw["stderr"] = subprocess.DEVNULL
        if sandboxed:
            self.kernel_spec.interrupt_mode = "message"  # signals do not cross bwrap
            if uid is not None:  # root's folder; the kernel's group may bind its sockets
                os.chown(self._private, 0, uid)
                os.chmod(self._private, 0o770)
                os.chown(self.connection_file, 0, uid)
                os.chmod(self.connection_file, 0o640)
            cmd = bwrap_command(cmd, private=str(self._private), limits=limits, uid=uid,
                                packages=tuple(self.packages), mplcache=matplotlib_cache(),
                                count_processes=count_processes)
            kw["env"] = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
            kw["cwd"] = str(self._private)
        else:
            cmd = limit_command(cmd, limits, None)
        if self._cgroup is not None:
            cmd = self._cgroup.join_command(cmd)
            self._watch = threading.Event()
            threading.Thread(target=self._watchdog, daemon=True).start()
        return cmd, kw

    async def _async_post_start_kernel(self, **kw) -> None:
        await super()._async_post_start_kernel(**kw)
        if self.limits.sandbox != "none" and self._uid is not None:
            await self._async_seal()

    def socket_paths(self) -> list[Path]:
        """The files of the kernel's five ipc sockets."""
        return [Path(f"{self.ip}-{getattr(self, name)}") for name in SOCKETS]

    async def _async_seal(self) -> None:
        """Take the kernel's write permission on its connection folder away once it has bound
        its sockets (or died, or had ``SEAL_SECONDS``): from then on nothing of the host is
        writable to it."""
        end = time.monotonic() + SEAL_SECONDS
        while time.monotonic() < end and not all(p.exists() for p in self.socket_paths()):
            if not await self._async_is_alive():
                break
            await asyncio.sleep(0.01)
        self.seal()

    def seal(self) -> None:
        """The kernel's connection folder: readable, no longer writable, by the kernel."""
        os.chmod(self._private, 0o750)

    def _watchdog(self) -> None:
        """Stop the whole group once its CPU time is spent (polled twice a second)."""
        group = self._cgroup
        while not self._watch.wait(0.5):
            if group.cpu_seconds() > self.limits.cpu_seconds:
                self.limit_hit = (f"the submission used up its CPU time "
                                  f"({self.limits.cpu_seconds} s over all its processes)")
                group.kill()
                return

    def resource_events(self) -> list[str]:
        """Every limit of the control group the submission ran into."""
        group = getattr(self, "_cgroup", None)
        out = [self.limit_hit] if getattr(self, "limit_hit", None) else []
        if group is not None and group.hit_memory_limit():
            out.append(f"the submission hit its memory limit ({self.limits.memory_mb} MB over "
                       "all its processes)")
        if group is not None and group.hit_process_limit():
            out.append(f"the submission hit its process limit ({self.limits.processes} "
                       "processes and threads)")
        return out

    def resource_note(self) -> str | None:
        """Why the kernel was stopped by a limit, if it was: the first limit it reached."""
        return next(iter(self.resource_events()), None)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if restart:
            return
        if getattr(self, "_cgroup", None) is not None:
            self._watch.set()
            self._cgroup.remove()
            self._cgroup = None
        private = getattr(self, "_private", None)
        if private is not None:
            shutil.rmtree(private, ignore_errors=True)

    cleanup_resources = _async_cleanup_resources
