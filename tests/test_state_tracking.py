"""Specifications of ``rnncourse.state_tracking``: the counting task, the seed-batched models
(each seed trains exactly as it would alone), and the training loop's stopping rule."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnncourse.state_tracking import (
    D_IN,
    SeedGRU,
    SeedMinGRU,
    StateTracker,
    diagonal_recurrence,
    fit_seeds,
    modular_count_batch,
    seed_losses,
)


def test_labels_are_the_running_count_of_ones_modulo_m():
    """Is y[t] the number of ones in x[0..t] modulo m, for every seed and sequence?"""
    X, y = modular_count_batch(50, 2, 3, 3, np.random.default_rng(0))
    assert X.shape == (50, 2, 3, D_IN) and y.shape == (50, 2, 3)
    assert torch.all(X.sum(-1) == 1)  # one-hot
    ones = X[..., 1].long()
    assert torch.equal(y, torch.cumsum(ones, dim=0) % 3)
    assert set(y.unique().tolist()) == {0, 1, 2}


def test_parity_is_counting_modulo_two():
    """Does m = 2 give the parity, 0 or 1, flipping at every one?"""
    X, y = modular_count_batch(20, 1, 4, 2, np.random.default_rng(1))
    flips = (y[1:] != y[:-1]).long()
    assert torch.equal(flips, X[1:, ..., 1].long())


@pytest.mark.parametrize("m", [0, 1])
def test_counting_modulo_less_than_two_is_refused(m):
    with pytest.raises(ValueError, match="m >= 2"):
        modular_count_batch(5, 1, 1, m, np.random.default_rng(0))


def test_diagonal_recurrence_matches_a_hand_computed_case():
    """h = 1, 1.5, 1.75 for a = 0.5, b = 1 from h_0 = 0."""
    Hs = diagonal_recurrence(torch.full((3, 1), 0.5), torch.ones(3, 1))
    assert torch.allclose(Hs.flatten(), torch.tensor([1.0, 1.5, 1.75]))


def test_seed_gru_runs_each_seed_as_a_torch_gru_of_h_units():
    """Is seed s of a SeedGRU the torch.nn.GRU of H units its diagonal blocks hold (float64)?"""
    D, H, seeds = D_IN, 4, [5, 6, 7]
    model = SeedGRU(D, H, seeds).double()
    X = torch.randn(9, len(seeds), 2, D, dtype=torch.float64)
    Hs = model(X)
    S = len(seeds)
    for s in range(S):
        rows = (torch.arange(3)[:, None] * S * H + s * H + torch.arange(H)).flatten()
        gru = torch.nn.GRU(D, H).double()
        with torch.no_grad():
            gru.weight_ih_l0.copy_(model.gru.weight_ih_l0[rows, s * D:(s + 1) * D])
            gru.weight_hh_l0.copy_(model.gru.weight_hh_l0[rows, s * H:(s + 1) * H])
            gru.bias_ih_l0.copy_(model.gru.bias_ih_l0[rows])
            gru.bias_hh_l0.copy_(model.gru.bias_hh_l0[rows])
        torch.testing.assert_close(Hs[:, s], gru(X[:, s])[0])


@pytest.mark.parametrize("kind", ["gru", "mingru", "mingru_neg"])
def test_a_seed_starts_from_the_same_weights_whatever_the_other_seeds(kind):
    """Does seed 8 compute the same function alone and as the second of three seeds?"""
    X, _ = modular_count_batch(12, 3, 4, 2, np.random.default_rng(0))
    many = StateTracker(kind, 4, 6, 2, [3, 8, 9])
    alone = StateTracker(kind, 4, 6, 2, [8])
    torch.testing.assert_close(many(X)[:, 1:2], alone(X[:, 1:2]))


@pytest.mark.parametrize("kind", ["gru", "mingru", "mingru_neg"])
def test_training_several_seeds_at_once_trains_each_as_if_alone(kind):
    """After Adam steps on the summed loss, is seed 8 where it gets trained on its own data?"""
    seeds, B, T = [3, 8, 9], 8, 10
    data = [modular_count_batch(T, len(seeds), B, 2, np.random.default_rng(i)) for i in range(4)]
    many = StateTracker(kind, 4, 6, 2, seeds)
    alone = StateTracker(kind, 4, 6, 2, [8])
    for model, pick in [(many, slice(None)), (alone, slice(1, 2))]:
        opt = torch.optim.Adam(model.parameters(), lr=0.05)
        for X, y in data:
            opt.zero_grad()
            seed_losses(model(X[:, pick]), y[:, pick]).sum().backward()
            opt.step()
    X, _ = modular_count_batch(T, len(seeds), B, 2, np.random.default_rng(99))
    torch.testing.assert_close(many(X)[:, 1:2], alone(X[:, 1:2]), rtol=1e-4, atol=1e-5)


def test_seed_gru_blocks_off_the_diagonal_stay_zero_under_training():
    """The gradient mask keeps seeds apart: no weight connects two seeds after Adam steps."""
    model = StateTracker("gru", 4, 6, 2, [0, 1])
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    for i in range(3):
        X, y = modular_count_batch(6, 2, 4, 2, np.random.default_rng(i))
        opt.zero_grad()
        seed_losses(model(X), y).sum().backward()
        opt.step()
    gru = model.rnn
    for name in ("weight_ih_l0", "weight_hh_l0"):
        off = getattr(gru.gru, name) * (1 - getattr(gru, f"mask_{name}"))
        assert off.abs().max() == 0, name
        assert getattr(gru.gru, name).abs().max() > 0


def test_mingru_decay_ranges_differ_only_in_sign_range():
    """Same weights for both variants; a in (0, 1) for minGRU, a in (-1, 1) and some negative
    for the negative variant, with 1 - a_pos = (1 - a_neg) / 2."""
    X, _ = modular_count_batch(30, 2, 8, 2, np.random.default_rng(0))
    pos, neg = SeedMinGRU(D_IN, 8, [0, 1]), SeedMinGRU(D_IN, 8, [0, 1], negative=True)
    neg.load_state_dict(pos.state_dict())
    with torch.no_grad():
        neg.W[..., :8] += 2.0  # open the gate z so that a = 1 - 2 z goes below 0
        pos.W[..., :8] += 2.0
    (a_pos, b_pos), (a_neg, b_neg) = pos.coefficients(X), neg.coefficients(X)
    assert (a_pos > 0).all() and (a_pos < 1).all()
    assert (a_neg > -1).all() and (a_neg < 1).all() and (a_neg < 0).any()
    torch.testing.assert_close(1 - a_pos, (1 - a_neg) / 2)
    torch.testing.assert_close(b_pos, b_neg)


def test_a_negative_decay_can_track_parity_at_any_length():
    """With a = -1 on a one and a = +1 on a zero, one unit holds the parity over 10,000 steps."""
    layer = SeedMinGRU(D_IN, 1, [0], negative=True)
    with torch.no_grad():
        layer.W.copy_(torch.tensor([[[-40.0, 0.0], [40.0, 0.0]]]))  # z = 0 on a zero, 1 on a one
        layer.b.copy_(torch.tensor([[0.0, 1.0]]))  # candidate h~ = 1
    X, y = modular_count_batch(10_000, 1, 3, 2, np.random.default_rng(0))
    Hs = layer(X)[..., 0]  # (T, 1, B): 0 after an even number of ones, 1 after an odd one
    assert torch.equal(Hs.round().long(), y)


def test_a_kind_that_does_not_exist_is_refused():
    with pytest.raises(ValueError, match="kind must be one of"):
        StateTracker("lstm", 4, 6, 2, [0])


def test_fit_seeds_stops_when_every_seed_is_solved():
    """A GRU learns parity of 8 bits quickly: the loop stops with 'solved', before its budget."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = StateTracker("gru", 8, 16, 2, [0, 1])
    X_val, y_val = modular_count_batch(8, 2, 128, 2, np.random.default_rng(1))
    hist = fit_seeds(model, lambda step: modular_count_batch(8, 2, 32, 2, rng), X_val, y_val,
                     lr=0.02, max_steps=600, eval_every=20, solved=0.99, window=5, tol=0.01)
    assert hist.stopped == "solved" and hist.eval_steps[-1] < 600
    assert (hist.accuracy[-1] >= 0.99).all()


def test_fit_seeds_stops_when_no_seed_improves():
    """With a learning rate of 0 nothing changes: the loop stops 'flattened' after its window."""
    rng = np.random.default_rng(0)
    model = StateTracker("mingru", 4, 6, 2, [0, 1])
    X_val, y_val = modular_count_batch(8, 2, 64, 2, np.random.default_rng(1))
    hist = fit_seeds(model, lambda step: modular_count_batch(8, 2, 8, 2, rng), X_val, y_val,
                     lr=0.0, max_steps=100, eval_every=5, solved=0.99, window=3, tol=0.01)
    assert hist.stopped == "flattened" and hist.eval_steps == [5, 10, 15, 20]
