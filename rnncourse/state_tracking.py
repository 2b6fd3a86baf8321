"""What a recurrent state can track: modular counting, and models trained on several seeds at once.

The task (:func:`modular_count_batch`): a stream of bits, and at every step the number of ones
seen so far modulo ``m`` (parity when ``m = 2``). Three models read it, each a recurrence of
``H`` units per seed followed by the same position-wise read-out (:class:`SeedReadout`):

- ``"gru"`` (:class:`SeedGRU`): a GRU, whose gates and candidate read ``h_{t-1}``, so the map
  ``h_{t-1} -> h_t`` is nonlinear;
- ``"mingru"`` (:class:`SeedMinGRU`): a diagonal linear recurrence
  ``h_t = a_t * h_{t-1} + b_t`` with ``a_t = 1 - z_t`` in (0, 1), ``b_t = z_t * h~_t``, the gate
  ``z_t`` and the candidate ``h~_t`` functions of ``x_t`` only (minGRU, Feng et al. 2024);
- ``"mingru_neg"``: the same with ``a_t = 1 - 2 z_t`` in (-1, 1), the range Grazzi et al. (2024)
  give Mamba and DeltaNet so that a transition can flip the sign of the state.

A study compares them over ``S`` seeds. Every model here carries the seed axis itself and the
``S`` copies never interact: a tensor is ``(T, S, B, ...)`` (time-major, seed axis after
time), seed ``s`` draws its initial weights from ``torch.Generator().manual_seed(seeds[s])``
whatever the other seeds, and the loss is the sum of the per-seed losses, so each seed's
gradient is its own and Adam (elementwise) trains each as if it were alone.
:func:`fit_seeds` trains until every seed has solved its training length or flattened;
:func:`accuracy_by_length` measures each seed's accuracy at every step of longer sequences.

Used by ``book/beyond/linear_scan.md``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rnncourse.studies import plateaued

D_IN = 2  # one-hot bit: channel 0 for a 0, channel 1 for a 1
KINDS = ("gru", "mingru", "mingru_neg")


def modular_count_batch(
    T: int, S: int, B: int, m: int, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of the counting task: ``X`` ``(T, S, B, 2)`` float32, ``y`` ``(T, S, B)`` int64.

    ``X[t, s, b]`` is the one-hot code of a fair random bit; ``y[t, s, b]`` is the number of ones
    among steps ``0..t`` modulo ``m``. Every seed gets its own sequences.
    """
    if T < 1 or S < 1 or B < 1:
        raise ValueError(f"need T, S, B >= 1, got T={T}, S={S}, B={B}")
    if m < 2:
        raise ValueError(f"counting modulo m needs m >= 2 (m = 2 is parity), got m={m}")
    bits = rng.integers(0, 2, size=(T, S, B))
    X = np.eye(D_IN, dtype=np.float32)[bits]  # (T, S, B, 2)
    y = np.cumsum(bits, axis=0) % m
    return torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))


def _uniform(g: torch.Generator, bound: float, *shape: int) -> torch.Tensor:
    """U(-bound, bound) of ``shape`` from ``g``: ``torch.nn``'s default for its layers."""
    return (torch.rand(*shape, generator=g) * 2 - 1) * bound


def _generators(seeds: Sequence[int]) -> list[torch.Generator]:
    if not seeds:
        raise ValueError("a study needs at least one seed; pass seeds=[0, 1, 2], say.")
    return [torch.Generator().manual_seed(int(s)) for s in seeds]


class SeedGRU(nn.Module):
    """``S`` independent GRUs of ``H`` units: ``X`` ``(T, S, B, D)`` to ``Hs`` ``(T, S, B, H)``.

    One ``torch.nn.GRU`` of ``S * H`` units runs all seeds (its C++ loop is much faster than a
    Python one). Its weights are block diagonal: seed ``s``'s units read only seed ``s``'s
    input channels and seed ``s``'s units. A gradient hook multiplies each weight's gradient
    by the block mask, so the blocks off the diagonal start at zero and stay there under Adam
    (zero gradients leave them unchanged). Seed ``s``'s blocks are drawn as a GRU of ``H``
    units would be, U(-1/sqrt(H), 1/sqrt(H)), gate order r, z, n.
    """

    def __init__(self, D: int, H: int, seeds: Sequence[int]) -> None:
        super().__init__()
        gens = _generators(seeds)
        self.S, self.D, self.H = len(gens), D, H
        S, k = self.S, 1.0 / math.sqrt(H)
        self.gru = nn.GRU(S * D, S * H)  # time-major (T, B, S * D)
        owner_in = torch.arange(S).repeat_interleave(D)  # seed of each input channel
        owner_h = torch.arange(S).repeat_interleave(H)  # seed of each unit
        owner_row = owner_h.repeat(3)  # rows: gates r, z, n, each S * H units
        masks = {"weight_ih_l0": (owner_row[:, None] == owner_in[None, :]).float(),
                 "weight_hh_l0": (owner_row[:, None] == owner_h[None, :]).float()}
        with torch.no_grad():
            for p in self.gru.parameters():
                p.zero_()
            for s, g in enumerate(gens):
                W_x, W_h = _uniform(g, k, 3, H, D), _uniform(g, k, 3, H, H)
                b_x, b_h = _uniform(g, k, 3, H), _uniform(g, k, 3, H)
                rows = (torch.arange(3)[:, None] * S * H + s * H + torch.arange(H)).flatten()
                cols_x, cols_h = slice(s * D, (s + 1) * D), slice(s * H, (s + 1) * H)
                self.gru.weight_ih_l0[rows, cols_x] = W_x.reshape(3 * H, D)
                self.gru.weight_hh_l0[rows, cols_h] = W_h.reshape(3 * H, H)
                self.gru.bias_ih_l0[rows] = b_x.flatten()
                self.gru.bias_hh_l0[rows] = b_h.flatten()
        for name, mask in masks.items():
            self.register_buffer(f"mask_{name}", mask)
            getattr(self.gru, name).register_hook(lambda grad, mask=mask: grad * mask)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        T, S, B, D = X.shape
        flat = X.permute(0, 2, 1, 3).reshape(T, B, S * D)  # seed s's channels side by side
        Hs, _ = self.gru(flat)  # (T, B, S * H)
        return Hs.reshape(T, B, S, self.H).permute(0, 2, 1, 3)  # (T, S, B, H)


def diagonal_recurrence(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``h_t = a_t * h_{t-1} + b_t`` from ``h_0 = 0``: ``a``, ``b`` ``(T, ...)`` to ``Hs``.

    Computed step by step (the study's sequences are short); ``Hs`` has the shape of ``b``.
    """
    if a.shape != b.shape:
        raise ValueError(f"a {tuple(a.shape)} and b {tuple(b.shape)} must have the same shape")
    h, Hs = torch.zeros_like(b[0]), []
    for a_t, b_t in zip(a.unbind(0), b.unbind(0), strict=True):
        h = a_t * h + b_t
        Hs.append(h)
    return torch.stack(Hs)


class SeedMinGRU(nn.Module):
    """``S`` independent minGRU layers: ``X`` ``(T, S, B, D)`` to ``Hs`` ``(T, S, B, H)``.

    ``z_t = sigmoid(x_t W_z + b_z)``, ``h~_t = x_t W_h + b_h`` and
    ``h_t = a_t * h_{t-1} + z_t * h~_t`` with ``a_t = 1 - z_t`` (in (0, 1)), or
    ``a_t = 1 - 2 z_t`` (in (-1, 1)) when ``negative``. The two variants draw the same initial
    weights for the same seeds: they differ in the range of ``a_t`` only.
    """

    def __init__(self, D: int, H: int, seeds: Sequence[int], negative: bool = False) -> None:
        super().__init__()
        gens = _generators(seeds)
        self.H, self.negative = H, negative
        k = 1.0 / math.sqrt(D)
        self.W = nn.Parameter(torch.stack([_uniform(g, k, D, 2 * H) for g in gens]))  # (S, D, 2H)
        self.b = nn.Parameter(torch.stack([_uniform(g, k, 2 * H) for g in gens]))  # (S, 2H)

    def coefficients(self, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(a, b)`` of the recurrence, each ``(T, S, B, H)``, for all steps at once."""
        k, h_tilde = (torch.einsum("tsbd,sdk->tsbk", X, self.W) + self.b[:, None]).chunk(2, -1)
        z = torch.sigmoid(k)
        a = 1 - 2 * z if self.negative else 1 - z
        return a, z * h_tilde

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return diagonal_recurrence(*self.coefficients(X))


class SeedReadout(nn.Module):
    """Position-wise MLP of each seed: ``Hs`` ``(T, S, B, H)`` to logits ``(T, S, B, C)``.

    ``relu(h W_1 + b_1) W_2 + b_2`` with ``F`` hidden units, initialised as ``nn.Linear``.
    """

    def __init__(self, H: int, F_hidden: int, C: int, seeds: Sequence[int]) -> None:
        super().__init__()
        gens = _generators(seeds)
        k1, k2 = 1.0 / math.sqrt(H), 1.0 / math.sqrt(F_hidden)
        self.W_1 = nn.Parameter(torch.stack([_uniform(g, k1, H, F_hidden) for g in gens]))
        self.b_1 = nn.Parameter(torch.stack([_uniform(g, k1, F_hidden) for g in gens]))
        self.W_2 = nn.Parameter(torch.stack([_uniform(g, k2, F_hidden, C) for g in gens]))
        self.b_2 = nn.Parameter(torch.stack([_uniform(g, k2, C) for g in gens]))

    def forward(self, Hs: torch.Tensor) -> torch.Tensor:
        hidden = torch.relu(torch.einsum("tsbh,shf->tsbf", Hs, self.W_1) + self.b_1[:, None])
        return torch.einsum("tsbf,sfc->tsbc", hidden, self.W_2) + self.b_2[:, None]


class StateTracker(nn.Module):
    """A recurrence of kind ``"gru"``, ``"mingru"`` or ``"mingru_neg"`` and its read-out.

    ``X`` ``(T, S, B, 2)`` to logits ``(T, S, B, m)``: at every step, a guess of the count
    modulo ``m``.
    """

    def __init__(self, kind: str, H: int, F_hidden: int, m: int, seeds: Sequence[int]) -> None:
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        self.kind, self.S, self.m = kind, len(seeds), m
        self.rnn: nn.Module = (SeedGRU(D_IN, H, seeds) if kind == "gru"
                               else SeedMinGRU(D_IN, H, seeds, negative=kind == "mingru_neg"))
        self.readout = SeedReadout(H, F_hidden, m, seeds)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.readout(self.rnn(X))


def seed_losses(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of each seed, averaged over steps and sequences: ``(S,)``."""
    T, S, B, C = logits.shape
    ce = F.cross_entropy(logits.reshape(-1, C), y.reshape(-1), reduction="none")
    return ce.view(T, S, B).mean(dim=(0, 2))


@torch.no_grad()
def accuracy_by_length(model: StateTracker, X: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """Accuracy of each seed at each step, ``(S, T)``: entry ``[s, t]`` is the fraction of
    sequences whose count after ``t + 1`` bits seed ``s`` gets right."""
    model.eval()
    correct = (model(X).argmax(-1) == y).float()  # (T, S, B)
    model.train()
    return correct.mean(dim=2).T.numpy()


@dataclass
class FitHistory:
    """What :func:`fit_seeds` saw: per evaluation, the step and each seed's accuracy."""

    eval_steps: list[int] = field(default_factory=list)
    accuracy: list[np.ndarray] = field(default_factory=list)  # each (S,)
    stopped: str = ""  # "solved", "flattened" or "budget"

    def curves(self) -> np.ndarray:
        """The accuracies as ``(S, evaluations)``."""
        return np.stack(self.accuracy, axis=1)


def fit_seeds(
    model: StateTracker,
    batch: Callable[[int], tuple[torch.Tensor, torch.Tensor]],
    X_val: torch.Tensor,
    y_val: torch.Tensor,
    *,
    lr: float,
    max_steps: int,
    eval_every: int,
    solved: float,
    window: int,
    tol: float,
) -> FitHistory:
    """Train every seed of ``model`` with Adam until all are solved or flattened.

    ``batch(step)`` returns a training batch ``(X, y)``. Every ``eval_every`` steps each seed's
    accuracy on ``(X_val, y_val)`` (sequences of the training length) is recorded. Training
    stops when every seed has reached ``solved``, or when every seed has either reached it or
    flattened: its best error ``1 - accuracy`` improved by less than ``tol`` over its last
    ``window`` evaluations (:func:`rnncourse.studies.plateaued`); else at ``max_steps``.
    """
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    hist = FitHistory()
    for step in range(1, max_steps + 1):
        X, y = batch(step)
        loss = seed_losses(model(X), y).sum()  # a sum: each seed's gradient is its own
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % eval_every:
            continue
        hist.eval_steps.append(step)
        hist.accuracy.append(accuracy_by_length(model, X_val, y_val).mean(axis=1))
        done = hist.accuracy[-1] >= solved
        if done.all():
            hist.stopped = "solved"
            return hist
        if len(hist.accuracy) > window:
            errors = 1 - hist.curves()
            flat = np.array([plateaued(e, window, tol) for e in errors])
            if (done | flat).all():
                hist.stopped = "flattened"
                return hist
    hist.stopped = "budget"
    return hist
