"""``SplitExecute``: nbgrader's Execute, split in two. The learner's cells run in a sandboxed
kernel; the test cells run in the grader.

For each cell of the notebook nbgrader grades, the assignment's plan (``runner.plan``, read
from the source notebook) says where it runs:

* learner cells go to the sandboxed kernel (``runner.sandbox``), under the cell's and the
  notebook's time limits, with every output capped;
* test cells run in the grader's namespace (``runner.trusted``), where the learner's
  functions are proxies across the data-only boundary (``runner.boundary``); the kernel never
  receives a test cell, a hidden test's source or parameters, or a reference;
* locked import cells run in both; cells marked not-graded are skipped.

nbgrader then reads the test cells' outputs as always (an error output: no points), so the
graded notebook, grade cells, gradebook, formgrader and feedback work unchanged.

What happened during execution (a timeout, a dying kernel, a resource limit, truncated
output, a channel over its budget) is written to an *execution record* beside the notebook's
folder; the grading core turns it into the flags of the result.

**Nothing a kernel sends can block or outgrow the grader.** During a test's call the grader
waits on the shell, stdin and iopub channels together, never longer than the call's time
limit, and reads at most ``DRAIN_BATCH`` messages of a channel before it looks at the clock:

* every channel's queue holds at most ``CHANNEL_HWM`` whole messages, each at most
  ``Limits.max_message_bytes``: the grader's sockets come from ``sandbox.capped_context``,
  which drops a larger message and disconnects its sender (an output channel dropped so
  stays silent for the rest of the kernel, its cell then times out and is flagged); what the
  kernel sends faster than the grader reads is lost;
* output (iopub), requests for input when the call passed no grader function (stdin) and
  stray shell replies are read, counted and dropped; past ``STRAY_BYTES`` in a notebook;
* requests for the grader's functions (stdin) are answered without waiting (a full channel
  means the kernel does not read its answers), at most ``MAX_CALLBACK_CALLS`` per call and
  ``max_message_bytes`` of requests and answers per call;
* the answer's text (from ``user_expressions``) must be a quoted base64 text of bounded length,
  checked by one regular match and never parsed; the archive is then read by
  ``boundary.decode``, which counts bytes, every reference included.

A channel over its budget is the learner's doing: the kernel is stopped, the record says why
(so the result is flagged), the test fails with a one-line ``ChannelLimit`` message, and the
remaining cells are marked not run.
"""

from __future__ import annotations

import importlib
import json
import re
import threading
import time
from pathlib import Path

import zmq
import zmq.asyncio
from jupyter_core.utils import ensure_async, run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Dict, Enum, Integer, Unicode

from autograder.files import atomic_write
from autograder.runner.boundary import decode, encode
from autograder.runner.plan import BOTH, GRADER, NOT_GRADED, plan_of
from autograder.runner.sandbox import SandboxKernelManager
from autograder.runner.trusted import LearnerError, Remote, TrustedSide, _cap, builtin_name
from autograder.settings import Limits

HARNESS_MODULE = "__rnncourse_harness__"
HARNESS_SOURCE = (Path(__file__).with_name("kernel_harness.py")).read_text()
KERNEL_DIED = ("KernelDied", "the kernel stopped while running this cell (os._exit, a crash, "
               "or a limit of the sandbox); later cells did not run")
NOT_RUN = "not run: {}"
CHANNEL_CUT = ("the kernel's channel to the grader was cut: it sent a message over {} bytes "
               "(or stopped reading), which the grader drops with the connection")
CHANNEL_HWM = 16  # whole messages a channel of the grader queues (each frame: the size limit)
DRAIN_BATCH = 32  # messages read from one channel before the time limit is looked at again
MAX_CALLBACK_CALLS = 1_000  # requests to the grader's functions during one call of a test
STRAY_BYTES = 64 * 2**20  # output and stray messages read (and dropped) during tests' calls
# The answer's representation: a quoted base64 text, nothing else (no parser reads it).
_ANSWER = re.compile(r"'([A-Za-z0-9+/]*={0,2})'")


class ChannelAbuse(Exception):
    """The kernel sent more, or faster, than a channel's budget: the learner's code did."""


class CallbackBudget:
    """What one call of a test may ask of the grader's functions: requests and bytes."""

    def __init__(self, calls: int, max_bytes: int) -> None:
        self.calls, self.bytes, self.max_calls, self.max_bytes = 0, 0, calls, max_bytes

    def spend(self, size: int, *, request: bool) -> None:
        """Count a request (or an answer) of ``size`` bytes; ChannelAbuse past the budget."""
        self.calls += request
        self.bytes += size
        if self.calls > self.max_calls:
            raise ChannelAbuse(f"the learner's code asked the grader's function for more than "
                               f"{self.max_calls} values during one call")
        if self.bytes > self.max_bytes:
            raise ChannelAbuse(f"the learner's code sent or asked for more than "
                               f"{self.max_bytes // 2**20} MB through the grader's function "
                               "during one call")


def answer_text(text, max_bytes: int) -> str:
    """The answer's text from its representation in ``user_expressions``: a quoted base64
    text of at most ``max_bytes`` (as base64), checked by one regular match, never parsed."""
    if not isinstance(text, str) or len(text) > max_bytes * 4 // 3 + 8:
        raise LearnerError("BadAnswer", "the kernel's answer is not text, or larger than the "
                                        "limit")
    match = _ANSWER.fullmatch(text)
    if match is None:
        raise LearnerError("BadAnswer", "the kernel's answer could not be read (not the "
                                        "harness's quoted text)")
    return match.group(1)


def _error(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue,
                        traceback=[f"{ename}: {evalue}"])


def _warm_up() -> None:
    try:
        importlib.import_module("autograder.keys.checks")
    except Exception:  # noqa: BLE001  (a test cell that needs it will say why)
        pass


def record_path(notebook_dir: Path, notebook: str) -> Path:
    """The execution record of a notebook executed in ``notebook_dir`` (outside that folder)."""
    return notebook_dir.parent / f".{notebook_dir.name}.{notebook}.record.json"


def cap_outputs(outputs: list, limits: Limits) -> list:
    """Every output of a learner's cell with its strings capped (streams, data, errors)."""
    text_cap = limits.max_text_chars
    for out in outputs:
        kind = out.get("output_type")
        if kind == "stream":
            out["text"] = _cap(out.get("text", ""), 100_000)
        elif kind == "error":
            out["ename"] = str(out.get("ename", "Error"))[:100]
            out["evalue"] = _cap(out.get("evalue", ""), text_cap)
            tb = [_cap(line, 2_000) for line in list(out.get("traceback", []))[:60]]
            out["traceback"] = tb or [f"{out['ename']}: {out['evalue']}"]
        elif kind in ("display_data", "execute_result"):
            data = out.get("data", {})
            for mime in list(data):
                value = data[mime]
                if not isinstance(value, str) or len(value) > 1_000_000:
                    data[mime] = "[output removed by the autograder: too large]" \
                        if mime.startswith("text/") else ""
                    if not mime.startswith("text/"):
                        del data[mime]
    return outputs


AFTER_HIDDEN = ("[output not kept by the autograder: this cell ran after hidden test cases, "
                "and what it shows could quote their inputs; run your notebook to see it]\n")
GRADER_ENAMES = ("CellTimeoutError", KERNEL_DIED[0], "BrokenKernel")


def redact_after_hidden(outputs: list) -> list:
    """The outputs of a learner's cell that ran after hidden cases reached the kernel: its code
    could show what it recorded of their inputs, so no text of it is kept in the graded
    notebook (nor in the feedback made from it): one note instead of its streams and displays,
    and each error by its name alone (a built-in exception's, or the grader's own)."""
    kept = []
    if any(o.get("output_type") != "error" for o in outputs):
        kept.append(NotebookNode(output_type="stream", name="stdout", text=AFTER_HIDDEN))
    for out in outputs:
        if out.get("output_type") == "error":
            ename = out.get("ename")
            name = ename if ename in GRADER_ENAMES else builtin_name(ename)
            kept.append(_error(name, "(its message is not shown: the cell ran after hidden "
                                     "test cases)"))
    return kept


class SplitExecute(Execute):
    """Learner cells in a sandboxed kernel, test cells in the grader (module docstring)."""

    limits = Dict(config=True, help="autograder.settings.Limits as a dict")
    source_dir = Unicode("", config=True, help="the folder of the assignments' sources")
    interrupt_grace = Integer(10, config=True,
                              help="seconds a kernel has to answer after an interrupt")
    # The kernel is thrown away after its notebook: no need to wait the half second or more a
    # graceful shutdown takes (ipykernel tearing down).
    shutdown_kernel = Enum(["graceful", "immediate"], default_value="immediate", config=True,
                           help="how the kernel stops after the last cell")

    def __init__(self, *args, **kwargs):
        kwargs["kernel_manager_class"] = SandboxKernelManager
        super().__init__(*args, **kwargs)

    def create_kernel_manager(self):
        km = super().create_kernel_manager()
        km.limits = self._limits
        km.packages = tuple(self._plan.kernel_packages)
        return km

    # -- the learner's cells ----------------------------------------------------------------
    def _cell_timeout(self, cell) -> int:
        left = self._deadline - time.monotonic()
        return max(1, int(min(self.timeout or left, left)))

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        size = len(json.dumps(content.get("data", content.get("text", ""))))
        self._output_bytes += size
        if self._output_bytes > self._limits.max_output_bytes:
            if not self._truncated:
                self._truncated = True
                outs.append(NotebookNode(
                    output_type="stream", name="stdout",
                    text=f"\n[output truncated by the autograder: over "
                         f"{self._limits.max_output_bytes} bytes]\n"))
            return None
        return super().output(outs, msg, display_id, cell_index)

    def _stop(self, why: str) -> None:
        self._stopped = why
        self._events.append(why)

    def _kernel_died(self, where: str) -> str:
        note = self.km.resource_note() if hasattr(self.km, "resource_note") else None
        self._stop(f"the kernel died in {where}" + (f": {note}" if note else ""))
        return note or KERNEL_DIED[1]

    def _broken_kernel(self, err: Exception) -> str:
        """The kernel answered with something that is not the Jupyter protocol, or its channel
        could not take a message (``sandbox.capped_context``): stop it."""
        why = (CHANNEL_CUT.format(self._limits.max_message_bytes) if isinstance(err, zmq.Again)
               else f"the kernel broke the messaging protocol ({type(err).__name__})")
        if self._stopped is None:
            self._stop(why)
        self._kill()
        return why

    def _run_learner_cell(self, cell, index):
        try:
            cell = self.execute_cell(cell, index, store_history=True)
        except CellTimeoutError:  # no reply, nor even the end of the output: a stuck kernel
            cell.outputs = list(cell.get("outputs", [])) + [_error("CellTimeoutError", "")]
        except DeadKernelError:
            why = self._kernel_died(f"cell {index}")
            cell.outputs = list(cell.get("outputs", [])) + [_error(KERNEL_DIED[0], why)]
            return cap_outputs(cell.outputs, self._limits)
        except Exception as err:  # noqa: BLE001  (malformed messages from a hostile kernel)
            cell.outputs = [_error("BrokenKernel", self._broken_kernel(err))]
            return cell.outputs
        if any(o.get("ename") == "CellTimeoutError" for o in cell.outputs):
            self._events.append(f"cell {index} timed out")
            cell.outputs = [o for o in cell.outputs if o.get("ename") != "KeyboardInterrupt"]
            for o in cell.outputs:
                if o.get("ename") == "CellTimeoutError":
                    o["evalue"] = f"the cell ran past its time limit ({self.timeout} s)"
                    o["traceback"] = [f"CellTimeoutError: {o['evalue']}"]
            if not self._responsive():
                self._stop(self._channel_cut or
                           "an earlier cell ran past its time limit and would not stop")
                self._kill()
        return cap_outputs(cell.outputs, self._limits)

    # -- the grader's cells -----------------------------------------------------------------
    def _run_grader_cell(self, source: str, name: str) -> list:
        deadline = min(time.monotonic() + (self.timeout or 1e9), self._deadline)
        outputs, fatal = self._trusted.run(source, name, deadline)
        if fatal and self._stopped is None:
            self._stop(f"the kernel stopped during the test {name}")
        return outputs

    # -- execution --------------------------------------------------------------------------
    def preprocess(self, nb, resources=None, km=None):
        from nbclient.client import NotebookClient

        self._limits = Limits.from_dict(self.limits or {})
        self.timeout = self._limits.cell_timeout
        info = (resources or {}).get("nbgrader", {})
        source = (Path(self.source_dir or "solutions") / info.get("assignment", "")
                  / f"{info.get('notebook')}.ipynb")
        self._plan = plan_of(source)
        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        self._deadline = time.monotonic() + self._limits.notebook_timeout
        self._output_bytes, self._truncated, self._stopped = 0, False, None
        self._channel_cut: str | None = None
        self._stray_bytes = 0
        self.timeout_func = self._cell_timeout
        self._events: list[str] = []
        remote = Remote(self._send, self._limits.max_message_bytes, self._limits.max_text_chars,
                        packages=self._plan.kernel_packages)
        self._trusted = TrustedSide(remote, self._plan.contract, 100_000,
                                    self._limits.max_text_chars, self._plan.signatures)
        # The grader's references need torch: import it while the kernel starts (another
        # process), not after.
        threading.Thread(target=_warm_up, daemon=True).start()
        with self.setup_kernel():
            reply = self.wait_for_reply(self.kc.kernel_info())
            self.nb.metadata["language_info"] = reply["content"]["language_info"]
            self._bound_channels()
            self._install_harness()
            for index, cell in enumerate(self.nb.cells):
                self._run_cell(cell, index)
            if hasattr(self.km, "resource_events"):
                self._events += [e for e in self.km.resource_events() if e not in self._events]
        self.set_widgets_metadata()
        self._write_record(resources)
        return self.nb, self.resources

    def _run_cell(self, cell, index) -> None:
        if cell.cell_type != "code":
            return
        role = self._plan.role(cell)
        gid = cell.metadata.get("nbgrader", {}).get("grade_id", f"cell {index}")
        if role == NOT_GRADED or not cell.source.strip() and role != GRADER:
            cell.outputs = []
            return
        if self._stopped is not None:
            cell.outputs = [_error("NotRun", NOT_RUN.format(self._stopped))]
            return
        if time.monotonic() >= self._deadline:
            self._stop(f"the notebook used up its {self._limits.notebook_timeout} s time "
                       "budget")
            cell.outputs = [_error("NotebookTimeout", self._stopped)]
            return
        if role == GRADER:
            cell.outputs = self._run_grader_cell(self._plan.sources[gid], gid)
            return
        cell.outputs = self._run_learner_cell(cell, index)
        if self._trusted.remote.hidden_seen:
            cell.outputs = redact_after_hidden(cell.outputs)
        for out in cell.outputs:
            if out.get("output_type") == "error":
                self._trusted.remote.cell_errors[gid] = _cap(
                    f"{out.get('ename')}: {out.get('evalue')}".rstrip(": "), 200)
        if role == BOTH and self._stopped is None:
            failed = [o for o in self._run_grader_cell(self._plan.sources[gid], gid)
                      if o.get("output_type") == "error"]
            if failed:
                self._events.append(f"the grader could not run the locked cell {gid} "
                                    f"({failed[0]['ename']}: {failed[0]['evalue']})")

    def _install_harness(self) -> None:
        code = ("import sys as _s, types as _t\n"
                f"_m = _t.ModuleType({HARNESS_MODULE!r})\n"
                "_m.get_ipython = get_ipython\n"
                f"exec(compile({HARNESS_SOURCE!r}, {HARNESS_MODULE!r}, 'exec'), _m.__dict__)\n"
                f"_m.MAX_ANSWER_CHARS = {int(self._limits.max_message_bytes * 0.9)}\n"
                f"_s.modules[{HARNESS_MODULE!r}] = _m\n"
                "del _s, _t, _m\n")
        msg_id = self.kc.execute(code, silent=True, store_history=False)
        self.wait_for_reply(msg_id)

    # -- one call across the boundary --------------------------------------------------------
    def _bound_channels(self) -> None:
        """Short receive queues on every channel (whole messages, each frame at most
        ``max_message_bytes``): a kernel that sends faster than the grader reads loses its
        messages, the grader never holds more than ``CHANNEL_HWM`` of them per channel."""
        for channel in (self.kc.shell_channel, self.kc.iopub_channel, self.kc.stdin_channel,
                        self.kc.control_channel):
            channel.socket.setsockopt(zmq.RCVHWM, CHANNEL_HWM)
            channel.socket.setsockopt(zmq.SNDHWM, CHANNEL_HWM)

    async def _async_send(self, payload: str, timeout: float, callbacks: list) -> str:
        try:
            return await self._async_send_once(payload, timeout, callbacks)
        except LearnerError:
            raise
        except ChannelAbuse as err:
            self._stop(f"the kernel was stopped: {err}")
            self._kill()
            raise LearnerError("ChannelLimit", f"{err}; the kernel was stopped",
                               fatal=True) from None
        except Exception as err:  # noqa: BLE001  (malformed messages from a hostile kernel)
            raise LearnerError("BrokenKernel", self._broken_kernel(err), fatal=True) from None

    async def _async_send_once(self, payload: str, timeout: float, callbacks: list) -> str:
        if self._stopped is not None:
            raise LearnerError("KernelDied", f"not run: {self._stopped}", fatal=True)
        expr = f"__import__({HARNESS_MODULE!r}).answer"
        msg_id = self.kc.execute(f"__import__({HARNESS_MODULE!r}).call({payload!r})",
                                 silent=True, store_history=False, allow_stdin=bool(callbacks),
                                 user_expressions={"r": expr})
        end = time.monotonic() + timeout
        budget = CallbackBudget(MAX_CALLBACK_CALLS, self._limits.max_message_bytes)
        shell, stdin, iopub = (self.kc.shell_channel.socket, self.kc.stdin_channel.socket,
                               self.kc.iopub_channel.socket)
        poller = zmq.asyncio.Poller()
        for socket in (shell, stdin, iopub):
            poller.register(socket, zmq.POLLIN)
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise await self._async_call_timed_out()
            ready = dict(await poller.poll(int(min(left, 1.0) * 1000) + 1))
            if not ready:
                if not await ensure_async(self.km.is_alive()):
                    why = self._kernel_died("a test's call")
                    raise LearnerError(KERNEL_DIED[0], why, fatal=True) from None
                continue
            if iopub in ready:
                await self._async_drop(iopub, "output")
            if stdin in ready:
                await self._async_serve_callbacks(callbacks, budget)
            if shell in ready:
                reply = await self._async_reply(shell, msg_id)
                if reply is not None:
                    break
        content = reply.get("content", {})
        value = content.get("user_expressions", {}).get("r", {})
        if content.get("status") != "ok" or value.get("status") != "ok":
            raise LearnerError("BadAnswer", "the kernel did not answer the grader's call (was "
                                            "the kernel's machinery changed?)")
        return answer_text(value.get("data", {}).get("text/plain", ""),
                           self._limits.max_message_bytes)

    _send = run_sync(_async_send)

    async def _async_receive(self, socket) -> list | None:
        """One whole message from ``socket`` if one is waiting (never waits), else None."""
        try:
            return await socket.recv_multipart(flags=zmq.NOBLOCK)
        except zmq.Again:
            return None

    def _spend_stray(self, frames: list, what: str) -> None:
        """Count the bytes of a message the grader reads and drops during a test's call."""
        self._stray_bytes += sum(len(f) for f in frames)
        if self._stray_bytes > STRAY_BYTES:
            raise ChannelAbuse(f"the learner's code sent more than {STRAY_BYTES // 2**20} MB "
                               f"of {what} during the tests' calls")

    async def _async_drop(self, socket, what: str) -> None:
        """Read and drop up to ``DRAIN_BATCH`` waiting messages (a test's call shows no
        output), within the notebook's ``STRAY_BYTES``."""
        for _ in range(DRAIN_BATCH):
            frames = await self._async_receive(socket)
            if frames is None:
                return
            self._spend_stray(frames, what)

    async def _async_reply(self, socket, msg_id: str) -> dict | None:
        """The reply to ``msg_id`` if it is among the waiting shell messages; others (stray
        replies the learner's code forged) are dropped within ``STRAY_BYTES``."""
        for _ in range(DRAIN_BATCH):
            frames = await self._async_receive(socket)
            if frames is None:
                return None
            session = self.kc.session
            msg = session.deserialize(session.feed_identities(frames)[1])
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                return msg
            self._spend_stray(frames, "stray replies")
        return None

    async def _async_serve_callbacks(self, callbacks: list, budget: CallbackBudget) -> None:
        """Answer the kernel's requests for values of the grader's functions (stdin), up to
        ``DRAIN_BATCH`` at a time, each answer sent without waiting, within ``budget``; a
        request when the call passed no function is dropped within ``STRAY_BYTES``."""
        from autograder.runner.kernel_harness import CALLBACK_PREFIX

        socket = self.kc.stdin_channel.socket
        for _ in range(DRAIN_BATCH):
            frames = await self._async_receive(socket)
            if frames is None:
                return
            if not callbacks:
                self._spend_stray(frames, "requests for input")
                continue
            budget.spend(sum(len(f) for f in frames), request=True)
            session = self.kc.session
            msg = session.deserialize(session.feed_identities(frames)[1])
            if msg.get("msg_type") != "input_request":
                continue
            prompt = msg.get("content", {}).get("prompt", "")
            try:
                if not isinstance(prompt, str) or not prompt.startswith(CALLBACK_PREFIX):
                    raise ValueError("an unexpected request for input")
                req = decode(prompt[len(CALLBACK_PREFIX):], self._limits.max_message_bytes)
                fn = callbacks[req["id"]].fn
                value = fn(*req["args"], **req["kwargs"])
                answer = encode({"value": value})
            except Exception as err:  # noqa: BLE001  (the kernel side raises it)
                answer = encode({"error": f"{type(err).__name__}: {err}"[:500]})
            budget.spend(len(answer), request=False)
            parts = session.serialize(session.msg("input_reply", {"value": answer}))
            try:
                await socket.send_multipart(parts, flags=zmq.NOBLOCK)
            except zmq.Again:
                raise ChannelAbuse("the learner's code asked the grader's function for values "
                                   "faster than it read the answers") from None

    async def _async_call_timed_out(self) -> LearnerError:
        await ensure_async(self.km.interrupt_kernel())
        if await self._async_responsive():
            self._events.append("a test's call to the learner's code timed out")
            return LearnerError("CellTimeoutError",
                                f"the cell ran past its time limit ({self.timeout} s)")
        self._stop("a test's call ran past its time limit and the kernel would not stop")
        self._kill()
        return LearnerError("CellTimeoutError",
                            f"the cell ran past its time limit ({self.timeout} s) and would not "
                            "stop", fatal=True)

    async def _async_responsive(self) -> bool:
        """Does the kernel answer a trivial request within ``interrupt_grace`` seconds? (When
        the request cannot even be sent, its channel was cut: ``_channel_cut`` says why.)"""
        try:
            try:
                msg_id = self.kc.execute("", silent=True, store_history=False)
            except zmq.Again:
                self._channel_cut = CHANNEL_CUT.format(self._limits.max_message_bytes)
                return False
            end = time.monotonic() + self.interrupt_grace
            while time.monotonic() < end:
                left = max(0.1, end - time.monotonic())
                msg = await ensure_async(self.kc.shell_channel.get_msg(timeout=left))
                if msg["parent_header"].get("msg_id") == msg_id:
                    return True
        except Exception:  # noqa: BLE001  (Empty, dead kernel, closed channel: not responsive)
            return False
        return False

    _responsive = run_sync(_async_responsive)

    def _kill(self) -> None:
        try:
            run_sync(self.km.shutdown_kernel)(now=True)
        except Exception:  # noqa: BLE001  (already dead: fine)
            pass

    def _write_record(self, resources) -> None:
        path = (resources or {}).get("metadata", {}).get("path")
        notebook = (resources or {}).get("unique_key") or "notebook"
        if not path:
            return
        record = {"events": self._events, "output_truncated": self._truncated,
                  "kernel_stopped": self._stopped}
        atomic_write(record_path(Path(path), notebook), json.dumps(record))
