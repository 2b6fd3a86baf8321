"""The first failing visible test of a function gives the best message the checks have: a
hand-computed case that fails names the known mistake (or the callee to fix first) that the
function's test on random inputs would name (``checks.mistake_first``), issue 29."""

from __future__ import annotations

import numpy as np
import pytest

from autograder.keys import checks
from autograder.keys import reference as ref


def rnn_cell_sigmoid(x, h_prev, W_xh, W_hh, b_h):
    """A learner's rnn_cell_forward with sigmoid instead of tanh (a known mistake)."""
    return 1 / (1 + np.exp(-(x @ W_xh + h_prev @ W_hh + b_h)))


def rnn_cell_off_by_a_little(x, h_prev, W_xh, W_hh, b_h):
    """A learner's rnn_cell_forward that is wrong in no known way."""
    return np.tanh(x @ W_xh + h_prev @ W_hh + b_h) + 0.01


def rnn_cell_hand_case(fn) -> None:
    """The notebook's hand-case test of rnn_cell_forward (its first check: zero inputs)."""
    h = fn(np.zeros((3, 2)), np.zeros((3, 4)), np.ones((2, 4)), np.eye(4), np.zeros(4))
    checks.check_array("h for B=3, D=2, H=4", h, np.zeros((3, 4)))


def message(run) -> str:
    with pytest.raises(AssertionError) as err:
        run()
    return str(err.value)


def test_a_hand_case_with_a_known_mistake_says_what_the_torch_test_says():
    """sigmoid for tanh fails the hand case: does its message name the mistake, word for word
    as the matches-torch test does?"""
    def hand():
        with checks.mistake_first(checks.check_rnn_cell_forward, rnn_cell_sigmoid):
            rnn_cell_hand_case(rnn_cell_sigmoid)

    torch_says = message(lambda: checks.check_rnn_cell_forward(rnn_cell_sigmoid))
    assert "It matches a known mistake: sigmoid instead of tanh." in torch_says
    assert message(hand) == torch_says


def test_without_mistake_first_the_hand_case_names_no_mistake():
    """(The defence's other side.) Is the bare hand case's message the weaker one?"""
    assert "known mistake" not in message(lambda: rnn_cell_hand_case(rnn_cell_sigmoid))


def test_a_hand_case_failure_with_no_known_mistake_keeps_its_own_message():
    """An error no known mistake explains: does the hand case's own message stand?"""
    def hand():
        with checks.mistake_first(checks.check_rnn_cell_forward, rnn_cell_off_by_a_little):
            rnn_cell_hand_case(rnn_cell_off_by_a_little)

    assert message(hand).startswith("h for B=3, D=2, H=4 differs from the reference")


def test_an_error_the_learners_code_raises_is_left_as_it_is():
    """The learner's function raises: is that error, not a check's message, what the cell
    shows?"""
    def raises(*args):
        raise NotImplementedError("not yet")

    with pytest.raises(NotImplementedError, match="not yet"):
        with checks.mistake_first(checks.check_rnn_cell_forward, raises):
            rnn_cell_hand_case(raises)


def test_a_callee_that_fails_is_named_first_by_the_hand_case_of_the_caller():
    """rnn_forward built on a cell with sigmoid: does rnn_forward's hand case say to fix
    rnn_cell_forward first, as its matches-torch test does?"""
    def rnn_forward(X, h0, W_xh, W_hh, b_h):
        Hs, h = [], h0
        for x in X:
            h = rnn_cell_sigmoid(x, h, W_xh, W_hh, b_h)
            Hs.append(h)
        return np.stack(Hs)

    def hand():
        with checks.mistake_first(checks.check_rnn_forward, rnn_forward,
                                  cell=rnn_cell_sigmoid):
            checks.check_array("Hs", rnn_forward(np.zeros((5, 3, 2)), np.zeros((3, 4)),
                                                 np.ones((2, 4)), np.eye(4), np.zeros(4)),
                               np.zeros((5, 3, 4)), time_axis=True)

    assert message(hand).startswith("your rnn_cell_forward fails its own tests: fix it first")


def lstm_backward_with(**flags):
    """A learner's lstm_backward with the mistake ``flags`` names (see ref.lstm_steps)."""
    def lstm_backward(dHs, X, h0, c0, W_x, W_h, b):
        arrays = dict(zip(checks._LSTM_KEYS, (X, h0, c0, W_x, W_h, b), strict=True))
        return ref.autograd_of(ref.lstm_steps, dHs, arrays, checks._LSTM_KEYS, **flags)
    return lstm_backward


@pytest.mark.parametrize(("flags", "mistake"), [
    ({"tanh_grad_state": "c"}, "tanh' taken at c_t itself"),
    ({"h_from_c_prev": True}, "the forward inside the backward computes h from c_{t-1}"),
])
def test_the_hand_case_of_lstm_backward_names_its_known_mistake(flags, mistake):
    """lstm_backward's hand case fails on a known mistake: does it name it (it said only
    "dc0 differs from the hand-computed value" before)?"""
    msg = message(lambda: checks.check_lstm_backward_hand_case(lstm_backward_with(**flags)))
    assert f"It matches a known mistake: {mistake}" in msg


def test_the_hand_case_of_lstm_backward_still_passes_a_right_answer():
    checks.check_lstm_backward_hand_case(lstm_backward_with())


def test_a_plain_assert_of_the_test_itself_gives_way_to_the_known_mistake():
    """The hand case is an `assert` written in the test: is the known mistake named?"""
    def hand():
        with checks.mistake_first(checks.check_rnn_cell_forward, rnn_cell_sigmoid):
            h = rnn_cell_sigmoid(np.zeros((1, 1)), np.zeros((1, 1)), np.ones((1, 1)),
                                 np.ones((1, 1)), np.zeros(1))
            assert h[0, 0] == 0.0, f"h is {h[0, 0]}, expected 0"

    assert "It matches a known mistake: sigmoid instead of tanh." in message(hand)


def test_an_assert_inside_the_learners_function_is_left_as_it_is():
    """The learner's own assert fails inside their function: is it their message we see?"""
    def own_assert(x, h_prev, W_xh, W_hh, b_h):
        assert x.shape[1] == 7, "my own check"
        return rnn_cell_sigmoid(x, h_prev, W_xh, W_hh, b_h)

    def hand():
        with checks.mistake_first(checks.check_rnn_cell_forward, own_assert):
            rnn_cell_hand_case(own_assert)

    assert message(hand).startswith("my own check")
