"""Diagnostic checks called by the assignments' test cells.

Each ``check_*`` function draws seeded inputs, calls the learner's function on copies of them,
and compares the result with a float64 PyTorch reference (``autograder.keys.reference``).
On failure it raises an ``AssertionError`` (:func:`failure`) with a one- or two-line
message saying what differs: the type, dtype or shape, non-finite values, or the first time
step where the values diverge and by how much; when the learner's
numbers match a known mistake recomputed by the grader (wrong gate order, sigmoid/tanh
swapped, ...), the message names that mistake. Non-finite values (NaN, inf) fail every check.

Values are graded on their own: the learner's function runs on copies of the inputs
(:func:`call`), and an argument it changes in place fails one separate test of that function
(:func:`check_arguments_unchanged`), never a test of its values. The forward checks take
``large=True`` for inputs whose pre-activations reach beyond ±800, where ``np.tanh`` and a
stable sigmoid are finite and an exponential form overflows.

Messages use the notebooks' notation: a time-major array holds steps t = 1 .. T, so its index
2 is "step t = 3 (h_3, Hs[2])" (:func:`at_step`; lists counted from 1, such as the losses of
epochs, with :func:`at_count`). Blame follows dependencies: a check of a function that calls
another graded function of the learner (``lstm_backward`` calls ``lstm_step_backward``) takes
that callee from the test cell (``step=``, ``cell=``); when the caller fails and the callee
fails its own quick check, the message starts "your lstm_step_backward fails its own tests:
fix it first; this may be its error." and names no known mistake of the caller
(:class:`Callee`, :class:`callee_first`).

A hidden test runs each of its cases inside :func:`hidden_cases` (or :func:`hidden_case`): a
failure then reads "hidden case 3 of 6 failed: ..." followed by the failure's ``summary``,
which names what differs and by how much but none of the case's inputs (no shapes, lengths,
indices, seeds or expected values). Only a summary written by a check is ever quoted; any
other failure in a hidden case is reported by its kind alone.

Tolerances: ``RTOL = 1e-6`` and ``ATOL = 1e-8`` in float64, far above the rounding differences
between correct vectorisations and far below the effect of any real bug.

In the learner's kernel (JupyterLab, Validate), importing this module installs two helpers in
the IPython shell (:func:`report_passing_cells`): a test cell whose checks all pass prints one
line, "✓ all 3 checks of this cell pass" (:class:`CellReport`), and a check's failure shows
the test cell's line and the message, without the keys' frames (:func:`show_failure`; the
checks' frames also set ``__tracebackhide__``). A visible hand-computed case wrapped in
:class:`mistake_first` names the known mistake its function's test on random inputs would.
The grader runs the test cells in its own process, which has no IPython shell: nothing is
installed there.
"""

from __future__ import annotations

import contextvars
import copy
import functools
import inspect
import itertools
import sys
import types
from collections.abc import Callable, Iterator, Mapping, Sequence

import numpy as np
import torch

from autograder.keys import reference as ref

RTOL, ATOL = 1e-6, 1e-8
LARGE = 2000.0  # the inputs' scale of a ``large=True`` case: pre-activations beyond ±800
OVERFLOW = ("for large pre-activations (beyond ±800 here): exp overflows beyond about 710, "
            "so a tanh or sigmoid written with exp of its input gives inf or NaN there; write "
            "them in a form that stays finite for any input.")

Mistakes = Mapping[str, object] | Callable[[], Mapping[str, object]]


# --------------------------------------------------------------------------------------------
# Generic comparison
# --------------------------------------------------------------------------------------------

def failure(msg: str, summary: str | None = None, diagnosis: str | None = None
            ) -> AssertionError:
    """A failed check: an ``AssertionError`` whose text is the full diagnostic, and whose
    ``summary`` attribute says what failed without any of the case's inputs (what a hidden
    case's message may show; by default ``msg`` itself, which must then name none of them).
    ``diagnosis``: the cause the message names (a known mistake, a callee to fix first), or
    None when it says only what differs (see :class:`mistake_first`)."""
    err = AssertionError(msg)
    err.summary = msg if summary is None else summary
    err.diagnosis = diagnosis
    return err


def _fail(msg: str, summary: str | None = None, diagnosis: str | None = None):
    """Fail a check (see :func:`failure`)."""
    __tracebackhide__ = True
    raise failure(msg, summary, diagnosis)


class HiddenCase:
    """One case of a hidden test: ``with case as params:`` runs a check on the case's
    parameters; a failure inside is re-raised as "hidden case k of n failed: <summary>"."""

    def __init__(self, number: int, count: int, params: tuple = ()) -> None:
        self.number, self.count, self.params = number, count, params

    def __enter__(self) -> tuple:
        return self.params

    def __exit__(self, kind, err, tb) -> bool:
        __tracebackhide__ = True
        if err is None or not isinstance(err, Exception):
            return False
        head = f"hidden case {self.number} of {self.count} failed"
        summary = getattr(err, "summary", None) if type(err) is AssertionError else None
        if isinstance(summary, str):  # a check's failure, written by the grader
            raise AssertionError(f"{head}: {summary}") from None
        ename, evalue = getattr(err, "ename", None), getattr(err, "evalue", None)
        if isinstance(ename, str) and isinstance(evalue, str):  # the learner's code raised
            if getattr(err, "fatal", False):
                return False  # the kernel is gone: its own message says why
            err.evalue = (f"{head}: your code raised {ename} (its message is not shown for "
                          "a hidden case: run the visible tests and your own cases to see it)")
            return False
        raise AssertionError(f"{head}: {type(err).__name__} (the details are not shown for "
                             "a hidden case)") from None


def hidden_case(number: int = 1, count: int = 1) -> HiddenCase:
    """A single hidden case (``with hidden_case(): check_...(...)``)."""
    return HiddenCase(number, count)


def hidden_cases(cases: Sequence[tuple]) -> Iterator[HiddenCase]:
    """The cases of a hidden test, numbered: ``for case in hidden_cases([...]):`` then
    ``with case as (T, B, H, seed): check_...(...)``."""
    for k, params in enumerate(cases, 1):
        yield HiddenCase(k, len(cases), tuple(params))


def check_type(name: str, got) -> np.ndarray:
    """``got`` must be a NumPy float64 array (not a torch tensor, list or None)."""
    __tracebackhide__ = True
    if isinstance(got, torch.Tensor):
        _fail(f"{name} is a torch.Tensor; return a NumPy array (compute with NumPy, "
              "or convert with .detach().numpy()).")
    if got is None:
        _fail(f"{name} is None: did the function forget to `return` it?")
    if not isinstance(got, np.ndarray):
        _fail(f"{name} is a {type(got).__name__}; return a NumPy array.")
    return got


def _close(a: np.ndarray, b: np.ndarray, rtol: float, atol: float) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=atol))


def find_mistake(got: np.ndarray, mistakes: Mistakes | None, rtol: float = RTOL,
                 atol: float = ATOL) -> str | None:
    """Name of the first mistaken variant that ``got`` matches, or None."""
    if mistakes is None:
        return None
    table = mistakes() if callable(mistakes) else mistakes
    for label, variant in table.items():
        v = np.asarray(variant, dtype=np.float64)
        if np.all(np.isfinite(v)) and _close(got, v, rtol, atol):
            return label
    return None


def at_step(array: str, value: str | None = None) -> Callable[[int], str]:
    """Words for index ``i`` of a time-major ``array`` holding steps t = 1 .. T, as the
    notebooks number them: "step t = 3 (h_3, Hs[2])" with ``value="h_{t}"``, else "step t = 3
    (Hs[2])". ``value`` names the step's value in the notebook's notation ({t} is the step)."""
    def words(i: int) -> str:
        t = i + 1
        what = f"{value.format(t=t)}, " if value else ""
        return f"step t = {t} ({what}{array}[{i}])"
    return words


def at_count(noun: str, array: str | None = None) -> Callable[[int], str]:
    """Words for index ``i`` of a list counted from 1 in the notebook: "epoch 3 (losses[2])",
    or "epoch 3 (index 2)" without ``array``."""
    return lambda i: f"{noun} {i + 1} ({array}[{i}])" if array else f"{noun} {i + 1} (index {i})"


def _default_at(name: str) -> Callable[[int], str]:
    """:func:`at_step` of ``name`` when it is an array's name, else "step t = 3 (index 2)"."""
    if name.isidentifier():
        return at_step(name)
    return lambda i: f"step t = {i + 1} (index {i})"


def check_array(name: str, got, expected: np.ndarray, *, time_axis: bool = False,
                mistakes: Mistakes | None = None, shape_hints: Mapping | None = None,
                rtol: float = RTOL, atol: float = ATOL, reference: str = "the reference",
                at: Callable[[int], str] | None = None, nonfinite: str | None = None):
    """Assert ``got`` equals ``expected`` within tolerance, with a diagnostic message.

    ``time_axis``: axis 0 is time, and the message gives the first time step that diverges,
    in the notebook's numbering: ``at`` turns an index of axis 0 into its words (by default
    :func:`at_step` of ``name``: index 2 is "step t = 3 (name[2])"; see :func:`at_count`).
    ``mistakes``: label -> array computed with a known mistake (or a function returning that
    mapping, called only on failure). ``shape_hints``: wrong shape -> explanation.
    ``nonfinite``: where and why values are not finite, instead of the generic advice (e.g.
    :data:`OVERFLOW`).
    """
    __tracebackhide__ = True
    got = check_type(name, got)
    expected = np.asarray(expected)
    if got.shape != expected.shape:
        hint = (shape_hints or {}).get(tuple(got.shape))
        why = f": {hint}." if hint else "."
        _fail(f"{name} has shape {tuple(got.shape)}, expected {tuple(expected.shape)}{why}",
              f"{name} has the wrong shape{why}")
    if got.dtype != np.float64:
        _fail(f"{name} has dtype {got.dtype}, expected float64: keep the inputs' dtype "
              "(no float32 casts, no integer arrays).")
    if not np.all(np.isfinite(got)):
        idx = tuple(int(i) for i in np.argwhere(~np.isfinite(got))[0])
        if time_axis:
            idx = f"{idx}, {(at or _default_at(name))(idx[0])}"
        if nonfinite:
            _fail(f"{name} is not finite (first at index {idx}) {nonfinite}",
                  f"{name} is not finite {nonfinite}")
        advice = "look for an overflow, e.g. exp of a large number, or a division by zero."
        _fail(f"{name} has non-finite values (first at index {idx}): {advice}",
              f"{name} has non-finite values (NaN or inf): {advice}")
    if _close(got, expected, rtol, atol):
        return
    err = np.abs(got - expected)
    bad = ~np.isclose(got, expected, rtol=rtol, atol=atol)
    where = ""
    if time_axis and got.ndim >= 1:
        steps = np.flatnonzero(bad.reshape(got.shape[0], -1).any(axis=1))
        t, worst = int(steps[0]), int(err.reshape(got.shape[0], -1).max(axis=1).argmax())
        words = at or _default_at(name)
        where = (f" first at {words(t)}, max abs error there {err[t].max():.2e}; "
                 f"worst at {words(worst)}")
    else:
        worst = tuple(int(i) for i in np.unravel_index(err.argmax(), err.shape))
        where = f" ({bad.sum()} of {bad.size} entries; worst at index {worst})"
    msg = f"{name} differs from {reference}:{where}, max abs error {err.max():.2e}."
    summary = f"{name} differs from {reference}: max abs error {err.max():.2e}."
    mistake = find_mistake(got, mistakes, rtol, atol)
    if mistake:
        msg += f"\nIt matches a known mistake: {mistake}."
        summary += f"\nIt matches a known mistake: {mistake}."
    _fail(msg, summary, diagnosis=mistake)


_WATCH: contextvars.ContextVar[list | None] = contextvars.ContextVar("watch", default=None)


def call(fn: Callable, *args, shared: tuple[int, ...] = ()):
    """Call ``fn`` on deep copies of ``args`` and return what it returns.

    The grader's arrays stay as they were whatever ``fn`` does to its copies, so a value is
    graded on its own, in-place changes or not. Those changes are graded by a test of their
    own, :func:`check_arguments_unchanged`, which watches the calls made here. The arguments
    at the positions ``shared`` (a model the function uses, not data) are passed as they are.
    """
    __tracebackhide__ = True
    copies = [a if i in shared else copy.deepcopy(a) for i, a in enumerate(args)]
    watching = _WATCH.get()
    try:
        out = fn(*copies)
    except Exception as err:
        if watching is not None:
            watching.append((_name(fn), [], err))
        raise
    if watching is not None:
        changed = changed_arguments(fn, args, copies)
        watching.append((_name(fn), [(n, isinstance(args[i], Mapping)) for i, n in changed],
                         None))
    return out


def _name(fn: Callable) -> str:
    return getattr(fn, "__name__", None) or "the function"


def changed_arguments(fn: Callable, args: Sequence, after: Sequence) -> list[tuple[int, str]]:
    """(position, name) of each argument whose value in ``after`` (the objects ``fn`` was
    given, after the call) differs from ``args``; the name from ``fn``'s signature, else "#k"."""
    try:
        names = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        names = []
    return [(i, names[i] if i < len(names) else f"#{i + 1}")
            for i, (a, c) in enumerate(zip(args, after, strict=True)) if not _same(a, c)]


def check_arguments_unchanged(check: Callable, fn: Callable, *args, **kwargs) -> None:
    """Run the value check ``check(fn, *args, **kwargs)`` only to watch the calls it makes to
    ``fn`` (through :func:`call`), and fail when ``fn`` changed one of its arguments in place.

    A wrong value does not fail this test (the value tests grade it), and an in-place change
    fails only this one: a test cell calls it as ``check_arguments_unchanged(check_lstm_step_
    backward, lstm_step_backward, "dx")``. An error raised by ``fn`` fails it, as any test."""
    __tracebackhide__ = True
    calls: list[tuple[str, list[tuple[str, bool]], Exception | None]] = []
    token = _WATCH.set(calls)
    try:
        check(fn, *args, **kwargs)
    except AssertionError:
        pass  # a wrong value: the value tests say so
    finally:
        _WATCH.reset(token)
    if not calls:
        raise RuntimeError(f"{getattr(check, '__name__', check)} made no call to watch "
                           "(a grader error: the check must call the function through call)")
    for name, changed, err in calls:
        if err is not None:  # the function raised (an assert of its own, say): not a value
            raise err
        if changed:
            arg, is_dict = changed[0]
            how = (f"changing an array {arg} holds (with *=, say) changes the caller's, and a "
                   "copy of the dict still holds the same arrays" if is_dict else
                   f"an augmented assignment such as `{arg} += ...`, or `{arg}[...] = ...`, "
                   "writes into the caller's array")
            _fail(f"{name} changed its argument {arg} in place: the caller's {arg} is not its "
                  f"own to change ({how}).")


def _same(a, b) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(
            _same(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.shape == b.shape and np.array_equal(a, b)
    return True


class Callee:
    """A graded function of the learner that the function under test calls (``lstm_backward``
    calls ``lstm_step_backward``): when a test of the caller fails, :meth:`fails` runs the
    callee's ``quick`` check once, and :func:`callee_first` then blames the callee first."""

    def __init__(self, name: str, fn: Callable | None, quick: Callable[[Callable], object]):
        self.name, self.fn, self.quick = name, fn, quick
        self._fails: bool | None = None

    def fails(self) -> bool:
        """Whether the learner's callee fails its quick check (its own tests' property)."""
        __tracebackhide__ = True
        if self.fn is None:
            return False
        if self._fails is None:
            token = _WATCH.set(None)  # the callee's calls are not the caller's to watch
            try:
                self.quick(self.fn)
                self._fails = False
            except Exception as err:  # a failed check, or an error raised by the callee
                if getattr(err, "fatal", False):  # the kernel is gone: say that, not this
                    raise
                self._fails = True
            finally:
                _WATCH.reset(token)
        return self._fails

    def mistakes(self, table: Mistakes) -> Callable[[], Mapping[str, object]]:
        """The caller's known mistakes, or none when the callee fails: a caller's mistake
        recomputed with a correct callee is not evidence against the caller then."""
        return lambda: {} if self.fails() else (table() if callable(table) else table)


def callee(name: str, fn: Callable | None, quick: Callable[[Callable], object]) -> Callee:
    """The learner's callee ``fn`` (None when the test cell gives none) with its quick check."""
    return Callee(name, fn, quick)


class callee_first:  # noqa: N801 (used as a context manager, like contextlib's)
    """``with callee_first(c):`` around a check: a failure inside, when the callee ``c``
    fails its own tests, reads "your <callee> fails its own tests: fix it first; this may be
    its error." followed by the check's message."""

    def __init__(self, c: Callee | None) -> None:
        self.c = c

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, err, tb) -> bool:
        __tracebackhide__ = True
        if type(err) is not AssertionError or self.c is None or not self.c.fails():
            return False
        head = (f"your {self.c.name} fails its own tests: fix it first; this may be its "
                "error.")
        summary = getattr(err, "summary", str(err))
        raise failure(f"{head}\n{err}", f"{head}\n{summary}",
                      diagnosis=f"{self.c.name} fails its own tests") from None


class mistake_first:  # noqa: N801 (used as a context manager, like contextlib's)
    """``with mistake_first(check_rnn_cell_forward, rnn_cell_forward):`` around a test's
    hand-computed case: when a check inside fails without naming a cause, the thorough check
    ``check(fn, *args, **kwargs)`` (the function's test on random inputs, which knows its
    mistakes) runs, and when its failure names one (a known mistake, a callee to fix first),
    that failure is raised instead: the first failing test of a function then says what its
    later tests would, where Run All stops. A failure inside is a check's, or an ``assert``
    written in the test itself. ``each``: run the check once per item (a key of a gradient's
    dict, say) as its second argument, until one names a cause. Otherwise, and for an error
    the learner's code raised (its own asserts too), the hand case's own failure stands."""

    def __init__(self, check: Callable, fn: Callable, *args, each: Sequence = (),
                 **kwargs) -> None:
        self.check, self.fn, self.args, self.each, self.kwargs = check, fn, args, each, kwargs

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, err, tb) -> bool:
        __tracebackhide__ = True
        if type(err) is not AssertionError or getattr(err, "diagnosis", None):
            return False  # an error of the learner's code, or a diagnosis already
        in_the_test = tb is not None and tb.tb_next is None  # an assert of the test itself
        if not hasattr(err, "summary") and not in_the_test:
            return False  # an assert of the learner's own code
        better = self.diagnosed()
        if better is not None:
            raise better from None
        return False

    def diagnosed(self) -> AssertionError | None:
        """The thorough check's failure that names a cause, if one does."""
        __tracebackhide__ = True
        calls = [(item, *self.args) for item in self.each] if self.each else [self.args]
        for args in calls:
            try:
                self.check(self.fn, *args, **self.kwargs)
            except AssertionError as err:
                if getattr(err, "diagnosis", None) and hasattr(err, "summary"):
                    return err
            except Exception as err:  # noqa: BLE001  (the learner's code raised on it)
                if getattr(err, "fatal", False):  # the kernel is gone: say that, not this
                    raise
        return None


def unpack(name: str, got, n: int, names: str) -> tuple:
    """``got`` must be a tuple (or list) of ``n`` items, described by ``names``."""
    __tracebackhide__ = True
    if not isinstance(got, tuple | list) or len(got) != n:
        kind = type(got).__name__ + (f" of length {len(got)}" if hasattr(got, "__len__") else "")
        _fail(f"{name} must return a tuple {names}; it returned a {kind}.",
              f"{name} must return a tuple {names}; it returned a {type(got).__name__}.")
    return tuple(got)


# --------------------------------------------------------------------------------------------
# Seeded inputs
# --------------------------------------------------------------------------------------------

def draw(seed: int, scale: float = 0.5, **shapes) -> dict[str, np.ndarray]:
    """Float64 arrays of the given shapes from N(0, 1) (weights and biases times ``scale``)."""
    rng = np.random.default_rng(seed)
    out = {}
    for k, shape in shapes.items():
        a = rng.standard_normal(shape)
        out[k] = a * scale if k.startswith(("W", "b")) else a
    return out


def enlarged(arrays: dict[str, np.ndarray], key: str, large: bool) -> dict[str, np.ndarray]:
    """``arrays`` with ``arrays[key]`` (the inputs) times :data:`LARGE` when ``large``: the
    pre-activations then reach beyond ±800."""
    if large:
        arrays[key] = arrays[key] * LARGE
    return arrays


def _nonfinite(large: bool) -> str | None:
    return OVERFLOW if large else None


def _t(arrays: Mapping[str, np.ndarray], *keys) -> list[torch.Tensor]:
    return [ref.as_t(arrays[k]) for k in keys]


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy()


# --------------------------------------------------------------------------------------------
# Simple RNN forward
# --------------------------------------------------------------------------------------------

def _rnn_mistakes(a: Mapping[str, np.ndarray], cell: bool) -> dict[str, np.ndarray]:
    X = a["x"][None] if cell else a["X"]
    h0 = a["h_prev"] if cell else a["h0"]
    t = [ref.as_t(v) for v in (X, h0, a["W_xh"], a["W_hh"], a["b_h"])]

    def v(**flags):
        out = _np(ref.rnn_steps(*t, **flags))
        return out[0] if cell else out

    table = {
        "tanh missing (h = x W_xh + h_prev W_hh + b_h)": v(act=lambda z: z),
        "sigmoid instead of tanh": v(act=torch.sigmoid),
        "W_hh transposed (h_prev @ W_hh.T)": v(transpose_W_hh=True),
        "bias added twice": v(bias_times=2),
        "bias b_h missing": v(bias_times=0),
        "h_prev ignored (h = tanh(x W_xh + b_h))": (
            np.tanh(X[0] @ a["W_xh"] + a["b_h"]) if cell else np.tanh(X @ a["W_xh"] + a["b_h"])),
    }
    if not cell:
        table.update({
            "the hidden state is not carried: h0 is used as h_prev at every step":
                v(carry=False),
            "returns h_0 .. h_{T-1} instead of h_1 .. h_T": v(include_h0=True),
            "h0 ignored: the recurrence starts from zeros":
                _np(ref.rnn_steps(t[0], torch.zeros_like(t[1]), *t[2:])),
        })
    return table


def check_rnn_cell_forward(fn: Callable, B: int = 3, D: int = 4, H: int = 5, seed: int = 0,
                           large: bool = False):
    """rnn_cell_forward(x, h_prev, W_xh, W_hh, b_h) against ``torch.nn.RNNCell`` (``large``:
    inputs whose pre-activations reach beyond ±800)."""
    __tracebackhide__ = True
    a = enlarged(draw(seed, x=(B, D), h_prev=(B, H), W_xh=(D, H), W_hh=(H, H), b_h=(H,)), "x",
                 large)
    got = call(fn, a["x"], a["h_prev"], a["W_xh"], a["W_hh"], a["b_h"])
    expected = ref.rnn_cell(a["x"], a["h_prev"], a["W_xh"], a["W_hh"], a["b_h"])
    check_array("h", got, expected, mistakes=lambda: _rnn_mistakes(a, cell=True),
                shape_hints={(B, D): "the output has H columns, one per hidden unit"},
                reference="torch.nn.RNNCell", nonfinite=_nonfinite(large))


def check_rnn_forward(fn: Callable, T: int = 4, B: int = 3, D: int = 4, H: int = 5,
                      seed: int = 0, large: bool = False, cell: Callable | None = None):
    """rnn_forward(X, h0, W_xh, W_hh, b_h) against ``torch.nn.RNN`` (``large``: inputs whose
    pre-activations reach beyond ±800). With ``cell`` (the learner's ``rnn_cell_forward``,
    which the notebook's ``rnn_forward`` calls), a failure names the cell first when it fails
    its own tests."""
    __tracebackhide__ = True
    a = enlarged(draw(seed, X=(T, B, D), h0=(B, H), W_xh=(D, H), W_hh=(H, H), b_h=(H,)), "X",
                 large)
    got = call(fn, a["X"], a["h0"], a["W_xh"], a["W_hh"], a["b_h"])
    expected = ref.rnn(a["X"], a["h0"], a["W_xh"], a["W_hh"], a["b_h"])
    hints = {(B, H): "only the last state h_T was returned; return every state, stacked",
             (T + 1, B, H): "h_0 is included; return h_1 .. h_T only",
             (B, T, H): "batch-first; the course's layout is time-major (T, B, H)"}
    blame = callee("rnn_cell_forward", cell, quick_rnn_cell_forward)
    with callee_first(blame):
        check_array("Hs", got, expected, time_axis=True, shape_hints=hints,
                    at=at_step("Hs", "h_{t}"),
                    mistakes=blame.mistakes(lambda: _rnn_mistakes(a, cell=False)),
                    reference="torch.nn.RNN", nonfinite=_nonfinite(large))


# --------------------------------------------------------------------------------------------
# LSTM forward
# --------------------------------------------------------------------------------------------

def _lstm_variants(a: Mapping[str, np.ndarray], cell: bool) -> dict[str, tuple]:
    X = a["x"][None] if cell else a["X"]
    h0 = a["h_prev"] if cell else a["h0"]
    c0 = a["c_prev"] if cell else a["c0"]
    t = [ref.as_t(v) for v in (X, h0, c0, a["W_x"], a["W_h"], a["b"])]

    def v(**flags):
        Hs, Cs = ref.lstm_steps(*t, **flags)
        Hs, Cs = _np(Hs), _np(Cs)
        return (Hs[0], Cs[0]) if cell else (Hs, Cs[-1])

    table = {}
    for perm in itertools.permutations("ifgo"):
        order = "".join(perm)
        if order != "ifgo":
            table[f"wrong gate order: the blocks of W_x, W_h, b read as {', '.join(order)} "
                  "(expected i, f, g, o)"] = v(order=order)
    table.update({
        "sigmoid/tanh swapped for the candidate g (sigmoid instead of tanh)": v(swap_acts="g"),
        "sigmoid/tanh swapped in h = o * tanh(c) (sigmoid of the cell)": v(swap_acts="c"),
        "sigmoid/tanh swapped: tanh for the gates i, f, o": v(swap_acts="gates"),
        "sigmoid and tanh swapped everywhere": v(swap_acts="all"),
        "h computed from the previous cell state (o * tanh(c_prev))": v(h_from_c_prev=True),
    })
    if not cell:
        table.update({
            "cell state not carried: c0 is used as c_prev at every step": v(carry_c=False),
            "hidden state not carried: h0 is used as h_prev at every step": v(carry_h=False),
            "neither state carried: h0 and c0 are used at every step":
                v(carry_h=False, carry_c=False),
            "returns h_0 .. h_{T-1} instead of h_1 .. h_T": v(include_h0=True),
        })
    return table


def check_lstm_cell_forward(fn: Callable, B: int = 3, D: int = 4, H: int = 5, seed: int = 0,
                            large: bool = False):
    """lstm_cell_forward(x, h_prev, c_prev, W_x, W_h, b) -> (h, c) against torch.nn.LSTMCell
    (``large``: inputs whose pre-activations reach beyond ±800)."""
    __tracebackhide__ = True
    a = enlarged(draw(seed, x=(B, D), h_prev=(B, H), c_prev=(B, H), W_x=(D, 4 * H),
                      W_h=(H, 4 * H), b=(4 * H,)), "x", large)
    args = [a[k] for k in ("x", "h_prev", "c_prev", "W_x", "W_h", "b")]
    h, c = unpack("lstm_cell_forward", call(fn, *args), 2, "(h, c)")
    eh, ec = ref.lstm_cell(*args)
    hints = {(B, 4 * H): "that is the size of the four fused gates; h and c have H columns"}
    variants = {}

    def table(i):
        if not variants:
            variants.update(_lstm_variants(a, cell=True))
        out = {k: val[i] for k, val in variants.items()}
        out["returned (c, h) instead of (h, c)"] = (ec, eh)[i]
        return out

    check_array("h", h, eh, mistakes=lambda: table(0), shape_hints=hints,
                reference="torch.nn.LSTMCell", nonfinite=_nonfinite(large))
    check_array("c", c, ec, mistakes=lambda: table(1), shape_hints=hints,
                reference="torch.nn.LSTMCell", nonfinite=_nonfinite(large))


def check_lstm_forward(fn: Callable, T: int = 4, B: int = 3, D: int = 4, H: int = 5,
                       seed: int = 0, large: bool = False, cell: Callable | None = None):
    """lstm_forward(X, h0, c0, W_x, W_h, b) -> (Hs, c_T) against ``torch.nn.LSTM``
    (``large``: inputs whose pre-activations reach beyond ±800). With ``cell`` (the learner's
    ``lstm_cell_forward``), a failure names the cell first when it fails its own tests."""
    __tracebackhide__ = True
    a = enlarged(draw(seed, X=(T, B, D), h0=(B, H), c0=(B, H), W_x=(D, 4 * H),
                      W_h=(H, 4 * H), b=(4 * H,)), "X", large)
    args = [a[k] for k in ("X", "h0", "c0", "W_x", "W_h", "b")]
    blame = callee("lstm_cell_forward", cell, quick_lstm_cell_forward)
    with callee_first(blame):
        _lstm_forward_values(call(fn, *args), a, args, T, B, H, large, blame)


def _lstm_forward_values(out, a: Mapping[str, np.ndarray], args: list, T: int, B: int, H: int,
                         large: bool, blame: Callee) -> None:
    """lstm_forward's result ``out`` against torch.nn.LSTM (see :func:`check_lstm_forward`)."""
    __tracebackhide__ = True
    Hs, cT = unpack("lstm_forward", out, 2, "(Hs, c_T)")
    eH, ec = ref.lstm(*args)
    variants = {}

    def table(i):
        if not variants:
            variants.update(_lstm_variants(a, cell=False))
        return {k: val[i] for k, val in variants.items()}

    hints = {(B, H): "only the last state h_T was returned; return every state, stacked",
             (T + 1, B, H): "h_0 is included; return h_1 .. h_T only"}
    check_array("Hs", Hs, eH, time_axis=True, mistakes=blame.mistakes(lambda: table(0)),
                shape_hints=hints, at=at_step("Hs", "h_{t}"), reference="torch.nn.LSTM",
                nonfinite=_nonfinite(large))
    check_array("c_T", cT, ec, mistakes=blame.mistakes(lambda: table(1)),
                reference="torch.nn.LSTM",
                nonfinite=_nonfinite(large),
                shape_hints={(T, B, H): "return only the last cell state c_T, shape (B, H)"})


# --------------------------------------------------------------------------------------------
# GRU forward
# --------------------------------------------------------------------------------------------

def _gru_mistakes(a: Mapping[str, np.ndarray], cell: bool) -> dict[str, np.ndarray]:
    X = a["x"][None] if cell else a["X"]
    h0 = a["h_prev"] if cell else a["h0"]
    t = [ref.as_t(v) for v in (X, h0, a["W_x"], a["W_h"], a["b_x"], a["b_h"])]

    def v(**flags):
        out = _np(ref.gru_steps(*t, **flags))
        return out[0] if cell else out

    table = {
        "GRU update convention flipped: z weights the candidate n where the notebook's "
        "update has it weight h_prev": v(flip_update=True),
        "Cho's reset placement: (r * h_prev) W_hn instead of PyTorch's "
        "r * (h_prev W_hn + b_hn)": v(cho_reset=True),
        "sigmoid/tanh swapped (tanh for r, z; sigmoid for n)": v(swap_acts=True),
        "b_h ignored": v(no_b_h=True),
        "Cho's reset placement and flipped update": v(cho_reset=True, flip_update=True),
    }
    for perm in itertools.permutations("rzn"):
        order = "".join(perm)
        if order != "rzn":
            table[f"wrong gate order: the blocks read as {', '.join(order)} "
                  "(expected r, z, n)"] = v(order=order)
    if not cell:
        table.update({
            "hidden state not carried: h0 is used as h_prev at every step": v(carry=False),
            "returns h_0 .. h_{T-1} instead of h_1 .. h_T": v(include_h0=True),
        })
    return table


def check_gru_cell_forward(fn: Callable, B: int = 3, D: int = 4, H: int = 5, seed: int = 0,
                           large: bool = False):
    """gru_cell_forward(x, h_prev, W_x, W_h, b_x, b_h) against ``torch.nn.GRUCell``
    (``large``: inputs whose pre-activations reach beyond ±800)."""
    __tracebackhide__ = True
    a = enlarged(draw(seed, x=(B, D), h_prev=(B, H), W_x=(D, 3 * H), W_h=(H, 3 * H),
                      b_x=(3 * H,), b_h=(3 * H,)), "x", large)
    args = [a[k] for k in ("x", "h_prev", "W_x", "W_h", "b_x", "b_h")]
    got = call(fn, *args)
    check_array("h", got, ref.gru_cell(*args), mistakes=lambda: _gru_mistakes(a, cell=True),
                shape_hints={(B, 3 * H): "that is the size of the three fused gates"},
                reference="torch.nn.GRUCell", nonfinite=_nonfinite(large))


def check_gru_forward(fn: Callable, T: int = 4, B: int = 3, D: int = 4, H: int = 5,
                      seed: int = 0, large: bool = False, cell: Callable | None = None):
    """gru_forward(X, h0, W_x, W_h, b_x, b_h) against ``torch.nn.GRU`` (``large``: inputs
    whose pre-activations reach beyond ±800). With ``cell`` (the learner's
    ``gru_cell_forward``), a failure names the cell first when it fails its own tests."""
    __tracebackhide__ = True
    a = enlarged(draw(seed, X=(T, B, D), h0=(B, H), W_x=(D, 3 * H), W_h=(H, 3 * H),
                      b_x=(3 * H,), b_h=(3 * H,)), "X", large)
    args = [a[k] for k in ("X", "h0", "W_x", "W_h", "b_x", "b_h")]
    got = call(fn, *args)
    hints = {(B, H): "only the last state h_T was returned; return every state, stacked",
             (T + 1, B, H): "h_0 is included; return h_1 .. h_T only"}
    blame = callee("gru_cell_forward", cell, quick_gru_cell_forward)
    with callee_first(blame):
        check_array("Hs", got, ref.gru(*args), time_axis=True, shape_hints=hints,
                    at=at_step("Hs", "h_{t}"),
                    mistakes=blame.mistakes(lambda: _gru_mistakes(a, cell=False)),
                    reference="torch.nn.GRU", nonfinite=_nonfinite(large))


# --------------------------------------------------------------------------------------------
# Backward passes
# --------------------------------------------------------------------------------------------

def _grad_result(fname: str, out, keys: tuple[str, ...]) -> dict:
    __tracebackhide__ = True
    if not isinstance(out, Mapping):
        _fail(f"{fname} must return a dict with keys {', '.join(keys)}; "
              f"it returned a {type(out).__name__}.")
    missing = [k for k in keys if k not in out]
    if missing:
        _fail(f"{fname}'s result has no key {missing[0]!r} (expected keys {', '.join(keys)}).")
    return out


def _scaled(expected: np.ndarray, key: str, T: int | None, B: int) -> dict[str, np.ndarray]:
    out = {}
    if key.startswith("dW") or key.startswith("db"):
        out[f"{key} divided by the batch size B (the loss is a sum over the batch)"] = (
            expected / B)
        if T is not None:
            out[f"{key} divided by T (gradients are summed over time, not averaged)"] = (
                expected / T)
    if expected.ndim == 2 and expected.shape[0] == expected.shape[1]:
        out[f"{key} transposed"] = expected.T
    return out


def _check_grad(fname, key, out, expected, mistakes, T, B, reference="torch.autograd",
                shape_hints=None, blame: Callee | None = None):
    """``out[key]`` against ``expected[key]``; with ``blame`` (the learner's callee), a
    failure names the callee first when it fails its own tests, and no mistake of the
    caller then (see :class:`Callee`)."""
    __tracebackhide__ = True
    def table():
        t = {k: m[key] for k, m in mistakes().items() if key in m}
        t.update(_scaled(expected[key], key, T, B))
        return t

    with callee_first(blame):
        got = _grad_result(fname, out, tuple(expected))[key]
        check_array(key, got, expected[key], time_axis=(key == "dX"),
                    mistakes=blame.mistakes(table) if blame else table,
                    at=at_step("dX", "the gradient of x_{t}"),
                    reference=reference, shape_hints=shape_hints)


_RNN_KEYS = {"X": "dX", "h0": "dh0", "W_xh": "dW_xh", "W_hh": "dW_hh", "b_h": "db_h"}


def check_rnn_backward(fn: Callable, key: str, T: int = 4, B: int = 3, D: int = 4,
                       H: int = 5, seed: int = 0):
    """``rnn_backward(...)[key]`` against torch.autograd through ``torch.nn.RNN``."""
    __tracebackhide__ = True
    a = draw(seed, dHs=(T, B, H), X=(T, B, D), h0=(B, H), W_xh=(D, H), W_hh=(H, H),
             b_h=(H,))
    args = [a[k] for k in ("X", "h0", "W_xh", "W_hh", "b_h")]
    out = call(fn, a["dHs"], *args)
    expected = ref.rnn(*args, dHs=a["dHs"])
    arrays = dict(zip(_RNN_KEYS, args, strict=True))

    def mistakes():
        def g(**flags):
            return ref.autograd_of(ref.rnn_steps, a["dHs"], arrays, _RNN_KEYS, **flags)
        return {
            "dh from the next step not accumulated (dh = dHs[t] only, no dh_next)":
                g(detach_h=True),
            "tanh' taken at the previous step's state h_{t-1}, not at the state the tanh "
            "produced":
                g(tanh_grad_at_prev=True),
            "the forward inside the backward uses W_hh transposed": g(transpose_W_hh=True),
        }

    _check_grad("rnn_backward", key, out, expected, mistakes, T, B)


_LSTM_KEYS = {"X": "dX", "h0": "dh0", "c0": "dc0", "W_x": "dW_x", "W_h": "dW_h", "b": "db"}


def check_lstm_backward(fn: Callable, key: str, T: int = 4, B: int = 3, D: int = 4,
                        H: int = 5, seed: int = 0, step: Callable | None = None):
    """``lstm_backward(...)[key]`` against torch.autograd through ``torch.nn.LSTM``. With
    ``step`` (the learner's ``lstm_step_backward``, which the notebook's ``lstm_backward``
    calls), a failure names ``lstm_step_backward`` first when it fails its own tests."""
    __tracebackhide__ = True
    a = draw(seed, dHs=(T, B, H), X=(T, B, D), h0=(B, H), c0=(B, H), W_x=(D, 4 * H),
             W_h=(H, 4 * H), b=(4 * H,))
    args = [a[k] for k in ("X", "h0", "c0", "W_x", "W_h", "b")]
    out = call(fn, a["dHs"], *args)
    expected = ref.lstm(*args, dHs=a["dHs"])
    arrays = dict(zip(_LSTM_KEYS, args, strict=True))

    def mistakes():
        def g(**flags):
            return ref.autograd_of(ref.lstm_steps, a["dHs"], arrays, _LSTM_KEYS, **flags)
        table = {
            "dh from the next step not accumulated (no dh_next)": g(detach_h=True),
            "dc from the next step not carried back (no dc_next)": g(detach_c=True),
            "neither dh nor dc from the next step carried back (no dh_next, no dc_next)":
                g(detach_h=True, detach_c=True),
            "tanh' taken at c_t itself rather than at tanh(c_t)'s value (what is the "
            "derivative of tanh written with?)":
                g(tanh_grad_state="c"),
            "tanh' taken at the previous step's cell state c_{t-1}":
                g(tanh_grad_state="c_prev"),
            "the forward inside the backward computes h from c_{t-1}": g(h_from_c_prev=True),
        }
        for perm in itertools.permutations("ifgo"):
            order = "".join(perm)
            if order != "ifgo":
                table[f"wrong gate order {', '.join(order)} (expected i, f, g, o)"] = g(
                    order=order)
        return table

    _check_grad("lstm_backward", key, out, expected, mistakes, T, B,
                blame=callee("lstm_step_backward", step, quick_lstm_step_backward))


_GRU_KEYS = {"X": "dX", "h0": "dh0", "W_x": "dW_x", "W_h": "dW_h", "b_x": "db_x",
             "b_h": "db_h"}


def check_gru_backward(fn: Callable, key: str, T: int = 4, B: int = 3, D: int = 4,
                       H: int = 5, seed: int = 0, step: Callable | None = None):
    """``gru_backward(...)[key]`` against torch.autograd through ``torch.nn.GRU``. With
    ``step`` (the learner's ``gru_step_backward``), a failure names it first when it fails
    its own tests."""
    __tracebackhide__ = True
    a = draw(seed, dHs=(T, B, H), X=(T, B, D), h0=(B, H), W_x=(D, 3 * H), W_h=(H, 3 * H),
             b_x=(3 * H,), b_h=(3 * H,))
    args = [a[k] for k in ("X", "h0", "W_x", "W_h", "b_x", "b_h")]
    out = call(fn, a["dHs"], *args)
    expected = ref.gru(*args, dHs=a["dHs"])
    arrays = dict(zip(_GRU_KEYS, args, strict=True))

    def mistakes():
        def g(**flags):
            return ref.autograd_of(ref.gru_steps, a["dHs"], arrays, _GRU_KEYS, **flags)
        table = {
            "dh from the next step not accumulated (no dh_next)": g(detach_h=True),
            "GRU update convention flipped in the forward": g(flip_update=True),
            "Cho's reset placement in the forward": g(cho_reset=True),
        }
        for perm in itertools.permutations("rzn"):
            order = "".join(perm)
            if order != "rzn":
                table[f"wrong gate order {', '.join(order)} (expected r, z, n)"] = g(
                    order=order)
        return table

    _check_grad("gru_backward", key, out, expected, mistakes, T, B,
                blame=callee("gru_step_backward", step, quick_gru_step_backward))


def check_lstm_backward_hand_case(fn: Callable, step: Callable | None = None) -> None:
    """``lstm_backward``: the six keys with the right shapes (zero for dHs = 0), and dc0 in a
    case computed by hand (T = B = D = H = 1, zero weights: every gate is 1/2). With ``step``
    (the learner's ``lstm_step_backward``), a failure names the step first when it fails its
    own tests."""
    __tracebackhide__ = True
    T, B, D, H = 3, 2, 4, 5
    keys = ("dX", "dh0", "dc0", "dW_x", "dW_h", "db")
    shapes = ((T, B, D), (B, H), (B, H), (D, 4 * H), (H, 4 * H), (4 * H,))
    c0 = 0.8
    with (mistake_first(check_lstm_backward, fn, each=keys, step=step),
          callee_first(callee("lstm_step_backward", step, quick_lstm_step_backward))):
        g = _grad_result("lstm_backward", call(
            fn, np.zeros((T, B, H)), np.ones((T, B, D)), np.ones((B, H)), np.ones((B, H)),
            np.ones((D, 4 * H)) / 10, np.ones((H, 4 * H)) / 10, np.zeros(4 * H)), keys)
        for key, shape in zip(keys, shapes, strict=True):
            check_array(key, g[key], np.zeros(shape))
        g = _grad_result("lstm_backward", call(
            fn, np.ones((1, 1, 1)), np.zeros((1, 1, 1)), np.zeros((1, 1)), np.full((1, 1), c0),
            np.zeros((1, 4)), np.zeros((1, 4)), np.zeros(4)), keys)
        check_array("dc0", g["dc0"], np.full((1, 1), 0.25 * (1 - np.tanh(c0 / 2) ** 2)),
                    reference="the hand-computed value")


def check_gru_backward_hand_case(fn: Callable, step: Callable | None = None) -> None:
    """``gru_backward``: the six keys with the right shapes (zero for dHs = 0), and dh0 in a
    case computed by hand (T = B = D = H = 1, zero weights: z = 1/2). With ``step`` (the
    learner's ``gru_step_backward``), a failure names the step first when it fails its own
    tests."""
    __tracebackhide__ = True
    T, B, D, H = 3, 2, 4, 5
    keys = ("dX", "dh0", "dW_x", "dW_h", "db_x", "db_h")
    shapes = ((T, B, D), (B, H), (D, 3 * H), (H, 3 * H), (3 * H,), (3 * H,))
    with (mistake_first(check_gru_backward, fn, each=keys, step=step),
          callee_first(callee("gru_step_backward", step, quick_gru_step_backward))):
        g = _grad_result("gru_backward", call(
            fn, np.zeros((T, B, H)), np.ones((T, B, D)), np.ones((B, H)),
            np.ones((D, 3 * H)) / 10, np.ones((H, 3 * H)) / 10, np.zeros(3 * H),
            np.zeros(3 * H)), keys)
        for key, shape in zip(keys, shapes, strict=True):
            check_array(key, g[key], np.zeros(shape))
        g = _grad_result("gru_backward", call(
            fn, np.ones((1, 1, 1)), np.zeros((1, 1, 1)), np.full((1, 1), 0.7), np.zeros((1, 3)),
            np.zeros((1, 3)), np.zeros(3), np.zeros(3)), keys)
        check_array("dh0", g["dh0"], np.full((1, 1), 0.5), reference="the hand-computed value")


def _step_hints(key: str, B: int, D: int, H: int, k: int) -> dict[tuple, str]:
    """Wrong shapes of one step's gradient ``key`` (k fused gates) -> what went wrong."""
    if key.startswith("db"):
        return {(B, k * H): "sum the gate gradients over the batch axis"}
    if key == "dW_x" and D != k * H:
        return {(k * H, D): "transposed: dW_x = x.T @ (gate gradients), shape (D, kH)"}
    if key in ("dx", "dh_prev", "dc_prev"):
        return {(B, k * H): "that is the size of the fused gates; take them back through "
                            "the weights"}
    return {}


def _step_mistakes(grads: Callable, args: list, orders: str,
                   labels: Mapping[str, str]) -> dict:
    """label -> one step's gradients recomputed with a known mistake (or gate order)."""
    table = {label: grads(*args, mistake=m) for m, label in labels.items()}
    for perm in itertools.permutations(orders):
        order = "".join(perm)
        if order != orders:
            table[f"wrong gate order {', '.join(order)} (expected {', '.join(orders)})"] = grads(
                *args, order=order)
    return table


LSTM_STEP_KEYS = ("dx", "dh_prev", "dc_prev", "dW_x", "dW_h", "db")
GRU_STEP_KEYS = ("dx", "dh_prev", "dW_x", "dW_h", "db_x", "db_h")


def _check_step(fname: str, fn: Callable, key: str, args: list, cell: str, gates: str,
                cell_grads: Callable, step_grads: Callable, mistakes: Mapping[str, str],
                B: int, D: int, H: int) -> None:
    """``fname(*args)[key]`` against torch.autograd through ``torch.nn.<cell>``; a wrong
    value is matched against ``step_grads``'s known mistakes and wrong gate orders."""
    __tracebackhide__ = True
    out = call(fn, *args)
    _check_grad(fname, key, out, cell_grads(*args),
                lambda: _step_mistakes(step_grads, args, gates, mistakes), None, B,
                reference=f"torch.autograd through torch.nn.{cell}",
                shape_hints=_step_hints(key, B, D, H, len(gates)))


def check_lstm_step_backward(fn: Callable, key: str, B: int = 3, D: int = 4, H: int = 5,
                             seed: int = 0):
    """``lstm_step_backward(dh, dc, x, h_prev, c_prev, W_x, W_h, b)[key]`` against
    torch.autograd through ``torch.nn.LSTMCell`` (the loss is sum(dh * h) + sum(dc * c))."""
    __tracebackhide__ = True
    a = draw(seed, dh=(B, H), dc=(B, H), x=(B, D), h_prev=(B, H), c_prev=(B, H),
             W_x=(D, 4 * H), W_h=(H, 4 * H), b=(4 * H,))
    args = [a[k] for k in ("dh", "dc", "x", "h_prev", "c_prev", "W_x", "W_h", "b")]
    _check_step("lstm_step_backward", fn, key, args, "LSTMCell", "ifgo", ref.lstm_cell_grads,
                ref.lstm_step_grads, ref.LSTM_STEP_MISTAKES, B, D, H)


def check_gru_step_backward(fn: Callable, key: str, B: int = 3, D: int = 4, H: int = 5,
                            seed: int = 0):
    """``gru_step_backward(dh, x, h_prev, W_x, W_h, b_x, b_h)[key]`` against torch.autograd
    through ``torch.nn.GRUCell`` (the loss is sum(dh * h))."""
    __tracebackhide__ = True
    a = draw(seed, dh=(B, H), x=(B, D), h_prev=(B, H), W_x=(D, 3 * H), W_h=(H, 3 * H),
             b_x=(3 * H,), b_h=(3 * H,))
    args = [a[k] for k in ("dh", "x", "h_prev", "W_x", "W_h", "b_x", "b_h")]
    _check_step("gru_step_backward", fn, key, args, "GRUCell", "rzn", ref.gru_cell_grads,
                ref.gru_step_grads, ref.GRU_STEP_MISTAKES, B, D, H)


# --------------------------------------------------------------------------------------------
# Gradient clipping and the gradient checker
# --------------------------------------------------------------------------------------------

def random_grads(seed: int, scale: float) -> dict[str, np.ndarray]:
    """A dict of gradients of an RNN's five parameters, entries N(0, scale**2)."""
    rng = np.random.default_rng(seed)
    shapes = {"W_xh": (3, 4), "W_hh": (4, 4), "b_h": (4,), "W_hy": (4, 2), "b_y": (2,)}
    return {k: scale * rng.standard_normal(s) for k, s in shapes.items()}


def check_clip_grad_norm(fn: Callable, max_norm: float, seed: int = 0, scale: float = 1.0):
    """clip_grad_norm(grads, max_norm) against ``torch.nn.utils.clip_grad_norm_``."""
    __tracebackhide__ = True
    grads = random_grads(seed, scale)
    out = unpack("clip_grad_norm", call(fn, grads, max_norm), 2, "(clipped_grads, total_norm)")
    clipped, total = out
    exp_clipped, exp_total = ref.clip_grad_norm(grads, max_norm)
    if isinstance(total, torch.Tensor) or not np.isscalar(total) and np.ndim(total) != 0:
        _fail(f"total_norm must be a float; got a {type(total).__name__}.")
    total = float(total)
    norms = {k: float(np.linalg.norm(g)) for k, g in grads.items()}
    if not np.isclose(total, exp_total, rtol=1e-6):
        guesses = {
            "the sum of squares, without the square root": exp_total ** 2,
            "the sum of the per-tensor norms instead of the global L2 norm": sum(norms.values()),
            "the largest per-tensor norm instead of the global L2 norm": max(norms.values()),
            "the norm of the clipped gradients (compute it before clipping)": min(
                exp_total, max_norm),
        }
        why = next((k for k, g in guesses.items() if np.isclose(total, g, rtol=1e-6)), None)
        looks = f"; it looks like {why}." if why else "."
        _fail(f"total_norm is {total:.6g}, expected {exp_total:.6g} (global L2 norm over all "
              "gradients)" + looks,
              "total_norm differs from the global L2 norm over all gradients" + looks,
              diagnosis=why)
    if not isinstance(clipped, Mapping) or set(clipped) != set(grads):
        _fail(f"clipped_grads must be a dict with the same keys as grads ({', '.join(grads)}).")

    def mistakes(key):
        per_tensor = {k: g * min(1.0, max_norm / (norms[k] + 1e-6)) for k, g in grads.items()}
        always = {k: g * max_norm / (exp_total + 1e-6) for k, g in grads.items()}
        return {
            "per-tensor instead of global clipping (each tensor clipped by its own norm)":
                per_tensor[key],
            "gradients rescaled even though the total norm is below max_norm": always[key],
            "no clipping applied": grads[key],
        }

    for k in grads:
        check_array(f"clipped_grads[{k!r}]", clipped[k], exp_clipped[k],
                    mistakes=lambda k=k: mistakes(k), rtol=1e-5, atol=1e-10,
                    reference="torch.nn.utils.clip_grad_norm_")


def check_numerical_gradient(fn: Callable, eps: float = 1e-5, seed: int = 0):
    """numerical_gradient(f, x, eps) on a smooth non-quadratic function of a 2-D array."""
    __tracebackhide__ = True
    rng = np.random.default_rng(seed)
    A, C = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    x = rng.standard_normal((3, 4))

    def f(z):
        return float(np.sum(A * np.sin(z)) + np.sum(C * z ** 3) / 3)

    exact = A * np.cos(x) + C * x ** 2
    got = call(fn, f, x, eps)
    forward = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp = x.copy()
        xp[i] += eps
        forward[i] = (f(xp) - f(x)) / eps
    check_array("the numerical gradient", got, exact, rtol=1e-7, atol=1e-8,
                reference="the exact gradient",
                mistakes={"a one-sided (forward) difference instead of the centred one":
                          forward,
                          "the centred difference divided by the wrong distance (how far "
                          "apart are its two points?)": 2 * exact})


# --------------------------------------------------------------------------------------------
# Quick checks of a callee (see :class:`Callee`): each of its tests' properties, one small case
# --------------------------------------------------------------------------------------------

QUICK = {"B": 2, "D": 3, "H": 4, "seed": 11}


def quick_lstm_step_backward(fn: Callable) -> None:
    """Every gradient of ``lstm_step_backward`` on one small case."""
    __tracebackhide__ = True
    for key in LSTM_STEP_KEYS:
        check_lstm_step_backward(fn, key, **QUICK)


def quick_gru_step_backward(fn: Callable) -> None:
    """Every gradient of ``gru_step_backward`` on one small case."""
    __tracebackhide__ = True
    for key in GRU_STEP_KEYS:
        check_gru_step_backward(fn, key, **QUICK)


def quick_rnn_cell_forward(fn: Callable) -> None:
    """``rnn_cell_forward`` on one small case, ordinary and large inputs."""
    __tracebackhide__ = True
    for large in (False, True):
        check_rnn_cell_forward(fn, **QUICK, large=large)


def quick_lstm_cell_forward(fn: Callable) -> None:
    """``lstm_cell_forward`` on one small case, ordinary and large inputs."""
    __tracebackhide__ = True
    for large in (False, True):
        check_lstm_cell_forward(fn, **QUICK, large=large)


def quick_gru_cell_forward(fn: Callable) -> None:
    """``gru_cell_forward`` on one small case, ordinary and large inputs."""
    __tracebackhide__ = True
    for large in (False, True):
        check_gru_cell_forward(fn, **QUICK, large=large)


# --------------------------------------------------------------------------------------------
# In the learner's JupyterLab: a test cell that passes says so
# --------------------------------------------------------------------------------------------

def pass_line(n: int) -> str:
    """What a test cell whose ``n`` checks all passed prints in the learner's kernel."""
    return "✓ the check of this cell passes" if n == 1 else f"✓ all {n} checks of this cell pass"


class CellReport:
    """Counts the checks a cell runs and, after a cell that ran some and raised nothing,
    prints :func:`pass_line` (a test cell that passes otherwise prints nothing).

    A check counts when the cell's own code calls it: before each cell, every ``check_*``
    function of ``autograder.keys`` the cell can name (those in the user namespace) is wrapped,
    once, with a counter; a check another check calls (``check_arguments_unchanged`` calls
    the value check it is given) is not counted again, and a failed check the cell catches
    silences the line."""

    def __init__(self, shell) -> None:
        self.shell = shell
        self.passed = self.failed = self.depth = 0

    def pre_run_cell(self, info=None) -> None:
        self.passed = self.failed = self.depth = 0
        ns = self.shell.user_ns
        for name, obj in list(ns.items()):
            if (name.startswith("check_") and callable(obj)
                    and str(getattr(obj, "__module__", "")).startswith("autograder.keys.")
                    and not getattr(obj, "_rnncourse_counted", False)):
                ns[name] = self.counted(obj)

    def counted(self, check: Callable) -> Callable:
        """``check``, counting its outermost calls."""
        report = self

        @functools.wraps(check)
        def counted_check(*args, **kwargs):
            __tracebackhide__ = True
            report.depth += 1
            try:
                out = check(*args, **kwargs)
            except BaseException:
                if report.depth == 1:
                    report.failed += 1
                raise
            finally:
                report.depth -= 1
            if report.depth == 0:
                report.passed += 1
            return out

        counted_check._rnncourse_counted = True
        return counted_check

    def post_run_cell(self, result) -> None:
        if getattr(result, "success", False) and self.passed and not self.failed:
            print(pass_line(self.passed))


def _outside_keys(tb: types.TracebackType | None) -> types.TracebackType | None:
    """The traceback ``tb`` without the frames of ``autograder.keys``' modules (the cell's
    frames and the learner's own stay)."""
    kept = []
    while tb is not None:
        if not str(tb.tb_frame.f_globals.get("__name__", "")).startswith("autograder.keys"):
            kept.append(tb)
        tb = tb.tb_next
    out = None
    for entry in reversed(kept):
        out = types.TracebackType(out, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    return out


def show_failure(shell, etype, value, tb, tb_offset=None) -> list[str]:
    """Show IPython's traceback of an ``AssertionError`` in a cell; for a check's failure
    (made by :func:`failure`), without the keys' own frames: the test cell's line and the
    message. (``__tracebackhide__`` hides all of them but the frame that raised, which
    IPython always shows.)"""
    if etype is AssertionError and hasattr(value, "summary"):
        tb = _outside_keys(tb)
        value = value.with_traceback(tb)
    shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
    return []


def report_passing_cells() -> CellReport | None:
    """Install :class:`CellReport` and :func:`show_failure` in the running IPython shell
    (the learner's kernel, where the test cells import this module), once; None where there
    is none. The grader runs the test cells in its own process, which has no IPython shell:
    nothing is installed there, and its outputs are what they were."""
    ipython = sys.modules.get("IPython")  # never imported here: only a shell brings it
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None or not hasattr(shell, "events") or not hasattr(shell, "user_ns"):
        return None
    old = getattr(shell, "_rnncourse_cell_report", None)
    if old is not None:  # this module imported again (autoreload, importlib.reload)
        for event in ("pre_run_cell", "post_run_cell"):
            try:
                shell.events.unregister(event, getattr(old, event))
            except ValueError:
                pass
    report = CellReport(shell)
    shell.events.register("pre_run_cell", report.pre_run_cell)
    shell.events.register("post_run_cell", report.post_run_cell)
    shell._rnncourse_cell_report = report
    if not getattr(shell, "custom_exceptions", ()):  # none of the learner's own
        shell.set_custom_exc((AssertionError,), show_failure)
    return report


report_passing_cells()
