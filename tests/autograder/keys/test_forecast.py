"""Specifications of the forecasting assignment's held-out tiers (autograder.keys.forecast)."""

from __future__ import annotations

import numpy as np
import pytest

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
