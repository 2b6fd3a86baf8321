"""Checks for the application assignment ``forecasting`` (torch, float32).

Each piece is checked on its own: the windowing against loops; the model by its behaviour
(its outputs against torch's own LSTM or GRU and a linear read-out loaded with the model's
weights, read back as data; never by the name of a class); the training loop by its outcome
(the parameters of a small fixed model after training, against the grader's own training of
the same model, clipped and unclipped, with ``autograder.keys.optim.Adam``: the parameters of
``torch.optim.Adam`` bit for bit); and the multi-step forecast against a recursion run on a
small fixed model, so that a bug in one piece does not cost the points of another. Nothing
the learner's process measures is used. The held-out accuracy is computed here from the
learner's forecasts, on months the learner's code never receives.

The same checks run in JupyterLab (the learner's functions and models are ordinary objects)
and in the grader, where they are proxies of the learner's kernel
(``autograder.runner.trusted``): a model is then a ``RemoteObject`` whose methods run there.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future

import numpy as np
import torch
from torch import nn

from autograder.keys.checks import (
    Callee,
    _fail,
    at_count,
    at_step,
    call,
    callee,
    check_array,
    check_type,
)
from autograder.keys.optim import Adam  # torch.optim.Adam's update, without its import time


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
        _fail(f"{name} has shape {tuple(got.shape)}, expected {shape}{hint}.",
              f"{name} has the wrong shape{hint}.")
    if got.dtype != dtype:
        _fail(f"{name} has dtype {got.dtype}, expected {dtype}.")
    return got


def check_make_windows(fn: Callable, N: int = 12, window: int = 4, seed: int = 0):
    """make_windows(series, window) -> (X, Y), each (window, N - window, 1), float32."""
    if _remote(fn) is not None:  # graded: the held-out tiers will need the reference model,
        _start_reference(RECIPE)  # whose training overlaps the kernel's work from now on
    series = np.round(np.random.default_rng(seed).standard_normal(N), 3)
    out = call(fn, series, window)  # on a copy: an in-place change fails a test of its own
    if not isinstance(out, tuple | list) or len(out) != 2:
        _fail("make_windows must return a tuple (X, Y).")
    M = N - window
    X = _tensor("X", out[0], (window, M, 1))
    Y = _tensor("Y", out[1], (window, M, 1))
    eX = np.stack([series[m:m + window] for m in range(M)], axis=1)[..., None]
    eY = np.stack([series[m + 1:m + window + 1] for m in range(M)], axis=1)[..., None]
    Xn, Yn = X.detach().numpy().astype(np.float64), Y.detach().numpy().astype(np.float64)
    check_array("X", Xn, eX, time_axis=True, rtol=1e-6, atol=1e-6, reference="the windows",
                at=at_count("position", "X"),
                mistakes={"windows stacked along the wrong axis": eX.transpose(1, 0, 2)
                          if eX.shape[0] == eX.shape[1] else eY})
    check_array("Y", Yn, eY, time_axis=True, rtol=1e-6, atol=1e-6, reference="the windows",
                at=at_count("position", "Y"),
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


def _state_dict(model) -> dict[str, torch.Tensor]:
    """The model's parameters and buffers, read back as data (name -> float tensor)."""
    state = model.state_dict()
    if not isinstance(state, Mapping) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) and v.is_floating_point()
            for k, v in state.items()):
        _fail("the model's state_dict() must map names to float tensors (an nn.Module's "
              "does).")
    return {k: v.detach().clone() for k, v in state.items()}


def _layout(state: Mapping[str, torch.Tensor]) -> tuple[str, str, int, str, bool, bool]:
    """(kind, prefix, number of layers, read-out prefix, recurrent biases?, read-out bias?)
    of a state dict holding one torch.nn.LSTM or torch.nn.GRU and one linear read-out; fails
    with what is wrong otherwise."""
    shape = "one recurrent layer (nn.LSTM or nn.GRU) followed by one nn.Linear read-out"
    found = [k[:-len("weight_ih_l0")] for k in state if k.endswith("weight_ih_l0")]
    if len(found) != 1:
        _fail(f"the model's parameters ({', '.join(list(state)[:12])}) are not those of {shape}"
              ": build the recurrent layer with torch.nn.LSTM or torch.nn.GRU.")
    prefix = found[0]
    w_ih, w_hh = state[prefix + "weight_ih_l0"], state.get(prefix + "weight_hh_l0")
    H = w_hh.shape[-1] if w_hh is not None and w_hh.ndim == 2 else 0
    gates = w_ih.shape[0] // H if H and w_ih.ndim == 2 else 0
    if gates not in (3, 4) or tuple(w_ih.shape) != (gates * H, 1):
        _fail("the recurrent layer's weights are not those of torch.nn.LSTM or torch.nn.GRU "
              "with one input feature.")
    layers = 1
    while prefix + f"weight_ih_l{layers}" in state:
        layers += 1
    bias = prefix + "bias_ih_l0" in state
    rnn_keys = {prefix + f"{kind}_{m}_l{layer}" for layer in range(layers)
                for kind in (("weight", "bias") if bias else ("weight",)) for m in ("ih", "hh")}
    rest = sorted(set(state) - rnn_keys)
    heads = [k[:-len("weight")] for k in rest if k.endswith("weight")]
    head = heads[0] if len(heads) == 1 else ""
    head_bias = head + "bias" in rest
    if (len(heads) != 1 or set(rest) != {head + "weight", *([head + "bias"] if head_bias else [])}
            or tuple(state[head + "weight"].shape) != (1, H)):
        _fail(f"the model's parameters are not those of {shape} to one value per step "
              f"(found besides the recurrent layer: {', '.join(rest[:12]) or 'nothing'}).")
    return ("LSTM" if gates == 4 else "GRU"), prefix, layers, head, bias, head_bias


def reference_forecaster(state: Mapping[str, torch.Tensor]) -> tuple[nn.Module, str, int]:
    """(torch's own recurrent layer and linear read-out loaded with ``state``, as a model with
    the assignment's interface; "LSTM" or "GRU"; the number of hidden units)."""
    kind, prefix, layers, head, bias, head_bias = _layout(state)
    H = state[prefix + "weight_hh_l0"].shape[-1]
    rnn = getattr(nn, kind)(1, H, num_layers=layers, bias=bias)
    linear = nn.Linear(H, 1, bias=head_bias)
    with torch.no_grad():
        for name, p in rnn.named_parameters():
            p.copy_(state[prefix + name])
        for name, p in linear.named_parameters():
            p.copy_(state[head + name])

    class Reference(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn, self.head = rnn, linear

        def forward(self, X, state=None):
            Hs, state = self.rnn(X, state)
            return self.head(Hs), state

    return Reference().eval(), kind, H


def _as64(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy().astype(np.float64)


def check_forecaster(cls: Callable, hidden_size: int = 8, seed: int = 0):
    """Forecaster(hidden_size) behaves as torch.nn.LSTM or torch.nn.GRU (hidden_size units,
    one input feature) followed by a linear read-out, loaded with the model's own weights
    (read back as data): the same Y_hat (T, B, 1) on seeded inputs, and the state carries
    across calls. What the model's classes are called is never read."""
    _seed(cls, seed)
    model = cls(hidden_size)
    reference, kind, H = reference_forecaster(_state_dict(model))
    if H != hidden_size:
        _fail(f"the recurrent layer has {H} hidden units; Forecaster(hidden_size) must give it "
              f"hidden_size = {hidden_size}.",
              "the recurrent layer does not have hidden_size hidden units.")
    X = torch.randn(7, 3, 1, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        out = model(X)
        if not isinstance(out, tuple | list) or len(out) != 2:
            _fail("forward(X, state=None) must return a tuple (Y_hat, state).")
        Y, state = out
        _tensor("Y_hat", Y, (7, 3, 1))
        expected = reference(X)[0]
        check_array("Y_hat", _as64(Y), _as64(expected), time_axis=True, rtol=1e-4, atol=1e-5,
                    at=at_step("Y_hat"),
                    reference=f"torch.nn.{kind} and nn.Linear loaded with your model's weights")
        Y1, s1 = model(X[:3])
        Y2, _ = model(X[3:], s1)
    both = torch.cat([Y1, Y2]).numpy().astype(np.float64)
    check_array("Y_hat from two calls passing the state", both, Y.numpy().astype(np.float64),
                time_axis=True, rtol=1e-4, atol=1e-6, reference="Y_hat from one call",
                at=at_step("Y_hat"),
                mistakes={"the state argument is ignored (each call starts from zeros)":
                          torch.cat([Y1, model(X[3:])[0]]).detach().numpy()})


def clip_problem(seed: int, window: int = 6, M: int = 5, spike: float = 8.0):
    """(X, Y), float32 (window, M, 1): M copies of one seeded window whose targets are far
    from what the model predicts (every gradient is large). Every batch holds the same
    content, so a training run's outcome does not depend on the order of the windows."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(window, 1, 1, generator=gen)
    y = spike * torch.randn(window, 1, 1, generator=gen)
    return x.expand(window, M, 1).clone(), y.expand(window, M, 1).clone()


def train_outcome(state: Mapping[str, torch.Tensor], X: torch.Tensor, Y: torch.Tensor,
                  n_epochs: int, batch_size: int, lr: float, max_norm: float | None,
                  hidden_size: int) -> tuple[dict[str, np.ndarray], list[float], list[float]]:
    """The assignment's recipe run here on a ToyForecaster loaded with ``state``, batches in
    order (every batch of :func:`clip_problem` is alike); no clipping when ``max_norm`` is
    None. Returns (parameters after training, each epoch's mean loss weighted by batch size,
    each epoch's mean of the batch losses)."""
    model = ToyForecaster(hidden_size)
    model.load_state_dict(state)
    optimizer = Adam(model.parameters(), lr=lr)
    M = X.shape[1]
    weighted, plain = [], []
    for _ in range(n_epochs):
        losses = []
        for s in range(0, M, batch_size):
            idx = torch.arange(s, min(s + batch_size, M))
            loss = nn.functional.mse_loss(model(X[:, idx])[0], Y[:, idx])
            optimizer.zero_grad()
            loss.backward()
            if max_norm is not None:
                nn.utils.clip_grad_norm_(model.parameters(), max_norm)
            optimizer.step()
            losses.append((loss.item(), len(idx)))
        weighted.append(sum(v * n for v, n in losses) / M)
        plain.append(sum(v for v, _ in losses) / len(losses))
    return ({k: _as64(v) for k, v in model.state_dict().items()}, weighted, plain)


def _losses(got, n_epochs: int) -> np.ndarray:
    if not isinstance(got, list | tuple | np.ndarray) or len(got) != n_epochs:
        _fail(f"train must return a list of {n_epochs} floats (one mean loss per epoch); got "
              f"{type(got).__name__}" + (f" of length {len(got)}" if hasattr(got, "__len__")
                                         else ""),
              "train must return a list of n_epochs floats (one mean loss per epoch).")
    try:
        return np.array([float(v) for v in got], dtype=np.float64)
    except (TypeError, ValueError):
        _fail("train must return a list of floats (one mean loss per epoch).")


def check_train(fn: Callable, n_epochs: int = 2, batch_size: int = 2, lr: float = 0.01,
                max_norm: float = 1e-3, seed: int = 0, hidden_size: int = 4):
    """train(model, X, Y, n_epochs, batch_size, lr, max_norm, seed), judged by its outcome: a
    small fixed GRU model (the grader's weights) trained on :func:`clip_problem`'s windows,
    whose gradients are far above ``max_norm``. The parameters read back after training must
    be those of the grader's own run of the recipe (Adam, MSE, clip_grad_norm_ before each
    step, the last batch smaller), and not those of the same run without clipping; the
    returned losses must be the grader's (each epoch's mean, weighted by batch size or not)."""
    toy = ToyForecaster(hidden_size, seed=seed)
    state = {k: v.detach().clone() for k, v in toy.state_dict().items()}
    X, Y = clip_problem(seed)
    remote = _remote(fn)
    model = toy if remote is None else remote.fixture(
        "toy_forecaster", hidden_size=hidden_size, state=state)
    got = _losses(fn(model, X.clone(), Y.clone(), n_epochs, batch_size, lr, max_norm, seed),
                  n_epochs)
    after = _state_dict(model)
    expected, weighted, plain = train_outcome(state, X, Y, n_epochs, batch_size, lr, max_norm,
                                              hidden_size)
    if set(after) != set(expected):
        _fail("after training, the model must have the same parameters as before (train "
              "updates the given model in place).")
    cache: dict = {}

    def mistakes(key):
        if not cache:
            cache["no clipping: clip_grad_norm_(model.parameters(), max_norm) after "
                  "backward(), before step()"] = train_outcome(
                state, X, Y, n_epochs, batch_size, lr, None, hidden_size)[0]
            cache["the parameters did not change: call optimizer.step() after backward()"] = {
                k: _as64(v) for k, v in state.items()}
        return {label: params[key] for label, params in cache.items()}

    for key in expected:
        check_array(f"the model's {key} after training", _as64(after[key]), expected[key],
                    rtol=1e-4, atol=1e-6, mistakes=lambda key=key: mistakes(key),
                    reference="the grader's training of the same model (Adam, clipped)")
    if not (np.allclose(got, weighted, rtol=1e-4, atol=1e-6)
            or np.allclose(got, plain, rtol=1e-4, atol=1e-6)):
        check_array("the mean loss of each epoch", got, np.array(weighted), time_axis=True,
                    rtol=1e-4, atol=1e-6, at=at_count("epoch", "losses"),
                    reference="each epoch's mean training loss, computed by the grader")


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
    remote = _remote(fn)
    given = model if remote is None else remote.fixture(
        "toy_forecaster", hidden_size=model.rnn.hidden_size, state=dict(model.state_dict()))
    got = call(fn, given, history, steps, shared=(0,))  # history on a copy (see make_windows)
    got = check_type("the forecast", got)
    expected = forecast_reference(model, history, steps)
    ext = forecast_reference(model, history, steps + 1)
    check_array("the forecast", got.astype(np.float64), expected, time_axis=True, rtol=1e-4,
                atol=1e-6, reference="recursive forecasting with the same model",
                at=at_count("forecast step k ="),
                shape_hints={(steps, 1): "return a 1-D array of shape (steps,)",
                             (steps, 1, 1): "return a 1-D array of shape (steps,)"},
                mistakes={
                    "the state is not carried between forecast steps":
                        forecast_reference(model, history, steps, carry_state=False),
                    "the first forecast is the last value of history, not a prediction":
                        np.r_[history[-1], expected[:-1]],
                    "the first prediction is skipped (off by one step)": ext[1:],
                })


@functools.cache
def co2_problem(horizon: int = 24):
    """The CO2 series as the assignment uses it: (levels (N,), training differences, mu, sd),
    read once per process (the arrays are read-only)."""
    import statsmodels.datasets.co2

    weekly = statsmodels.datasets.co2.load_pandas().data["co2"]
    levels = weekly.resample("MS").mean().interpolate().to_numpy()
    train_diffs = np.diff(levels)[:-horizon]
    levels.flags.writeable = train_diffs.flags.writeable = False
    return levels, train_diffs, float(train_diffs.mean()), float(train_diffs.std())


# --------------------------------------------------------------------------------------------
# Held-out accuracy in tiers: beat the naive forecast, beat the seasonal one, come within a
# stated factor of the reference model trained here with the assignment's recipe
# --------------------------------------------------------------------------------------------

RECIPE = {"seed": 0, "horizon": 24, "window": 36, "hidden": 32, "n_epochs": 40,
          "batch_size": 32, "lr": 0.003, "max_norm": 1.0}  # the notebook's parameters cell
REFERENCE_FACTOR = 1.5  # tier 3: RMSE <= 1.5 x the reference model's RMSE


def _rmse(pred_levels: np.ndarray, truth: np.ndarray) -> float:
    return float(np.sqrt(np.mean((pred_levels - truth) ** 2)))


@functools.cache
def baseline_rmses(horizon: int = 24) -> dict[str, float]:
    """RMSE (ppm) over the held-out months of the two baselines the notebook prints:
    ``naive`` (the last training level repeated) and ``seasonal`` (last year's monthly changes
    repeated from the last training level)."""
    levels, train_diffs, _, _ = co2_problem(horizon)
    last, truth = levels[-horizon - 1], levels[-horizon:]
    seasonal = last + np.cumsum(np.resize(train_diffs[-12:], horizon))
    return {"naive": _rmse(np.full(horizon, last), truth), "seasonal": _rmse(seasonal, truth)}


def _levels_rmse(z_pred, horizon: int) -> float:
    """The RMSE of a forecast of standardised differences, turned back into levels here."""
    levels, _, mu, sd = co2_problem(horizon)
    z_pred = check_type("the forecast", z_pred)
    if z_pred.shape != (horizon,) or not np.all(np.isfinite(z_pred)):
        _fail(f"forecast must return {horizon} finite values; got shape {z_pred.shape}.")
    pred_levels = levels[-horizon - 1] + np.cumsum(z_pred.astype(np.float64) * sd + mu)
    return _rmse(pred_levels, levels[-horizon:])


class _ReferenceForecaster(nn.Module):
    """The solution's model: an LSTM and a linear read-out (time-major)."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.rnn = nn.LSTM(1, hidden_size)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, X, state=None):
        Hs, state = self.rnn(X, state)
        return self.head(Hs), state


def _reference_train(model, X, Y, n_epochs, batch_size, lr, max_norm, seed) -> None:
    gen = torch.Generator().manual_seed(seed)
    optimizer = Adam(model.parameters(), lr=lr)
    for _ in range(n_epochs):
        order = torch.randperm(X.shape[1], generator=gen)
        for s in range(0, X.shape[1], batch_size):
            idx = order[s:s + batch_size]
            loss = nn.functional.mse_loss(model(X[:, idx])[0], Y[:, idx])
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), max_norm)
            optimizer.step()


def _reference_model(seed: int, hidden: int) -> nn.Module:
    """The solution's model as ``torch.manual_seed(seed)`` initialises it (the global RNG is
    restored after)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return _ReferenceForecaster(hidden)


def _trained_reference_rmse(model: nn.Module, seed: int, horizon: int, window: int,
                            n_epochs: int, batch_size: int, lr: float,
                            max_norm: float) -> float:
    """Train ``model`` with the recipe (one torch thread, as in the learner's kernel; the
    batches' order from a generator of its own, no global random state) and return its
    held-out RMSE (ppm)."""
    levels, train_diffs, mu, sd = co2_problem(horizon)
    z_train = (train_diffs - mu) / sd
    idx = np.arange(window)[:, None] + np.arange(len(z_train) - window)[None, :]
    X = torch.tensor(z_train[idx], dtype=torch.float32)[..., None]
    Y = torch.tensor(z_train[idx + 1], dtype=torch.float32)[..., None]
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        _reference_train(model, X, Y, n_epochs, batch_size, lr, max_norm, seed)
        z_pred = forecast_reference(model, z_train, horizon)
    finally:
        torch.set_num_threads(threads)
    return _levels_rmse(z_pred, horizon)


@functools.cache
def reference_rmse(seed: int, horizon: int, window: int, hidden: int, n_epochs: int,
                   batch_size: int, lr: float, max_norm: float) -> float:
    """The held-out RMSE (ppm) of the solution's model, trained here with the same recipe."""
    return _trained_reference_rmse(_reference_model(seed, hidden), seed, horizon, window,
                                   n_epochs, batch_size, lr, max_norm)


_TRAINED: dict[tuple, tuple] = {}  # (ids of the learner's four callables, recipe) -> result
_REFERENCE: dict[tuple, Future] = {}  # recipe -> the reference RMSE, computed in a thread


def _reference_args(r: Mapping) -> dict:
    return {k: r[k] for k in ("seed", "horizon", "window", "hidden", "n_epochs", "batch_size",
                              "lr", "max_norm")}


def _start_reference(r: Mapping) -> None:
    """Train the reference model in a thread of the grader while the learner's kernel works
    (the first test of the notebook starts it, the held-out tiers too if it has not been: on
    two cores the runs overlap, about a second saved per notebook). Called only when the
    learner's code runs in a kernel, so that no learner code shares this process. The model
    is initialised here, before the thread starts; the thread uses no global random state, so
    what the grader's main thread does meanwhile cannot change the result."""
    args = _reference_args(r)
    key = tuple(sorted(args.items()))
    if key in _REFERENCE:
        return
    model = _reference_model(args["seed"], args["hidden"])
    rest = {k: v for k, v in args.items() if k != "hidden"}
    future: Future = Future()

    def run() -> None:
        try:
            future.set_result(_trained_reference_rmse(model, **rest))
        except BaseException as err:  # noqa: BLE001  (raised again where it is awaited)
            future.set_exception(err)

    _REFERENCE[key] = future
    threading.Thread(target=run, name="reference-forecaster", daemon=True).start()


def reference_rmse_of(r: Mapping) -> float:
    """:func:`reference_rmse` of the recipe ``r``: the background run's, when one was
    started, else computed now."""
    future = _REFERENCE.get(tuple(sorted(_reference_args(r).items())))
    return future.result() if future is not None else reference_rmse(**_reference_args(r))


def heldout_rmse(make_windows: Callable, cls: Callable, train: Callable, forecast: Callable,
                 **recipe) -> float:
    """Train the learner's model with the learner's functions on the training months only,
    forecast ``horizon`` months, and compute the RMSE of the levels here (the held-out months
    are never passed to the learner's code). Remembered for the same four callables, so that
    the tiers' test cells train once."""
    r = {**RECIPE, **recipe}
    fns = (make_windows, cls, train, forecast)
    key = (tuple(id(f) for f in fns), tuple(sorted(r.items())))
    if key in _TRAINED:
        return _TRAINED[key][1]
    levels, train_diffs, mu, sd = co2_problem(r["horizon"])
    z_train = (train_diffs - mu) / sd
    if _remote(train) is not None:
        _start_reference(r)
    _seed(cls, r["seed"])
    X_train, Y_train = make_windows(z_train, r["window"])
    model = cls(r["hidden"])
    train(model, X_train, Y_train, r["n_epochs"], r["batch_size"], r["lr"], r["max_norm"],
          seed=r["seed"])
    rmse = _levels_rmse(forecast(model, z_train, r["horizon"]), r["horizon"])
    while len(_TRAINED) >= 4:
        _TRAINED.pop(next(iter(_TRAINED)))
    _TRAINED[key] = (fns, rmse)  # the callables are kept so that their ids stay theirs
    return rmse


def _parts(make_windows: Callable, cls: Callable, train: Callable,
           forecast: Callable) -> list[Callee]:
    """The four graded parts the held-out run is made of, in the order the run uses them,
    each with its own tests' check (see :class:`autograder.keys.checks.Callee`)."""
    return [callee("make_windows", make_windows, check_make_windows),
            callee("Forecaster", cls, check_forecaster),
            callee("train", train, check_train),
            callee("forecast", forecast, check_forecast)]


def _tier(name: str, rmse: float, bar: float, bar_text: str,
          parts: Sequence[Callee] = ()) -> None:
    """Pass when ``rmse`` is below ``bar``; else fail naming the first of the learner's
    ``parts`` that fails its own tests (its error may be the cause), or else with ``name``'s
    hint about what to look at."""
    horizon = RECIPE["horizon"]
    print(f"RMSE over the {horizon} held-out months: {rmse:.3f} ppm; the bar, {bar_text}: "
          f"{bar:.3f} ppm")
    if not rmse < bar:
        wrong = next((p.name for p in parts if p.fails()), None)
        why = (f"your {wrong} fails its own tests: fix it first; this may be the cause."
               if wrong else name)
        _fail(f"RMSE {rmse:.3f} ppm on the held-out months is not below {bar_text}, "
              f"{bar:.3f} ppm: {why}")


def check_beats_naive(make_windows: Callable, cls: Callable, train: Callable,
                      forecast: Callable, **recipe) -> None:
    """Tier 1: the held-out RMSE is below that of the last value repeated. Prints the RMSE
    and returns None (a number as a test cell's last value would be read as partial credit)."""
    rmse = heldout_rmse(make_windows, cls, train, forecast, **recipe)
    _tier("the model does no better than repeating the last value; look at the training "
          "loss and at what forecast feeds back, with which state.", rmse,
          baseline_rmses(RECIPE["horizon"])["naive"], "that of the naive forecast (the last value)",
          _parts(make_windows, cls, train, forecast))


def check_beats_seasonal(make_windows: Callable, cls: Callable, train: Callable,
                         forecast: Callable, **recipe) -> None:
    """Tier 2: the held-out RMSE is below that of last year's monthly changes repeated."""
    rmse = heldout_rmse(make_windows, cls, train, forecast, **recipe)
    _tier("the model has not learned more than the yearly cycle; look at the training "
          "(every epoch, the optimiser and learning rate, whole windows) and at the forecast.",
          rmse, baseline_rmses(RECIPE["horizon"])["seasonal"], "that of the seasonal baseline",
          _parts(make_windows, cls, train, forecast))


def check_near_reference(make_windows: Callable, cls: Callable, train: Callable,
                         forecast: Callable, factor: float = REFERENCE_FACTOR,
                         **recipe) -> None:
    """Tier 3: the held-out RMSE is below ``factor`` times the reference model's (the
    solution's LSTM trained here with the same recipe and seed)."""
    rmse = heldout_rmse(make_windows, cls, train, forecast, **recipe)
    ref_rmse = reference_rmse_of({**RECIPE, **recipe})
    _tier("the training or the forecast falls short of the reference recipe.", rmse,
          factor * ref_rmse, f"{factor} x the reference model's {ref_rmse:.3f} ppm",
          _parts(make_windows, cls, train, forecast))
