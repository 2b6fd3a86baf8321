"""Checks for the graded training code: truncated BPTT in NumPy (assignment ``bptt``).

The reference is the same training written with ``torch.autograd`` and
``torch.nn.utils.clip_grad_norm_`` in float64; known mistakes (state not carried between
chunks, no clipping, per-tensor clipping, summed loss) are recomputed with flags so the
feedback can name them.

One mistake, one place where points are lost. The assignment's functions build on each other
(``train_tbptt`` calls ``rnn_forward``, ``rnn_backward`` and ``clip_grad_norm``;
``rnn_backward`` calls ``rnn_forward``). The grader cannot swap its own functions into the
learner's kernel, so it grades each function on what it does with the learner's own helpers:
a gradient that is right for the states the learner's ``rnn_forward`` produced, or a training
loop that does what Part 4 asks with the learner's helpers (recomputed here by calling them),
passes, with a note naming the helper that is wrong; that helper loses its own test's points.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch

from autograder.keys import checks
from autograder.keys import reference as ref
from autograder.keys.checks import at_count, check_array, draw, failure

PARAMS = ("W_xh", "W_hh", "b_h", "W_hy", "b_y")


def tbptt_reference(X, Y, params: dict, k: int, lr: float, max_norm: float, n_epochs: int,
                    *, reset_state: bool = False, clip: str = "global", loss: str = "mean",
                    carry_across_epochs: bool = False) -> tuple[list[float], dict]:
    """Truncated BPTT with plain SGD, as specified in the ``bptt`` assignment.

    Returns (chunk losses before each update, final parameters). Flags recompute mistakes:
    ``reset_state`` (h = 0 at every chunk), ``clip`` in {"global", "none", "per_tensor"},
    ``loss="sum"``, ``carry_across_epochs`` (h not reset to zeros at a new epoch).
    """
    P = {n: ref.as_t(params[n], True) for n in PARAMS}
    X_t, Y_t = ref.as_t(X), ref.as_t(Y)
    T, B = X.shape[:2]
    H = params["W_hh"].shape[0]
    losses = []
    h = torch.zeros(B, H, dtype=ref.DT)
    for _ in range(n_epochs):
        if not carry_across_epochs:
            h = torch.zeros(B, H, dtype=ref.DT)
        for s in range(0, T, k):
            h_in = torch.zeros(B, H, dtype=ref.DT) if reset_state else h
            Hs = ref.rnn_steps(X_t[s:s + k], h_in, P["W_xh"], P["W_hh"], P["b_h"])
            diff = Hs @ P["W_hy"] + P["b_y"] - Y_t[s:s + k]
            L = (diff ** 2).mean() if loss == "mean" else (diff ** 2).sum()
            losses.append(float(L.detach()))
            L.backward()
            if clip == "global":
                torch.nn.utils.clip_grad_norm_(list(P.values()), max_norm)
            elif clip == "per_tensor":
                for p in P.values():
                    torch.nn.utils.clip_grad_norm_([p], max_norm)
            with torch.no_grad():
                for p in P.values():
                    p -= lr * p.grad
                    p.grad = None
            h = Hs[-1].detach()
    return losses, {n: p.detach().numpy().copy() for n, p in P.items()}


def tbptt_problem(seed: int, T: int, B: int, D: int, H: int, V: int):
    """Seeded (X (T, B, D), Y (T, B, V), params) for checking ``train_tbptt``."""
    a = draw(seed, scale=0.5, X=(T, B, D), Y=(T, B, V), W_xh=(D, H), W_hh=(H, H), b_h=(H,),
             W_hy=(H, V), b_y=(V,))
    return a["X"], a["Y"], {n: a[n] for n in PARAMS}


# --------------------------------------------------------------------------------------------
# The learner's helpers: which is wrong, and what the training does with them
# --------------------------------------------------------------------------------------------

HELPERS = ("rnn_forward", "rnn_backward", "clip_grad_norm")
PART = {"rnn_forward": "Part 0", "rnn_backward": "Part 1", "clip_grad_norm": "Part 3"}
RNN_GRADS = ("dX", "dh0", "dW_xh", "dW_hh", "db_h")
FORWARD_FIRST = ("your rnn_forward from Part 0 does not match the forward pass: fix it first "
                 "(its test says where)")


def _learner_failed(err: Exception) -> bool:
    """True for a failed check or an error in the learner's code; False when the kernel is
    gone (then nothing more can be asked of it)."""
    return not getattr(err, "fatal", False)


def _quick_checks() -> dict[str, Callable[[Callable], None]]:
    def backward(fn):
        for key in RNN_GRADS:
            checks.check_rnn_backward(fn, key, T=3, B=2, D=2, H=3, seed=11)

    return {"rnn_forward": lambda fn: checks.check_rnn_forward(fn, T=3, B=2, D=2, H=3, seed=11),
            "rnn_backward": backward,
            "clip_grad_norm": lambda fn: [checks.check_clip_grad_norm(fn, m, seed=11)
                                          for m in (0.5, 100.0)]}


def helper_fault(helpers: Mapping[str, Callable] | None) -> str | None:
    """The first of the learner's helpers (in the order forward, backward, clipping) that fails
    a quick check against the reference, or None when all pass (or none are given)."""
    for name, check in _quick_checks().items():
        fn = (helpers or {}).get(name)
        if fn is None:
            continue
        try:
            check(fn)
        except Exception as err:  # a failed check or an error raised by the learner's code
            if not _learner_failed(err):
                raise
            return name
    return None


def bptt_given_states(dHs, X, h0, Hs, W_xh, W_hh, b_h) -> dict[str, np.ndarray]:
    """The recursion of the assignment's introduction run on given states ``Hs``
    (h_1 .. h_T, as some forward computed them): what a correct ``rnn_backward`` returns when
    the ``rnn_forward`` it calls returned ``Hs``."""
    dX = np.zeros_like(X)
    dW_xh, dW_hh, db_h = np.zeros_like(W_xh), np.zeros_like(W_hh), np.zeros_like(b_h)
    dh_next = np.zeros_like(h0)
    for t in reversed(range(X.shape[0])):
        h_prev = Hs[t - 1] if t > 0 else h0
        da = (dHs[t] + dh_next) * (1 - Hs[t] ** 2)
        dX[t] = da @ W_xh.T
        dW_xh += X[t].T @ da
        dW_hh += h_prev.T @ da
        db_h += da.sum(axis=0)
        dh_next = da @ W_hh.T
    return {"dX": dX, "dh0": dh_next, "dW_xh": dW_xh, "dW_hh": dW_hh, "db_h": db_h}


def _wrong_states(forward: Callable | None, args: tuple) -> np.ndarray | None:
    """The learner's forward's states on ``args`` when they are a well-formed array that
    differs from the reference; None when they are right (or unusable)."""
    if forward is None:
        return None
    try:
        Hs = forward(*copy.deepcopy(args))
    except Exception as err:  # the learner's forward raised: its own test says so
        if not _learner_failed(err):
            raise
        return None
    expected = ref.rnn(*args)
    if (type(Hs) is not np.ndarray or Hs.shape != expected.shape
            or not np.all(np.isfinite(Hs))):
        return None
    return None if np.allclose(Hs, expected, rtol=checks.RTOL, atol=checks.ATOL) else Hs


def _right_given_forward(err: AssertionError, fn: Callable, key: str, forward, dHs,
                         args: tuple) -> None:
    """After ``rnn_backward(dHs, *args)[key]`` failed with ``err``: pass (with a note) when the
    learner's forward is wrong and the gradient is right for its states; otherwise re-raise,
    naming the forward first when it is wrong."""
    Hs = _wrong_states(forward, args)
    if Hs is None:
        raise err
    got = checks.call(fn, dHs, *args)
    got = got.get(key) if isinstance(got, Mapping) else None
    expected = bptt_given_states(dHs, *args[:2], Hs, *args[2:])[key]
    if (type(got) is np.ndarray and got.shape == expected.shape
            and np.allclose(got, expected, rtol=checks.RTOL, atol=checks.ATOL)):
        print(f"{key} is right for the states your rnn_forward computes; that forward is "
              "wrong, which costs points in Part 0 only.")
        return
    summary = getattr(err, "summary", str(err))
    raise failure(f"{FORWARD_FIRST}; this may be its error.\n{err}",
                  f"{FORWARD_FIRST}; this may be its error.\n{summary}") from None


def check_rnn_backward(fn: Callable, key: str, T: int = 4, B: int = 3, D: int = 4, H: int = 5,
                       seed: int = 0, forward: Callable | None = None) -> None:
    """``rnn_backward(...)[key]`` against torch.autograd (``checks.check_rnn_backward``); with
    ``forward`` (the learner's ``rnn_forward``), a gradient that is right for the states a
    wrong forward computes passes: the forward's mistake is charged in Part 0 only."""
    try:
        checks.check_rnn_backward(fn, key, T=T, B=B, D=D, H=H, seed=seed)
    except AssertionError as err:
        a = draw(seed, dHs=(T, B, H), X=(T, B, D), h0=(B, H), W_xh=(D, H), W_hh=(H, H),
                 b_h=(H,))  # the draw of checks.check_rnn_backward
        args = tuple(a[k] for k in ("X", "h0", "W_xh", "W_hh", "b_h"))
        _right_given_forward(err, fn, key, forward, a["dHs"], args)


def check_rnn_backward_hand_case(fn: Callable, key: str,
                                 forward: Callable | None = None) -> None:
    """``rnn_backward(...)[key]`` in the case T = B = D = H = 1 with dHs = 1, computed by hand:
    every gradient is (1 - h_1**2) times the other factor of its product."""
    x, h0, w, u, b = 0.5, -1.0, 2.0, 0.3, 0.1
    dHs = np.ones((1, 1, 1))
    args = (np.full((1, 1, 1), x), np.full((1, 1), h0), np.full((1, 1), w), np.full((1, 1), u),
            np.full(1, b))
    da = 1 - np.tanh(x * w + h0 * u + b) ** 2
    value = {"dX": da * w, "dh0": da * u, "dW_xh": da * x, "dW_hh": da * h0, "db_h": da}[key]
    got = checks._grad_result("rnn_backward", checks.call(fn, dHs, *args), RNN_GRADS)[key]
    shape = {"db_h": (1,), "dX": (1, 1, 1)}.get(key, (1, 1))
    try:
        check_array(key, got, np.full(shape, value), reference="the hand-computed value")
    except AssertionError as err:
        _right_given_forward(err, fn, key, forward, dHs, args)


def check_clip_grad_norm(fn: Callable, max_norm: float, seed: int = 0,
                         scale: float = 1.0) -> None:
    """``checks.check_clip_grad_norm``: the values, on the grader's copies of ``grads`` (an
    in-place change of ``grads`` fails the test of its own, ``checks.check_arguments_unchanged``
    with this check)."""
    checks.check_clip_grad_norm(fn, max_norm, seed=seed, scale=scale)


def tbptt_with_helpers(helpers: Mapping[str, Callable], X, Y, params: dict, k: int, lr: float,
                       max_norm: float, n_epochs: int) -> tuple[list[float], dict] | None:
    """Part 4's training, done here with the learner's ``rnn_forward``, ``rnn_backward`` and
    ``clip_grad_norm``: what a correct ``train_tbptt`` returns with those helpers. None when a
    helper raises or returns something unusable."""
    P = {n: np.array(params[n], dtype=np.float64) for n in PARAMS}
    B, H = X.shape[1], P["W_hh"].shape[0]
    losses = []
    try:
        for _ in range(n_epochs):
            h = np.zeros((B, H))
            for s in range(0, X.shape[0], k):
                Xc, Yc = X[s:s + k], Y[s:s + k]
                Hs = np.asarray(helpers["rnn_forward"](Xc, h, P["W_xh"], P["W_hh"], P["b_h"]),
                                dtype=np.float64)
                diff = Hs @ P["W_hy"] + P["b_y"] - Yc
                losses.append(float(np.mean(diff ** 2)))
                dY = 2 * diff / diff.size
                g = helpers["rnn_backward"](dY @ P["W_hy"].T, Xc, h, P["W_xh"], P["W_hh"],
                                            P["b_h"])
                grads = {"W_xh": g["dW_xh"], "W_hh": g["dW_hh"], "b_h": g["db_h"],
                         "W_hy": np.einsum("tbh,tbv->hv", Hs, dY), "b_y": dY.sum(axis=(0, 1))}
                clipped, _ = helpers["clip_grad_norm"](grads, max_norm)
                for n in PARAMS:
                    P[n] = P[n] - lr * np.asarray(clipped[n], dtype=np.float64)
                h = Hs[-1]
    except Exception as err:  # a helper raised or returned the wrong kind of thing
        if not _learner_failed(err):
            raise
        return None
    return losses, P


def _same_training(losses, mine, expected: tuple[list[float], dict], rtol: float,
                   atol: float) -> bool:
    exp_losses, exp_params = expected
    try:
        got = np.asarray(losses, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return (got.shape == (len(exp_losses),) and np.allclose(got, exp_losses, rtol=rtol, atol=atol)
            and isinstance(mine, dict) and set(mine) == set(PARAMS)
            and all(type(mine[n]) is np.ndarray and mine[n].shape == exp_params[n].shape
                    and np.allclose(mine[n], exp_params[n], rtol=rtol, atol=atol)
                    for n in PARAMS))


def _blame_helper(err: AssertionError, fn: Callable, helpers, problem: tuple, rtol: float,
                  atol: float) -> None:
    """After ``train_tbptt`` failed with ``err``: pass (with a note) when one of the learner's
    helpers is wrong and the training does with it what Part 4 asks; otherwise re-raise, with
    the wrong helper named first."""
    fault = helper_fault(helpers)
    if fault is None:
        raise err
    X, Y, params, k, lr, max_norm, n_epochs = problem
    expected = tbptt_with_helpers(helpers, X, Y, params, k, lr, max_norm, n_epochs)
    if expected is not None:
        mine = copy.deepcopy(params)
        losses = fn(X.copy(), Y.copy(), mine, k, lr, max_norm, n_epochs)
        if _same_training(losses, mine, expected, rtol, atol):
            print(f"train_tbptt does what Part 4 asks with your {fault}; that {fault} is wrong, "
                  f"which costs points in {PART[fault]} only.")
            return
    head = f"your {fault} ({PART[fault]}) fails its own test: fix it first; this may be its error"
    raise failure(f"{head}.\n{err}", f"{head}.\n{getattr(err, 'summary', str(err))}") from None


# --------------------------------------------------------------------------------------------
# train_tbptt against the reference
# --------------------------------------------------------------------------------------------

def _tbptt_mistakes(X, Y, params, k, lr, max_norm, n_epochs) -> dict[str, tuple]:
    def variants(**flags):
        return tbptt_reference(X, Y, params, k, lr, max_norm, n_epochs, **flags)

    return {
        "the hidden state is not carried from chunk to chunk (reset to zeros)":
            variants(reset_state=True),
        "the gradients are not clipped": variants(clip="none"),
        "per-tensor instead of global clipping": variants(clip="per_tensor"),
        "the loss is summed instead of averaged over (t, b, v)": variants(loss="sum"),
        "the state is not reset to zeros at the start of an epoch":
            variants(carry_across_epochs=True),
    }


def _compare_training(losses, mine, X, Y, params, k, lr, max_norm, n_epochs, rtol, atol):
    """Fail, with the known mistake it matches, when the training differs from the reference."""
    exp_losses, exp_params = tbptt_reference(X, Y, params, k, lr, max_norm, n_epochs)
    if isinstance(losses, list | tuple):
        losses = np.asarray(losses, dtype=np.float64)
    cache: dict = {}

    def mistakes(i, key=None):
        if not cache:
            cache.update(_tbptt_mistakes(X, Y, params, k, lr, max_norm, n_epochs))
        return {m: (v[0] if i == 0 else v[1][key]) for m, v in cache.items()}

    check_array("losses (one per chunk and epoch)", losses,
                np.asarray(exp_losses), time_axis=True, mistakes=lambda: mistakes(0),
                at=at_count("chunk loss", "losses"), rtol=rtol, atol=atol,
                reference="truncated BPTT in torch")
    if not isinstance(mine, dict) or set(mine) != set(PARAMS):
        raise failure(f"params must keep exactly the keys {', '.join(PARAMS)}.")
    for n in PARAMS:
        check_array(f"params[{n!r}] after training", mine[n], exp_params[n],
                    mistakes=lambda n=n: mistakes(1, n), reference="truncated BPTT in torch",
                    rtol=rtol, atol=atol)


def check_train_tbptt(fn: Callable, T: int = 23, B: int = 3, D: int = 2, H: int = 4,
                      V: int = 2, k: int = 5, lr: float = 0.5, max_norm: float = 1.0,
                      n_epochs: int = 2, seed: int = 0, rtol: float = 1e-4,
                      atol: float = 1e-6, helpers: Mapping[str, Callable] | None = None):
    """train_tbptt(X, Y, params, k, lr, max_norm, n_epochs) against the torch reference.

    Checks the list of chunk losses (one per chunk and epoch) and the final parameters. The
    tolerance is looser than for one pass: rounding differences (e.g. clipping by
    max_norm / n instead of max_norm / (n + 1e-6)) accumulate over the updates; pick
    ``max_norm`` so that some chunks are clipped and some are not. With ``helpers`` (the
    learner's ``rnn_forward``, ``rnn_backward``, ``clip_grad_norm``), a training that is right
    for a wrong helper passes: that helper's mistake is charged in its own part.
    """
    X, Y, params = tbptt_problem(seed, T, B, D, H, V)
    mine = copy.deepcopy(params)
    X0, Y0 = X.copy(), Y.copy()
    losses = fn(X, Y, mine, k, lr, max_norm, n_epochs)
    if not (np.array_equal(X, X0) and np.array_equal(Y, Y0)):
        raise failure("train_tbptt modified X or Y in place; only params may change.")
    try:
        _compare_training(losses, mine, X0, Y0, params, k, lr, max_norm, n_epochs, rtol, atol)
    except AssertionError as err:
        _blame_helper(err, fn, helpers, (X0, Y0, params, k, lr, max_norm, n_epochs), rtol, atol)


def tbptt_mistake(fn: Callable, seed: int = 0) -> str | None:
    """The known mistake of Part 4 that ``train_tbptt`` matches on check_train_tbptt's default
    problem, or None."""
    X, Y, params = tbptt_problem(seed, 23, 3, 2, 4, 2)
    mine = copy.deepcopy(params)
    args = (5, 0.5, 1.0, 2)
    losses = fn(X.copy(), Y.copy(), mine, *args)
    for label, variant in _tbptt_mistakes(X, Y, params, *args).items():
        if _same_training(losses, mine, variant, 1e-4, 1e-6):
            return label
    return None


# --------------------------------------------------------------------------------------------
# The delayed echo: a memory test that needs memory
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class EchoTask:
    """The delayed echo as Part 4 trains it: ``T`` steps of ``B`` streams, the target is the
    input ``delay`` steps back, chunks of ``k`` steps, an RNN of ``H`` units.

    With ``delay == k`` every target is an input of the previous chunk: a network that starts
    each chunk from h = 0 cannot predict any of them. The values were chosen by the
    experiment of ``tests/autograder/keys/test_training_echo.py``.
    """

    T: int = 1000
    B: int = 16
    H: int = 16
    delay: int = 5
    k: int = 5
    lr: float = 0.3
    max_norm: float = 1.0
    n_epochs: int = 2


ECHO = EchoTask()
ECHO_THRESHOLD = 0.05
ECHO_TEST_STEPS = 400


def echo_problem(seed: int, task: EchoTask = ECHO) -> tuple[np.ndarray, np.ndarray, dict]:
    """(X (T, B, 1), Y (T, B, 1), initial params) of the echo, as the notebook draws them."""
    from rnncourse.tasks import delayed_echo

    rng = np.random.default_rng(seed)
    X, Y = (a.numpy().astype(np.float64) for a in delayed_echo(task.T, task.B, task.delay, rng))
    H = task.H
    params = {"W_xh": 0.5 * rng.standard_normal((1, H)),
              "W_hh": 0.9 * rng.standard_normal((H, H)) / np.sqrt(H),
              "b_h": np.zeros(H), "W_hy": rng.standard_normal((H, 1)) / np.sqrt(H),
              "b_y": np.zeros(1)}
    return X, Y, params


def echo_mse(params: dict, X: np.ndarray, Y: np.ndarray) -> float:
    """Mean squared error of a trained RNN (``params`` as in ``train_tbptt``) run over a whole
    stream ``X`` from h = 0, against ``Y``, computed here with NumPy."""
    h = np.zeros((X.shape[1], params["W_hh"].shape[0]))
    errors = []
    for x, y in zip(X, Y, strict=True):
        h = np.tanh(x @ params["W_xh"] + h @ params["W_hh"] + params["b_h"])
        errors.append((h @ params["W_hy"] + params["b_y"] - y) ** 2)
    return float(np.mean(errors))


def echo_experiment(fn: Callable, seed: int = 0, task: EchoTask = ECHO) -> float:
    """Train with ``fn`` (``train_tbptt``) on the echo, then return the trained network's mean
    squared error on a new stream, run here from h = 0 (the learner's losses are not used)."""
    from rnncourse.tasks import delayed_echo

    X, Y, params = echo_problem(seed, task)
    fn(X, Y, params, task.k, task.lr, task.max_norm, task.n_epochs)
    if set(params) != set(PARAMS) or any(
            type(params[n]) is not np.ndarray or not np.all(np.isfinite(params[n]))
            for n in PARAMS):
        raise failure("after training, params must still hold finite NumPy arrays "
                      f"under the keys {', '.join(PARAMS)}")
    X_new, Y_new = (a.numpy().astype(np.float64) for a in delayed_echo(
        ECHO_TEST_STEPS, task.B, task.delay, np.random.default_rng(seed + 1000)))
    return echo_mse(params, X_new, Y_new)


def check_learns_echo(fn: Callable, seed: int = 0, threshold: float = ECHO_THRESHOLD,
                      task: EchoTask = ECHO,
                      helpers: Mapping[str, Callable] | None = None) -> None:
    """Train with ``fn`` (``train_tbptt``) on the delayed echo, whose targets all lie in the
    previous chunk, and fail when the trained network's error on a new stream is not below
    ``threshold``. A failure names a wrong helper first (and passes, with a note, when
    ``train_tbptt`` does what Part 4 asks with it), else the known mistake of Part 4 it matches.
    Returns None: a test cell whose last value is a number would be read by nbgrader as
    partial credit."""
    mse = echo_experiment(fn, seed, task)
    if mse < threshold:
        print(f"mean squared error of the trained network on a new echo stream: {mse:.5f}")
        return
    head = (f"the trained network's mean squared error on a new echo stream is {mse:.3f}, "
            f"not below {threshold} (predicting zero gives about 1)")
    try:
        label = tbptt_mistake(fn)
    except Exception as err:  # the learner's code raised on the small problem
        if not _learner_failed(err):
            raise
        label = None
    if label is None and helper_fault(helpers) is not None:
        X, Y, params = tbptt_problem(0, 23, 3, 2, 4, 2)
        err = failure(head + ".")
        _blame_helper(err, fn, helpers, (X, Y, params, 5, 0.5, 1.0, 2), 1e-4, 1e-6)
        return
    raise failure(head + (f".\nIt matches a known mistake of train_tbptt: {label}." if label
                          else ": the test of train_tbptt against the reference says where "
                          "it differs."))
