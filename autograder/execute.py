"""``GuardedExecute``: nbgrader's Execute with a sandboxed kernel and limits enforced outside it.

On top of nbgrader's ``Execute`` (which already turns an error reply whose traceback display
was switched off into an error output, so the test still fails), it

* starts the kernel with ``SandboxKernelManager`` (see ``autograder.sandbox``);
* caps every cell's time (``timeout``) and the whole notebook's (``notebook_timeout``): once
  the notebook's budget is spent, the remaining cells fail at once;
* caps the output kept in memory (``max_output_bytes`` for the notebook): a learner printing
  gigabytes cannot exhaust the grader's memory;
* survives the kernel dying (``os._exit``, a segfault, the memory or CPU limit): the cell and
  every later one get an error output saying so, and earlier grades stand;
* when a cell timed out and the kernel does not answer an interrupt, stops it the same way;
* after each test cell and after the last cell, asks the kernel to check that the grading
  machinery is intact (``PROBE``: numpy, torch, builtins, the course's test helpers and
  IPython's error display still hold the original functions) and writes what it found, with
  what happened during execution, to a *guard file* beside the notebook's folder, outside the
  sandbox's reach; ``autograder.integrity`` reads it. Probing after each test means a later
  cell that kills the kernel cannot hide a patch the tests ran under. The probe runs in the
  learner's process, so it is one layer of detection among others (the static scan, the
  reply status), not a proof.
"""

from __future__ import annotations

import ast
import json
import time
from pathlib import Path

from jupyter_core.utils import ensure_async, run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Enum, Integer

from autograder.sandbox import SandboxKernelManager

PROBE = r'''
def __rnncourse_probe():
    import json, sys
    bad = []
    def foreign(f):
        f = getattr(f, "__func__", f)
        code = getattr(f, "__code__", None)
        name = getattr(code, "co_filename", "") or ""
        return "/ipykernel_" in name or name.startswith("<ipython")
    mods = ["builtins", "numpy", "numpy.testing", "numpy.linalg", "torch", "torch.testing",
            "torch.nn.functional", "math", "unittest", "IPython.core.interactiveshell"]
    mods += [m for m in list(sys.modules) if m.startswith("rnncourse")]
    for name in mods:
        mod = sys.modules.get(name)
        if mod is None:
            continue
        for attr, val in list(vars(mod).items()):
            if callable(val) and foreign(val):
                bad.append(f"{name}.{attr} was replaced by the notebook's code")
    ip = get_ipython()
    for attr in ("showtraceback", "_showtraceback", "showsyntaxerror", "run_cell",
                 "run_cell_async", "run_code", "run_ast_nodes", "excepthook"):
        if foreign(getattr(ip, attr, None)) or foreign(getattr(type(ip), attr, None)):
            bad.append(f"IPython's {attr} was overridden")
    if foreign(sys.excepthook) or foreign(getattr(sys, "displayhook", None)):
        bad.append("sys.excepthook or sys.displayhook was overridden")
    if getattr(ip, "custom_exceptions", ()):
        bad.append("a custom exception handler was installed (set_custom_exc)")
    for event, callbacks in ip.events.callbacks.items():
        if any(foreign(cb) for cb in callbacks):
            bad.append(f"a {event} event hook was registered")
    for attr in ("ast_transformers", "input_transformers_post"):
        if getattr(ip, attr, None):
            bad.append(f"IPython {attr} were installed")
    if type(AssertionError) is not type or AssertionError.__module__ != "builtins":
        bad.append("AssertionError was replaced")
    return json.dumps(sorted(set(bad)))
'''

KERNEL_DIED = ("KernelDied", "the kernel stopped while running this cell (os._exit, a crash, "
               "or the sandbox's CPU-time or memory limit); later cells did not run")
NOT_RUN = ("NotRun", "not run: {}")


def _error(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue,
                        traceback=[f"{ename}: {evalue}"])


def guard_path(notebook_dir: Path, notebook: str) -> Path:
    """The guard file of a notebook executed in ``notebook_dir`` (outside that folder)."""
    return notebook_dir.parent / f".{notebook_dir.name}.{notebook}.guard.json"


class GuardedExecute(Execute):
    """nbgrader's Execute in a sandboxed kernel, with time, output and crash guards."""

    notebook_timeout = Integer(900, config=True,
                               help="seconds all of a notebook's cells may take together")
    max_output_bytes = Integer(2_000_000, config=True,
                               help="output kept per notebook; the rest is dropped")
    interrupt_grace = Integer(10, config=True,
                              help="seconds a kernel has to answer after an interrupt")
    # The kernel is thrown away after its notebook (the probe has run): no need to wait the
    # half second or more a graceful shutdown takes (ipykernel and torch tearing down).
    shutdown_kernel = Enum(["graceful", "immediate"], default_value="immediate", config=True,
                           help="how the kernel stops after the last cell")

    def __init__(self, *args, **kwargs):
        kwargs["kernel_manager_class"] = SandboxKernelManager
        super().__init__(*args, **kwargs)

    # -- limits -------------------------------------------------------------------------------
    def _cell_timeout(self, cell) -> int:
        left = self._deadline - time.monotonic()
        return max(1, int(min(self.timeout or left, left)))

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        size = len(json.dumps(content.get("data", content.get("text", ""))))
        self._output_bytes += size
        if self._output_bytes > self.max_output_bytes:
            if not self._truncated:
                self._truncated = True
                outs.append(NotebookNode(
                    output_type="stream", name="stdout",
                    text=f"\n[output truncated by the autograder: over "
                         f"{self.max_output_bytes} bytes]\n"))
            return None
        return super().output(outs, msg, display_id, cell_index)

    # -- execution ----------------------------------------------------------------------------
    def preprocess(self, nb, resources=None, km=None):
        from nbclient.client import NotebookClient

        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        self._deadline = time.monotonic() + self.notebook_timeout
        self._output_bytes, self._truncated, self._stopped = 0, False, None
        self.timeout_func = self._cell_timeout
        self._events: list[str] = []
        self._findings: list[str] = []
        self._probed = False
        with self.setup_kernel():
            info = self.wait_for_reply(self.kc.kernel_info())
            self.nb.metadata["language_info"] = info["content"]["language_info"]
            for index, cell in enumerate(self.nb.cells):
                self.preprocess_cell(cell, resources, index)
            self._check()
        self.set_widgets_metadata()
        self._write_guard(resources, self._findings if self._probed else "not run")
        return self.nb, self.resources

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or not cell.source.strip():
            return cell, self.resources
        if self._stopped is not None:
            cell.outputs = [_error(NOT_RUN[0], NOT_RUN[1].format(self._stopped))]
            return cell, self.resources
        if time.monotonic() >= self._deadline:
            self._stopped = f"the notebook used up its {self.notebook_timeout} s time budget"
            self._events.append(self._stopped)
            cell.outputs = [_error("NotebookTimeout", self._stopped)]
            return cell, self.resources
        try:
            cell = self.execute_cell(cell, index, store_history=True)
        except CellTimeoutError:  # no reply, nor even the end of the output: a stuck kernel
            cell.outputs = list(cell.get("outputs", [])) + [_error("CellTimeoutError", "")]
        except DeadKernelError:
            cell.outputs = list(cell.get("outputs", [])) + [_error(*KERNEL_DIED)]
            self._stopped = "the kernel stopped in an earlier cell"
            self._events.append(f"the kernel died in cell {index}")
            return cell, self.resources
        if any(o.get("ename") == "CellTimeoutError" for o in cell.outputs):
            self._events.append(f"cell {index} timed out")
            cell.outputs = [o for o in cell.outputs if o.get("ename") != "KeyboardInterrupt"]
            for o in cell.outputs:
                if o.get("ename") == "CellTimeoutError":
                    o["evalue"] = f"the cell ran past its time limit ({self.timeout} s)"
                    o["traceback"] = [f"CellTimeoutError: {o['evalue']}"]
            if not self._responsive():
                self._stopped = "an earlier cell ran past its time limit and would not stop"
                self._events.append(self._stopped)
                self._kill()
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade"):
            self._check()  # right after each test, before a later cell can hide the evidence
        return cell, self.resources

    def _check(self) -> None:
        """Run the probe if the kernel is alive; keep every finding."""
        if self._stopped is not None:
            return
        found = self._probe()
        self._probed = True
        found = [found] if isinstance(found, str) else found
        self._findings += [f for f in found if f not in self._findings]

    async def _async_responsive(self) -> bool:
        """Does the kernel answer a trivial request within ``interrupt_grace`` seconds?"""
        try:
            msg_id = self.kc.execute("", silent=True, store_history=False)
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

    def _probe(self) -> list[str] | str:
        """Ask the kernel whether the grading machinery is intact; a list of findings."""
        try:
            msg_id = self.kc.execute(PROBE, silent=True, store_history=False,
                                     user_expressions={"r": "__rnncourse_probe()"})
            reply = self.wait_for_reply(msg_id)
            value = reply["content"]["user_expressions"]["r"]
            if value.get("status") != "ok":
                return f"the integrity check failed to run ({value.get('ename', 'error')})"
            return json.loads(ast.literal_eval(value["data"]["text/plain"]))
        except Exception as err:  # noqa: BLE001  (anything here means we cannot trust it)
            return f"the integrity check failed to run ({type(err).__name__})"

    def _write_guard(self, resources, probe) -> None:
        path = (resources or {}).get("metadata", {}).get("path")
        notebook = (resources or {}).get("unique_key") or "notebook"
        if not path:
            return
        record = {"probe": probe, "events": self._events, "output_truncated": self._truncated,
                  "kernel_stopped": self._stopped}
        guard = guard_path(Path(path), notebook)
        tmp = guard.with_suffix(".tmp")
        tmp.write_text(json.dumps(record))
        tmp.replace(guard)
