"""Specifications of the forecasting assignment's held-out tiers (autograder.keys.forecast)."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
import torch

from autograder.keys import checks
from autograder.keys import forecast as F

HORIZON = F.RECIPE["horizon"]
COURSE_CACHE_DIR = F.reference_cache_dir  # before any test replaces it


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


# -- the reference RMSE, remembered per environment --------------------------------------------

@pytest.fixture(autouse=True)
def reference_cache(tmp_path, monkeypatch):
    """Each test remembers reference RMSEs in a folder of its own (not the course's cache)."""
    folder = tmp_path / "forecast-reference"
    monkeypatch.setattr(F, "reference_cache_dir", lambda: folder)
    return folder


def _untrained(*args, **kwargs):
    raise AssertionError("the reference was trained again")


def test_a_graded_reference_is_remembered_and_read_back_without_training(
        monkeypatch, reference_cache):
    """Graded twice in one environment, is the reference trained the first time only, and
    does the second grading get the same RMSE from what the first remembered?"""
    recipe = {**F.RECIPE, **SHORT, "seed": 13}
    monkeypatch.setattr(F, "_REFERENCE", {})
    F._start_reference(recipe)
    first = F.reference_rmse_of(recipe)
    assert first == F.reference_rmse(**F._reference_args(recipe))
    key = F.reference_key(F._reference_args(recipe))
    assert sorted(p.name for p in reference_cache.iterdir()) == [f"{key}-co2.npy",
                                                                f"{key}.json"]
    monkeypatch.setattr(F, "_REFERENCE", {})  # a new grading process
    monkeypatch.setattr(F, "_LEVELS", {})
    monkeypatch.setattr(F, "_trained_reference_rmse", _untrained)
    F._start_reference(recipe)
    assert F.reference_rmse_of(recipe) == first
    assert np.array_equal(F.monthly_co2(), F.co2_problem(HORIZON)[0])  # without statsmodels
    assert "co2" in F._LEVELS and not F._LEVELS["co2"].flags.writeable


def _levels_file(folder, key: str, array) -> None:
    folder.mkdir(exist_ok=True)
    np.save(folder / f"{key}-co2.npy", array, allow_pickle=True)


@pytest.mark.parametrize("array", [
    np.array([0.3] * 500, dtype=object), np.full(500, 300.0, dtype=np.float32),
    np.full((250, 2), 300.0), np.r_[np.full(499, 300.0), np.nan], np.full(50, 300.0),
    np.array(["300"] * 500)], ids=["objects", "float32", "2-D", "NaN", "short", "text"])
def test_remembered_levels_that_are_not_a_long_finite_float64_series_are_not_used(
        reference_cache, array):
    """A levels file with pickled objects, another dtype or shape, a NaN or too few months:
    is it ignored (the data set is then read from statsmodels)?"""
    key = "k" * 32
    _levels_file(reference_cache, key, array)
    assert F.remembered_levels(reference_cache, key) is None
    _levels_file(reference_cache, key, np.full(500, 300.0))
    assert F.remembered_levels(reference_cache, key).shape == (500,)


def test_a_truncated_levels_file_is_not_used(reference_cache):
    reference_cache.mkdir()
    (reference_cache / f"{'k' * 32}-co2.npy").write_bytes(b"\x93NUMPY\x01\x00v\x00{'descr'")
    assert F.remembered_levels(reference_cache, "k" * 32) is None


def test_what_the_reference_depends_on_changes_its_key():
    """Does another recipe, another version of this code, or another torch give another key
    (so that a remembered RMSE is never read for a reference it is not)?"""
    args = F._reference_args(F.RECIPE)
    key = F.reference_key(args)
    assert F.reference_key(dict(args)) == key
    assert F.reference_key({**args, "n_epochs": args["n_epochs"] + 1}) != key
    assert F.reference_key({**args, "seed": 1}) != key


def test_a_remembered_rmse_is_read_only_under_its_own_key(reference_cache):
    """Is a file that names another key inside (copied or renamed from another recipe's)
    ignored, and a file of another key never read?"""
    reference_cache.mkdir()
    a, b = "a" * 32, "b" * 32
    (reference_cache / f"{a}.json").write_text(json.dumps({"key": b, "rmse": 0.01}))
    (reference_cache / f"{b}.json").write_text(json.dumps({"key": b, "rmse": 0.02}))
    assert F.remembered_reference(reference_cache, a) is None
    assert F.remembered_reference(reference_cache, b) == 0.02
    assert F.remembered_reference(reference_cache, "c" * 32) is None


@pytest.mark.parametrize("content", [
    '{"key": "K", "rmse": NaN}', '{"key": "K", "rmse": Infinity}', '{"key": "K", "rmse": -0.3}',
    '{"key": "K", "rmse": 0.0}', '{"key": "K", "rmse": "0.3"}', '{"key": "K", "rmse": true}',
    '{"key": "K", "rmse": [0.3]}', '{"key": "K"}', '[0.3]', '0.3', '{"key": "K", "rmse": 0.3',
    "\udcff not json"])
def test_a_remembered_rmse_that_is_not_a_positive_finite_float_is_computed_again(
        monkeypatch, reference_cache, content):
    """A damaged or hand-edited file (not JSON, a NaN, a string, a negative number): is it
    ignored, the reference trained again, and the file replaced by the right value?"""
    recipe = {**F.RECIPE, **SHORT, "seed": 17}
    key = F.reference_key(F._reference_args(recipe))
    reference_cache.mkdir()
    path = reference_cache / f"{key}.json"
    path.write_text(content.replace('"K"', json.dumps(key)), encoding="utf-8",
                    errors="surrogateescape")
    assert F.remembered_reference(reference_cache, key) is None
    monkeypatch.setattr(F, "_REFERENCE", {})
    F._start_reference(recipe)
    expected = F.reference_rmse(**F._reference_args(recipe))
    assert F.reference_rmse_of(recipe) == expected
    assert F.remembered_reference(reference_cache, key) == expected


def test_no_course_folder_means_nothing_is_remembered(monkeypatch, reference_cache):
    """With no course to remember in (reference_cache_dir() is None), is the reference still
    trained and given, with nothing written?"""
    monkeypatch.setattr(F, "reference_cache_dir", lambda: None)
    monkeypatch.setattr(F, "_REFERENCE", {})
    recipe = {**F.RECIPE, **SHORT, "seed": 19}
    F._start_reference(recipe)
    assert F.reference_rmse_of(recipe) == F.reference_rmse(**F._reference_args(recipe))
    assert not reference_cache.exists()


def test_the_reference_is_remembered_in_the_grading_cache_of_the_course(
        monkeypatch, tmp_path):
    """Is the folder grading/cache/forecast-reference of the course ($RNNCOURSE_ROOT), and
    None where there is no course (no solutions/ folder)?"""
    course = tmp_path / "course"
    (course / "solutions").mkdir(parents=True)
    monkeypatch.setenv("RNNCOURSE_ROOT", str(course))
    assert COURSE_CACHE_DIR() == course / "grading" / "cache" / F.REFERENCE_CACHE
    monkeypatch.setenv("RNNCOURSE_ROOT", str(tmp_path / "elsewhere"))
    assert COURSE_CACHE_DIR() is None


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
