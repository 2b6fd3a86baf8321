"""Checks for the graded training code: truncated BPTT in NumPy (assignment ``bptt``).

The reference is the same training written with ``torch.autograd`` and
``torch.nn.utils.clip_grad_norm_`` in float64; known mistakes (state not carried between
chunks, no clipping, per-tensor clipping, summed loss) are recomputed with flags so the
feedback can name them.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import torch

from autograder.keys import reference as ref
from autograder.keys.checks import check_array, draw

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


def check_train_tbptt(fn: Callable, T: int = 23, B: int = 3, D: int = 2, H: int = 4,
                      V: int = 2, k: int = 5, lr: float = 0.5, max_norm: float = 1.0,
                      n_epochs: int = 2, seed: int = 0, rtol: float = 1e-4,
                      atol: float = 1e-6):
    """train_tbptt(X, Y, params, k, lr, max_norm, n_epochs) against the torch reference.

    Checks the list of chunk losses (one per chunk and epoch) and the final parameters. The
    tolerance is looser than for one pass: rounding differences (e.g. clipping by
    max_norm / n instead of max_norm / (n + 1e-6)) accumulate over the updates; pick
    ``max_norm`` so that some chunks are clipped and some are not.
    """
    X, Y, params = tbptt_problem(seed, T, B, D, H, V)
    mine = copy.deepcopy(params)
    X0, Y0 = X.copy(), Y.copy()
    losses = fn(X, Y, mine, k, lr, max_norm, n_epochs)
    if not (np.array_equal(X, X0) and np.array_equal(Y, Y0)):
        raise AssertionError("train_tbptt modified X or Y in place; only params may change.")
    exp_losses, exp_params = tbptt_reference(X, Y, params, k, lr, max_norm, n_epochs)
    if isinstance(losses, list | tuple):
        losses = np.asarray(losses, dtype=np.float64)

    def variants(**flags):
        return tbptt_reference(X, Y, params, k, lr, max_norm, n_epochs, **flags)

    cache: dict = {}

    def mistakes(i, key=None):
        if not cache:
            cache.update({
                "the hidden state is not carried from chunk to chunk (reset to zeros)":
                    variants(reset_state=True),
                "the gradients are not clipped": variants(clip="none"),
                "per-tensor instead of global clipping": variants(clip="per_tensor"),
                "the loss is summed instead of averaged over (t, b, v)": variants(loss="sum"),
                "the state is not reset to zeros at the start of an epoch":
                    variants(carry_across_epochs=True),
            })
        return {m: (v[0] if i == 0 else v[1][key]) for m, v in cache.items()}

    check_array("losses (one per chunk and epoch)", losses,
                np.asarray(exp_losses), time_axis=True, mistakes=lambda: mistakes(0),
                index_name="chunk", rtol=rtol, atol=atol,
                reference="truncated BPTT in torch")
    if not isinstance(mine, dict) or set(mine) != set(PARAMS):
        raise AssertionError(f"params must keep exactly the keys {', '.join(PARAMS)}.")
    for n in PARAMS:
        check_array(f"params[{n!r}] after training", mine[n], exp_params[n],
                    mistakes=lambda n=n: mistakes(1, n), reference="truncated BPTT in torch",
                    rtol=rtol, atol=atol)


def echo_mse(params: dict, X: np.ndarray, Y: np.ndarray) -> float:
    """Mean squared error of a trained RNN (``params`` as in ``train_tbptt``) run over a whole
    stream ``X`` from h = 0, against ``Y``, computed here with NumPy."""
    h = np.zeros((X.shape[1], params["W_hh"].shape[0]))
    errors = []
    for x, y in zip(X, Y, strict=True):
        h = np.tanh(x @ params["W_xh"] + h @ params["W_hh"] + params["b_h"])
        errors.append((h @ params["W_hy"] + params["b_y"] - y) ** 2)
    return float(np.mean(errors))


def check_learns_echo(fn: Callable, seed: int = 0, threshold: float = 0.02, T: int = 2000,
                      B: int = 16, H: int = 16, delay: int = 3, k: int = 10, lr: float = 0.3,
                      max_norm: float = 1.0, n_epochs: int = 2) -> None:
    """Train with ``fn`` (``train_tbptt``) on the delayed echo, then measure the trained
    network on a new stream (the grader runs it: the learner's reported losses are not
    used) and print that error. Returns None: a test cell whose last value is a number would
    be read by nbgrader as partial credit."""
    from rnncourse.tasks import delayed_echo

    rng = np.random.default_rng(seed)
    X, Y = (a.numpy().astype(np.float64) for a in delayed_echo(T, B, delay, rng))
    params = {"W_xh": 0.5 * rng.standard_normal((1, H)),
              "W_hh": 0.9 * rng.standard_normal((H, H)) / np.sqrt(H),
              "b_h": np.zeros(H), "W_hy": rng.standard_normal((H, 1)) / np.sqrt(H),
              "b_y": np.zeros(1)}
    fn(X, Y, params, k, lr, max_norm, n_epochs)
    if set(params) != set(PARAMS) or any(
            type(params[n]) is not np.ndarray or not np.all(np.isfinite(params[n]))
            for n in PARAMS):
        raise AssertionError("after training, params must still hold finite NumPy arrays "
                             f"under the keys {', '.join(PARAMS)}")
    X_new, Y_new = (a.numpy().astype(np.float64)
                    for a in delayed_echo(400, B, delay, np.random.default_rng(seed + 1000)))
    mse = echo_mse(params, X_new, Y_new)
    if not mse < threshold:
        raise AssertionError(
            f"the trained network's mean squared error on a new echo stream is {mse:.4f}, "
            f"above {threshold}: check that the state is carried between chunks and that "
            "you update params in place")
    print(f"mean squared error of the trained network on a new echo stream: {mse:.5f}")
