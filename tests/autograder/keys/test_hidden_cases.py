"""Specifications of hidden cases and non-finite values in the keys (autograder.keys.*).

A hidden case's failure says which case of how many failed and what differs, never the
case's inputs (shapes, lengths, indices, seeds, expected values); any NaN or inf a learner's
function returns fails the check it reaches.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from autograder.keys import char_lm, checks, forecast, linear_rnn, reference, training
from autograder.keys.checks import hidden_case, hidden_cases

# Parameters no message of a hidden case may quote (distinctive on purpose).
T, B, D, H, SEED = 37, 5, 11, 13, 4242


def _hidden_message(check, *args, **kwargs) -> str:
    with pytest.raises(AssertionError) as err:
        for case in hidden_cases([(1,), (2,), (3,)]):
            with case as (k,):
                if k == 3:
                    check(*args, **kwargs)
    return str(err.value)


def _quotes_no_input(message: str) -> bool:
    """No number is left once the case's number, the error's size and the names that hold
    digits (h0, h_{T-1}, scans[0]) are taken out; no "T=" or "index"."""
    rest = re.sub(r"^hidden case \d+ of \d+ failed: ", "", message)
    rest = re.sub(r"max abs error [0-9.e+-]+", "", rest)
    rest = re.sub(r"[A-Za-z_{}]+[0-9]+[A-Za-z_{}]*|_\{[^}]*\}|\[\d\]", "", rest)
    return not re.search(r"\d", rest) and "=" not in rest and "index" not in rest


def rnn_forward(X, h0, W_xh, W_hh, b_h):
    return reference.rnn(X, h0, W_xh, W_hh, b_h)


def test_a_passing_hidden_case_is_silent():
    """Does a hidden case whose check passes raise nothing?"""
    for case in hidden_cases([(T, B, D, H, SEED)]):
        with case as (t, b, d, h, seed):
            checks.check_rnn_forward(rnn_forward, T=t, B=b, D=d, H=h, seed=seed)


@pytest.mark.parametrize("wrong, words", [
    (lambda X, h0, *w: rnn_forward(X, h0, *w) + 1.0, "differs from torch.nn.RNN: max abs error"),
    (lambda X, h0, *w: rnn_forward(X, h0, *w)[-1], "wrong shape: only the last state"),
    (lambda X, h0, *w: rnn_forward(X, h0, *w) * np.nan, "non-finite values"),
    (lambda X, h0, *w: rnn_forward(X, h0, *w).astype(np.float32), "dtype float32"),
    (lambda X, h0, *w: rnn_forward(X, np.zeros_like(h0), *w), "h0 ignored"),
], ids=["values", "shape", "nan", "dtype", "mistake"])
def test_a_failing_hidden_case_names_its_number_and_what_differs_not_its_inputs(wrong, words):
    """Does "hidden case 3 of 3 failed: ..." say what differs, with no shape, length, index or
    seed of the case?"""
    msg = _hidden_message(checks.check_rnn_forward, wrong, T=T, B=B, D=D, H=H, seed=SEED)
    assert msg.startswith("hidden case 3 of 3 failed: "), msg
    assert words in msg, msg
    assert _quotes_no_input(msg), msg


def test_the_same_failure_outside_a_hidden_case_keeps_its_full_diagnostic():
    """Does a visible case still give the shapes and the first time step that differs?"""
    with pytest.raises(AssertionError) as err:
        checks.check_rnn_forward(lambda *a: rnn_forward(*a)[-1], T=T, B=B, D=D, H=H, seed=SEED)
    assert f"({T}, {B}, {H})" in str(err.value)


@pytest.mark.parametrize("check, wrong, kwargs", [
    (linear_rnn.check_scan, lambda a, b, h0: b.copy(), {"T": T, "B": B, "H": H}),
    (linear_rnn.check_min_gru_forward, lambda X, h0, *w: np.zeros((T, B, H)),
     {"T": T, "B": B, "D": D, "H": H}),
    (linear_rnn.check_time_scans_calls, lambda scans, Ts, b, h, r, s: np.ones((2, 2)),
     {"Ts": (T, 3), "B": B, "H": H, "repeats": 2}),
    (char_lm.check_softmax_cross_entropy, lambda z, y, m: (np.zeros(3), z), {"T": T, "B": B}),
    (char_lm.check_sample_next_greedy, lambda z, t, rng: np.zeros(len(z), dtype=np.int64),
     {"B": T, "V": H}),
    (checks.check_clip_grad_norm, lambda g, m: (g, 1.0), {"max_norm": 0.5}),
    (forecast.check_make_windows, lambda s, w: (torch.zeros(w, len(s) - w), None),
     {"N": T, "window": H}),
], ids=["scan", "min_gru", "time_scans_calls", "cross_entropy", "greedy", "clip",
        "make_windows"])
def test_hidden_cases_of_every_key_quote_no_input(check, wrong, kwargs):
    """Does every key used in a hidden test fail a hidden case without quoting its inputs?"""
    msg = _hidden_message(check, wrong, seed=SEED, **kwargs)
    assert msg.startswith("hidden case 3 of 3 failed: "), msg
    assert _quotes_no_input(msg), msg


def test_the_learners_own_error_in_a_hidden_case_is_reported_by_name_only():
    """Does an error the learner's code raised (carried by the runner as ename and evalue)
    lose its message in a hidden case, which may quote the inputs?"""
    class LearnerError(Exception):
        def __init__(self):
            self.ename, self.evalue, self.fatal = "ValueError", f"shape ({T}, {B})", False

    err = LearnerError()
    with pytest.raises(LearnerError):
        with hidden_case(2, 4):
            raise err
    assert err.evalue.startswith("hidden case 2 of 4 failed: your code raised ValueError")
    assert str(T) not in err.evalue


def test_an_unexpected_error_in_a_hidden_case_is_reported_by_its_kind_alone():
    """Is a failure that is not a check's (a test cell's own assert) never quoted?"""
    with pytest.raises(AssertionError) as err:
        with hidden_case():
            raise AssertionError(f"T={T}")
    assert str(err.value) == ("hidden case 1 of 1 failed: AssertionError (the details are not "
                              "shown for a hidden case)")


# -- non-finite values -------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
def test_check_array_fails_any_non_finite_value_even_where_the_reference_has_one(bad):
    expected = np.array([1.0, bad])
    with pytest.raises(AssertionError, match="non-finite"):
        checks.check_array("x", np.array([1.0, bad]), expected)


@pytest.mark.parametrize("bad", [np.nan, np.inf], ids=["nan", "inf"])
def test_a_non_finite_total_norm_fails_the_clipping_check(bad):
    def clip(grads, max_norm):
        clipped, _ = reference.clip_grad_norm(grads, max_norm)
        return clipped, bad
    with pytest.raises(AssertionError, match="total_norm"):
        checks.check_clip_grad_norm(clip, max_norm=0.5)


@pytest.mark.parametrize("bad", [np.nan, np.inf], ids=["nan", "inf"])
def test_non_finite_times_fail_the_timing_checks(bad):
    with pytest.raises(AssertionError, match="finite"):
        linear_rnn.check_time_scans_calls(lambda *a: np.full((3, 2), bad))


def test_non_finite_sampled_ids_or_losses_fail(monkeypatch):
    with pytest.raises(AssertionError, match="dtype"):
        char_lm.check_sample_next_greedy(lambda z, t, rng: np.full(len(z), np.nan))
    with pytest.raises(AssertionError, match="non-finite"):
        training.check_train_tbptt(lambda X, Y, p, *a: [np.nan] * 10)
