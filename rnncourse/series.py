"""Time-series tools shared by the forecasting and anomaly-detection applications.

- :class:`Scaler`: standardisation whose mean and scale come from the training part only.
- :func:`windows`: (input window, target) pairs cut from one series, with their origins.
- Baselines: :func:`naive_forecast`, :func:`seasonal_naive_forecast`, and a linear
  autoregression fitted by least squares (:func:`fit_linear`, :func:`linear_predict`).
- :func:`mase`: the mean absolute scaled error of Hyndman & Koehler (2006).
- :func:`recursive_forecast`: a multi-step forecast from a one-step model, fed its own outputs.
- :class:`GRUForecaster` and :func:`fit_forecaster`: a small torch model and its training.
- Anomalies: :func:`inject_spikes` (seeded labels), :func:`online_detect` (forecast-residual
  scores, flagged values replaced by their forecast), :func:`precision_recall_f1`.

Conventions: a series is a 1-D array ``x`` of shape (n,). Windows are rows: ``X`` has shape
(N, n_in) and targets ``Y`` (N, h) for N forecast origins and horizon h. The torch model is
time-major: it turns ``X`` into (n_in, N, 1) before the GRU, like ``torch.nn.GRU``'s default.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from rnncourse.training import History, train_loop


@dataclass(frozen=True)
class Scaler:
    """``(x - mean) / scale`` with ``mean`` and ``scale`` fitted on a training part."""

    mean: float
    scale: float

    @classmethod
    def fit(cls, train: np.ndarray) -> Scaler:
        """Fit on the training values only (never on the values being forecast)."""
        train = np.asarray(train, dtype=float)
        scale = float(train.std())
        if scale == 0.0:
            raise ValueError("the training part is constant: nothing to scale by; "
                             "use a longer or different training part.")
        return cls(float(train.mean()), scale)

    @classmethod
    def fit_changes(cls, train: np.ndarray) -> Scaler:
        """Mean of the training values, scale of their one-step changes (training part only).

        For models that read a window relative to its last value: the changes, not the
        level, set the size of their inputs and outputs.
        """
        d = np.diff(np.asarray(train, dtype=float))
        if d.std() == 0.0:
            raise ValueError("the training part is constant: nothing to scale by.")
        return cls(float(np.mean(train)), float(d.std()))

    def transform(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, dtype=float) - self.mean) / self.scale

    def inverse(self, z: np.ndarray) -> np.ndarray:
        return np.asarray(z, dtype=float) * self.scale + self.mean


def windows(x: np.ndarray, n_in: int, h: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (input window, next ``h`` values) pair of series ``x`` (n,).

    Returns ``X`` (N, n_in), ``Y`` (N, h) and ``t`` (N,), the origin of each pair: row i
    holds ``X[i] = x[t[i] - n_in : t[i]]`` and ``Y[i] = x[t[i] : t[i] + h]``, with
    N = n - n_in - h + 1. Select rows by ``t`` to keep training and test apart.
    """
    x = np.asarray(x, dtype=float)
    N = len(x) - n_in - h + 1
    if N < 1:
        raise ValueError(f"series of length {len(x)} is too short for n_in={n_in}, h={h}.")
    t = np.arange(n_in, n_in + N)
    X = x[t[:, None] - n_in + np.arange(n_in)[None, :]]
    Y = x[t[:, None] + np.arange(h)[None, :]]
    return X, Y, t


def naive_forecast(X: np.ndarray, h: int = 1) -> np.ndarray:
    """Random-walk forecast: repeat each window's last value, shape (N, h)."""
    return np.repeat(X[:, -1:], h, axis=1)


def seasonal_naive_forecast(X: np.ndarray, m: int, h: int = 1) -> np.ndarray:
    """Repeat the value one season (``m`` steps) earlier, shape (N, h); needs n_in >= m."""
    if X.shape[1] < m:
        raise ValueError(f"windows of {X.shape[1]} values cannot reach back a season of {m}.")
    k = np.arange(h) % m
    return X[:, X.shape[1] - m + k]


def fit_linear(X: np.ndarray, Y: np.ndarray, ridge: float = 0.0) -> np.ndarray:
    """Least-squares weights ``W`` (n_in + 1, h) for ``Y ~ [X, 1] @ W`` (optional ridge)."""
    A = np.hstack([X, np.ones((len(X), 1))])
    G = A.T @ A + ridge * np.eye(A.shape[1])
    return np.linalg.solve(G, A.T @ Y)


def linear_predict(W: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Predictions ``[X, 1] @ W``, shape (N, h)."""
    return X @ W[:-1] + W[-1]


def recursive_forecast(step: Callable[[np.ndarray], np.ndarray], X: np.ndarray,
                       h: int) -> np.ndarray:
    """Forecast ``h`` steps by feeding a one-step model its own predictions.

    ``step`` maps windows (N, n_in) to next values (N,) or (N, 1). Returns (N, h).
    """
    window = np.array(X, dtype=float)
    out = np.empty((len(X), h))
    for k in range(h):
        out[:, k] = np.asarray(step(window)).reshape(len(X))
        window = np.hstack([window[:, 1:], out[:, k : k + 1]])
    return out


def mase(y_true: np.ndarray, y_pred: np.ndarray, y_train: np.ndarray, m: int = 1) -> float:
    """Mean absolute scaled error (Hyndman & Koehler 2006).

    The mean absolute error of the forecast, divided by the in-sample mean absolute error of
    the (seasonal, lag ``m``) naive forecast on the training series ``y_train``. Below 1:
    better than that naive forecast was on the training data.
    """
    y_train = np.asarray(y_train, dtype=float)
    scale = np.mean(np.abs(y_train[m:] - y_train[:-m]))
    return float(np.mean(np.abs(np.asarray(y_true) - np.asarray(y_pred))) / scale)


class GRUForecaster(nn.Module):
    """A GRU reads a window and a linear layer maps its last state to ``h`` next values.

    With ``residual=True`` the model sees the window relative to its last value and predicts
    the change from that value (its output is added to it): it starts as the naive forecast,
    and a level it never saw in training looks like any other to it.
    """

    def __init__(self, hidden: int = 32, h: int = 1, residual: bool = True):
        super().__init__()
        self.gru = nn.GRU(input_size=1, hidden_size=hidden)   # time-major (T, B, D)
        self.out = nn.Linear(hidden, h)
        self.residual = residual

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Windows ``X`` (N, n_in) -> forecasts (N, h)."""
        last = X[:, -1:] if self.residual else torch.zeros_like(X[:, -1:])   # (N, 1)
        Hs, _ = self.gru((X - last).T.unsqueeze(-1))           # (n_in, N, hidden)
        return self.out(Hs[-1]) + last                         # (N, h)

    @torch.no_grad()
    def predict(self, X: np.ndarray) -> np.ndarray:
        """NumPy in, NumPy out: windows (N, n_in) -> forecasts (N, h)."""
        self.eval()
        return self(torch.as_tensor(X, dtype=torch.float32)).numpy().astype(float)


def fit_forecaster(model: GRUForecaster, X: np.ndarray, Y: np.ndarray, n_steps: int,
                   rng: np.random.Generator, batch_size: int = 64, lr: float = 3e-3,
                   weight_decay: float = 0.0, clip: float = 1.0,
                   val: tuple[np.ndarray, np.ndarray] | None = None, eval_every: int = 50,
                   desc: str = "forecaster") -> History:
    """Train ``model`` on windows ``X`` (N, n_in) -> targets ``Y`` (N, h) with Adam on MSE.

    Mini-batches are drawn with ``rng``. If ``val = (X_val, Y_val)`` is given, the
    validation MSE is recorded every ``eval_every`` steps in ``History.eval_loss``.
    """
    Xt = torch.as_tensor(X, dtype=torch.float32)
    Yt = torch.as_tensor(Y, dtype=torch.float32)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)

    def step(i: int) -> float:
        model.train()
        idx = torch.as_tensor(rng.integers(0, len(Xt), batch_size))
        loss = nn.functional.mse_loss(model(Xt[idx]), Yt[idx])
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        return loss.item()

    evaluate = None
    if val is not None:
        def evaluate() -> float:
            return float(np.mean((model.predict(val[0]) - val[1]) ** 2))

    return train_loop(step, n_steps, desc=desc, evaluate=evaluate,
                      eval_every=eval_every if val is not None else 0)


def inject_spikes(x: np.ndarray, positions: np.ndarray, n: int, size: tuple[float, float],
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Add ``n`` spikes at distinct random ``positions`` of series ``x`` (n_x,).

    Each spike adds ``+-u`` with ``u`` uniform in ``size`` (same units as ``x``) and a random
    sign. Returns the corrupted copy of ``x`` and boolean labels (n_x,), True at each spike.
    """
    where = rng.choice(np.asarray(positions), size=n, replace=False)
    y = np.array(x, dtype=float)
    y[where] += rng.choice([-1.0, 1.0], size=n) * rng.uniform(*size, size=n)
    labels = np.zeros(len(y), dtype=bool)
    labels[where] = True
    return y, labels


def online_detect(step: Callable[[np.ndarray], np.ndarray], x: np.ndarray, start: int,
                  n_in: int, unit: float, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flag x[t] for t >= start when its one-step forecast error exceeds a threshold.

    ``step`` maps windows (K, n_in) to forecasts (K,). The forecast of x[t] reads the last
    ``n_in`` values *as cleaned so far*: a flagged value is replaced by its forecast, so one
    spike does not spoil the next forecasts. ``unit`` divides the absolute errors into
    scores. ``x`` is one series (n,) or one series per threshold (K, n); all ``thresholds``
    (K,) are run at once. Returns flags (K, n - start) and scores (K, n - start).
    """
    thresholds = np.asarray(thresholds, dtype=float)
    K = len(thresholds)
    x = np.broadcast_to(np.asarray(x, dtype=float), (K, np.shape(x)[-1]))   # (K, n)
    hist = x.copy()
    n = x.shape[1]
    flags = np.zeros((K, n - start), dtype=bool)
    scores = np.zeros((K, n - start))
    for t in range(start, n):
        pred = np.asarray(step(hist[:, t - n_in : t])).reshape(K)    # (K,)
        s = np.abs(x[:, t] - pred) / unit
        f = s > thresholds
        hist[f, t] = pred[f]
        flags[:, t - start], scores[:, t - start] = f, s
    return flags, scores


def precision_recall_f1(flags: np.ndarray, labels: np.ndarray) -> tuple[float, float, float]:
    """Point-wise precision, recall and F1 of boolean ``flags`` against ``labels`` (same shape)."""
    tp = float(np.sum(flags & labels))
    precision = tp / max(int(np.sum(flags)), 1)
    recall = tp / max(int(np.sum(labels)), 1)
    f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    return precision, recall, f1
