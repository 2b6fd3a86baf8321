"""Specifications of rnncourse.capacity: the copy task, the grouped models, the length sweep."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rnncourse.capacity import (
    KINDS,
    GroupCopier,
    Stage,
    Stopping,
    copy_batch,
    fit_length,
    group_accuracy,
    longest_solved,
    sweep_lengths,
)

A, T_MAX = 3, 12


def inputs(n: int, G: int, B: int = 4, seed: int = 0) -> torch.Tensor:
    """Copy inputs ``(2n, G, B, A + 1)``, float64."""
    X, _ = copy_batch(n, A, G * B, np.random.default_rng(seed))
    return X.view(2 * n, G, B, A + 1).double()


# ---- the copy task ---------------------------------------------------------------------


def test_copy_batch_reads_the_symbols_then_a_delimiter_then_empty_steps():
    X, y = copy_batch(4, A, 5, np.random.default_rng(0))
    assert X.shape == (8, 5, A + 1) and y.shape == (4, 5)
    assert torch.equal(X[:4, :, :A].argmax(-1), y)        # the symbols, one-hot
    assert torch.equal(X[4, :, A], torch.ones(5))         # the delimiter at step n
    assert X[:4, :, A].sum() == 0 and X[5:].sum() == 0    # nothing else


def test_copy_batch_rejects_an_empty_sequence():
    with pytest.raises(ValueError, match="n >= 1"):
        copy_batch(0, A, 5, np.random.default_rng(0))


# ---- the grouped models -----------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_a_padded_group_computes_the_model_of_its_own_size(kind):
    """Does group 0 (H = 2) of a model padded to H = 5 give the logits of an H = 2 model alone?"""
    padded = GroupCopier(kind, A, [2, 5], [7, 1], T_MAX).double()
    alone = GroupCopier(kind, A, [2], [7], T_MAX).double()
    X = inputs(3, 2)
    torch.testing.assert_close(padded(X)[:, :1], alone(X[:, :1]), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_a_group_starts_the_same_whatever_the_other_groups_are(kind):
    """Does a group compute the same function whatever sizes and seeds the others have?"""
    a = GroupCopier(kind, A, [4, 2], [3, 0], T_MAX).double()
    b = GroupCopier(kind, A, [4, 6, 4], [3, 3, 5], T_MAX).double()
    X = inputs(3, 3)
    torch.testing.assert_close(a(X[:, :2])[:, 0], b(X)[:, 0], rtol=1e-12, atol=1e-12)
    assert not torch.allclose(b(X)[:, 0], b(X[:, [2, 1, 0]])[:, 2])   # another seed differs


def test_apply_masks_zeroes_the_padding_again():
    """If an update moved a padded entry, does apply_masks restore the smaller model?"""
    model = GroupCopier("lstm", A, [2, 5], [7, 1], T_MAX).double()
    X = inputs(3, 2)
    before = model(X)[:, 0]
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3)                                   # every entry, padding included
    model.apply_masks()
    for name, p in model.named_parameters():
        assert (p * (1 - getattr(model, f"mask_{name}"))).abs().max() == 0, name
    assert not torch.allclose(model(X)[:, 0], before)     # the real weights did move


def test_training_keeps_the_padding_zero():
    model = GroupCopier("mingru", A, [2, 4], [0, 1], T_MAX)
    stop = Stopping(solved=2.0, window=100, eval_every=3, max_steps=3)
    fit_length(model, 2, 1e-2, 4, stop, copy_batch(2, A, 8, np.random.default_rng(1)),
               np.random.default_rng(0))
    for name, p in model.named_parameters():
        assert (p * (1 - getattr(model, f"mask_{name}"))).abs().max() == 0, name


@pytest.mark.parametrize("kind", KINDS)
def test_the_mixer_is_causal(kind):
    """Does changing the input at step 3 leave every earlier output unchanged?"""
    model = GroupCopier(kind, A, [3], [0], T_MAX).double()
    E = model.embed(inputs(3, 1))
    E2 = E.clone()
    E2[3] += 1.0
    M, M2 = model.mix(E), model.mix(E2)
    assert torch.equal(M[:3], M2[:3]) and not torch.allclose(M[3:], M2[3:])


def test_the_lstm_mixer_agrees_with_torch_lstm():
    model = GroupCopier("lstm", A, [4], [0], T_MAX).double()
    lstm = nn.LSTM(4, 4).double()                         # time-major
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(model.W_x[0].T)           # PyTorch stores W^T, (4H, H)
        lstm.weight_hh_l0.copy_(model.W_h[0].T)
        lstm.bias_ih_l0.copy_(model.b[0])
        lstm.bias_hh_l0.zero_()
    E = model.embed(inputs(3, 1))                         # (T, 1, B, H)
    torch.testing.assert_close(model.mix(E)[:, 0], lstm(E[:, 0])[0], rtol=1e-12, atol=1e-12)


def test_the_mingru_mixer_follows_its_equation():
    """h_t = (1 - z_t) h_{t-1} + z_t h~_t, z_t = sigmoid(x_t W_z + b_z), h~_t = x_t W_h + b_h."""
    model = GroupCopier("mingru", A, [4], [0], T_MAX).double()
    E = model.embed(inputs(3, 1))[:, 0]                   # (T, B, H)
    h = torch.zeros(E.shape[1:], dtype=torch.float64)
    for t, x in enumerate(E):
        z = torch.sigmoid(x @ model.W_z[0] + model.b_z[0])
        h = (1 - z) * h + z * (x @ model.W_h[0] + model.b_h[0])
        torch.testing.assert_close(model.mix(E[:, None])[t, 0], h, rtol=1e-12, atol=1e-12)


def test_the_attention_mixer_agrees_with_scaled_dot_product_attention():
    model = GroupCopier("attention", A, [4], [0], T_MAX).double()
    E = model.embed(inputs(3, 1))[:, 0].transpose(0, 1)   # (B, T, H)
    Q, K, V = (E @ W[0] for W in (model.W_q, model.W_k, model.W_v))
    Y = F.scaled_dot_product_attention(Q, K, V, is_causal=True)   # (B, T, H)
    torch.testing.assert_close(model.mix(E.transpose(0, 1)[:, None])[:, 0],
                               Y.transpose(0, 1), rtol=1e-12, atol=1e-12)


def test_state_numbers_count_each_kinds_state():
    assert GroupCopier("lstm", A, [3, 5], [0, 0], T_MAX).state_numbers(8) == [6, 10]
    assert GroupCopier("mingru", A, [3, 5], [0, 0], T_MAX).state_numbers(8) == [3, 5]
    assert GroupCopier("attention", A, [3], [0], T_MAX).state_numbers(8) == [48]


@pytest.mark.parametrize("args, match", [
    (("gru", A, [2], [0], T_MAX), "kind"),
    (("lstm", A, [2, 3], [0], T_MAX), "one seed per size"),
    (("lstm", A, [0], [0], T_MAX), ">= 1"),
])
def test_group_copier_rejects_a_bad_configuration(args, match):
    with pytest.raises(ValueError, match=match):
        GroupCopier(*args)


def test_a_sequence_longer_than_t_max_is_refused():
    model = GroupCopier("attention", A, [2], [0], t_max=4)
    with pytest.raises(ValueError, match="t_max"):
        model(inputs(3, 1).float())


# ---- training and the sweep -------------------------------------------------------------


def test_group_accuracy_scores_each_group():
    model = GroupCopier("attention", A, [2, 2], [0, 1], T_MAX)
    X, y = copy_batch(3, A, 50, np.random.default_rng(0))
    acc = group_accuracy(model, X, y)
    assert acc.shape == (2,) and ((acc >= 0) & (acc <= 1)).all()


def test_a_group_whose_accuracy_stops_rising_is_flat():
    """With a tolerance no improvement can reach, every group is flat after window + 1
    evaluations."""
    model = GroupCopier("lstm", A, [2, 3], [0, 1], T_MAX)
    stop = Stopping(solved=2.0, window=2, tol=1.5, eval_every=2, max_steps=50)
    stage = fit_length(model, 2, 1e-2, 4, stop, copy_batch(2, A, 8, np.random.default_rng(1)),
                       np.random.default_rng(0))
    assert stage.stopped == ["flat", "flat"] and stage.steps == [6, 6]
    assert stage.acc.shape == (3, 2) and np.array_equal(stage.final, stage.acc[-1])


def test_a_group_still_improving_at_the_budget_is_marked_so():
    model = GroupCopier("lstm", A, [2, 3], [0, 1], T_MAX)
    stop = Stopping(solved=2.0, window=100, eval_every=2, max_steps=4)
    stage = fit_length(model, 2, 1e-2, 4, stop, copy_batch(2, A, 8, np.random.default_rng(1)),
                       np.random.default_rng(0), active=np.array([True, False]))
    assert stage.stopped == ["budget", "skipped"] and stage.steps == [4, 0]
    assert np.isnan(stage.final[1]) and not stage.solved.any()


def test_attention_learns_to_copy_one_symbol():
    model = GroupCopier("attention", A, [4], [0], T_MAX)
    stop = Stopping(solved=0.99, window=20, eval_every=10, max_steps=400)
    stage = fit_length(model, 1, 3e-2, 16, stop, copy_batch(1, A, 60, np.random.default_rng(1)),
                       np.random.default_rng(0))
    assert stage.stopped == ["solved"] and stage.final[0] >= 0.99


def stage(n: int, stopped: list[str]) -> Stage:
    return Stage(n, np.ones((1, len(stopped))), stopped, [1] * len(stopped), 1)


def test_longest_solved_is_the_last_length_before_the_first_failure():
    stages = [stage(2, ["solved", "solved", "flat"]), stage(4, ["flat", "solved", "skipped"]),
              stage(8, ["skipped", "budget", "skipped"]), stage(16, ["solved", "solved", "solved"])]
    assert longest_solved(stages).tolist() == [2, 4, 0]


def test_a_sweep_stops_after_the_first_length_no_group_solves():
    model = GroupCopier("lstm", A, [2], [0], T_MAX)
    stop = Stopping(solved=2.0, window=1, tol=1.5, eval_every=1, max_steps=5)
    tests = {n: copy_batch(n, A, 8, np.random.default_rng(n)) for n in (1, 2)}
    stages = sweep_lengths(model, [1, 2], 1e-2, 4, stop, tests, np.random.default_rng(0))
    assert [s.n for s in stages] == [1] and longest_solved(stages).tolist() == [0]


def test_a_sweep_needs_increasing_lengths():
    model = GroupCopier("lstm", A, [2], [0], T_MAX)
    with pytest.raises(ValueError, match="increase"):
        sweep_lengths(model, [4, 2], 1e-2, 4, Stopping(), {}, np.random.default_rng(0))
