"""The grader's side of a graded notebook: test cells run here, in the grading process, never
in the learner's kernel.

Each notebook gets a fresh namespace. The names of the assignment's contract (the functions
and classes its answer cells define) are bound to *proxies*: calling one sends the arguments
as data across the boundary (``autograder.runner.boundary``), runs the learner's function in
its sandboxed kernel, and returns the result as data of exact types. Arguments the learner's
function changed in place are changed here too, so a test sees what it would see in one
process (``train_tbptt`` updates ``params`` in place; a check notices an input modified by
mistake). A learner object that is not data (a torch module) comes back as a
:class:`RemoteObject`, whose methods are called the same way.

What a test cell prints and raises is written by the grader: an error output carries one line,
``Name: message``, capped, and no traceback (so no line of a hidden test is ever quoted).

**Hidden inputs are never quoted back.** The kernel receives a hidden case's inputs (never its
expected outputs or source), so every text the learner's code controls could carry them: an
exception's message and class name, a handle's type name, an unreadable answer's detail. A call
made from a line of a hidden-test region of the test cell (found on the call stack; the
regions are nbgrader's, those the release removes: ``autograder.runner.hidetests``) is a
*hidden case*; from the first hidden case on, no learner-controlled text is relayed: a
failure says which function raised which built-in exception (any other class: ``Error``), "in
a hidden case" when it was one, and nothing of its message. The checks' own messages are
grader text (``autograder.keys.checks.hidden_cases`` numbers a hidden test's cases).
"""

from __future__ import annotations

import builtins
import contextlib
import inspect
import io
import sys
import time
from collections.abc import Callable

import numpy as np
from nbformat import NotebookNode

from autograder.runner.boundary import BoundaryError, Handle, decode, encode
from autograder.runner.hidetests import hidden_line_numbers as hidden_lines


class LearnerError(Exception):
    """The learner's code raised, timed out, or its kernel died, during a call from a test."""

    def __init__(self, ename: str, evalue: str, *, fatal: bool = False) -> None:
        super().__init__(f"{ename}: {evalue}")
        self.ename, self.evalue, self.fatal = ename, evalue, fatal


Send = Callable[[str, float, list], str]  # (payload, timeout, callbacks) -> answer text


def builtin_name(ename: object) -> str:
    """``ename`` if it names a built-in exception, else ``Error`` (a learner's own class name
    is learner-controlled text)."""
    value = getattr(builtins, ename, None) if type(ename) is str else None
    return ename if isinstance(value, type) and issubclass(value, BaseException) else "Error"


def _cap(text: str, limit: int) -> str:
    text = str(text)
    if len(text) <= limit:
        return text
    return text[:limit] + f" … [{len(text) - limit} more characters]"


class Remote:
    """Requests to one learner kernel, within the time left to the current cell."""

    def __init__(self, send: Send, max_bytes: int, max_text: int,
                 packages: tuple[str, ...] = ()) -> None:
        self.send, self.max_bytes, self.max_text = send, max_bytes, max_text
        self.packages = packages
        self.deadline = float("inf")
        self.last_reply: dict = {}
        self.cell_errors: dict[str, str] = {}  # the learner's cells that failed: their error
        self.cell: tuple[str, frozenset[int]] = ("", frozenset())  # the test cell running
        self.hidden_seen = False  # a hidden case's inputs have reached the kernel

    def in_hidden_case(self) -> bool:
        """Is the running test cell on a line of one of its hidden-test regions?"""
        filename, lines = self.cell
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_filename == filename and frame.f_lineno in lines:
                return True
            frame = frame.f_back
        return False

    def request(self, req: dict, what: str) -> dict:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise LearnerError("CellTimeoutError", "the cell ran past its time limit")
        hidden = self.in_hidden_case()
        self.hidden_seen = self.hidden_seen or hidden
        callbacks: list = []
        payload = encode(req, callbacks)
        text = self.send(payload, left, callbacks)
        try:
            reply = decode(text, self.max_bytes, self._object)
        except BoundaryError as err:
            detail = "" if self.hidden_seen else f": {err}"
            raise LearnerError("BadAnswer", _cap(f"{what} sent back something that is not "
                                                 f"plain data{detail}", self.max_text)) from None
        if type(reply) is not dict or type(reply.get("ok")) is not bool:
            raise LearnerError("BadAnswer", f"{what} sent back a malformed answer")
        if not reply["ok"] and self.hidden_seen:
            raise self._quiet_failure(reply.get("ename"), what, hidden)
        if not reply["ok"]:
            ename = reply.get("ename") if type(reply.get("ename")) is str else "Error"
            if not ename.isidentifier():
                ename = "Error"
            evalue = reply.get("evalue") if type(reply.get("evalue")) is str else ""
            evalue = evalue or "(no message)"
            if ename == "ModuleNotFoundError" and self.packages:
                evalue += (" (when graded, your code can import only the standard library and "
                           f"{', '.join(self.packages)}: write this part with those)")
            if ename == "NameError" and self.cell_errors:
                evalue += "; a cell of yours failed before: " + "; ".join(
                    f"{cell}: {err}" for cell, err in list(self.cell_errors.items())[:3])
            raise LearnerError(ename[:100], _cap(f"in {what}: {evalue}", self.max_text))
        self.last_reply = reply
        return reply

    def _quiet_failure(self, ename: object, what: str, hidden: bool) -> LearnerError:
        """The learner's function failed once hidden inputs have reached the kernel: which
        built-in exception, and where, with no text of the learner's."""
        name = builtin_name(ename)
        where = ("in a hidden case (its message is not shown: it could quote the hidden "
                 "inputs)" if hidden else
                 "(its message is not shown once hidden cases have run: run your notebook to "
                 "see it)")
        return LearnerError(name, f"{what} raised {name} {where}")

    def _object(self, handle: Handle) -> RemoteObject:
        return RemoteObject(self, handle)

    def call(self, what: str, target: dict, args: tuple, kwargs: dict, **options):
        reply = self.request({"op": "call", **target, "args": list(args), "kwargs": kwargs,
                              **options}, what)
        _write_back(list(args), reply.get("args"))
        _write_back(kwargs, reply.get("kwargs"))
        return reply.get("result")

    def fixture(self, name: str, **kwargs):
        """Build one of the harness's fixtures (e.g. a fixed torch model) in the kernel."""
        return self.request({"op": "fixture", "name": name, "kwargs": kwargs},
                            f"the fixture {name}").get("result")


def _write_back(original, new) -> None:
    """Apply to ``original`` (the grader's objects passed to a call) the in-place changes the
    learner's function made to its copies, described by ``new``."""
    if isinstance(original, np.ndarray):
        if (type(new) is np.ndarray and new.shape == original.shape
                and original.flags.writeable):
            original[...] = new.astype(original.dtype, copy=False)
        return
    if isinstance(original, list) and type(new) is list:
        if len(new) == len(original):
            for o, n in zip(original, new, strict=True):
                if isinstance(o, np.ndarray | list | dict):
                    _write_back(o, n)
        return
    if isinstance(original, dict) and type(new) is dict:
        for key in list(original):
            if key not in new:
                del original[key]
        for key, value in new.items():
            old = original.get(key)
            if (isinstance(old, np.ndarray) and type(value) is np.ndarray
                    and old.shape == value.shape and old.dtype == value.dtype):
                old[...] = value
            elif isinstance(old, dict | list) and type(value) is type(old):
                _write_back(old, value)
            else:
                original[key] = value


class RemoteFunction:
    """A name of the contract: calling it calls the learner's function of that name."""

    def __init__(self, remote: Remote, name: str,
                 signature: inspect.Signature | None = None) -> None:
        self._remote, self.__name__, self._remote_name = remote, name, name
        if signature is not None:
            self.__signature__ = signature  # the source notebook's, for inspect.signature

    def __call__(self, *args, **kwargs):
        return self._remote.call(f"your {self.__name__}", {"name": self.__name__}, args,
                                 kwargs)

    def call_recording_steps(self, *args, **kwargs) -> tuple[object, list[float]]:
        """Call it, also recording the gradient norm each torch optimizer step saw (measured
        in the learner's kernel: a diagnostic, not a proof)."""
        result = self._remote.call(f"your {self.__name__}", {"name": self.__name__}, args,
                                   kwargs, record_steps=True)
        norms = self._remote.last_reply.get("step_grad_norms", [])
        if type(norms) is not list or any(type(v) is not float for v in norms):
            raise LearnerError("BadAnswer", "the recorded optimizer steps are not numbers")
        return result, norms

    def __repr__(self) -> str:
        return f"<the learner's {self.__name__}>"


class RemoteObject:
    """An object of the learner's kernel (e.g. a torch module): call it, call its methods."""

    def __init__(self, remote: Remote, handle: Handle) -> None:
        self._remote, self._handle = remote, handle

    def _what(self) -> str:
        """How messages name it: by the type name its kernel gave, until hidden inputs have
        reached the kernel (then that name could carry them)."""
        return "your object" if self._remote.hidden_seen else f"your {self._handle.type_name}"

    def __call__(self, *args, **kwargs):
        return self._remote.call(self._what(), {"handle": self._handle.number}, args, kwargs)

    def __getattr__(self, method: str):
        if method.startswith("_"):
            raise AttributeError(method)

        def bound(*args, **kwargs):
            return self._remote.call(f"{self._what()}.{method}",
                                     {"handle": self._handle.number, "method": method},
                                     args, kwargs)
        return bound

    def describe(self) -> list[tuple[str, str]]:
        """(path, type) of each submodule, as the kernel reports them."""
        out = self._remote.request({"op": "describe", "handle": self._handle.number},
                                   self._what()).get("result")
        if type(out) is not list:
            return []
        return [(str(p), str(t)) for p, t in (x for x in out if type(x) is list and len(x) == 2)]

    def __repr__(self) -> str:
        return repr(self._handle)


class TrustedSide:
    """The namespace where a notebook's test cells run, with the contract's proxies."""

    def __init__(self, remote: Remote, contract: list[str], max_output: int,
                 max_text: int, signatures: dict[str, inspect.Signature] | None = None) -> None:
        self.remote, self.max_output, self.max_text = remote, max_output, max_text
        self.namespace: dict = {"__name__": "__grader__"}
        self.contract = contract
        for name in contract:
            self.namespace[name] = RemoteFunction(remote, name, (signatures or {}).get(name))

    def run(self, source: str, name: str, deadline: float) -> tuple[list[NotebookNode], bool]:
        """Run a cell's source here; (outputs, whether the kernel is gone)."""
        self.remote.deadline = deadline
        filename = f"<{name}>"
        self.remote.cell = (filename, hidden_lines(source))
        out = io.StringIO()
        error, fatal = None, False
        try:
            code = compile(source, filename, "exec")
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                exec(code, self.namespace)  # noqa: S102  (the course's own test code)
        except LearnerError as err:
            error, fatal = (err.ename, err.evalue), err.fatal
        except Exception as err:  # noqa: BLE001  (a failing test: its message, capped)
            error = (type(err).__name__, str(err))
        finally:
            self.remote.deadline = float("inf")
            self.remote.cell = ("", frozenset())
        outputs = []
        text = out.getvalue()
        if text:
            outputs.append(NotebookNode(output_type="stream", name="stdout",
                                        text=_cap(text, self.max_output)))
        if error:
            ename, evalue = error[0][:100], _cap(error[1], self.max_text)
            outputs.append(NotebookNode(output_type="error", ename=ename, evalue=evalue,
                                        traceback=[f"{ename}: {evalue}"]))
        return outputs, fatal
