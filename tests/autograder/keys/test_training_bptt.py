"""Specifications of the ``bptt`` assignment's grading (autograder.keys.training): one mistake,
one place where points are lost, and hints that fit their mistakes. The notebook's test cells
run here against the reference functions and the catalogue's mutants, without a kernel."""

from __future__ import annotations

import numpy as np
import pytest

from autograder.keys import training
from tests.autograder.catalogues.mutations import Variant
from tests.autograder.keys.bptt_notebook import MUTANTS, grade, lost, mutant, mutants_of

BPTT_MUTANTS = [m for m in MUTANTS if m.assignment == "bptt"]

# The tests of each part: a mistake in a function may cost only these.
PART_TESTS = {
    "rnn_forward": ("test_rnn_forward",),
    "rnn_backward": ("test_rnn_backward_",),
    "numerical_gradient": ("test_numerical_gradient",),
    "clip_grad_norm": ("test_clip_grad_norm_",),
    "train_tbptt": ("test_train_tbptt_",),
}

# What the issue's mistakes cost: the tests they fail, and those tests' points.
COSTS = {
    "bptt_rnn_forward_ignores_h0": {"test_rnn_forward": 1},
    "rnn_backward_dW_hh_assigned_not_accumulated": {"test_rnn_backward_dW_hh": 2},
    "rnn_backward_dW_hh_uses_h_t": {"test_rnn_backward_dW_hh": 2},
    "clip_in_place": {"test_clip_grad_norm_leaves_grads_unchanged": 1},
    "tbptt_state_reset_each_chunk": {"test_train_tbptt_matches_reference": 4,
                                     "test_train_tbptt_learns_echo": 2},
}


def test_the_reference_notebook_passes_every_test():
    assert lost() == {}


@pytest.mark.parametrize("variant", BPTT_MUTANTS, ids=lambda v: v.id)
def test_a_mistake_costs_points_only_in_its_own_part(variant):
    """Does each catalogue mistake lose points, and only in the tests of its function's part?"""
    failed = lost(variant)
    assert failed, f"{variant.id} lost no points"
    elsewhere = [g for g in failed if not g.startswith(PART_TESTS[variant.function])]
    assert not elsewhere, f"{variant.id} also fails {elsewhere}"


@pytest.mark.parametrize("mutant_id", sorted(COSTS))
def test_the_issues_mistakes_cost_what_the_closing_note_says(mutant_id):
    assert lost(mutant(mutant_id)) == COSTS[mutant_id]


def _messages(variant: Variant, test: str | None = None) -> str:
    return "\n".join(o.message for g, o in grade(variant).items()
                     if o.message and (test is None or g == test))


@pytest.mark.parametrize("variant", mutants_of("train_tbptt"), ids=lambda v: v.id)
def test_the_echo_names_the_state_only_when_it_is_not_carried(variant):
    """Does the echo test's hint about the carried state fire on the reset-state mutant, and on
    no other mistake of train_tbptt?"""
    message = _messages(variant, "test_train_tbptt_learns_echo")
    names_state = "not carried from chunk to chunk" in message
    assert names_state == (variant.id == "tbptt_state_reset_each_chunk"), message


@pytest.mark.parametrize("variant", mutants_of("clip_grad_norm"), ids=lambda v: v.id)
def test_the_in_place_hint_fires_only_on_the_in_place_clip(variant):
    message = _messages(variant)
    assert ("in place" in message) == (variant.id == "clip_in_place"), message


@pytest.mark.parametrize("variant", BPTT_MUTANTS, ids=lambda v: v.id)
def test_no_message_proposes_a_shallow_copy_of_the_gradients(variant):
    """A copy of the dict of gradients leaves an in-place clip as it was: never proposed."""
    assert "grads = grads.copy()" not in _messages(variant)


def test_a_wrong_forward_is_named_first_where_the_backward_is_also_wrong():
    """Forward ignoring h0 and backward without dh_next: the backward's tests name the forward
    first, and the forward's test still fails on its own."""
    results = grade(mutant("bptt_rnn_forward_ignores_h0"),
                    mutant("rnn_backward_dh_next_not_accumulated"))
    assert results["test_rnn_forward"].message
    message = results["test_rnn_backward_dX"].message
    assert message and "your rnn_forward from Part 0" in message
    assert message.count("\n") <= 2


def test_a_wrong_helper_is_named_first_where_the_training_is_also_wrong():
    results = grade(mutant("rnn_backward_dW_hh_uses_h_t"), mutant("tbptt_state_reset_each_chunk"))
    for test in ("test_train_tbptt_matches_reference", "test_train_tbptt_learns_echo"):
        message = results[test].message
        assert message and message.startswith("AssertionError: your rnn_backward (Part 1)")
        assert message.count("\n") <= 2


def test_a_backward_right_for_the_reference_states_but_not_the_learners_fails():
    """Hostile: a backward that recomputes the correct forward itself would pass even with the
    learner's wrong forward; one that is wrong for both sets of states must not pass."""
    Hs_wrong = lambda X, h0, *w: np.zeros((X.shape[0], X.shape[1], h0.shape[1]))  # noqa: E731

    def backward(dHs, X, h0, W_xh, W_hh, b_h):
        g = training.bptt_given_states(dHs, X, h0, np.full(dHs.shape, 0.3), W_xh, W_hh, b_h)
        return g

    with pytest.raises(AssertionError, match="rnn_forward from Part 0"):
        training.check_rnn_backward(backward, "dW_hh", forward=Hs_wrong)


def test_a_backward_right_for_a_wrong_forwards_states_passes():
    """Charged at most once: a gradient right for the (wrong) states the forward returns."""
    def forward(X, h0, W_xh, W_hh, b_h):  # h0 ignored
        return training.ref.rnn(X, np.zeros_like(h0), W_xh, W_hh, b_h)

    def backward(dHs, X, h0, W_xh, W_hh, b_h):
        return training.bptt_given_states(dHs, X, h0, forward(X, h0, W_xh, W_hh, b_h), W_xh,
                                          W_hh, b_h)

    for key in training.RNN_GRADS:
        training.check_rnn_backward(backward, key, forward=forward)
        training.check_rnn_backward_hand_case(backward, key, forward=forward)
    with pytest.raises(AssertionError):  # without the learner's forward, the same is wrong
        training.check_rnn_backward(backward, "dh0")


def test_bptt_given_states_equals_autograd_on_the_true_states():
    a = training.draw(3, dHs=(5, 2, 3), X=(5, 2, 4), h0=(2, 3), W_xh=(4, 3), W_hh=(3, 3),
                      b_h=(3,))
    args = [a[k] for k in ("X", "h0", "W_xh", "W_hh", "b_h")]
    expected = training.ref.rnn(*args, dHs=a["dHs"])
    got = training.bptt_given_states(a["dHs"], args[0], args[1], training.ref.rnn(*args),
                                     *args[2:])
    for key in training.RNN_GRADS:
        np.testing.assert_allclose(got[key], expected[key], rtol=1e-10, atol=1e-12)
