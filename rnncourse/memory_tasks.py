"""Synthetic long-memory tasks for the cell-type chapters, generated from a seed.

``marked_bit_batch`` builds the "remember the marked bit" task: every time step carries a
random bit (+1 or -1) on channel 0, and channel 1 marks one step, the first by default,
with a 1. The target, read at the last step, is the marked bit. Between the marked step and
the end, the network sees ``T - 1 - t_mark`` distractor bits of the same kind, so it has to
store one value and protect it from everything that follows. Guessing gives 50 % accuracy
and a cross-entropy of ln 2 = 0.693.

``MemoryClassifier`` wraps ``torch.nn.RNN``, ``LSTM`` or ``GRU`` (time-major) with a linear
read-out of the last hidden state, so the three cell types can be trained the same way.
``open_memory_gate`` starts a gated cell with its memory gate open and its input held back.

Used by ``book/cells/comparison.md``.
"""

from __future__ import annotations

import numpy as np
import torch

N_INPUTS = 2  # channel 0: the bit, channel 1: the marker


def marked_bit_batch(
    T: int, B: int, rng: np.random.Generator, mark_first: bool = True
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return ``(X, y, t_mark)`` for a batch of the marked-bit task.

    X: (T, B, 2) float32, time-major; channel 0 holds random bits in {-1, +1}, channel 1 is 1
    at the marked step and 0 elsewhere.
    y: (B,) float32 in {0, 1}, the marked bit mapped to 0 (for -1) or 1 (for +1).
    t_mark: (B,) int64, the marked step: 0 if ``mark_first``, else uniform in [0, T // 2).
    """
    if T < 2 or B < 1:
        raise ValueError(f"need T >= 2 and B >= 1, got T={T}, B={B}")
    bits = rng.choice(np.array([-1.0, 1.0]), size=(T, B))
    t_mark = np.zeros(B, dtype=np.int64) if mark_first else rng.integers(0, T // 2, size=B)
    marker = np.zeros((T, B))
    marker[t_mark, np.arange(B)] = 1.0
    X = np.stack([bits, marker], axis=-1)  # (T, B, 2)
    y = (bits[t_mark, np.arange(B)] > 0).astype(np.float32)
    return (torch.tensor(X, dtype=torch.float32), torch.tensor(y), torch.tensor(t_mark))


class MemoryClassifier(torch.nn.Module):
    """A recurrent layer (``kind`` in ``"rnn"``, ``"lstm"``, ``"gru"``) plus a linear read-out.

    forward(X) takes X of shape (T, B, D) and returns logits of shape (B,), computed from the
    last hidden state h_T.
    """

    CELLS = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}

    def __init__(self, kind: str, hidden_size: int, input_size: int = N_INPUTS) -> None:
        super().__init__()
        if kind not in self.CELLS:
            raise ValueError(f"kind must be one of {sorted(self.CELLS)}, got {kind!r}")
        self.kind = kind
        self.rnn = self.CELLS[kind](input_size, hidden_size)  # time-major (T, B, D)
        self.readout = torch.nn.Linear(hidden_size, 1)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        Hs, _ = self.rnn(X)  # (T, B, H)
        return self.readout(Hs[-1]).squeeze(-1)  # (B,)


def open_memory_gate(model: MemoryClassifier, bias: float) -> None:
    """Start a gated cell in "keep, do not write" mode: memory gate open, input held back.

    LSTM (bias blocks i, f, g, o): forget-gate bias ``+bias`` and input-gate bias ``-bias``,
    the carousel setting f near 1, i near 0 (as in the chrono initialisation of Tallec and
    Ollivier, 2018, with a single time scale). GRU (blocks r, z, n): update-gate bias
    ``+bias``; in PyTorch's convention z multiplies h_prev, so this keeps the old state and,
    since 1 - z admits the candidate, holds the input back at the same time.
    PyTorch adds ``bias_ih`` and ``bias_hh``: each value goes into ``bias_ih`` and the same
    block of ``bias_hh`` is zeroed. A simple RNN has no gate and raises ValueError.
    """
    if model.kind == "rnn":
        raise ValueError("a simple RNN has no memory gate; use kind 'lstm' or 'gru'")
    H = model.rnn.hidden_size
    blocks = {"lstm": [(slice(H, 2 * H), bias), (slice(0, H), -bias)],
              "gru": [(slice(H, 2 * H), bias)]}[model.kind]
    with torch.no_grad():
        for layer in range(model.rnn.num_layers):
            for block, value in blocks:
                getattr(model.rnn, f"bias_ih_l{layer}")[block] = value
                getattr(model.rnn, f"bias_hh_l{layer}")[block] = 0.0
