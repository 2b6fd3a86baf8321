"""Checks for the application assignment ``forecasting`` (torch, float32).

Each piece is checked on its own: the windowing against loops, the model's interface and
state passing, the training loop's clipping (read from a global optimizer hook) and the
multi-step forecast against a recursion run on a small fixed model, so that a bug in one piece
does not cost the points of another. The held-out accuracy is computed here from the
learner's forecasts, on months the learner's code never receives.

The same checks run in JupyterLab (the learner's functions and models are ordinary objects)
and in the grader, where they are proxies of the learner's kernel
(``autograder.runner.trusted``): a model is then a ``RemoteObject`` whose methods run there.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from torch.optim.optimizer import register_optimizer_step_pre_hook

from autograder.keys.checks import check_array, check_type


def _fail(msg: str):
    raise AssertionError(msg)


class ToyForecaster(nn.Module):
    """A fixed, seeded GRU forecaster with the assignment's interface (for checking forecast)."""

    def __init__(self, hidden_size: int = 4, seed: int = 0) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.rnn = nn.GRU(1, hidden_size)  # time-major
        self.head = nn.Linear(hidden_size, 1)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=gen) * 0.6)

    def forward(self, X: torch.Tensor, state=None):
        Hs, state = self.rnn(X, state)
        return self.head(Hs), state


def _tensor(name: str, got, shape: tuple, dtype=torch.float32) -> torch.Tensor:
    if isinstance(got, np.ndarray):
        _fail(f"{name} is a NumPy array; return a torch tensor (torch.tensor(..., "
              "dtype=torch.float32)).")
    if not isinstance(got, torch.Tensor):
        _fail(f"{name} is a {type(got).__name__}; return a torch tensor.")
    if tuple(got.shape) != shape:
        hint = " (batch-first? the course is time-major: (window, M, 1))" if tuple(
            got.shape) == (shape[1], shape[0], shape[2]) else ""
        _fail(f"{name} has shape {tuple(got.shape)}, expected {shape}{hint}.")
    if got.dtype != dtype:
        _fail(f"{name} has dtype {got.dtype}, expected {dtype}.")
    return got


def check_make_windows(fn: Callable, N: int = 12, window: int = 4, seed: int = 0):
    """make_windows(series, window) -> (X, Y), each (window, N - window, 1), float32."""
    series = np.round(np.random.default_rng(seed).standard_normal(N), 3)
    before = series.copy()
    out = fn(series, window)
    if not np.array_equal(series, before):
        _fail("make_windows modified the series in place.")
    if not isinstance(out, tuple | list) or len(out) != 2:
        _fail("make_windows must return a tuple (X, Y).")
    M = N - window
    X = _tensor("X", out[0], (window, M, 1))
    Y = _tensor("Y", out[1], (window, M, 1))
    eX = np.stack([series[m:m + window] for m in range(M)], axis=1)[..., None]
    eY = np.stack([series[m + 1:m + window + 1] for m in range(M)], axis=1)[..., None]
    Xn, Yn = X.detach().numpy().astype(np.float64), Y.detach().numpy().astype(np.float64)
    check_array("X", Xn, eX, time_axis=True, rtol=1e-6, atol=1e-6, reference="the windows",
                mistakes={"windows stacked along the wrong axis": eX.transpose(1, 0, 2)
                          if eX.shape[0] == eX.shape[1] else eY})
    check_array("Y", Yn, eY, time_axis=True, rtol=1e-6, atol=1e-6, reference="the windows",
                mistakes={"Y is not shifted: the target must be the NEXT value": eX,
                          "Y shifted by two steps instead of one": np.stack(
                              [np.r_[series, np.nan][m + 2:m + window + 2] for m in range(M)],
                              axis=1)[..., None]})


def _remote(fn):
    """The learner kernel's channel when ``fn`` is a proxy of the grader, else None."""
    return getattr(fn, "_remote", None)


def _seed(fn, seed: int) -> None:
    """Seed torch where the learner's code runs (this process, or the learner's kernel)."""
    remote = _remote(fn)
    if remote is not None:
        remote.fixture("torch_manual_seed", seed=seed)
    else:
        torch.manual_seed(seed)


def module_types(model) -> list[str]:
    """The type names of a model's submodules (asked of the kernel for a remote model)."""
    if hasattr(model, "describe") and not isinstance(model, nn.Module):
        return [t for _, t in model.describe()]
    return [f"{type(m).__module__}.{type(m).__qualname__}" for m in model.modules()]


def parameters(model) -> list[torch.Tensor]:
    """Copies of a model's parameters and buffers, in order."""
    return [t.detach().clone() for t in model.state_dict().values()]


def check_forecaster(cls: Callable, hidden_size: int = 8, seed: int = 0):
    """Forecaster(hidden_size): recurrent layer from torch.nn, shapes, state passing."""
    _seed(cls, seed)
    model = cls(hidden_size)
    recurrent = ("torch.nn.modules.rnn.LSTM", "torch.nn.modules.rnn.GRU")
    if not any(t in recurrent for t in module_types(model)):
        _fail("the model must use torch.nn.LSTM or torch.nn.GRU.")
    X = torch.randn(7, 3, 1, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        out = model(X)
        if not isinstance(out, tuple | list) or len(out) != 2:
            _fail("forward(X, state=None) must return a tuple (Y_hat, state).")
        Y, state = out
        _tensor("Y_hat", Y, (7, 3, 1))
        Y1, s1 = model(X[:3])
        Y2, _ = model(X[3:], s1)
    both = torch.cat([Y1, Y2]).numpy().astype(np.float64)
    check_array("Y_hat from two calls passing the state", both, Y.numpy().astype(np.float64),
                time_axis=True, rtol=1e-4, atol=1e-6, reference="Y_hat from one call",
                mistakes={"the state argument is ignored (each call starts from zeros)":
                          torch.cat([Y1, model(X[3:])[0]]).detach().numpy()})


@contextlib.contextmanager
def record_step_grad_norms():
    """Record the global gradient norm seen by every optimizer.step() inside the block."""
    norms: list[float] = []

    def hook(optimizer, args, kwargs):
        grads = [p.grad for g in optimizer.param_groups for p in g["params"]
                 if p.grad is not None]
        norms.append(float(torch.norm(torch.stack([torch.norm(g) for g in grads]))))

    handle = register_optimizer_step_pre_hook(hook)
    try:
        yield norms
    finally:
        handle.remove()


def check_train(fn: Callable, cls: Callable, n_epochs: int = 4, batch_size: int = 16,
                lr: float = 0.01, max_norm: float = 0.05, seed: int = 0):
    """train(model, X, Y, n_epochs, batch_size, lr, max_norm, seed) on a small sine task."""
    t = np.arange(80)
    series = np.sin(2 * np.pi * t / 12)
    window = 12
    M = len(series) - window
    idx = np.arange(window)[:, None] + np.arange(M)[None, :]
    X = torch.tensor(series[idx], dtype=torch.float32)[..., None]
    Y = torch.tensor(series[idx + 1], dtype=torch.float32)[..., None]
    _seed(cls, seed)
    model = cls(8)
    before = parameters(model)
    if _remote(fn) is not None:
        losses, norms = fn.call_recording_steps(model, X, Y, n_epochs, batch_size, lr,
                                                max_norm, seed)
    else:
        with record_step_grad_norms() as norms:
            losses = fn(model, X, Y, n_epochs, batch_size, lr, max_norm, seed)
    if not isinstance(losses, list | tuple | np.ndarray) or len(losses) != n_epochs:
        _fail(f"train must return a list of {n_epochs} floats (one mean loss per epoch); "
              f"got {type(losses).__name__}" + (f" of length {len(losses)}"
                                                if hasattr(losses, "__len__") else ""))
    losses = [float(v) for v in losses]
    if not np.all(np.isfinite(losses)):
        _fail(f"the training losses are not finite: {losses}")
    after = parameters(model)
    if len(after) != len(before) or all(torch.equal(a, b)
                                        for a, b in zip(before, after, strict=True)):
        _fail("the model's parameters did not change: call optimizer.step() after backward().")
    steps = n_epochs * -(-M // batch_size)
    if len(norms) != steps:
        _fail(f"optimizer.step() ran {len(norms)} times, expected {steps} = n_epochs x "
              f"ceil({M} windows / batch_size {batch_size}).")
    if max(norms) > max_norm * (1 + 1e-4):
        _fail(f"a step saw a gradient norm of {max(norms):.3g} > max_norm = {max_norm}: "
              "clip with torch.nn.utils.clip_grad_norm_ after backward(), before step().")
    if not losses[-1] < losses[0]:
        _fail(f"the loss did not decrease over {n_epochs} epochs: {losses}")


def forecast_reference(model: nn.Module, history: np.ndarray, steps: int, *,
                       carry_state: bool = True) -> np.ndarray:
    """Warm up on history, then feed each prediction back ``steps`` times."""
    with torch.no_grad():
        pred, state = model(torch.tensor(history, dtype=torch.float32).reshape(-1, 1, 1))
        y, out = pred[-1:], []
        for _ in range(steps):
            out.append(float(y))
            y, state = model(y, state if carry_state else None)
    return np.array(out)


def check_forecast(fn: Callable, steps: int = 6, seed: int = 0):
    """forecast(model, history, steps) -> np.ndarray (steps,), on a fixed seeded GRU model."""
    model = ToyForecaster(seed=seed)
    history = np.random.default_rng(seed).standard_normal(15)
    before = history.copy()
    remote = _remote(fn)
    given = model if remote is None else remote.fixture(
        "toy_forecaster", hidden_size=model.rnn.hidden_size, state=dict(model.state_dict()))
    got = fn(given, history, steps)
    if not np.array_equal(history, before):
        _fail("forecast modified history in place.")
    got = check_type("the forecast", got)
    expected = forecast_reference(model, history, steps)
    ext = forecast_reference(model, history, steps + 1)
    check_array("the forecast", got.astype(np.float64), expected, time_axis=True, rtol=1e-4,
                atol=1e-6, reference="recursive forecasting with the same model",
                index_name="forecast step",
                shape_hints={(steps, 1): "return a 1-D array of shape (steps,)",
                             (steps, 1, 1): "return a 1-D array of shape (steps,)"},
                mistakes={
                    "the state is not carried between forecast steps":
                        forecast_reference(model, history, steps, carry_state=False),
                    "the first forecast is the last value of history, not a prediction":
                        np.r_[history[-1], expected[:-1]],
                    "the first prediction is skipped (off by one step)": ext[1:],
                })


def co2_problem(horizon: int = 24):
    """The CO2 series as the assignment uses it: (levels (N,), training differences, mu, sd)."""
    import statsmodels.datasets.co2

    weekly = statsmodels.datasets.co2.load_pandas().data["co2"]
    levels = weekly.resample("MS").mean().interpolate().to_numpy()
    train_diffs = np.diff(levels)[:-horizon]
    return levels, train_diffs, float(train_diffs.mean()), float(train_diffs.std())


def check_heldout_rmse(make_windows: Callable, cls: Callable, train: Callable,
                       forecast: Callable, threshold: float = 1.0, seed: int = 0,
                       horizon: int = 24, window: int = 24, hidden: int = 32,
                       n_epochs: int = 20, batch_size: int = 32, lr: float = 0.01,
                       max_norm: float = 1.0) -> None:
    """Train the learner's model with the learner's functions on the training months only,
    forecast ``horizon`` months, and compute the RMSE of the levels here. The held-out months
    are never passed to the learner's code. Prints the RMSE (ppm) and returns None (a number
    as a test cell's last value would be read by nbgrader as partial credit)."""
    levels, train_diffs, mu, sd = co2_problem(horizon)
    z_train = (train_diffs - mu) / sd
    _seed(cls, seed)
    X_train, Y_train = make_windows(z_train, window)
    model = cls(hidden)
    train(model, X_train, Y_train, n_epochs, batch_size, lr, max_norm, seed=seed)
    z_pred = forecast(model, z_train, horizon)
    z_pred = check_type("the forecast", z_pred)
    if z_pred.shape != (horizon,) or not np.all(np.isfinite(z_pred)):
        _fail(f"forecast must return {horizon} finite values; got shape {z_pred.shape}.")
    truth = levels[-horizon:]
    pred_levels = levels[-horizon - 1] + np.cumsum(z_pred.astype(np.float64) * sd + mu)
    rmse = float(np.sqrt(np.mean((pred_levels - truth) ** 2)))
    print(f"RMSE over the {horizon} held-out months: {rmse:.3f} ppm")
    if not rmse < threshold:
        _fail(f"RMSE {rmse:.3f} ppm on the held-out months, above {threshold}: check the "
              "training loss and that forecast feeds its predictions back with the state.")
