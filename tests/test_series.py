"""Specifications of rnncourse.series and rnncourse.data.series (small, fast, no training)."""

import numpy as np
import pytest
import torch

from rnncourse.data.series import load_co2, load_nile, load_stock, load_sunspots
from rnncourse.series import (
    GRUForecaster,
    Scaler,
    fit_forecaster,
    fit_linear,
    inject_spikes,
    linear_predict,
    mase,
    naive_forecast,
    online_detect,
    precision_recall_f1,
    recursive_forecast,
    seasonal_naive_forecast,
    windows,
)


def test_windows_pair_each_origin_with_its_past_and_future():
    X, Y, t = windows(np.arange(10.0), n_in=3, h=2)
    assert X.shape == (6, 3) and Y.shape == (6, 2)
    np.testing.assert_array_equal(X[2], [2, 3, 4])
    np.testing.assert_array_equal(Y[2], [5, 6])
    assert t[2] == 5


def test_windows_reject_a_series_too_short():
    with pytest.raises(ValueError, match="too short"):
        windows(np.arange(4.0), n_in=3, h=2)


def test_scaler_uses_training_data_only():
    train, test = np.array([1.0, 2.0, 3.0]), np.array([100.0, 200.0])
    s = Scaler.fit(train)
    assert s.mean == pytest.approx(2.0)
    assert s.scale == pytest.approx(np.std(train))
    np.testing.assert_allclose(s.inverse(s.transform(test)), test)


def test_scaler_fit_changes_scales_by_the_training_changes():
    s = Scaler.fit_changes(np.array([0.0, 1.0, 3.0, 6.0]))
    assert s.scale == pytest.approx(np.std([1.0, 2.0, 3.0]))


def test_mase_of_the_naive_forecast_is_one_on_its_own_training_data():
    x = np.cumsum(np.random.default_rng(0).normal(size=200))
    X, Y, _ = windows(x, 1, 1)
    assert mase(Y, naive_forecast(X), x) == pytest.approx(1.0)


def test_seasonal_naive_repeats_the_last_season():
    X = np.arange(8.0)[None, :]
    np.testing.assert_array_equal(seasonal_naive_forecast(X, m=4, h=6), [[4, 5, 6, 7, 4, 5]])


def test_linear_autoregression_recovers_an_ar1_process():
    rng = np.random.default_rng(1)
    x = np.zeros(5000)
    for t in range(1, len(x)):
        x[t] = 0.5 + 0.8 * x[t - 1] + rng.normal(scale=0.1)
    X, Y, _ = windows(x, 1, 1)
    np.testing.assert_allclose(fit_linear(X, Y)[:, 0], [0.8, 0.5], atol=0.02)


def test_recursive_forecast_feeds_predictions_back():
    step = lambda w: w[:, -1] + 1.0  # noqa: E731
    np.testing.assert_array_equal(recursive_forecast(step, np.array([[0.0, 5.0]]), 3),
                                  [[6, 7, 8]])


def test_recursive_and_direct_linear_forecasts_agree_on_a_noiseless_line():
    x = 2.0 * np.arange(50.0)
    X1, Y1, _ = windows(x, 3, 1)
    X4, Y4, _ = windows(x, 3, 4)
    W1, W4 = fit_linear(X1, Y1, ridge=1e-9), fit_linear(X4, Y4, ridge=1e-9)
    rec = recursive_forecast(lambda w: linear_predict(W1, w), X4[-1:], 4)
    np.testing.assert_allclose(rec, linear_predict(W4, X4[-1:]), atol=1e-4)


def test_untrained_residual_forecaster_is_close_to_naive():
    torch.manual_seed(0)
    model = GRUForecaster(hidden=4, h=2)
    with torch.no_grad():
        model.out.weight.zero_()
        model.out.bias.zero_()
    X = np.array([[1.0, 2.0, 30.0]])
    np.testing.assert_allclose(model.predict(X), [[30.0, 30.0]])


def test_fit_forecaster_records_one_loss_per_step_and_lowers_it():
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    x = np.sin(np.arange(300) / 3)
    X, Y, _ = windows(x, 8, 1)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model: extra threads only wait for each other
    try:
        hist = fit_forecaster(GRUForecaster(hidden=8, h=1), X, Y, 60, rng, batch_size=16,
                              lr=1e-2, val=(X[:20], Y[:20]), eval_every=30)
    finally:
        torch.set_num_threads(threads)
    assert len(hist.loss) == 60 and hist.eval_steps == [30, 60]
    assert np.mean(hist.loss[-10:]) < np.mean(hist.loss[:10])


def test_inject_spikes_labels_exactly_the_changed_values():
    x = np.zeros(100)
    y, labels = inject_spikes(x, np.arange(50, 100), 5, (1.0, 2.0),
                              np.random.default_rng(0))
    np.testing.assert_array_equal(labels, y != 0)
    assert labels.sum() == 5 and not labels[:50].any()


def test_inject_spikes_is_reproducible_with_a_seed():
    a = inject_spikes(np.zeros(50), np.arange(50), 3, (1, 2), np.random.default_rng(7))
    b = inject_spikes(np.zeros(50), np.arange(50), 3, (1, 2), np.random.default_rng(7))
    np.testing.assert_array_equal(a[0], b[0])


def test_online_detect_replaces_a_flagged_spike_so_the_next_value_is_not_flagged():
    y = np.zeros(20)
    y[10] = 5.0
    flags, scores = online_detect(lambda w: w[:, -1], y, 5, 3, 1.0, np.array([1.0, 10.0]))
    np.testing.assert_array_equal(np.flatnonzero(flags[0]) + 5, [10])
    assert not flags[1].any()
    assert scores.shape == (2, 15)


def test_precision_recall_f1_counts_points():
    flags = np.array([1, 1, 0, 0], bool)
    labels = np.array([1, 0, 1, 0], bool)
    assert precision_recall_f1(flags, labels) == pytest.approx((0.5, 0.5, 0.5))


def test_precision_recall_f1_of_no_flags_is_zero():
    assert precision_recall_f1(np.zeros(3, bool), np.ones(3, bool)) == (0.0, 0.0, 0.0)


def test_loaders_return_complete_series():
    assert len(load_co2()) == 2284 and not load_co2().isna().any()
    assert load_sunspots().index[0] == 1700
    assert load_nile().index[-1] == 1970
    assert len(load_stock("IBM")) == 3270


def test_load_stock_names_the_valid_tickers():
    with pytest.raises(ValueError, match="AAPL"):
        load_stock("XYZ")
