"""Specifications of rnncourse.tasks: the adding problem, the echo stream, the regressor."""

import numpy as np
import pytest
import torch

from rnncourse.tasks import (
    ADDING_BASELINE_MSE,
    SequenceRegressor,
    adding_problem,
    delayed_echo,
)


def rng():
    return np.random.default_rng(0)


def test_adding_problem_is_time_major_with_two_features():
    X, y = adding_problem(B=5, T=12, rng=rng())
    assert X.shape == (12, 5, 2) and y.shape == (5, 1)


def test_adding_problem_marks_one_step_in_each_half():
    X, _ = adding_problem(B=50, T=20, rng=rng())
    markers = X[:, :, 1]
    assert torch.all(markers[:10].sum(0) == 1) and torch.all(markers[10:].sum(0) == 1)


def test_adding_problem_target_is_sum_of_marked_values():
    X, y = adding_problem(B=20, T=15, rng=rng())
    torch.testing.assert_close((X[:, :, 0] * X[:, :, 1]).sum(0), y[:, 0])


def test_adding_problem_values_lie_in_unit_interval():
    X, _ = adding_problem(B=20, T=15, rng=rng())
    assert X[:, :, 0].min() >= 0 and X[:, :, 0].max() < 1


def test_adding_problem_is_reproducible_from_the_generator():
    X1, y1 = adding_problem(B=4, T=10, rng=rng())
    X2, y2 = adding_problem(B=4, T=10, rng=rng())
    assert torch.equal(X1, X2) and torch.equal(y1, y2)


def test_adding_problem_mean_predictor_scores_the_baseline():
    _, y = adding_problem(B=20000, T=10, rng=rng())
    assert abs(((y - 1.0) ** 2).mean().item() - ADDING_BASELINE_MSE) < 0.01


def test_adding_problem_rejects_too_short_sequences():
    with pytest.raises(ValueError, match="T >= 2"):
        adding_problem(B=1, T=1, rng=rng())


def test_delayed_echo_target_is_input_delay_steps_back():
    X, Y = delayed_echo(T=30, B=3, delay=4, rng=rng())
    assert X.shape == Y.shape == (30, 3, 1)
    assert torch.equal(Y[4:], X[:-4]) and torch.all(Y[:4] == 0)


def test_delayed_echo_rejects_delay_outside_sequence():
    with pytest.raises(ValueError, match="delay"):
        delayed_echo(T=5, B=1, delay=5, rng=rng())


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_regressor_returns_one_prediction_per_step_and_a_state(cell):
    model = SequenceRegressor(cell, D=2, H=8, out=3)
    Y, state = model(torch.zeros(7, 4, 2))
    assert Y.shape == (7, 4, 3)
    assert (state[0] if cell == "lstm" else state).shape == (1, 4, 8)


def test_regressor_predict_last_equals_last_step_of_forward():
    torch.manual_seed(0)
    model = SequenceRegressor("gru", D=2, H=8)
    X = torch.randn(6, 3, 2)
    torch.testing.assert_close(model.predict_last(X), model(X)[0][-1])


def test_regressor_carried_state_equals_one_long_call():
    torch.manual_seed(0)
    model = SequenceRegressor("lstm", D=2, H=8)
    X = torch.randn(10, 3, 2)
    Y1, state = model(X[:4])
    Y2, _ = model(X[4:], state)
    torch.testing.assert_close(torch.cat([Y1, Y2]), model(X)[0])


def test_regressor_rejects_unknown_cell():
    with pytest.raises(ValueError, match="one of"):
        SequenceRegressor("transformer", D=1, H=4)
