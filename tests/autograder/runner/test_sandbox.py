"""The learner's sandbox: what a kernel can reach, and the limits of one submission.

Each test runs real code inside the same bubblewrap command line the kernels get, and fails
if the defence it names is taken away (a package bound in, a host folder visible, /tmp
unbounded, memory counted per process only).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from autograder.runner import cgroups, sandbox
from autograder.settings import Limits

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.skipif(sandbox.bwrap_path() is None,
                                reason="bubblewrap is not installed (scripts' prerequisites)")


def run_inside(code: str, tmp_path: Path, limits: Limits | None = None,
               packages: tuple[str, ...] = ("numpy",), group=None) -> subprocess.CompletedProcess:
    private = tmp_path / "private"
    private.mkdir(exist_ok=True)
    cmd = sandbox.bwrap_command([sys.executable, "-c", code], private=str(private),
                                limits=limits or Limits(), uid=123456, packages=packages)
    if group is not None:
        cmd = group.join_command(cmd)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def importable(name: str, tmp_path: Path, packages=("numpy",)) -> bool:
    code = (f"import importlib.util, sys\nsys.exit(0 if importlib.util.find_spec({name!r}) "
            "else 3)")
    return run_inside(code, tmp_path, packages=packages).returncode == 0


def test_numpy_is_importable_in_a_numpy_assignment(tmp_path):
    assert importable("numpy", tmp_path)


@pytest.mark.parametrize("name", ["torch", "autograder", "rnncourse", "scipy", "nbgrader"])
def test_frameworks_the_grader_and_the_course_package_are_not_there(name, tmp_path):
    assert not importable(name, tmp_path)


def test_torch_is_there_when_the_assignment_lists_it(tmp_path):
    assert importable("torch", tmp_path, packages=("numpy", "torch"))


def test_no_network(tmp_path):
    code = ("import socket\ntry:\n    socket.create_connection(('1.1.1.1', 53), timeout=3)\n"
            "except OSError as err:\n    print(type(err).__name__, err.errno)\n")
    assert "OSError 101" in run_inside(code, tmp_path).stdout


def test_the_course_and_the_host_are_not_visible(tmp_path):
    (tmp_path / "other_learner.ipynb").write_text("{}")
    paths = [ROOT / "solutions", ROOT / "autograder", ROOT / "grading", Path("/etc/passwd"),
             Path.home() / ".bash_history", tmp_path / "other_learner.ipynb"]
    code = f"import os\nprint([os.path.exists(p) for p in {[str(p) for p in paths]!r}])"
    assert run_inside(code, tmp_path).stdout.strip() == str([False] * len(paths))


def test_tmp_is_bounded(tmp_path):
    code = ("try:\n    open('/tmp/big', 'wb').write(b'x' * (40 * 2**20))\n"
            "except OSError as err:\n    print('refused', err.errno)\n")
    out = run_inside(code, tmp_path, Limits(tmp_mb=16))
    assert "refused 28" in out.stdout, out.stderr  # ENOSPC


def test_the_working_folder_is_private_and_bounded(tmp_path):
    code = ("import os\nos.symlink('/etc/shadow', 'link')\nprint(os.getcwd())\n"
            "try:\n    open('big', 'wb').write(b'x' * (40 * 2**20))\n"
            "except OSError as err:\n    print('refused', err.errno)\n")
    out = run_inside(code, tmp_path, Limits(workdir_mb=16))
    assert out.stdout.split()[:3] == [sandbox.WORKDIR, "refused", "28"], out.stderr
    assert not list(tmp_path.rglob("link"))  # nothing the learner made is left on the host


def test_the_kernel_runs_as_an_unprivileged_user(tmp_path):
    out = run_inside("import os\nprint(os.getuid())", tmp_path)
    assert out.stdout.strip() == "123456"


needs_cgroups = pytest.mark.skipif(not cgroups.available(),
                                   reason="control groups need root (CI runs as root)")


@needs_cgroups
def test_memory_is_limited_over_all_the_processes_together(tmp_path):
    # Four processes of 300 MB each: under any per-process limit, over 512 MB together.
    code = ("import os, time\nkids = []\nfor _ in range(4):\n    pid = os.fork()\n"
            "    if pid == 0:\n        b = bytearray(300 * 2**20)\n        time.sleep(2)\n"
            "        os._exit(0)\n    kids.append(pid)\n"
            "print(sum(os.waitpid(k, 0)[1] != 0 for k in kids))\n")
    group = cgroups.create(512, 64)
    try:
        out = run_inside(code, tmp_path, Limits(memory_mb=4096), group=group)
        killed = out.stdout.strip()
        assert group.hit_memory_limit()
    finally:
        group.remove()
    assert killed and int(killed) >= 1, out.stderr


@needs_cgroups
def test_processes_are_limited_over_the_whole_submission(tmp_path):
    code = ("import os, time\nn = 0\ntry:\n    for _ in range(200):\n"
            "        if os.fork() == 0:\n            time.sleep(5)\n            os._exit(0)\n"
            "        n += 1\nexcept OSError:\n    pass\nprint(n)\n")
    group = cgroups.create(2048, 16)
    try:
        out = run_inside(code, tmp_path, Limits(processes=1000), group=group)
        assert group.hit_process_limit()
    finally:
        group.remove()
    assert int(out.stdout.strip()) < 16, out.stderr


def test_without_bubblewrap_grading_refuses_and_says_how_to_install_it(monkeypatch):
    from autograder.errors import SandboxUnavailable

    monkeypatch.setattr(sandbox, "bwrap_path", lambda: None)
    with pytest.raises(SandboxUnavailable, match="apt-get install -y bubblewrap"):
        sandbox.require_sandbox("bwrap")
    assert sandbox.require_sandbox("none").startswith("sandbox: none")



# -- an environment reached through a symbolic link ---------------------------------------

@pytest.fixture
def linked_environment(tmp_path, monkeypatch) -> Path:
    """This Python as the grader sees it when its environment is reached through a link
    (``ln -s .venv /tmp/.../linkedenv``): a folder the sandbox does not show (its /tmp is its
    own). Returns the environment's real prefix."""
    real = Path(sys.prefix).resolve()
    link = tmp_path / "linkedenv"
    link.symlink_to(real, target_is_directory=True)
    monkeypatch.setattr(sys, "executable", str(link / "bin" / Path(sys.executable).name))
    monkeypatch.setattr(sys, "prefix", str(link))
    return real


def test_an_environment_reached_through_a_link_starts_in_the_sandbox(linked_environment,
                                                                     tmp_path):
    """Started by the path through the link, does Python start in the sandbox, in its own
    environment (the issue: the link's path does not exist there, so every kernel died)?"""
    out = run_inside("import sys\nprint(sys.prefix)", tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(linked_environment)


def test_the_sandboxed_interpreter_keeps_the_environments_own_name(linked_environment):
    """The folder is resolved, the environment's ``bin/python`` kept: resolved to the base
    interpreter it links to, Python would no longer find its environment."""
    assert sandbox.sandbox_interpreter() == str(
        linked_environment / "bin" / Path(sys.executable).name)


# -- the kernel's place on the host: its connection folder --------------------------------

def run_in_kernel(code: str, limits: Limits | None = None) -> tuple[str, Path]:
    """Start a sandboxed kernel as grading does, run ``code`` in it; (its printed output,
    its connection folder)."""
    import asyncio

    async def go() -> tuple[str, Path]:
        km = sandbox.SandboxKernelManager(kernel_name="python3")
        km.limits = limits or Limits()
        await km.start_kernel()
        kc = km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=60)
            out: list[str] = []
            await kc.execute_interactive(
                code, timeout=60, output_hook=lambda m: out.append(m["content"].get("text", "")))
            return "".join(out), Path(km.connection_file).parent
        finally:
            kc.stop_channels()
            await km.shutdown_kernel(now=True)

    return asyncio.run(go())



def test_a_kernel_of_an_environment_reached_through_a_link_answers(linked_environment):
    """A kernel started as grading starts it, from an environment reached through a link:
    does it reply and run code (the issue: 'Kernel died before replying to kernel_info' for
    every learner and for the reference solution)?"""
    out, _ = run_in_kernel("import sys\nprint(sys.prefix, 6 * 7)")
    assert out.split() == [str(linked_environment), "42"], out


WRITE_INTO_CONNECTION_FOLDER = """
import json, os, sys
folder = os.path.dirname(sys.argv[sys.argv.index('-f') + 1])
for what, attempt in [
        ('new file', lambda: open(os.path.join(folder, 'fill'), 'wb').write(b'x' * 2**20)),
        ('connection file', lambda: open(os.path.join(folder, 'kernel.json'), 'ab').write(b'x')),
        ('folder', lambda: os.mkdir(os.path.join(folder, 'more'))),
        ('permissions', lambda: os.chmod(folder, 0o777))]:
    try:
        attempt()
        print(what, 'WRITTEN')
    except OSError as err:
        print(what, 'refused', err.errno)
"""


@pytest.mark.skipif(sandbox.os.geteuid() != 0, reason="the kernel's own user needs root")
def test_the_kernel_cannot_write_to_its_connection_folder_on_the_host():
    """Once the kernel has bound its sockets (before any learner code can run), can it
    still write to the one folder of the host it shares with the grader: a new file, the
    connection file, a sub-folder, or its permissions? (The 1.2 GB of the issue.)"""
    out, _ = run_in_kernel(WRITE_INTO_CONNECTION_FOLDER)
    assert out.split("\n")[:4] == ["new file refused 13", "connection file refused 13",
                                   "folder refused 13", "permissions refused 1"], out


def test_matplotlib_has_a_writable_folder_in_the_sandbox_and_the_hosts_font_list():
    """Does matplotlib find a writable folder (in /tmp's tmpfs, not on the host) and the
    grader's font list, so that it neither warns nor builds its font list again?"""
    if sandbox.matplotlib_cache() is None:
        pytest.fail("the grader's matplotlib has no font list cache: import matplotlib once")
    code = ("import os, matplotlib, matplotlib.font_manager as fm\n"
            "print(matplotlib.get_cachedir(), os.access(matplotlib.get_cachedir(), os.W_OK))\n"
            "print(any(n.startswith('fontlist') for n in os.listdir(matplotlib.get_cachedir())))")
    out, _ = run_in_kernel(code, Limits())
    assert out.split() == [sandbox.MPLCONFIGDIR, "True", "True"], out



# -- which limit refuses a fork -----------------------------------------------------------

NPROC = "import resource\nprint(resource.getrlimit(resource.RLIMIT_NPROC)[0])"


@needs_cgroups
@pytest.mark.skipif(sandbox.os.geteuid() != 0, reason="the kernel's own user needs root")
def test_with_a_control_group_only_the_group_counts_the_processes():
    """A fork refused by the user's RLIMIT_NPROC leaves no event in the control group, so
    the submission would not be flagged for its fork bomb: where the group counts the
    processes (all of them, the sandbox's own included), it must be the only limit."""
    out, _ = run_in_kernel(NPROC, Limits(processes=48))
    assert int(out.strip()) != 48, out


@pytest.mark.skipif(sandbox.os.geteuid() != 0, reason="the kernel's own user needs root")
def test_without_a_control_group_the_users_process_limit_counts_them(monkeypatch):
    monkeypatch.setattr(cgroups, "create", lambda *args, **kwargs: None)
    out, _ = run_in_kernel(NPROC, Limits(processes=48))
    assert int(out.strip()) == 48, out


# -- the size of a message from the kernel ------------------------------------------------

def messages_of(code: str, limits: Limits) -> tuple[list[dict], str]:
    """Run ``code`` in a sandboxed kernel; (every iopub message the grader received until
    a second after the execute reply, that reply's status)."""
    import asyncio
    import queue
    import time

    async def go() -> tuple[list[dict], str]:
        km = sandbox.SandboxKernelManager(kernel_name="python3")
        km.limits = limits
        await km.start_kernel()
        kc = km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=60)
            kc.execute(code)
            reply = await kc.get_shell_msg(timeout=60)
            received, end = [], time.monotonic() + 1
            while time.monotonic() < end:
                try:
                    received.append(await kc.get_iopub_msg(timeout=0.2))
                except queue.Empty:
                    pass
            return received, reply["content"]["status"]
        finally:
            kc.stop_channels()
            await km.shutdown_kernel(now=True)

    return asyncio.run(go())


def test_a_message_over_the_limit_never_reaches_the_grader():
    """A kernel that prints 4 MB in one message, under a 1 MB limit: does the grader's
    socket drop it, rather than read it into the grader's memory, while the cell's reply
    still arrives (so the grader is not left waiting)?"""
    code = "import sys\nsys.stdout.write('x' * (4 * 2**20))\nsys.stdout.flush()"
    received, status = messages_of(code, Limits(max_message_bytes=2**20))
    sizes = [len(m["content"].get("text", "")) for m in received]
    assert status == "ok"
    assert max(sizes, default=0) < 2**20, sizes


def test_a_message_under_the_limit_arrives_whole():
    code = "import sys\nsys.stdout.write('x' * (2**19))\nsys.stdout.flush()"
    received, status = messages_of(code, Limits(max_message_bytes=2**20))
    assert status == "ok"
    assert sum(len(m["content"].get("text", "")) for m in received) == 2**19


def test_a_kernel_whose_channel_was_cut_cannot_block_the_grader():
    """The kernel's reply is over the limit, so the grader's shell socket drops it and the
    connection with it. Does the grader's next request fail within the send timeout (it is
    then stopped as a broken kernel) instead of waiting forever for a peer?"""
    import asyncio
    import queue
    import threading

    import zmq

    async def go() -> object:
        km = sandbox.SandboxKernelManager(kernel_name="python3")
        km.limits = Limits(max_message_bytes=2**20)
        await km.start_kernel()
        kc = km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=60)
            kc.execute("x = 'y' * (4 * 2**20)", user_expressions={"x": "x"})
            try:
                await kc.get_shell_msg(timeout=3)
            except queue.Empty:
                pass  # the reply was dropped with the connection
            outcome: list[object] = []

            def send() -> None:
                try:
                    for _ in range(4 * 16):  # past any queue: there is no peer any more
                        kc.execute("1")
                    outcome.append("sent")
                except zmq.Again as err:
                    outcome.append(err)

            sender = threading.Thread(target=send, daemon=True)
            sender.start()
            sender.join(sandbox.SEND_TIMEOUT_MS / 1000 + 15)
            return outcome[0] if outcome else "still blocked"
        finally:
            kc.stop_channels()
            await km.shutdown_kernel(now=True)

    assert isinstance(asyncio.run(go()), zmq.Again)
