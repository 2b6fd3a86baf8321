"""Specifications of the forecasting assignment's held-out tiers (autograder.keys.forecast)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from autograder.keys import checks
from autograder.keys import forecast as F

HORIZON = F.RECIPE["horizon"]


def _learner(z_forecast: np.ndarray, calls: list | None = None):
    """Stand-ins for the learner's four functions whose forecast is ``z_forecast``."""
    def make_windows(series, window):
        return series, series

    class Model:
        def __init__(self, hidden):
            pass

    def train(model, X, Y, *args, **kwargs):
        if calls is not None:
            calls.append("train")
        return []

    def forecast(model, history, steps):
        return np.array(z_forecast, dtype=np.float64)

    return make_windows, Model, train, forecast


def _z(diffs: np.ndarray) -> np.ndarray:
    _, _, mu, sd = F.co2_problem(HORIZON)
    return (diffs - mu) / sd


def test_baselines_are_the_naive_and_seasonal_forecasts_of_the_notebook():
    b = F.baseline_rmses(HORIZON)
    assert b["naive"] == pytest.approx(2.929, abs=1e-3)
    assert b["seasonal"] == pytest.approx(0.643, abs=1e-3)


def test_repeating_the_last_value_fails_the_naive_tier():
    fns = _learner(_z(np.zeros(HORIZON)))
    with pytest.raises(AssertionError, match="not below that of the naive forecast"):
        F.check_beats_naive(*fns)


def test_the_seasonal_baseline_beats_the_naive_tier_but_not_the_seasonal_one(capsys):
    _, train_diffs, _, _ = F.co2_problem(HORIZON)
    fns = _learner(_z(np.resize(train_diffs[-12:], HORIZON)))
    F.check_beats_naive(*fns)
    assert "0.643 ppm" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="not below that of the seasonal baseline"):
        F.check_beats_seasonal(*fns)


def test_the_three_tiers_train_the_learners_model_once():
    calls: list = []
    _, train_diffs, _, _ = F.co2_problem(HORIZON)
    fns = _learner(_z(np.resize(train_diffs[-12:], HORIZON)), calls)
    F.check_beats_naive(*fns)
    with pytest.raises(AssertionError):
        F.check_beats_seasonal(*fns)
    assert calls == ["train"]


def test_a_forecast_of_the_wrong_length_is_reported():
    with pytest.raises(AssertionError, match=f"forecast must return {HORIZON} finite values"):
        F.check_beats_naive(*_learner(np.zeros(HORIZON - 1)))


@pytest.mark.slow
def test_reference_model_clears_the_seasonal_bar_with_margin_as_the_notebook_states():
    rmse = F.reference_rmse(**F.RECIPE)
    assert rmse == pytest.approx(0.367, abs=0.005)  # stated in the notebook's part 5
    assert F.REFERENCE_FACTOR * rmse < F.baseline_rmses(HORIZON)["seasonal"] - 0.05


SHORT = {"n_epochs": 2}  # a recipe that trains the reference in a fraction of a second


def test_tiers_checked_in_process_train_no_reference_in_the_background():
    """In JupyterLab the learner's code runs in this process: is no thread started there?"""
    before = dict(F._REFERENCE)
    F.check_beats_naive(*_learner(_z(np.full(HORIZON, 0.1))), **SHORT)
    assert F._REFERENCE == before


def test_tiers_of_a_kernel_learner_train_the_reference_in_the_background():
    """When the learner's train is a proxy of its kernel, does the reference start training
    in a thread of the grader before the learner's training, and give what reference_rmse
    gives?"""
    make_windows, Model, train, forecast = _learner(_z(np.full(HORIZON, 0.1)))
    started = []

    def kernel_train(*args, **kwargs):
        started.append(len(F._REFERENCE))
        return train(*args, **kwargs)

    kernel_train._remote = object()  # what marks a proxy of the learner's kernel
    recipe = {**SHORT, "seed": 7}
    F.check_beats_naive(make_windows, Model, kernel_train, forecast, **recipe)
    key = tuple(sorted(F._reference_args({**F.RECIPE, **recipe}).items()))
    assert key in F._REFERENCE and started and started[0] >= 1
    assert F.reference_rmse_of({**F.RECIPE, **recipe}) == F.reference_rmse(
        **F._reference_args({**F.RECIPE, **recipe}))


def test_the_first_test_of_a_kernel_learner_starts_the_reference_in_the_background(
        monkeypatch):
    """Graded, does the notebook's first test (make_windows) already start the reference
    model's training, so that it overlaps the kernel's work on the tests before the tiers;
    and checked in JupyterLab, does it not?"""
    monkeypatch.setattr(F, "_REFERENCE", {})

    def make_windows(series, window):
        idx = np.arange(window)[:, None] + np.arange(len(series) - window)[None, :]
        return (torch.tensor(series[idx], dtype=torch.float32)[..., None],
                torch.tensor(series[idx + 1], dtype=torch.float32)[..., None])

    F.check_make_windows(make_windows)
    assert F._REFERENCE == {}
    make_windows._remote = object()  # what marks a proxy of the learner's kernel
    F.check_make_windows(make_windows)
    assert list(F._REFERENCE) == [tuple(sorted(F._reference_args(F.RECIPE).items()))]
    assert F.reference_rmse_of(F.RECIPE) == pytest.approx(0.367, abs=0.005)


def test_the_background_reference_is_initialised_before_its_thread_starts(monkeypatch):
    """torch's global RNG is shared by the grader's threads, and the main thread may draw from
    it (a check builds a model) while the reference trains: is the reference model built, from
    its seed, in the calling thread, so that the thread draws nothing from it?"""
    built_in = []
    init = F._ReferenceForecaster.__init__

    def recording_init(self, hidden_size):
        built_in.append(threading.current_thread())
        init(self, hidden_size)

    monkeypatch.setattr(F._ReferenceForecaster, "__init__", recording_init)
    recipe = {**F.RECIPE, **SHORT, "seed": 11}
    F._start_reference(recipe)
    F.reference_rmse_of(recipe)
    assert built_in == [threading.main_thread()]


# -- the model, judged by its behaviour ---------------------------------------------------------

class Forecaster(torch.nn.Module):
    """The solution's model (LSTM or GRU), optionally batch-first inside."""

    def __init__(self, hidden_size, kind="LSTM", batch_first=False):
        super().__init__()
        self.batch_first = batch_first
        self.rnn = getattr(torch.nn, kind)(1, hidden_size, batch_first=batch_first)
        self.head = torch.nn.Linear(hidden_size, 1)

    def forward(self, X, state=None):
        if self.batch_first:
            Hs, state = self.rnn(X.transpose(0, 1), state)
            return self.head(Hs).transpose(0, 1), state
        Hs, state = self.rnn(X, state)
        return self.head(Hs), state


class ClaimsToBeGRU(torch.nn.Module):
    """A tanh RNN whose class says it is torch.nn.GRU (module and name)."""

    def __init__(self, hidden_size):
        super().__init__()
        self.cell = torch.nn.RNNCell(1, hidden_size)

    def forward(self, X, h=None):
        Hs = []
        for x in X:
            h = self.cell(x, h)
            Hs.append(h)
        return torch.stack(Hs), h


ClaimsToBeGRU.__module__, ClaimsToBeGRU.__qualname__ = "torch.nn.modules.rnn", "GRU"


class GRUShapedWeights(torch.nn.Module):
    """Parameters named and shaped as torch.nn.GRU's, used as a tanh RNN."""

    def __init__(self, hidden_size):
        super().__init__()
        H = hidden_size
        self.weight_ih_l0 = torch.nn.Parameter(torch.randn(3 * H, 1) * 0.3)
        self.weight_hh_l0 = torch.nn.Parameter(torch.randn(3 * H, H) * 0.3)
        self.bias_ih_l0 = torch.nn.Parameter(torch.zeros(3 * H))
        self.bias_hh_l0 = torch.nn.Parameter(torch.zeros(3 * H))

    def forward(self, X, h=None):
        H = self.weight_hh_l0.shape[1]
        h = torch.zeros(X.shape[1], H) if h is None else h[0]
        Hs = []
        for x in X:
            h = torch.tanh(x @ self.weight_ih_l0[:H].T + h @ self.weight_hh_l0[:H].T)
            Hs.append(h)
        return torch.stack(Hs), h[None]


def _with_layer(layer):
    class Model(torch.nn.Module):
        def __init__(self, hidden_size):
            super().__init__()
            self.rnn, self.head = layer(hidden_size), torch.nn.Linear(hidden_size, 1)

        def forward(self, X, state=None):
            Hs, state = self.rnn(X, state)
            return self.head(Hs), state
    return Model


@pytest.mark.parametrize("make", [
    lambda h: Forecaster(h), lambda h: Forecaster(h, "GRU"),
    lambda h: Forecaster(h, batch_first=True),
], ids=["lstm", "gru", "lstm_batch_first_inside"])
def test_check_forecaster_accepts_torch_recurrent_layers(make):
    F.check_forecaster(make, hidden_size=5, seed=1)


def test_a_class_claiming_to_be_torch_gru_is_judged_by_its_weights_not_its_name():
    with pytest.raises(AssertionError, match="not those of one recurrent layer"):
        F.check_forecaster(_with_layer(ClaimsToBeGRU), hidden_size=5)


def test_gru_shaped_weights_that_compute_something_else_fail_on_their_outputs():
    with pytest.raises(AssertionError, match="Y_hat differs from torch.nn.GRU"):
        F.check_forecaster(_with_layer(GRUShapedWeights), hidden_size=5)


def test_a_recurrent_layer_ignoring_hidden_size_is_reported():
    with pytest.raises(AssertionError, match="hidden_size = 5"):
        F.check_forecaster(lambda h: Forecaster(1), hidden_size=5)


# -- the training loop, judged by its outcome ----------------------------------------------------

def train(model, X, Y, n_epochs, batch_size, lr, max_norm, seed=0, clip=True, nan_dummy=False,
          steps_per_epoch=None, losses_out=None):
    """The solution's train, with switches for the mistakes and forgeries tested below."""
    gen = torch.Generator().manual_seed(seed)
    dummy = torch.nn.Parameter(torch.zeros(1))
    params = list(model.parameters()) + ([dummy] if nan_dummy else [])
    optimizer = torch.optim.Adam(params, lr=lr)
    M, losses = X.shape[1], []
    for _ in range(n_epochs):
        order, total = torch.randperm(M, generator=gen), 0.0
        for s in range(0, M, batch_size)[:steps_per_epoch]:
            idx = order[s:s + batch_size]
            loss = torch.nn.functional.mse_loss(model(X[:, idx])[0], Y[:, idx])
            optimizer.zero_grad()
            loss.backward()
            if nan_dummy:
                dummy.grad = torch.full((1,), float("nan"))
            if clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
            optimizer.step()
            total += loss.item() * len(idx)
        losses.append(total / M)
    return losses if losses_out is None else losses_out


@pytest.mark.parametrize("kwargs", [{}, {"n_epochs": 3, "batch_size": 3, "lr": 0.02,
                                         "max_norm": 1e-5, "seed": 1}], ids=["visible", "hidden"])
def test_check_train_accepts_the_recipe(kwargs):
    F.check_train(train, **kwargs)


def test_the_grader_can_tell_clipped_from_unclipped_training_by_far_more_than_rounding():
    state = F.ToyForecaster(4).state_dict()
    X, Y = F.clip_problem(0)
    clipped = F.train_outcome(state, X, Y, 2, 2, 0.01, 1e-3, 4)[0]
    unclipped = F.train_outcome(state, X, Y, 2, 2, 0.01, None, 4)[0]
    gap = min(np.abs(clipped[k] - unclipped[k]).max() for k in clipped)
    assert gap > 100 * 1e-6, gap  # check_train's tolerance: atol 1e-6, rtol 1e-4


@pytest.mark.parametrize("mistake, words", [
    ({"clip": False}, "no clipping"),
    ({"clip": False, "nan_dummy": True}, "no clipping"),
    ({"steps_per_epoch": 1}, "differs from the grader's training"),
    ({"losses_out": [0.5, 0.25]}, "mean loss of each epoch differs"),
    ({"losses_out": [float("nan")] * 2}, "non-finite"),
], ids=["unclipped", "unclipped_nan_dummy_parameter", "one_step_per_epoch", "made_up_losses",
        "nan_losses"])
def test_check_train_fails_what_the_grader_does_not_compute(mistake, words):
    with pytest.raises(AssertionError, match=words):
        F.check_train(lambda *a: train(*a, **mistake))


def _make_windows(series, window):
    M = len(series) - window
    X = np.stack([series[i:i + window] for i in range(M)], axis=1)[..., None]
    Y = np.stack([series[i + 1:i + 1 + window] for i in range(M)], axis=1)[..., None]
    return torch.tensor(X, dtype=torch.float32), torch.tensor(Y, dtype=torch.float32)


def test_make_windows_that_changes_the_series_in_place_loses_only_the_in_place_test():
    def make_windows(series, window):  # zeroes the series once it has its windows
        out = _make_windows(series, window)
        series[:] = 0.0
        return out

    F.check_make_windows(_make_windows, N=12, window=4)
    F.check_make_windows(make_windows, N=12, window=4)
    checks.check_arguments_unchanged(F.check_make_windows, _make_windows, N=12, window=4)
    with pytest.raises(AssertionError, match="make_windows changed its argument series in "
                                             "place"):
        checks.check_arguments_unchanged(F.check_make_windows, make_windows, N=12,
                                         window=4)


def test_forecast_that_changes_history_in_place_loses_only_the_in_place_test():
    def forecast(model, history, steps):
        out = F.forecast_reference(model, history, steps)
        history += 1.0
        return out

    F.check_forecast(forecast)
    with pytest.raises(AssertionError, match="forecast changed its argument history in place"):
        checks.check_arguments_unchanged(F.check_forecast, forecast)


# -- the held-out tiers name the part that fails its own tests ----------------------------------

def _forecast_without_state(model, history, steps):
    """A forecast that feeds each prediction back without the state (a bug in forecast)."""
    return F.forecast_reference(model, history, steps, carry_state=False)


@pytest.mark.slow
def test_a_held_out_tier_blames_forecast_not_training_for_a_bug_in_forecast():
    """Right windows, model and training, and a forecast that drops the state: does the
    failing tier name forecast, and not send the learner to the training?"""
    fns = (_make_windows, Forecaster, train, _forecast_without_state)
    with pytest.raises(AssertionError) as err:
        F.check_beats_seasonal(*fns, n_epochs=2, hidden=4)
    msg = str(err.value)
    assert "your forecast fails its own tests: fix it first" in msg
    assert "training" not in msg and msg.count("\n") <= 2


@pytest.mark.slow
def test_a_held_out_tier_names_no_part_when_every_part_passes_its_own_tests():
    fns = (_make_windows, Forecaster, train, F.forecast_reference)
    with pytest.raises(AssertionError) as err:
        F.check_beats_seasonal(*fns, n_epochs=2, hidden=4)
    assert "fails its own tests" not in str(err.value)
    assert "look at the training" in str(err.value)


def test_a_wrong_forecast_value_is_named_by_its_step_counted_from_one():
    """The third forecast value wrong: does the message say forecast step k = 3, the
    notebook's d_{T+3}, and not index 2 read as a step?"""
    def forecast(model, history, steps):
        out = F.forecast_reference(model, history, steps)
        out[2:] += 1.0
        return out

    with pytest.raises(AssertionError, match=r"first at forecast step k = 3 \(index 2\)"):
        F.check_forecast(forecast)
