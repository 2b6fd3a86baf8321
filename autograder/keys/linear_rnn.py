"""Checks and float64 PyTorch references of the assignment ``linear_rnn``: the diagonal linear
recurrence h_t = a_t * h_{t-1} + b_t computed by a loop and by a parallel scan, minGRU on top
of it (Feng et al., 2024), and a function that times the two scans.

The references run the recurrence one step at a time in torch (float64); the mistaken variants
used in the feedback ("it matches a known mistake: ...") are recomputed here with NumPy.

Whether a "parallel" scan is a loop in disguise is not graded: :func:`check_scan_is_not_a_loop`
is a self-check the learner runs in their own kernel. A time measured in the learner's kernel
can be forged there (its ``timeit`` replaced), and from the grader's side the cost of sending
the arrays swamps the loop's: measured on 2 busy cores, a call of T = 2**16 (B = H = 1) costs
300 to 520 ms by the grader's clock whatever the function, while the whole loop takes about
50 ms and the scan 2 ms, and the long-to-wide ratio of a loop (0.97 to 1.56) overlaps a scan's
(0.80 to 1.16). A control call cannot cancel the transfer either: the learner's code can make
any call slower, so a ratio to a control rewards slowing the control.
"""

from __future__ import annotations

import time
import timeit
from collections.abc import Callable, Sequence

import numpy as np
import torch

from autograder.keys import reference as ref
from autograder.keys.checks import (
    _fail,
    at_step,
    call,
    callee,
    callee_first,
    check_array,
    check_type,
)

# --------------------------------------------------------------------------------------------
# Seeded inputs and references
# --------------------------------------------------------------------------------------------


def scan_inputs(T: int, B: int, H: int, seed: int) -> dict[str, np.ndarray]:
    """a, b (T, B, H) and h0 (B, H), float64. Even channels decay slowly (a in (0.995, 1)), so
    that the first steps still matter at t = 1024; odd channels have a in (-1, 1), signs and
    near-zero values included (a closed form dividing by cumulative products fails there)."""
    rng = np.random.default_rng(seed)
    slow = rng.uniform(0.995, 1.0, (T, B, H))
    fast = rng.uniform(-1.0, 1.0, (T, B, H))
    a = np.where(np.arange(H) % 2 == 0, slow, fast)
    return {"a": a, "b": rng.standard_normal((T, B, H)), "h0": rng.standard_normal((B, H))}


def min_gru_inputs(T: int, B: int, D: int, H: int, seed: int) -> dict[str, np.ndarray]:
    """X (T, B, D), h0 (B, H), W_z, W_h (D, H), b_z, b_h (H,), float64."""
    rng = np.random.default_rng(seed)
    return {"X": rng.standard_normal((T, B, D)), "h0": rng.standard_normal((B, H)),
            "W_z": rng.standard_normal((D, H)) / np.sqrt(D), "b_z": rng.standard_normal(H),
            "W_h": rng.standard_normal((D, H)) / np.sqrt(D), "b_h": rng.standard_normal(H)}


def scan_reference(a, b, h0) -> np.ndarray:
    """Hs (T, B, H) of h_t = a_t * h_{t-1} + b_t, one step at a time in torch (float64)."""
    a_t, b_t, h = ref.as_t(a), ref.as_t(b), ref.as_t(h0)
    Hs = []
    for t in range(a_t.shape[0]):
        h = a_t[t] * h + b_t[t]
        Hs.append(h)
    return torch.stack(Hs).numpy().copy()


def min_gru_reference(X, h0, W_z, b_z, W_h, b_h) -> np.ndarray:
    """Hs (T, B, H) of minGRU (Feng et al., 2024), one step at a time in torch (float64)."""
    X_t, h = ref.as_t(X), ref.as_t(h0)
    W_z, b_z, W_h, b_h = (ref.as_t(v) for v in (W_z, b_z, W_h, b_h))
    Hs = []
    for x in X_t:
        z = torch.sigmoid(x @ W_z + b_z)
        h = (1 - z) * h + z * (x @ W_h + b_h)
        Hs.append(h)
    return torch.stack(Hs).numpy().copy()


def _loop(a, b, h0) -> np.ndarray:
    """The recurrence in NumPy, for the mistaken variants (which may be non-finite)."""
    Hs, h = np.empty(np.broadcast_shapes(a.shape, b.shape)), h0
    with np.errstate(all="ignore"):
        for t in range(Hs.shape[0]):
            h = a[t] * h + b[t]
            Hs[t] = h
    return Hs


def scan_mistakes(a, b, h0) -> dict[str, np.ndarray]:
    """Known mistakes of a scan of h_t = a_t * h_{t-1} + b_t -> the Hs they produce."""
    zeros = np.zeros_like(h0)
    no_h0 = _loop(a, b, zeros)
    shifted_b = np.concatenate([np.zeros_like(b[:1]), b[:-1]])
    P = np.cumprod(a, axis=0)
    P_before = np.concatenate([np.ones_like(a[:1]), P[:-1]])
    return {
        "returns h_0 .. h_{T-1} instead of h_1 .. h_T": np.concatenate(
            [h0[None], _loop(a, b, h0)[:-1]]),
        "h0 ignored: the recurrence starts from zeros": no_h0,
        "the pairs combined in the wrong order: (a1, b1) . (a2, b2) taken as "
        "(a1 a2, a1 b2 + b1), i.e. the steps applied last to first":
            P * h0 + np.cumsum(P_before * b, axis=0),
        "h0 added without its decay (A_t * h0 missing)": no_h0 + h0,
        "h0 multiplied by a_t only, not by the product a_1 ... a_t": no_h0 + a * h0,
        "b added before the decay: h_t = a_t * (h_{t-1} + b_t)": _loop(a, a * b, h0),
        "the inputs shifted by one step: h_t = a_t * h_{t-1} + b_{t-1}": _loop(a, shifted_b, h0),
        "a and b swapped: h_t = b_t * h_{t-1} + a_t": _loop(b, a, h0),
    }


def min_gru_mistakes(X, h0, W_z, b_z, W_h, b_h) -> dict[str, np.ndarray]:
    """Known mistakes of minGRU -> the Hs they produce."""
    z = ref.sigmoid(X @ W_z + b_z)
    h_tilde = X @ W_h + b_h
    return {
        "update convention flipped: h_t = z_t * h_{t-1} + (1 - z_t) * h~_t": _loop(
            z, (1 - z) * h_tilde, h0),
        "tanh on the candidate (minGRU's h~_t = x_t W_h + b_h has none)": _loop(
            1 - z, z * np.tanh(h_tilde), h0),
        "W_z, b_z and W_h, b_h swapped": _loop(
            1 - ref.sigmoid(X @ W_h + b_h), ref.sigmoid(X @ W_h + b_h) * (X @ W_z + b_z), h0),
        "b_t leaves out the gate z_t (look at what z_t weights in the minGRU update)": _loop(
            1 - z, h_tilde, h0),
        "a_t weights the old state with the gate meant for the candidate (look at the minGRU "
        "update)": _loop(z, z * h_tilde, h0),
        "sigmoid missing: z_t = x_t W_z + b_z": _loop(
            1 - (X @ W_z + b_z), (X @ W_z + b_z) * h_tilde, h0),
        "h0 ignored: the recurrence starts from zeros": _loop(1 - z, z * h_tilde, 0 * h0),
        "returns h_0 .. h_{T-1} instead of h_1 .. h_T": np.concatenate(
            [h0[None], _loop(1 - z, z * h_tilde, h0)[:-1]]),
    }


# --------------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------------

def _hints(T: int, B: int, H: int) -> dict:
    return {(B, H): "only the last state h_T was returned; return every state, stacked",
            (T + 1, B, H): "h_0 is included; return h_1 .. h_T only"}


def check_scan(fn: Callable, T: int = 7, B: int = 2, H: int = 3, seed: int = 0,
               name: str = "the scan"):
    """``fn(a, b, h0)`` -> Hs against the sequential torch reference (float64)."""
    x = scan_inputs(T, B, H, seed)
    got = call(fn, x["a"], x["b"], x["h0"])
    expected = scan_reference(x["a"], x["b"], x["h0"])
    check_array(f"Hs of {name}", got, expected, time_axis=True, at=at_step("Hs", "h_{t}"),
                shape_hints=_hints(T, B, H), reference="the step-by-step torch reference",
                mistakes=lambda: scan_mistakes(x["a"], x["b"], x["h0"]))


def check_min_gru_forward(fn: Callable, T: int = 7, B: int = 2, D: int = 3, H: int = 4,
                          seed: int = 0, scan: Callable | None = None):
    """``min_gru_forward(X, h0, W_z, b_z, W_h, b_h)`` against the step-by-step reference.
    With ``scan`` (the learner's ``linear_scan_parallel``, which the notebook's
    ``min_gru_forward`` calls), a failure names the scan first when it fails its own tests."""
    x = min_gru_inputs(T, B, D, H, seed)
    args = [x[k] for k in ("X", "h0", "W_z", "b_z", "W_h", "b_h")]
    got = call(fn, *args)
    blame = callee("linear_scan_parallel", scan, quick_scan)
    with callee_first(blame):
        check_array("Hs of min_gru_forward", got, min_gru_reference(*args),
                    time_axis=True, shape_hints=_hints(T, B, H), at=at_step("Hs", "h_{t}"),
                    reference="minGRU step by step in torch",
                    mistakes=blame.mistakes(lambda: min_gru_mistakes(*args)))


def quick_scan(fn: Callable) -> None:
    """A scan on two small cases, a length that is a power of two and one that is not."""
    for T in (8, 7):
        check_scan(fn, T=T, B=2, H=3, seed=11, name="linear_scan_parallel")


# --------------------------------------------------------------------------------------------
# Not a loop in disguise
# --------------------------------------------------------------------------------------------

def _best_time(fn: Callable, x: dict, repeats: int) -> float:
    """The smallest of ``repeats`` wall times of ``fn(a, b, h0)``, by ``timeit.repeat`` in
    this process."""
    return min(timeit.repeat(lambda: fn(x["a"], x["b"], x["h0"]), repeat=repeats, number=1))


def check_scan_is_not_a_loop(fn: Callable, log2_T: int = 13, log2_T_wide: int = 6,
                             repeats: int = 5, rounds: int = 1, max_ratio: float = 10.0,
                             seed: int = 0):
    """A self-check, worth no points: ``fn`` computes the scan in O(log T) rounds, not with one
    step per time step. It times ``fn`` in the process that calls it (the learner's own
    kernel), so the grader never runs it: it refuses a proxy of a learner's kernel.

    Times ``fn`` on a long, narrow input, T = 2**log2_T with B = H = 1, and on a short, wide
    one with as many values, T = 2**log2_T_wide, B = 1, H = 2**(log2_T - log2_T_wide). A scan
    of ceil(log2 T) rounds (Hillis-Steele) or 2 log2 T (recursive halving) does log2_T /
    log2_T_wide (about 2) times as many rounds, of the same total size, on the long input; a
    loop over t makes 2**(log2_T - log2_T_wide) (128) times as many steps. The ratio of the
    best times (over ``rounds`` interleaved rounds of ``repeats`` calls) must be at most
    ``max_ratio``: measured on 2 loaded cores, about 2 for either scan, 100 to 300 for a loop.
    """
    if getattr(fn, "_remote", None) is not None:
        raise TypeError("check_scan_is_not_a_loop times a function in this process: run it in "
                        "your own notebook; it is a self-check, not a grading test.")
    T, T_wide = 2 ** log2_T, 2 ** log2_T_wide
    long, wide = scan_inputs(T, 1, 1, seed), scan_inputs(T_wide, 1, T // T_wide, seed + 1)
    got = fn(long["a"], long["b"], long["h0"])
    check_array("Hs of linear_scan_parallel", got, _loop(long["a"], long["b"], long["h0"]),
                time_axis=True, at=at_step("Hs", "h_{t}"),
                reference="the step-by-step reference")
    t_long = t_wide = float("inf")
    for _ in range(rounds):
        t_long = min(t_long, _best_time(fn, long, repeats))
        t_wide = min(t_wide, _best_time(fn, wide, repeats))
    ratio = t_long / max(t_wide, 1e-9)
    if not ratio <= max_ratio:
        _fail(f"linear_scan_parallel took {1e3 * t_long:.2f} ms on T={T}, B=H=1 but "
              f"{1e3 * t_wide:.2f} ms on T={T_wide}, B=1, H={T // T_wide} (as many values): "
              f"{ratio:.0f} times longer (at most {max_ratio:g} allowed). It looks like one "
              "step per time step; combine all positions at once in O(log T) rounds.")
    print(f"linear_scan_parallel: {1e3 * t_long:.2f} ms on T={T}, {1e3 * t_wide:.2f} ms on "
          f"T={T_wide} with as many values: {ratio:.1f} times (a loop: about 100)")


# --------------------------------------------------------------------------------------------
# The timing function
# --------------------------------------------------------------------------------------------

class _Recorder:
    """A stand-in scan that records what it receives and sleeps a set time per call."""

    def __init__(self, Ts: Sequence[int], sleeps: Callable[[int, int], float] | None = None):
        self.Ts, self.sleeps = list(Ts), sleeps
        self.calls: list[tuple[int, tuple, tuple, tuple, bytes]] = []

    def __call__(self, a, b, h0):
        shapes = tuple(np.shape(v) for v in (a, b, h0))
        T = shapes[0][0] if len(shapes[0]) == 3 else -1
        n = sum(1 for c in self.calls if c[0] == T)
        data = b"".join(np.ascontiguousarray(v, dtype=np.float64).tobytes() for v in (a, b, h0))
        self.calls.append((T, *shapes, data))
        if self.sleeps is not None and T in self.Ts:
            time.sleep(self.sleeps(self.Ts.index(T), n))
        return np.zeros(shapes[1])


def _run_time_scans(fn: Callable, Ts, B, H, repeats, seed, sleeps=None):
    scans = [_Recorder(Ts, None if sleeps is None else (lambda i, n, k=k: sleeps(i, k, n)))
             for k in range(2)]
    times = check_type("time_scans(...)", fn(scans, list(Ts), B, H, repeats, seed))
    if times.shape != (len(Ts), 2):
        _fail(f"time_scans returned shape {times.shape}, expected (len(Ts), len(scans)) = "
              f"{(len(Ts), 2)}: one row per T, one column per scan.",
              "time_scans returned the wrong shape: (len(Ts), len(scans)) expected, one row "
              "per T, one column per scan.")
    if times.dtype.kind != "f" or not np.all(np.isfinite(times)) or not np.all(times > 0):
        _fail("time_scans must return positive, finite times in seconds (a float array).")
    return times, scans


def check_time_scans_calls(fn: Callable, Ts=(3, 8, 5), B: int = 2, H: int = 3,
                           repeats: int = 3, seed: int = 0):
    """``time_scans(scans, Ts, B, H, repeats, seed)`` calls each scan ``repeats`` times for each
    T, on a (T, B, H), b (T, B, H), h0 (B, H), the same inputs for every scan and repeat."""
    _, scans = _run_time_scans(fn, Ts, B, H, repeats, seed)
    for k, scan in enumerate(scans):
        got = [c[0] for c in scan.calls]
        counts = {T: got.count(T) for T in Ts}
        if sorted(got) != sorted(T for T in Ts for _ in range(repeats)):
            _fail(f"scans[{k}] was called for T = {got}; expected {repeats} calls for each T "
                  f"in {list(Ts)} (got {counts}), none other.",
                  f"scans[{k}] was not called `repeats` times for each T in Ts (and for no "
                  "other T).")
        for T, sa, sb, sh, _ in scan.calls:
            if (sa, sb, sh) != ((T, B, H), (T, B, H), (B, H)):
                _fail(f"scans[{k}] received a {sa}, b {sb}, h0 {sh}; expected a and b of shape "
                      f"(T, B, H) = {(T, B, H)}, h0 {(B, H)}.",
                      f"scans[{k}] received inputs of the wrong shapes; expected a and b of "
                      "shape (T, B, H), h0 (B, H).")
    for T in Ts:
        inputs = {c[4] for s in scans for c in s.calls if c[0] == T}
        if len(inputs) != 1:
            _fail(f"at T={T} the scans received {len(inputs)} different inputs; draw one "
                  "(a, b, h0) per T and time every scan, every repeat, on it.",
                  "at some T the scans received different inputs; draw one (a, b, h0) per T "
                  "and time every scan, every repeat, on it.")


def check_time_scans_best_of_repeats(fn: Callable, Ts=(2, 4, 3), B: int = 1, H: int = 2,
                                     repeats: int = 3, seed: int = 0, slow: float = 0.9,
                                     slack: float = 0.25):
    """The times time_scans returns are the best (smallest) of the repeats, in seconds.

    The grader's stand-in scans sleep 10 ms + 5 ms * (row) + 50 ms * (column) per call, and
    the first call of scan 0 at the second T sleeps ``slow`` seconds: a time is accepted
    between that call's sleep and the sleep plus ``slack``, what a call back to the grader
    may cost on a loaded machine (0.11 s was seen with four test workers on two cores, where a
    slack of 0.06 s failed a correct function). The mean of the repeats is then at least
    ``slow / repeats`` = 0.3 s, above its window whatever the load; the first, the last but
    slow, and the total are further above; a time in milliseconds or of the CPU is out of
    every window."""
    def sleeps(i, k, n):
        if k == 0 and i == 1 and n == 0:
            return slow
        return 0.01 + 0.005 * i + 0.05 * k

    times, _ = _run_time_scans(fn, Ts, B, H, repeats, seed, sleeps)
    for i, T in enumerate(Ts):
        for k in range(2):
            low = sleeps(i, k, 1)
            if not low <= times[i, k] <= low + slack:
                _fail(f"times[{i}, {k}] (T={T}, scans[{k}]) is {times[i, k]:.4g}; the grader's "
                      f"scan took {low:.3f} s per call (one call of scans[0] took {slow:g} s): "
                      "return the best time of the repeats, in seconds, with row i for Ts[i] "
                      "and column k for scans[k].",
                      "a time is not the best of the repeats of the grader's scan, in seconds, "
                      "with row i for Ts[i] and column k for scans[k].")
