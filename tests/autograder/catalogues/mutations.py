"""The catalogues of wrong and of alternative correct implementations, and how to inject them.

A learner's notebook is simulated by taking the release notebook (exercises/) and replacing
each stub (``# YOUR CODE HERE`` / ``raise NotImplementedError()``) with the reference code of
that function from solutions/, except for one function, whose code comes from the catalogue.

An entry edits the reference code of one function: ``old`` -> ``new`` (a plain substring
replacement, ``old`` must occur), or replaces the whole body when ``old`` is None.
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[3]
STUB = re.compile(r"^([ \t]*)# YOUR CODE HERE\n[ \t]*raise NotImplementedError\(\)", re.M)
NAME = re.compile(r"^(?:def|class) (\w+)", re.M)
WORD = re.compile(r"\b\w+\b")


@dataclass(frozen=True)
class Variant:
    """One implementation of ``function`` in ``assignment``, as an edit of the reference.

    ``fails`` (alternatives): the tests it is expected to fail, and it must fail exactly those
    (an implementation whose values are right but which changes an argument in place loses
    that function's in-place test and nothing else); empty for full marks. ``names``
    (mutants): words one of its failing tests' messages must contain (the mistake named).
    """

    id: str
    assignment: str
    function: str
    old: str | None
    new: str
    fails: tuple[str, ...] = ()
    names: str = ""

    def body(self, reference: str) -> str:
        if self.old is None:
            return textwrap.dedent(self.new).strip("\n")
        if self.old not in reference:
            raise ValueError(f"{self.id}: {self.old!r} is not in the reference {self.function}")
        return reference.replace(self.old, self.new)


def solution_bodies(assignment: str) -> dict[str, str]:
    """Function or class name -> the code between its BEGIN/END SOLUTION markers, dedented."""
    nb = nbformat.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    bodies = {}
    for cell in nb.cells:
        if not cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            continue
        m = NAME.search(cell.source)
        lines = cell.source.splitlines()
        start = next(i for i, s in enumerate(lines) if "### BEGIN SOLUTION" in s)
        end = next(i for i, s in enumerate(lines) if "### END SOLUTION" in s)
        bodies[m.group(1)] = textwrap.dedent("\n".join(lines[start + 1:end]))
    return bodies


def learner_notebook(assignment: str, variant: Variant | Sequence[Variant] | None = None,
                     complete: bool = True) -> nbformat.NotebookNode:
    """The release notebook with every stub filled from the reference, except the variants'
    functions (one variant per function), whose code comes from the catalogue.

    With ``complete=False`` only the variants' functions are filled (the others stay stubs).
    """
    variants = [variant] if isinstance(variant, Variant) else list(variant or ())
    by_function = {v.function: v for v in variants}
    if len(by_function) != len(variants):
        raise ValueError(f"two variants of one function: {[v.id for v in variants]}")
    nb = nbformat.read(ROOT / "exercises" / assignment / f"{assignment}.ipynb", as_version=4)
    bodies = solution_bodies(assignment)
    for cell in nb.cells:
        if not cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            continue
        name = NAME.search(cell.source).group(1)
        if name in by_function:
            code = by_function[name].body(bodies[name])
        elif complete:
            code = bodies[name]
        else:
            continue
        cell.source = STUB.sub(lambda m, code=code: textwrap.indent(code, m.group(1)),
                               cell.source, count=1)
    return nb


def reach_of_tests(assignment: str) -> dict[str, frozenset[str]]:
    """Test cell grade_id -> the graded functions (and classes) its outcome depends on
    (``reach_in`` the solution notebook)."""
    nb = nbformat.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    return reach_in(nb, solution_bodies(assignment))


def reach_in(nb: nbformat.NotebookNode, bodies: dict[str, str]) -> dict[str, frozenset[str]]:
    """Test cell grade_id -> the functions of ``bodies`` (name -> reference code) its outcome
    depends on.

    A test reaches the functions its source names (hidden tests included); the functions
    behind the variables it reads from earlier cells (a test of ``sample`` that reads a
    ``model`` an earlier cell trained reaches ``train``); and, through the reference code,
    every function those call (a test of ``rnn_forward`` reaches ``rnn_cell_forward`` too,
    since the learner's ``rnn_forward`` calls the learner's cell).
    """
    def named(source: str) -> set[str]:
        return bodies.keys() & set(WORD.findall(source))

    calls = {name: named(body) - {name} for name, body in bodies.items()}
    made: dict[str, set[str]] = {}  # variable -> the functions behind its value
    reach = {}
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type != "code" or meta.get("solution"):
            continue
        reads, writes = _free_and_assigned(cell.source)
        found, todo = set(), named(cell.source).union(*(made.get(v, ()) for v in reads))
        while todo:
            name = todo.pop()
            found.add(name)
            todo |= calls[name] - found
        made.update(dict.fromkeys(writes, found))
        if meta.get("grade"):
            reach[meta["grade_id"]] = frozenset(found)
    return reach


def _free_and_assigned(source: str) -> tuple[set[str], set[str]]:
    """The names a cell reads before it assigns them (from earlier cells), and the names it
    assigns. A line that both assigns and reads a name reads it first (``x = x + 1``); a cell
    that is not plain Python reads every word in it."""
    code = re.sub(r"^[ \t]*[%!].*$", "", source, flags=re.M)  # IPython magics and shell lines
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set(WORD.findall(source)), set()
    first_write: dict[str, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            first_write[node.id] = min(node.lineno, first_write.get(node.id, node.lineno))
    reads = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)
             and isinstance(node.ctx, ast.Load)
             and node.lineno <= first_write.get(node.id, node.lineno)}
    return reads, set(first_write)


V = Variant

# --------------------------------------------------------------------------------------------
# Wrong implementations: every one must lose points.
# --------------------------------------------------------------------------------------------
MUTANTS = [
    # rnn_forward
    V("rnn_cell_tanh_missing", "rnn_forward", "rnn_cell_forward",
      "np.tanh(x @ W_xh + h_prev @ W_hh + b_h)", "x @ W_xh + h_prev @ W_hh + b_h"),
    V("rnn_cell_W_hh_transposed", "rnn_forward", "rnn_cell_forward",
      "h_prev @ W_hh", "h_prev @ W_hh.T"),
    V("rnn_cell_bias_twice", "rnn_forward", "rnn_cell_forward", "+ b_h)", "+ 2 * b_h)"),
    V("rnn_cell_sigmoid_for_tanh", "rnn_forward", "rnn_cell_forward",
      "np.tanh(x @ W_xh + h_prev @ W_hh + b_h)",
      "1 / (1 + np.exp(-(x @ W_xh + h_prev @ W_hh + b_h)))"),
    V("rnn_cell_tanh_exponential_form", "rnn_forward", "rnn_cell_forward",
      "return np.tanh(x @ W_xh + h_prev @ W_hh + b_h)",
      "a = x @ W_xh + h_prev @ W_hh + b_h\n"
      "return (np.exp(a) - np.exp(-a)) / (np.exp(a) + np.exp(-a))",
      names="overflows beyond about 710"),
    V("rnn_h_prev_not_carried", "rnn_forward", "rnn_forward",
      "h = rnn_cell_forward(x, h,", "h = rnn_cell_forward(x, h0,"),
    V("rnn_returns_h0_to_hT-1", "rnn_forward", "rnn_forward", None, """
h = h0
Hs = []
for x in X:
    Hs.append(h)
    h = rnn_cell_forward(x, h, W_xh, W_hh, b_h)
return np.stack(Hs)
"""),
    V("rnn_returns_last_state_only", "rnn_forward", "rnn_forward",
      "return np.stack(Hs)", "return h"),
    V("rnn_h0_ignored", "rnn_forward", "rnn_forward", "h = h0", "h = np.zeros_like(h0)"),
    V("rnn_batch_first_output", "rnn_forward", "rnn_forward",
      "return np.stack(Hs)", "return np.stack(Hs, axis=1)"),
    V("rnn_float32_output", "rnn_forward", "rnn_forward",
      "return np.stack(Hs)", "return np.stack(Hs).astype(np.float32)"),
    # lstm_forward
    V("lstm_gate_order_ifog", "lstm_forward", "lstm_cell_forward", None, """
H = h_prev.shape[1]
a = x @ W_x + h_prev @ W_h + b
i, f = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H])
o, g = sigmoid(a[:, 2 * H:3 * H]), np.tanh(a[:, 3 * H:])
c = f * c_prev + i * g
return o * np.tanh(c), c
"""),
    V("lstm_sigmoid_for_g", "lstm_forward", "lstm_cell_forward",
      "g = np.tanh(a[:, 2 * H:3 * H])", "g = sigmoid(a[:, 2 * H:3 * H])"),
    V("lstm_h_from_c_prev", "lstm_forward", "lstm_cell_forward",
      "h = o * np.tanh(c)", "h = o * np.tanh(c_prev)"),
    V("lstm_returns_c_h", "lstm_forward", "lstm_cell_forward", "return h, c", "return c, h"),
    V("lstm_cell_tanh_exponential_form", "lstm_forward", "lstm_cell_forward", None, """
def tanh(v):
    return (np.exp(v) - np.exp(-v)) / (np.exp(v) + np.exp(-v))
H = h_prev.shape[1]
a = x @ W_x + h_prev @ W_h + b
i, f, o = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H]), sigmoid(a[:, 3 * H:])
c = f * c_prev + i * tanh(a[:, 2 * H:3 * H])
return o * tanh(c), c
""", names="overflows beyond about 710"),
    V("sigmoid_exponential_form", "lstm_forward", "sigmoid",
      "return 1.0 / (1.0 + np.exp(-z))", "return np.exp(z) / (1.0 + np.exp(z))",
      names="overflow"),
    V("lstm_cell_state_not_carried", "lstm_forward", "lstm_forward",
      "h, c = lstm_cell_forward(x, h, c,", "h, c = lstm_cell_forward(x, h, c0,"),
    V("lstm_returns_c0", "lstm_forward", "lstm_forward",
      "return np.stack(Hs), c", "return np.stack(Hs), c0"),
    # gru_forward
    V("gru_update_flipped", "gru_forward", "gru_cell_forward",
      "return (1 - z) * n + z * h_prev", "return z * n + (1 - z) * h_prev"),
    V("gru_cho_reset", "gru_forward", "gru_cell_forward",
      "n = np.tanh(ax[:, 2 * H:] + r * ah[:, 2 * H:])",
      "n = np.tanh(ax[:, 2 * H:] + (r * h_prev) @ W_h[:, 2 * H:] + b_h[2 * H:])"),
    V("gru_gate_order_zrn", "gru_forward", "gru_cell_forward",
      "z = sigmoid(ax[:, H:2 * H] + ah[:, H:2 * H])",
      "z = r\nr = sigmoid(ax[:, H:2 * H] + ah[:, H:2 * H])"),
    V("gru_cell_tanh_exponential_form", "gru_forward", "gru_cell_forward",
      "n = np.tanh(ax[:, 2 * H:] + r * ah[:, 2 * H:])",
      "a_n = ax[:, 2 * H:] + r * ah[:, 2 * H:]\n"
      "n = (np.exp(a_n) - np.exp(-a_n)) / (np.exp(a_n) + np.exp(-a_n))",
      names="overflows beyond about 710"),
    V("gru_h_prev_not_carried", "gru_forward", "gru_forward",
      "h = gru_cell_forward(x, h,", "h = gru_cell_forward(x, h0,"),
    V("sigmoid_tanh_instead", "gru_forward", "sigmoid",
      "return 1.0 / (1.0 + np.exp(-z))", "return np.tanh(z)"),
    # bptt
    V("bptt_rnn_forward_ignores_h0", "bptt", "rnn_forward",
      "h = h0", "h = np.zeros_like(h0)"),
    V("rnn_backward_dh_next_not_accumulated", "bptt", "rnn_backward",
      "da = (dHs[t] + dh_next)", "da = (dHs[t])"),
    V("rnn_backward_tanh_grad_at_h_prev", "bptt", "rnn_backward",
      "* (1 - Hs[t] ** 2)", "* (1 - h_prev ** 2)"),
    V("rnn_backward_dW_hh_uses_h_t", "bptt", "rnn_backward",
      "dW_hh += h_prev.T @ da", "dW_hh += Hs[t].T @ da"),
    V("rnn_backward_db_mean_over_batch", "bptt", "rnn_backward",
      "db_h += da.sum(axis=0)", "db_h += da.mean(axis=0)"),
    V("rnn_backward_dW_hh_assigned_not_accumulated", "bptt", "rnn_backward",
      "dW_hh += h_prev.T @ da", "dW_hh = h_prev.T @ da"),
    V("numerical_gradient_forward_difference", "bptt", "numerical_gradient",
      "x[i] = old - eps\n    f_minus = f(x)", "x[i] = old\n    f_minus = f(x)"),
    V("numerical_gradient_x_not_restored", "bptt", "numerical_gradient",
      "    x[i] = old\n    grad[i]", "    grad[i]"),
    V("clip_per_tensor", "bptt", "clip_grad_norm", None, """
out = {}
total_norm = float(np.sqrt(sum(np.sum(g ** 2) for g in grads.values())))
for k, g in grads.items():
    out[k] = g * min(1.0, max_norm / (np.linalg.norm(g) + 1e-6))
return out, total_norm
"""),
    V("clip_always_rescales", "bptt", "clip_grad_norm",
      "scale = min(1.0, max_norm / (total_norm + 1e-6))",
      "scale = max_norm / (total_norm + 1e-6)"),
    V("clip_total_norm_squared", "bptt", "clip_grad_norm",
      "total_norm = float(np.sqrt(sum(", "total_norm = float((sum("),
    V("clip_in_place", "bptt", "clip_grad_norm",
      "return {k: g * scale for k, g in grads.items()}, total_norm",
      "for g in grads.values():\n    g *= scale\nreturn grads, total_norm"),
    V("tbptt_state_reset_each_chunk", "bptt", "train_tbptt",
      "        Xc, Yc = X[s:s + k], Y[s:s + k]",
      "        h = np.zeros((B, H))\n        Xc, Yc = X[s:s + k], Y[s:s + k]"),
    V("tbptt_no_clipping", "bptt", "train_tbptt",
      "grads, _ = clip_grad_norm(grads, max_norm)", "pass"),
    V("tbptt_loss_summed", "bptt", "train_tbptt",
      "dY = 2 * diff / diff.size", "dY = 2 * diff"),
]

# --------------------------------------------------------------------------------------------
# Alternative correct implementations: every one must get full marks.
# --------------------------------------------------------------------------------------------
ALTERNATIVES = [
    V("rnn_cell_einsum", "rnn_forward", "rnn_cell_forward", None, """
return np.tanh(np.einsum("bd,dh->bh", x, W_xh) + np.einsum("bk,kh->bh", h_prev, W_hh) + b_h)
"""),
    V("rnn_cell_tanh_from_exp", "rnn_forward", "rnn_cell_forward", None, """
a = x @ W_xh + h_prev @ W_hh + b_h
e = np.exp(-2 * np.abs(a))  # stable: never overflows
return np.sign(a) * (1 - e) / (1 + e)
"""),
    V("rnn_forward_preallocated_inline", "rnn_forward", "rnn_forward", None, """
T, B, _ = X.shape
Hs = np.empty((T, B, W_hh.shape[0]))
h = h0
for t in range(T):
    h = np.tanh(X[t] @ W_xh + h @ W_hh + b_h)
    Hs[t] = h
return Hs
"""),
    V("rnn_forward_input_projection_first", "rnn_forward", "rnn_forward", None, """
XW = X @ W_xh + b_h  # (T, B, H): every input projection at once
Hs = np.zeros(XW.shape)
h = h0
for t in range(X.shape[0]):
    h = np.tanh(XW[t] + h @ W_hh)
    Hs[t] = h
return Hs
"""),
    V("sigmoid_via_tanh", "lstm_forward", "sigmoid", None, "return 0.5 * (1 + np.tanh(z / 2))"),
    V("lstm_cell_split_gates", "lstm_forward", "lstm_cell_forward", None, """
a = x @ W_x + h_prev @ W_h + b
ai, af, ag, ao = np.split(a, 4, axis=1)
c = sigmoid(af) * c_prev + sigmoid(ai) * np.tanh(ag)
return sigmoid(ao) * np.tanh(c), c
"""),
    V("lstm_forward_preallocated", "lstm_forward", "lstm_forward", None, """
Hs = np.zeros((X.shape[0],) + h0.shape)
h, c = h0.copy(), c0.copy()
for t in range(X.shape[0]):
    h, c = lstm_cell_forward(X[t], h, c, W_x, W_h, b)
    Hs[t] = h
return Hs, c
"""),
    V("gru_cell_separate_matmuls", "gru_forward", "gru_cell_forward", None, """
H = h_prev.shape[1]
r_, z_, n_ = slice(0, H), slice(H, 2 * H), slice(2 * H, 3 * H)
r = sigmoid(x @ W_x[:, r_] + b_x[r_] + h_prev @ W_h[:, r_] + b_h[r_])
z = sigmoid(x @ W_x[:, z_] + b_x[z_] + h_prev @ W_h[:, z_] + b_h[z_])
n = np.tanh(x @ W_x[:, n_] + b_x[n_] + r * (h_prev @ W_h[:, n_] + b_h[n_]))
return n + z * (h_prev - n)
"""),
    V("sigmoid_scipy_expit", "gru_forward", "sigmoid", None, """
from scipy.special import expit
return expit(z)
"""),
    V("gru_forward_list_comprehension_free", "gru_forward", "gru_forward", None, """
out = np.empty((X.shape[0], X.shape[1], h0.shape[1]))
h = h0
for t, x in enumerate(X):
    out[t] = h = gru_cell_forward(x, h, W_x, W_h, b_x, b_h)
return out
"""),
    V("rnn_backward_einsum_after_loop", "bptt", "rnn_backward", None, """
Hs = rnn_forward(X, h0, W_xh, W_hh, b_h)
H_prev = np.concatenate([h0[None], Hs[:-1]])  # (T, B, H): h_0 .. h_{T-1}
dA = np.zeros_like(Hs)
dh = np.zeros_like(h0)
for t in range(X.shape[0] - 1, -1, -1):
    dA[t] = (dHs[t] + dh) * (1 - Hs[t] ** 2)
    dh = dA[t] @ W_hh.T
return {"dX": dA @ W_xh.T, "dh0": dh,
        "dW_xh": np.einsum("tbd,tbh->dh", X, dA),
        "dW_hh": np.einsum("tbk,tbh->kh", H_prev, dA),
        "db_h": dA.sum(axis=(0, 1))}
"""),
    V("numerical_gradient_on_copies", "bptt", "numerical_gradient", None, """
grad = np.zeros(x.shape)
flat = grad.reshape(-1)
for j in range(x.size):
    e = np.zeros(x.size)
    e[j] = eps
    e = e.reshape(x.shape)
    flat[j] = (f(x + e) - f(x - e)) / (2 * eps)
return grad
"""),
    V("clip_if_above_without_epsilon", "bptt", "clip_grad_norm", None, """
total_norm = float(np.linalg.norm(np.concatenate([g.ravel() for g in grads.values()])))
if total_norm > max_norm:
    return {k: g * (max_norm / total_norm) for k, g in grads.items()}, total_norm
return {k: g.copy() for k, g in grads.items()}, total_norm
"""),
    V("tbptt_tensordot_readout", "bptt", "train_tbptt",
      'np.einsum("tbh,tbv->hv", Hs, dY)',
      "np.tensordot(Hs, dY, axes=([0, 1], [0, 1]))"),
]


def _catalogue_modules() -> list:
    """Each ``variants_<assignment>.py`` beside this file adds its MUTANTS and ALTERNATIVES."""
    import importlib

    here = Path(__file__).parent
    return [importlib.import_module(f"{__package__}.{p.stem}")
            for p in sorted(here.glob("variants_*.py"))]


for _module in _catalogue_modules():
    MUTANTS += _module.MUTANTS
    ALTERNATIVES += _module.ALTERNATIVES
