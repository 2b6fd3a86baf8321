"""Synthetic sequence tasks and a small sequence-regression model for the training chapters.

- :func:`adding_problem`: the adding problem of Hochreiter & Schmidhuber (1997), a test of
  long-range memory: sum the two marked numbers of a long sequence.
- :func:`delayed_echo`: a stream whose target is the input seen ``delay`` steps earlier, for
  truncated BPTT on one long stream.
- :class:`SequenceRegressor`: a simple RNN, LSTM or GRU followed by a linear read-out.

Every tensor is time-major, as in the rest of the course: ``X`` has shape ``(T, B, D)``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}

#: Test MSE of the best constant prediction on the adding problem: the target is the sum of
#: two independent U(0, 1) numbers, whose variance is 2 / 12.
ADDING_BASELINE_MSE = 1.0 / 6.0


def adding_problem(
    B: int, T: int, rng: np.random.Generator, dtype: torch.dtype = torch.float32
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``B`` sequences of the adding problem of length ``T``.

    Each time step carries two features: a number drawn from U(0, 1) and a marker in {0, 1}.
    Exactly two steps are marked, one in the first half of the sequence and one in the
    second; the target is the sum of the two marked numbers.

    Returns ``(X, y)``: ``X`` of shape ``(T, B, 2)`` and ``y`` of shape ``(B, 1)``.
    """
    if T < 2:
        raise ValueError(f"the adding problem needs T >= 2 to mark two steps; got T={T}")
    values = rng.random((T, B))
    half = T // 2
    first = rng.integers(0, half, size=B)
    second = rng.integers(half, T, size=B)
    markers = np.zeros((T, B))
    cols = np.arange(B)
    markers[first, cols] = 1.0
    markers[second, cols] = 1.0
    X = np.stack([values, markers], axis=-1)  # (T, B, 2)
    y = values[first, cols] + values[second, cols]  # (B,)
    return torch.tensor(X, dtype=dtype), torch.tensor(y[:, None], dtype=dtype)


def delayed_echo(
    T: int, B: int, delay: int, rng: np.random.Generator, dtype: torch.dtype = torch.float32
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``B`` long streams of ±1 inputs whose target is the input ``delay`` steps back.

    Returns ``(X, Y)``, both of shape ``(T, B, 1)``, with ``Y[t] = X[t - delay]`` for
    ``t >= delay`` and ``Y[t] = 0`` before (nothing to recall yet).
    """
    if not 0 < delay < T:
        raise ValueError(f"delay must be between 1 and T-1={T - 1}; got delay={delay}")
    X = rng.choice([-1.0, 1.0], size=(T, B, 1))
    Y = np.zeros_like(X)
    Y[delay:] = X[:-delay]
    return torch.tensor(X, dtype=dtype), torch.tensor(Y, dtype=dtype)


class SequenceRegressor(nn.Module):
    """A recurrent layer (``"rnn"``, ``"lstm"`` or ``"gru"``) and a linear read-out.

    ``forward(X, state)`` takes ``X`` of shape ``(T, B, D)`` (time-major) and returns
    ``(Y, state)``: ``Y`` of shape ``(T, B, out)`` (one prediction per step) and the final
    state, to be passed to the next call when a long stream is cut into chunks.
    :meth:`predict_last` returns only the prediction at the last step, shape ``(B, out)``.
    """

    def __init__(self, cell: str, D: int, H: int, out: int = 1, **kw) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}; got {cell!r}")
        self.cell = cell
        self.rnn = CELLS[cell](D, H, **kw)  # time-major: input (T, B, D)
        self.head = nn.Linear(H, out)

    def forward(self, X: torch.Tensor, state=None):
        Hs, state = self.rnn(X, state)  # Hs (T, B, H)
        return self.head(Hs), state

    def predict_last(self, X: torch.Tensor) -> torch.Tensor:
        """Prediction read from the last hidden state only, shape ``(B, out)``."""
        Hs, _ = self.rnn(X)
        return self.head(Hs[-1])
