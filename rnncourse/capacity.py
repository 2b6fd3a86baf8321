"""Memory capacity on the copy task: how long a sequence each kind of model learns to copy.

The study of the attention page (issue 21) trains three models that differ only in how they
carry the past, the *mixer*, and finds for each state size ``H`` the longest length ``n`` that
it learns to copy:

- ``"lstm"``: an LSTM with ``H`` units (its state ``h_t, c_t`` is ``2H`` numbers);
- ``"mingru"``: a minGRU (Feng et al. 2024), ``h_t = (1 - z_t) * h_{t-1} + z_t * h~_t`` with
  ``z_t = sigmoid(x_t W_z + b_z)`` and ``h~_t = x_t W_h + b_h`` (its state is ``H`` numbers);
- ``"attention"``: one causal self-attention layer of width ``H`` (its state, the key-value
  cache, grows by ``2H`` numbers per step).

Around the mixer every model is the same: a linear embedding of the one-hot input plus a learned
position vector (width ``H``), the mixer, a residual connection, and a two-layer read-out.

- :func:`copy_batch`: sequences of the copy task, ``X (2n, B, A + 1)``, targets ``(n, B)``.
- :class:`GroupCopier`: ``G`` independent models of one kind, one per (state size, seed), in
  one module: their parameters carry a leading group axis and a smaller model is a larger one
  whose extra units are zero and stay zero (:meth:`GroupCopier.apply_masks`), so one step of the
  loop trains every size and seed at once.
- :func:`fit_length`: train a :class:`GroupCopier` at one length until every group still in
  the race is solved or has flattened (or a step budget runs out).
- :func:`sweep_lengths`: the lengths of a grid in turn, from the weights reached at the previous
  one, until every group has failed one.
- :func:`longest_solved`: from which stage results, the longest length each group solved.

Every tensor is time-major with the group axis after time: inputs ``(T, G, B, A + 1)``, mixer
outputs ``(T, G, B, H)``, logits ``(n, G, B, A)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rnncourse.studies import clip_per_seed, plateaued

KINDS = ("lstm", "mingru", "attention")
READOUT = 4  # the read-out's hidden layer is READOUT * H wide


def copy_batch(n: int, A: int, B: int, rng: np.random.Generator) -> tuple[torch.Tensor,
                                                                          torch.Tensor]:
    """``B`` copy sequences of ``n`` symbols out of ``A``: inputs ``X`` and targets ``y``.

    ``X`` ``(2n, B, A + 1)`` is one-hot: the ``n`` symbols, then the delimiter (feature ``A``)
    at step ``n``, then ``n - 1`` empty steps. ``y`` ``(n, B)``: ``y[j]`` is the symbol read at
    step ``j``, to be output at step ``n + j``.
    """
    if n < 1 or A < 2:
        raise ValueError(f"The copy task needs n >= 1 symbols out of A >= 2; got n={n}, A={A}.")
    symbols = rng.integers(0, A, size=(n, B))
    X = np.zeros((2 * n, B, A + 1), dtype=np.float32)
    X[np.arange(n)[:, None], np.arange(B), symbols] = 1.0
    X[n, :, A] = 1.0
    return torch.from_numpy(X), torch.from_numpy(symbols)


def _uniform(shape: tuple[int, ...], fan_in: int, g: torch.Generator) -> torch.Tensor:
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)), the initialisation of ``torch.nn.Linear``."""
    return (torch.rand(shape, generator=g) * 2 - 1) / math.sqrt(fan_in)


def _shapes(kind: str, A: int, H: int, t_max: int) -> dict[str, tuple[tuple[int, ...], int]]:
    """Each parameter of one model of state size ``H``: its shape and its fan-in (0: positions).

    The order is the order of the draws, the same for every size.
    """
    F_ = READOUT * H
    mixer = {
        "lstm": {"W_x": ((H, 4 * H), H), "W_h": ((H, 4 * H), H), "b": ((4 * H,), H)},
        "mingru": {"W_z": ((H, H), H), "b_z": ((H,), H), "W_h": ((H, H), H), "b_h": ((H,), H)},
        "attention": {"W_q": ((H, H), H), "W_k": ((H, H), H), "W_v": ((H, H), H)},
    }[kind]
    return {"W_e": ((A + 1, H), A + 1), "P": ((t_max, H), 0), **mixer,
            "W_1": ((H, F_), H), "b_1": ((F_,), H), "W_2": ((F_, A), F_), "b_2": ((A,), F_)}


class GroupCopier(nn.Module):
    """``G`` independent copy models of one ``kind``: ``X (T, G, B, A + 1)`` to logits.

    Group ``g`` has state size ``sizes[g]`` and draws its initial weights from
    ``torch.Generator().manual_seed(seeds[g])`` at its own size, in the same order for every
    size, so its weights do not depend on the other groups. They are stored zero-padded to
    ``H_max = max(sizes)``; :meth:`apply_masks` keeps the padding zero, and a padded unit then
    stays exactly zero, so group ``g`` computes what a model of size ``sizes[g]`` alone would.
    Initialisation: every matrix and bias ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` as
    ``torch.nn.Linear``, the position vectors ``P`` ``(t_max, H)`` from N(0, 1).

    Parameters (each with the group axis first): ``W_e (A + 1, H)`` and ``P (t_max, H)``; the
    mixer's (``lstm``: ``W_x, W_h (H, 4H)``, ``b (4H,)``, gates ``i, f, g, o``; ``mingru``:
    ``W_z, W_h (H, H)``, ``b_z, b_h (H,)``; ``attention``: ``W_q, W_k, W_v (H, H)``); the
    read-out's ``W_1 (H, 4H)``, ``b_1 (4H,)``, ``W_2 (4H, A)``, ``b_2 (A,)``.
    """

    def __init__(self, kind: str, A: int, sizes: Sequence[int], seeds: Sequence[int],
                 t_max: int) -> None:
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}; got {kind!r}.")
        if len(sizes) != len(seeds) or not sizes:
            raise ValueError(f"Give one seed per size (at least one of each); got {len(sizes)} "
                             f"sizes and {len(seeds)} seeds.")
        if min(sizes) < 1:
            raise ValueError(f"State sizes must be >= 1; got {list(sizes)}.")
        self.kind, self.A, self.t_max = kind, A, t_max
        self.sizes, self.seeds = [int(h) for h in sizes], [int(s) for s in seeds]
        self.G, self.H = len(sizes), max(self.sizes)
        full = _shapes(kind, A, self.H, t_max)
        draws: dict[str, list[torch.Tensor]] = {name: [] for name in full}
        masks: dict[str, list[torch.Tensor]] = {name: [] for name in full}
        for h, seed in zip(self.sizes, self.seeds, strict=True):
            g = torch.Generator().manual_seed(seed)
            for name, (shape, fan_in) in _shapes(kind, A, h, t_max).items():
                t = torch.randn(shape, generator=g) if fan_in == 0 else _uniform(shape, fan_in, g)
                draws[name].append(self._embed(name, t, full[name][0], h))
                masks[name].append(self._embed(name, torch.ones(shape), full[name][0], h))
        for name in full:
            setattr(self, name, nn.Parameter(torch.stack(draws[name])))
            self.register_buffer(f"mask_{name}", torch.stack(masks[name]))
        self.register_buffer("scale", torch.tensor([1 / math.sqrt(h) for h in self.sizes]))

    def _embed(self, name: str, t: torch.Tensor, shape: tuple[int, ...], h: int) -> torch.Tensor:
        """Parameter ``t`` of a model of size ``h`` placed in a zero tensor of ``shape``."""
        out = torch.zeros(shape)
        if self.kind == "lstm" and name in ("W_x", "W_h", "b"):  # gate k of unit u: k*H + u
            rows = (slice(0, t.shape[0]),) if t.dim() == 2 else ()
            for k in range(4):
                out[(*rows, slice(k * self.H, k * self.H + h))] = t[..., k * h: (k + 1) * h]
            return out
        out[tuple(slice(0, s) for s in t.shape)] = t
        return out

    @torch.no_grad()
    def apply_masks(self) -> None:
        """Zero every padded entry again (call after each optimiser step)."""
        for name, p in self.named_parameters():
            p.mul_(getattr(self, f"mask_{name}"))

    def embed(self, X: torch.Tensor) -> torch.Tensor:
        """``E = X W_e + P_t``: inputs ``(T, G, B, A + 1)`` to ``(T, G, B, H)``."""
        T = X.shape[0]
        if T > self.t_max:
            raise ValueError(f"Sequences of {T} steps exceed the model's t_max={self.t_max}; "
                             "build it with a larger t_max.")
        return torch.einsum("tgba,gah->tgbh", X, self.W_e) + self.P[:, :T].transpose(0, 1)[:, :,
                                                                                            None]

    def mix(self, E: torch.Tensor) -> torch.Tensor:
        """The mixer's outputs ``(T, G, B, H)``: each depends on ``E`` up to its own step."""
        if self.kind == "attention":
            return self._attention(E)
        T, G, B, H = E.shape
        h = E.new_zeros(G, B, H)
        outs = []
        if self.kind == "lstm":
            Ax = torch.einsum("tgbh,ghk->tgbk", E, self.W_x) + self.b[:, None]  # (T, G, B, 4H)
            c = E.new_zeros(G, B, H)
            for t in range(T):
                a = Ax[t] + torch.bmm(h, self.W_h)  # (G, B, 4H)
                i, f, g, o = a.split(H, dim=-1)
                c = f.sigmoid() * c + i.sigmoid() * g.tanh()
                h = o.sigmoid() * c.tanh()
                outs.append(h)
        else:  # minGRU: the gate and the candidate depend on the input only
            z = (torch.einsum("tgbh,ghk->tgbk", E, self.W_z) + self.b_z[:, None]).sigmoid()
            h_tilde = torch.einsum("tgbh,ghk->tgbk", E, self.W_h) + self.b_h[:, None]
            for t in range(T):
                h = (1 - z[t]) * h + z[t] * h_tilde[t]
                outs.append(h)
        return torch.stack(outs)

    def _attention(self, E: torch.Tensor) -> torch.Tensor:
        """Causal scaled dot-product self-attention of each group, ``1/sqrt(H_g)`` scaling."""
        T = E.shape[0]
        Q, K, V = (torch.einsum("tgbh,ghk->tgbk", E, W) for W in (self.W_q, self.W_k, self.W_v))
        S = torch.einsum("tgbk,sgbk->gbts", Q, K) * self.scale[:, None, None, None]
        future = torch.ones(T, T, dtype=torch.bool, device=E.device).triu(diagonal=1)
        P = torch.softmax(S.masked_fill(future, -math.inf), dim=-1)  # (G, B, T, T)
        return torch.einsum("gbts,sgbv->tgbv", P, V)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Logits ``(n, G, B, A)`` of the ``n`` output steps of ``X`` ``(2n, G, B, A + 1)``."""
        E = self.embed(X)
        R = (E + self.mix(E))[X.shape[0] // 2:]  # residual, output steps only: (n, G, B, H)
        hidden = F.relu(torch.einsum("tgbh,ghf->tgbf", R, self.W_1) + self.b_1[:, None])
        return torch.einsum("tgbf,gfa->tgba", hidden, self.W_2) + self.b_2[:, None]

    def state_numbers(self, t: int) -> list[int]:
        """How many numbers each group's state holds after ``t`` steps."""
        per = {"lstm": lambda h: 2 * h, "mingru": lambda h: h, "attention": lambda h: 2 * t * h}
        return [per[self.kind](h) for h in self.sizes]


@torch.no_grad()
def group_accuracy(model: GroupCopier, X: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """Each group's accuracy ``(G,)`` on one test set ``X (2n, B, A + 1)``, ``y (n, B)``."""
    logits = model(X[:, None].expand(-1, model.G, -1, -1))  # (n, G, B, A)
    return (logits.argmax(-1) == y[:, None]).float().mean(dim=(0, 2)).numpy()


@dataclass
class Stopping:
    """When :func:`fit_length` stops a group: solved, flattened, or out of budget.

    A group is *solved* once its held-out accuracy reaches ``solved``, *flat* once its best
    accuracy so far improved by less than ``tol`` over the last ``window`` evaluations (one
    every ``eval_every`` steps); the stage ends when every group still in the race is one or
    the other, or after ``max_steps``.
    """

    solved: float = 0.99
    window: int = 6
    tol: float = 0.01
    eval_every: int = 50
    max_steps: int = 3000


@dataclass
class Stage:
    """One length of a sweep: accuracies ``acc`` ``(evaluations, G)``, one every ``eval_every``
    steps; how each group stopped (``solved``, ``flat``, ``budget``, or ``skipped`` if it was
    out of the race) and after how many steps."""

    n: int
    acc: np.ndarray
    stopped: list[str]
    steps: list[int]
    eval_every: int

    @property
    def final(self) -> np.ndarray:
        """``(G,)``: each group's accuracy at the evaluation where it stopped (NaN: skipped)."""
        return np.array([self.acc[k // self.eval_every - 1, g] if k else np.nan
                         for g, k in enumerate(self.steps)])

    @property
    def solved(self) -> np.ndarray:
        """``(G,)`` bool: which groups solved this length."""
        return np.array([s == "solved" for s in self.stopped])


def fit_length(model: GroupCopier, n: int, lr: float, B: int, stop: Stopping,
               test: tuple[torch.Tensor, torch.Tensor], rng: np.random.Generator,
               active: np.ndarray | None = None, clip: float = 1.0) -> Stage:
    """Train every group of ``model`` to copy ``n`` symbols; the stage's record.

    Each step draws a fresh batch of ``B`` sequences per group (``(2n, G, B, A + 1)``), sums
    the groups' mean cross-entropies (each group gets its own gradient), clips each group's
    gradient norm to ``clip`` and takes one Adam step. Every ``stop.eval_every`` steps each
    group is scored on ``test``; a group in ``active`` (default: all) stops when solved or
    flat, and the stage ends when all of them have. Groups that stopped keep training (their
    record is the one at their stop): the weights reached are where the next length starts.
    """
    G = model.G
    active = np.ones(G, bool) if active is None else np.asarray(active, bool)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    acc: list[np.ndarray] = []
    stopped = ["" if a else "skipped" for a in active]
    steps = [0] * G
    for i in range(1, stop.max_steps + 1):
        X, y = copy_batch(n, model.A, G * B, rng)
        X, y = X.view(2 * n, G, B, -1), y.view(n, G, B)
        logits = model(X)  # (n, G, B, A)
        ce = F.cross_entropy(logits.permute(0, 3, 1, 2), y, reduction="none").mean(dim=(0, 2))
        opt.zero_grad()
        ce.sum().backward()
        clip_per_seed(list(model.parameters()), clip)
        opt.step()
        model.apply_masks()
        if i % stop.eval_every:
            continue
        acc.append(group_accuracy(model, *test))
        curve = np.stack(acc)  # (evaluations, G)
        for g in np.flatnonzero([s == "" for s in stopped]):
            if curve[-1, g] >= stop.solved:
                stopped[g], steps[g] = "solved", i
            elif len(curve) > stop.window and plateaued(-curve[:, g], stop.window, stop.tol):
                stopped[g], steps[g] = "flat", i
        if "" not in stopped:
            break
    for g in np.flatnonzero([s == "" for s in stopped]):
        stopped[g], steps[g] = "budget", i
    return Stage(n, np.stack(acc), stopped, steps, stop.eval_every)


def sweep_lengths(model: GroupCopier, lengths: Sequence[int], lr: float, B: int,
                  stop: Stopping, tests: dict[int, tuple[torch.Tensor, torch.Tensor]],
                  rng: np.random.Generator, clip: float = 1.0) -> list[Stage]:
    """:func:`fit_length` at each length of ``lengths`` (increasing) in turn; the stages.

    Each length starts from the weights reached at the previous one (a curriculum), and only
    the groups that solved every shorter length are in its race; the sweep ends after the
    first length that no group solves. ``tests[n]`` is the held-out set of length ``n``;
    ``clip`` is each group's gradient-norm bound.
    """
    if list(lengths) != sorted(set(lengths)):
        raise ValueError(f"lengths must increase; got {list(lengths)}.")
    alive = np.ones(model.G, bool)
    stages = []
    for n in lengths:
        stages.append(fit_length(model, n, lr, B, stop, tests[n], rng, active=alive, clip=clip))
        alive &= stages[-1].solved
        if not alive.any():
            break
    return stages


def longest_solved(stages: Sequence[Stage]) -> np.ndarray:
    """``(G,)``: for each group, the longest length of ``stages`` it solved, having solved
    every shorter one (0 if it solved none)."""
    if not stages:
        raise ValueError("No stages: run sweep_lengths first.")
    best = np.zeros(len(stages[0].stopped), dtype=int)
    alive = np.ones_like(best, dtype=bool)
    for stage in stages:
        alive &= stage.solved
        best[alive] = stage.n
    return best
