"""Blame follows dependencies: a failing test of a function that calls another graded function
of the learner names that callee first when the callee fails its own tests, and then names no
known mistake of the caller (issue 22)."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from autograder.keys import checks
from autograder.keys import reference as ref

STEP_FIRST = "your lstm_step_backward fails its own tests: fix it first; this may be its error."


def _message(check, fn, *args, **kw) -> str:
    with pytest.raises(AssertionError) as err:
        check(fn, *args, **kw)
    return str(err.value)


def _lstm_backward(step, *, carry_dc: bool = True):
    """The notebook's lstm_backward, built on ``step`` (one step's gradients)."""
    def lstm_backward(dHs, X, h0, c0, W_x, W_h, b):
        Hs, Cs = (t.detach().numpy() for t in ref.lstm_steps(
            *[ref.as_t(v) for v in (X, h0, c0, W_x, W_h, b)]))
        dX = np.zeros_like(X)
        sums = {k: 0.0 for k in ("dW_x", "dW_h", "db")}
        dh_next, dc_next = np.zeros_like(h0), np.zeros_like(c0)
        for t in reversed(range(X.shape[0])):
            h_prev, c_prev = (Hs[t - 1], Cs[t - 1]) if t else (h0, c0)
            dc = dc_next if carry_dc else np.zeros_like(c0)
            g = step(dHs[t] + dh_next, dc, X[t], h_prev, c_prev, W_x, W_h, b)
            dX[t] = g["dx"]
            sums = {k: v + g[k] for k, v in sums.items()}
            dh_next, dc_next = g["dh_prev"], g["dc_prev"]
        return {"dX": dX, "dh0": dh_next, "dc0": dc_next, **sums}
    return lstm_backward


RIGHT_STEP = ref.lstm_step_grads


def WRONG_DC_PREV(*args):  # noqa: N802 (a learner's function, named as a constant here)
    """A step whose dc_prev is zero (the learner left the cell path out): lstm_backward then
    looks exactly like "dc from the next step not carried back"."""
    out = ref.lstm_step_grads(*args)
    return {**out, "dc_prev": np.zeros_like(out["dc_prev"])}


@pytest.mark.parametrize("key", ["dX", "dh0", "dc0", "dW_x", "dW_h", "db"])
def test_a_wrong_dc_prev_in_the_step_is_blamed_on_the_step_not_on_lstm_backward(key):
    """A correct lstm_backward calling a step whose dc_prev misses f: does every failing test
    name lstm_step_backward first, and no mistake of lstm_backward?"""
    msg = _message(checks.check_lstm_backward, _lstm_backward(WRONG_DC_PREV), key,
                   step=WRONG_DC_PREV)
    assert msg.startswith(STEP_FIRST)
    assert "known mistake" not in msg and "not carried back" not in msg
    assert msg.count("\n") <= 2


def test_without_the_step_the_same_bug_reads_as_a_mistake_of_lstm_backward():
    """Why the test cell passes the step: without it, the wrong dc_prev looks like dc not
    carried back by lstm_backward, the misleading message the issue reports."""
    msg = _message(checks.check_lstm_backward, _lstm_backward(WRONG_DC_PREV), "dX")
    assert "dc from the next step not carried back" in msg and STEP_FIRST not in msg


def test_a_mistake_of_lstm_backward_itself_is_named_when_its_step_is_right():
    """A right step, and lstm_backward drops dc_next: is the caller's own mistake named, with
    no blame on the step?"""
    msg = _message(checks.check_lstm_backward, _lstm_backward(RIGHT_STEP, carry_dc=False),
                   "dc0", step=RIGHT_STEP)
    assert "dc from the next step not carried back" in msg and "fails its own tests" not in msg


def test_a_right_lstm_backward_passes_whatever_step_it_is_given():
    checks.check_lstm_backward(_lstm_backward(RIGHT_STEP), "dX", step=WRONG_DC_PREV)


def test_a_wrong_gru_step_is_blamed_first_in_gru_backward():
    wrong = functools.partial(ref.gru_step_grads, mistake="direct_path_missing")

    def gru_backward(dHs, X, h0, W_x, W_h, b_x, b_h):
        Hs = ref.gru_steps(*[ref.as_t(v) for v in (X, h0, W_x, W_h, b_x, b_h)]).detach().numpy()
        dX, dh_next = np.zeros_like(X), np.zeros_like(h0)
        sums = {k: 0.0 for k in ("dW_x", "dW_h", "db_x", "db_h")}
        for t in reversed(range(X.shape[0])):
            g = wrong(dHs[t] + dh_next, X[t], Hs[t - 1] if t else h0, W_x, W_h, b_x, b_h)
            dX[t], dh_next = g["dx"], g["dh_prev"]
            sums = {k: v + g[k] for k, v in sums.items()}
        return {"dX": dX, "dh0": dh_next, **sums}

    msg = _message(checks.check_gru_backward, gru_backward, "dh0", step=wrong)
    assert msg.startswith("your gru_step_backward fails its own tests: fix it first")
    assert "known mistake" not in msg


def test_a_wrong_cell_is_blamed_first_in_rnn_forward():
    """rnn_forward looping over a cell without tanh: is rnn_cell_forward named first, and not
    "tanh missing" as a mistake of rnn_forward?"""
    def cell(x, h_prev, W_xh, W_hh, b_h):
        return x @ W_xh + h_prev @ W_hh + b_h

    def rnn_forward(X, h0, W_xh, W_hh, b_h):
        h, Hs = h0, []
        for x in X:
            h = cell(x, h, W_xh, W_hh, b_h)
            Hs.append(h)
        return np.stack(Hs)

    msg = _message(checks.check_rnn_forward, rnn_forward, cell=cell)
    assert msg.startswith("your rnn_cell_forward fails its own tests: fix it first")
    assert "tanh missing" not in msg
    assert "tanh missing" in _message(checks.check_rnn_forward, rnn_forward)


def test_a_hidden_case_quotes_the_blame_and_no_input():
    with pytest.raises(AssertionError) as err:
        with checks.hidden_case(2, 4):
            checks.check_lstm_backward(_lstm_backward(WRONG_DC_PREV), "dX", T=3, B=2, D=3, H=4,
                                       seed=5, step=WRONG_DC_PREV)
    msg = str(err.value)
    assert msg.startswith(f"hidden case 2 of 4 failed: {STEP_FIRST}")
    assert "step t =" not in msg and "[" not in msg


def test_the_hand_case_of_lstm_backward_blames_a_wrong_step_first():
    msg = _message(checks.check_lstm_backward_hand_case, _lstm_backward(WRONG_DC_PREV),
                   step=WRONG_DC_PREV)
    assert msg.startswith(STEP_FIRST)
    checks.check_lstm_backward_hand_case(_lstm_backward(RIGHT_STEP), step=RIGHT_STEP)
