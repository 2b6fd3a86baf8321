"""Reference computations for the assignment graders, in float64 PyTorch.

Two kinds of reference live here:

- the **correct** ones, computed by ``torch.nn.RNN``/``LSTM``/``GRU`` (and their cells) with
  the course's weights mapped onto PyTorch's (``weight_ih_l0`` is our ``W_x`` transposed), and
  gradients from ``torch.autograd``;
- **mistaken variants** (:func:`rnn_steps`, :func:`lstm_steps`, :func:`gru_steps` with flags),
  written step by step in torch so that the feedback can recompute a known mistake and say
  "your numbers match this mistake". With no flag set, each equals the ``torch.nn`` module
  (``tests/test_checks.py`` checks it).

Every function takes NumPy arrays (time-major, row-vector convention of the notation page)
and returns NumPy arrays, or torch tensors carrying a graph for the ``*_steps`` functions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

DT = torch.float64


def as_t(a, grad: bool = False) -> torch.Tensor:
    """A float64 tensor copy of ``a``; a leaf requiring grad when ``grad`` is true."""
    t = torch.tensor(np.asarray(a, dtype=np.float64), dtype=DT)
    return t.requires_grad_(grad)


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy().copy()


# --------------------------------------------------------------------------------------------
# Correct references from torch.nn
# --------------------------------------------------------------------------------------------

def _load(module, W_x, W_h, b_x, b_h, suffix: str = "_l0") -> None:
    with torch.no_grad():
        getattr(module, "weight_ih" + suffix).copy_(as_t(W_x).T)
        getattr(module, "weight_hh" + suffix).copy_(as_t(W_h).T)
        getattr(module, "bias_ih" + suffix).copy_(as_t(b_x))
        getattr(module, "bias_hh" + suffix).copy_(as_t(b_h))


def _grads(module, suffix, X_t, h0_t, c0_t=None) -> dict[str, np.ndarray]:
    g = {
        "dX": _np(X_t.grad),
        "dh0": _np(h0_t.grad),
        "dW_x": _np(getattr(module, "weight_ih" + suffix).grad.T),
        "dW_h": _np(getattr(module, "weight_hh" + suffix).grad.T),
        "db_x": _np(getattr(module, "bias_ih" + suffix).grad),
        "db_h": _np(getattr(module, "bias_hh" + suffix).grad),
    }
    if c0_t is not None:
        g["dc0"] = _np(c0_t.grad)
    return g


def rnn_cell(x, h_prev, W_xh, W_hh, b_h) -> np.ndarray:
    """h (B, H) from ``torch.nn.RNNCell`` (tanh)."""
    D, H = np.shape(W_xh)
    cell = torch.nn.RNNCell(D, H, dtype=DT)
    _load(cell, W_xh, W_hh, b_h, np.zeros(H), suffix="")
    with torch.no_grad():
        return _np(cell(as_t(x), as_t(h_prev)))


def rnn(X, h0, W_xh, W_hh, b_h, dHs=None):
    """Hs (T, B, H) from ``torch.nn.RNN``; with ``dHs``, also the gradients of sum(dHs * Hs)."""
    D, H = np.shape(W_xh)
    mod = torch.nn.RNN(D, H, dtype=DT)
    _load(mod, W_xh, W_hh, b_h, np.zeros(H))
    X_t, h0_t = as_t(X, True), as_t(h0, True)
    Hs, _ = mod(X_t, h0_t[None])
    if dHs is None:
        return _np(Hs)
    (Hs * as_t(dHs)).sum().backward()
    g = _grads(mod, "_l0", X_t, h0_t)
    return {"dX": g["dX"], "dh0": g["dh0"], "dW_xh": g["dW_x"], "dW_hh": g["dW_h"],
            "db_h": g["db_x"]}


def lstm_cell(x, h_prev, c_prev, W_x, W_h, b) -> tuple[np.ndarray, np.ndarray]:
    """(h, c), each (B, H), from ``torch.nn.LSTMCell`` (gate order i, f, g, o)."""
    D, H4 = np.shape(W_x)
    cell = torch.nn.LSTMCell(D, H4 // 4, dtype=DT)
    _load(cell, W_x, W_h, b, np.zeros(H4), suffix="")
    with torch.no_grad():
        h, c = cell(as_t(x), (as_t(h_prev), as_t(c_prev)))
    return _np(h), _np(c)


def lstm(X, h0, c0, W_x, W_h, b, dHs=None):
    """(Hs (T, B, H), c_T (B, H)) from ``torch.nn.LSTM``; with ``dHs``, the gradients."""
    D, H4 = np.shape(W_x)
    mod = torch.nn.LSTM(D, H4 // 4, dtype=DT)
    _load(mod, W_x, W_h, b, np.zeros(H4))
    X_t, h0_t, c0_t = as_t(X, True), as_t(h0, True), as_t(c0, True)
    Hs, (_, cT) = mod(X_t, (h0_t[None], c0_t[None]))
    if dHs is None:
        return _np(Hs), _np(cT[0])
    (Hs * as_t(dHs)).sum().backward()
    g = _grads(mod, "_l0", X_t, h0_t, c0_t)
    return {"dX": g["dX"], "dh0": g["dh0"], "dc0": g["dc0"], "dW_x": g["dW_x"],
            "dW_h": g["dW_h"], "db": g["db_x"]}


def gru_cell(x, h_prev, W_x, W_h, b_x, b_h) -> np.ndarray:
    """h (B, H) from ``torch.nn.GRUCell`` (gate order r, z, n)."""
    D, H3 = np.shape(W_x)
    cell = torch.nn.GRUCell(D, H3 // 3, dtype=DT)
    _load(cell, W_x, W_h, b_x, b_h, suffix="")
    with torch.no_grad():
        return _np(cell(as_t(x), as_t(h_prev)))


def gru(X, h0, W_x, W_h, b_x, b_h, dHs=None):
    """Hs (T, B, H) from ``torch.nn.GRU``; with ``dHs``, the gradients of sum(dHs * Hs)."""
    D, H3 = np.shape(W_x)
    mod = torch.nn.GRU(D, H3 // 3, dtype=DT)
    _load(mod, W_x, W_h, b_x, b_h)
    X_t, h0_t = as_t(X, True), as_t(h0, True)
    Hs, _ = mod(X_t, h0_t[None])
    if dHs is None:
        return _np(Hs)
    (Hs * as_t(dHs)).sum().backward()
    g = _grads(mod, "_l0", X_t, h0_t)
    return {k: g[k] for k in ("dX", "dh0", "dW_x", "dW_h", "db_x", "db_h")}


def clip_grad_norm(grads: dict, max_norm: float) -> tuple[dict, float]:
    """``torch.nn.utils.clip_grad_norm_`` applied to copies of ``grads``."""
    params = {}
    for k, g in grads.items():
        p = torch.zeros(np.shape(g), dtype=DT, requires_grad=True)
        p.grad = as_t(g)
        params[k] = p
    total = torch.nn.utils.clip_grad_norm_(list(params.values()), max_norm)
    return {k: _np(p.grad) for k, p in params.items()}, float(total)


# --------------------------------------------------------------------------------------------
# Step-by-step variants: the correct computation, or a known mistake when a flag is set
# --------------------------------------------------------------------------------------------

class _TanhDerivAt(torch.autograd.Function):
    """tanh(a) whose backward multiplies by 1 - s**2 for a given state s (a mistake if s != h)."""

    @staticmethod
    def forward(ctx, a, s):
        ctx.save_for_backward(s)
        return torch.tanh(a)

    @staticmethod
    def backward(ctx, grad):
        (s,) = ctx.saved_tensors
        return grad * (1 - s.detach() ** 2), None


def _stack(Hs: Sequence[torch.Tensor], h0: torch.Tensor, include_h0: bool) -> torch.Tensor:
    return torch.stack(([h0] + list(Hs[:-1])) if include_h0 else list(Hs))


def rnn_steps(X, h0, W_xh, W_hh, b_h, *, act: Callable = torch.tanh, carry: bool = True,
              transpose_W_hh: bool = False, bias_times: int = 1, include_h0: bool = False,
              detach_h: bool = False, tanh_grad_at_prev: bool = False) -> torch.Tensor:
    """Simple-RNN states (T, B, H) as a torch tensor, correct unless a flag names a mistake.

    ``X`` etc. may be tensors requiring grad. Flags: ``act`` (e.g. identity = tanh missing),
    ``carry=False`` (h0 used at every step), ``transpose_W_hh``, ``bias_times`` (0 or 2),
    ``include_h0`` (h_0 .. h_{T-1} returned), ``detach_h`` (the gradient from the next step is
    not accumulated; ``lstm_steps``'s ``detach_c`` likewise for the cell state: h0 and c0
    still get step 1's gradient, as a learner's returned dh0 does), ``tanh_grad_at_prev``
    (tanh' taken at h_{t-1} instead of h_t).
    """
    W = W_hh.T if transpose_W_hh else W_hh
    h, out = h0, []
    for t in range(X.shape[0]):
        prev = h if carry else h0
        prev_in = prev.detach() if detach_h and t > 0 else prev
        a = X[t] @ W_xh + prev_in @ W + bias_times * b_h
        h = _TanhDerivAt.apply(a, prev) if tanh_grad_at_prev else act(a)
        out.append(h)
    return _stack(out, h0, include_h0)


def _blocks(W: torch.Tensor, order: str) -> dict[str, torch.Tensor]:
    """Split a fused (., k*H) matrix or (k*H,) vector into named blocks read in ``order``."""
    parts = torch.chunk(W, len(order), dim=-1)
    return {name: part for name, part in zip(order, parts, strict=True)}


def lstm_steps(X, h0, c0, W_x, W_h, b, *, order: str = "ifgo", swap_acts: str = "",
               h_from_c_prev: bool = False, carry_c: bool = True, carry_h: bool = True,
               include_h0: bool = False, detach_h: bool = False, detach_c: bool = False,
               tanh_grad_state: str = "") -> tuple[torch.Tensor, torch.Tensor]:
    """LSTM (Hs, Cs), each (T, B, H), correct unless a flag names a mistake.

    ``order``: how the learner reads the four fused blocks (``"ifog"`` reads block 2 as o).
    ``swap_acts``: ``"g"`` (sigmoid for g), ``"c"`` (sigmoid on the cell in h), ``"gates"``
    (tanh for i, f, o), ``"all"`` (every sigmoid and tanh exchanged).
    ``tanh_grad_state``: the backward of tanh(c_t) uses 1 - c_t**2 (``"c"``) or
    1 - tanh(c_{t-1})**2 (``"c_prev"``) instead of 1 - tanh(c_t)**2.
    """
    sig, tanh = torch.sigmoid, torch.tanh
    ga = {"i": sig, "f": sig, "g": tanh, "o": sig}
    c_act = tanh
    if swap_acts in ("g", "all"):
        ga["g"] = sig
    if swap_acts in ("gates", "all"):
        ga.update(i=tanh, f=tanh, o=tanh)
    if swap_acts in ("c", "all"):
        c_act = sig
    h, c, Hs, Cs = h0, c0, [], []
    for t in range(X.shape[0]):
        h_prev = h if carry_h else h0
        c_prev = c if carry_c else c0
        h_in = h_prev.detach() if detach_h and t > 0 else h_prev
        c_in = c_prev.detach() if detach_c and t > 0 else c_prev
        a = _blocks(X[t] @ W_x + h_in @ W_h + b, order)
        g = {k: ga[k](a[k]) for k in "ifgo"}
        c = g["f"] * c_in + g["i"] * g["g"]
        if tanh_grad_state:
            tc = _TanhDerivAt.apply(c, c if tanh_grad_state == "c" else torch.tanh(c_in))
        else:
            tc = c_act(c_in if h_from_c_prev else c)
        h = g["o"] * tc
        Hs.append(h)
        Cs.append(c)
    return _stack(Hs, h0, include_h0), torch.stack(Cs)


def gru_steps(X, h0, W_x, W_h, b_x, b_h, *, order: str = "rzn", flip_update: bool = False,
              cho_reset: bool = False, swap_acts: bool = False, carry: bool = True,
              include_h0: bool = False, detach_h: bool = False,
              no_b_h: bool = False) -> torch.Tensor:
    """GRU states (T, B, H), correct unless a flag names a mistake.

    ``flip_update``: h = z * n + (1 - z) * h_prev. ``cho_reset``: the reset gate applied
    before the recurrent matrix, n = tanh(x W_xn + b_xn + (r * h_prev) W_hn + b_hn), as in
    Cho et al. (2014). ``swap_acts``: tanh for r, z and sigmoid for n. ``no_b_h``: b_h ignored.
    """
    sig, tanh = torch.sigmoid, torch.tanh
    gate, cand = (tanh, sig) if swap_acts else (sig, tanh)
    Wx, Wh = _blocks(W_x, order), _blocks(W_h, order)
    bx, bh = _blocks(b_x, order), _blocks(b_h * (0 if no_b_h else 1), order)
    h, Hs = h0, []
    for t in range(X.shape[0]):
        h_prev = h if carry else h0
        h_in = h_prev.detach() if detach_h and t > 0 else h_prev
        x = X[t]
        r = gate(x @ Wx["r"] + bx["r"] + h_in @ Wh["r"] + bh["r"])
        z = gate(x @ Wx["z"] + bx["z"] + h_in @ Wh["z"] + bh["z"])
        if cho_reset:
            n = cand(x @ Wx["n"] + bx["n"] + (r * h_in) @ Wh["n"] + bh["n"])
        else:
            n = cand(x @ Wx["n"] + bx["n"] + r * (h_in @ Wh["n"] + bh["n"]))
        h = z * n + (1 - z) * h_in if flip_update else (1 - z) * n + z * h_in
        Hs.append(h)
    return _stack(Hs, h0, include_h0)


def autograd_of(steps: Callable, dHs, arrays: dict[str, np.ndarray], names: dict[str, str],
                **flags) -> dict[str, np.ndarray]:
    """Gradients of sum(dHs * Hs) through ``steps(**tensors, **flags)``.

    ``arrays`` maps the argument names of ``steps`` to arrays; ``names`` maps an argument name
    to the key of its gradient in the result (e.g. ``{"X": "dX"}``).
    """
    ts = {k: as_t(v, True) for k, v in arrays.items()}
    out = steps(*ts.values(), **flags)
    Hs = out[0] if isinstance(out, tuple) else out
    (Hs * as_t(dHs)).sum().backward()
    return {names[k]: _np(t.grad) if t.grad is not None else np.zeros(t.shape)
            for k, t in ts.items() if k in names}


# --------------------------------------------------------------------------------------------
# One step of the backward pass: the correct gradients from torch.nn cells and autograd, and
# the same gradients written by hand, correct unless ``mistake`` names a known slip
# --------------------------------------------------------------------------------------------

def lstm_cell_grads(dh, dc, x, h_prev, c_prev, W_x, W_h, b) -> dict[str, np.ndarray]:
    """Gradients of sum(dh * h) + sum(dc * c), where (h, c) = ``torch.nn.LSTMCell``."""
    D, H4 = np.shape(W_x)
    cell = torch.nn.LSTMCell(D, H4 // 4, dtype=DT)
    _load(cell, W_x, W_h, b, np.zeros(H4), suffix="")
    x_t, h_t, c_t = as_t(x, True), as_t(h_prev, True), as_t(c_prev, True)
    h, c = cell(x_t, (h_t, c_t))
    ((h * as_t(dh)).sum() + (c * as_t(dc)).sum()).backward()
    return {"dx": _np(x_t.grad), "dh_prev": _np(h_t.grad), "dc_prev": _np(c_t.grad),
            "dW_x": _np(cell.weight_ih.grad.T), "dW_h": _np(cell.weight_hh.grad.T),
            "db": _np(cell.bias_ih.grad)}


def gru_cell_grads(dh, x, h_prev, W_x, W_h, b_x, b_h) -> dict[str, np.ndarray]:
    """Gradients of sum(dh * h), where h = ``torch.nn.GRUCell``(x, h_prev)."""
    D, H3 = np.shape(W_x)
    cell = torch.nn.GRUCell(D, H3 // 3, dtype=DT)
    _load(cell, W_x, W_h, b_x, b_h, suffix="")
    x_t, h_t = as_t(x, True), as_t(h_prev, True)
    (cell(x_t, h_t) * as_t(dh)).sum().backward()
    return {"dx": _np(x_t.grad), "dh_prev": _np(h_t.grad), "dW_x": _np(cell.weight_ih.grad.T),
            "dW_h": _np(cell.weight_hh.grad.T), "db_x": _np(cell.bias_ih.grad),
            "db_h": _np(cell.bias_hh.grad)}


def sigmoid(a: np.ndarray) -> np.ndarray:
    """The logistic function in a form that is finite for any input (no exp of a large
    positive number): the keys' one NumPy sigmoid."""
    return 0.5 * (1 + np.tanh(np.asarray(a) / 2))


LSTM_STEP_MISTAKES = {
    "dc_prev_missing_f": "dc_prev skips the forget gate on the path from c_prev to c_t",
    "forget_no_c_prev": "the forget gate's gradient leaves out what f multiplies in c_t",
    "tanh_grad_of_c": "tanh' on the path from h to c taken at c rather than at tanh(c)'s "
                      "value (what is the derivative of tanh written with?)",
    "o_grad_uses_c": "the output gate's gradient uses the cell state, not what o multiplies "
                     "in h",
    "dc_ignored": "the incoming dc (from step t+1) is ignored",
    "h_path_missing": "dh's path into c (h depends on c) is missing",
    "sigmoid_grad_missing": "sigmoid' missing: the gates' gradients stop at the gates' "
                            "outputs, not their pre-activations",
    "g_sigmoid_grad": "the candidate g differentiated as if its activation were a sigmoid",
}


def lstm_step_grads(dh, dc, x, h_prev, c_prev, W_x, W_h, b, *, order: str = "ifgo",
                    mistake: str = "") -> dict[str, np.ndarray]:
    """One LSTM step's gradients written by hand (NumPy), as a learner would.

    ``order``: how the four fused blocks are read. ``mistake``: a key of
    :data:`LSTM_STEP_MISTAKES`. Without either, equals :func:`lstm_cell_grads`.
    """
    a = x @ W_x + h_prev @ W_h + b
    blk = dict(zip(order, np.split(a, 4, axis=1), strict=True))
    i, f, o = (sigmoid(blk[k]) for k in "ifo")
    g = np.tanh(blk["g"])
    c = f * c_prev + i * g
    tc = np.tanh(c)
    tanh_d = 1 - c ** 2 if mistake == "tanh_grad_of_c" else 1 - tc ** 2
    dct = (0 if mistake == "dc_ignored" else dc) + (
        0 if mistake == "h_path_missing" else dh * o * tanh_d)

    def sd(s):
        return 1.0 if mistake == "sigmoid_grad_missing" else s * (1 - s)

    da = {"i": dct * g * sd(i),
          "f": dct * (1.0 if mistake == "forget_no_c_prev" else c_prev) * sd(f),
          "g": dct * i * (g * (1 - g) if mistake == "g_sigmoid_grad" else 1 - g ** 2),
          "o": dh * (c if mistake == "o_grad_uses_c" else tc) * sd(o)}
    da = np.concatenate([da[k] for k in order], axis=1)
    return {"dx": da @ W_x.T, "dh_prev": da @ W_h.T,
            "dc_prev": dct if mistake == "dc_prev_missing_f" else dct * f,
            "dW_x": x.T @ da, "dW_h": h_prev.T @ da, "db": da.sum(axis=0)}


GRU_STEP_MISTAKES = {
    "flip_update": "the update convention is flipped (which of n and h_prev does z weight?)",
    "dz_sign": "the update gate's gradient has the wrong sign (look at which term z weights "
               "in h)",
    "direct_path_missing": "the direct path from h_prev to h (through z) is missing from "
                           "dh_prev",
    "reset_factor_missing": "the n block of the recurrent gradient ignores the reset gate "
                            "(look at where r enters n)",
    "reset_outside_product": "the reset gate applied on the wrong side of the product with "
                             "W_hn (look at where r enters n)",
    "dr_without_b_hn": "the reset gate's gradient leaves out part of what r multiplies in n",
    "dr_missing_ah": "the reset gate's gradient ignores what r multiplies in n",
    "db_x_with_r": "the reset gate applied to the input side of n (which part of n does r "
                   "touch?)",
}


def gru_step_grads(dh, x, h_prev, W_x, W_h, b_x, b_h, *, order: str = "rzn",
                   mistake: str = "") -> dict[str, np.ndarray]:
    """One GRU step's gradients written by hand (NumPy), as a learner would.

    ``order``: how the three fused blocks are read. ``mistake``: a key of
    :data:`GRU_STEP_MISTAKES`. Without either, equals :func:`gru_cell_grads`.
    """
    ax = dict(zip(order, np.split(x @ W_x + b_x, 3, axis=1), strict=True))
    ah = dict(zip(order, np.split(h_prev @ W_h + b_h, 3, axis=1), strict=True))
    Wh = dict(zip(order, np.split(W_h, 3, axis=1), strict=True))
    bh = dict(zip(order, np.split(b_h, 3), strict=True))
    r = sigmoid(ax["r"] + ah["r"])
    z = sigmoid(ax["z"] + ah["z"])
    n = np.tanh(ax["n"] + r * ah["n"])
    flip = mistake == "flip_update"
    dan = dh * (z if flip else 1 - z) * (1 - n ** 2)
    daz = dh * ((n - h_prev) if flip or mistake == "dz_sign" else (h_prev - n)) * z * (1 - z)
    ah_n = {"dr_without_b_hn": ah["n"] - bh["n"], "dr_missing_ah": 1.0}.get(mistake, ah["n"])
    dar = dan * ah_n * r * (1 - r)
    dax = {"r": dar, "z": daz, "n": dan * r if mistake == "db_x_with_r" else dan}
    dah = {"r": dar, "z": daz,
           "n": dan if mistake == "reset_factor_missing" else dan * r}
    dax = np.concatenate([dax[k] for k in order], axis=1)
    dah = np.concatenate([dah[k] for k in order], axis=1)
    direct = 0 if mistake == "direct_path_missing" else dh * ((1 - z) if flip else z)
    dh_prev = direct + dah @ W_h.T
    if mistake == "reset_outside_product":
        dh_prev = dh_prev - (dan * r) @ Wh["n"].T + (dan @ Wh["n"].T) * r
    return {"dx": dax @ W_x.T, "dh_prev": dh_prev, "dW_x": x.T @ dax, "dW_h": h_prev.T @ dah,
            "db_x": dax.sum(axis=0), "db_h": dah.sum(axis=0)}
