"""Specifications of rnncourse.ablation: holding units of a character LSTM fixed, and the loss."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rnncourse.ablation import (
    ablated_nll,
    ablation_masks,
    pieces_of,
    random_unit_sets,
    unit_names,
)
from rnncourse.beyond import CharLSTM, nats_per_char

V, H, EMB, P = 7, 5, 4, 3


def double_model(**options) -> CharLSTM:
    torch.manual_seed(0)
    return CharLSTM(V, H, EMB, **options).double().eval()


def stream(n: int = 40, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, V, n)


def values(seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=2 * H)


# ---- names, masks and random controls ----------------------------------------------------


def test_unit_names_list_the_hidden_units_then_the_cell_units():
    assert unit_names(2) == ["h0", "h1", "c0", "c1"]


def test_unit_names_need_at_least_one_unit():
    with pytest.raises(ValueError, match="at least one unit"):
        unit_names(0)


def test_masks_hold_exactly_the_units_of_each_set_and_nothing_for_an_empty_set():
    masks = ablation_masks([[], [1], [0, 2 * H - 1]], H)
    assert masks.shape == (3, 2 * H) and masks.dtype == bool
    assert not masks[0].any()
    assert np.flatnonzero(masks[1]).tolist() == [1]
    assert np.flatnonzero(masks[2]).tolist() == [0, 2 * H - 1]


def test_masks_refuse_a_unit_outside_the_2h_units():
    """Would a unit index past 2H be silently wrapped or dropped?"""
    with pytest.raises(ValueError, match=f"not among the 2H = {2 * H} units"):
        ablation_masks([[2 * H]], H)
    with pytest.raises(ValueError, match="not among"):
        ablation_masks([[-1]], H)


def test_random_controls_match_the_kinds_of_the_chosen_units_and_avoid_them():
    """Does each control hold as many h and as many c units as the chosen set, none of them?"""
    chosen = [1, H + 2, H + 3]                      # one hidden, two cell units
    for units in random_unit_sets(H, chosen, R=12, rng=np.random.default_rng(0)):  # all 4 * 3
        assert len(units) == len(set(units)) == 3
        assert sum(j < H for j in units) == 1 and sum(j >= H for j in units) == 2
        assert not set(units) & set(chosen)


def test_random_controls_are_distinct_sets():
    """Is no control drawn twice, though H - 1 single units leave repeats likely?"""
    sets = random_unit_sets(H, [H], R=H - 1, rng=np.random.default_rng(0))
    assert sorted(map(tuple, sets)) == [(j,) for j in range(H + 1, 2 * H)]


def test_random_controls_refuse_more_distinct_sets_than_exist():
    with pytest.raises(ValueError, match=f"Could not draw {H} distinct control sets"):
        random_unit_sets(H, [H], R=H, rng=np.random.default_rng(0))


def test_random_controls_are_reproducible_from_the_generator():
    draw = [random_unit_sets(H, [H], 4, np.random.default_rng(7)) for _ in range(2)]
    assert draw[0] == draw[1]


def test_random_controls_refuse_a_set_that_leaves_too_few_units_of_its_kind():
    with pytest.raises(ValueError, match="only 2 others are left"):
        random_unit_sets(H, [H, H + 1, H + 2], 1, np.random.default_rng(0))


def test_random_controls_refuse_an_empty_or_out_of_range_chosen_set():
    with pytest.raises(ValueError, match="at least one"):
        random_unit_sets(H, [], 1, np.random.default_rng(0))
    with pytest.raises(ValueError, match="at least one"):
        random_unit_sets(H, [2 * H], 1, np.random.default_rng(0))


def test_random_controls_need_at_least_one_draw():
    with pytest.raises(ValueError, match="R=0"):
        random_unit_sets(H, [0], 0, np.random.default_rng(0))


# ---- the pieces ----------------------------------------------------------------------------


def test_pieces_are_contiguous_and_the_targets_are_the_next_characters():
    x, y = pieces_of(np.arange(11), 3)              # n = (11 - 1) // 3 = 3 steps per piece
    assert x.T.tolist() == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert (y == x + 1).all()


def test_pieces_refuse_a_stream_too_short_to_fill_them():
    with pytest.raises(ValueError, match="cannot fill 5 pieces"):
        pieces_of(np.arange(4), 5)


# ---- the ablated losses ---------------------------------------------------------------------


def test_an_empty_mask_gives_the_intact_model_and_its_nats_per_char():
    """Is the run that holds nothing the fused torch.nn.LSTM, prediction by prediction?"""
    model, ids = double_model(), stream()
    nll, x, y = ablated_nll(model, ids, ablation_masks([[]], H), values(), P=P)
    xp, yp = pieces_of(ids, P)
    with torch.no_grad():
        logits, _ = model(torch.as_tensor(xp))                           # (n, P, V)
    ref = F.cross_entropy(logits.permute(0, 2, 1), torch.as_tensor(yp), reduction="none")
    np.testing.assert_allclose(nll[0], ref.T.reshape(-1).numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(nll[0].mean(), nats_per_char(model, ids, B=P), rtol=1e-12)
    assert (x == xp.T.reshape(-1)).all() and (y == yp.T.reshape(-1)).all()


def reference_nll(model: CharLSTM, ids: np.ndarray, unit: int, value: float) -> np.ndarray:
    """One unit held at ``value``, stepping torch.nn.LSTMCell with the model's weights: (M,)."""
    cell = torch.nn.LSTMCell(EMB, H).double()
    cell.load_state_dict({k.removesuffix("_l0"): w for k, w in model.lstm.state_dict().items()})
    xp, yp = pieces_of(ids, P)
    h = c = torch.zeros(P, H, dtype=torch.float64)
    out = []
    with torch.no_grad():
        for t in range(len(xp)):
            x = model.embed(torch.as_tensor(xp[t]))
            o = (x @ cell.weight_ih[3 * H:].T + h @ cell.weight_hh[3 * H:].T
                 + cell.bias_ih[3 * H:] + cell.bias_hh[3 * H:]).sigmoid()  # the output gate
            h, c = cell(x, (h, c))
            if unit >= H:                               # a cell unit: held before h reads it
                c = c.clone()
                c[:, unit - H] = value
                h = o * c.tanh()
            else:
                h = h.clone()
                h[:, unit] = value
            out.append(F.cross_entropy(model.decoder(h), torch.as_tensor(yp[t]), reduction="none"))
    return torch.stack(out).T.reshape(-1).numpy()


@pytest.mark.parametrize("unit", [1, H + 3])
def test_holding_a_unit_equals_stepping_an_lstm_cell_and_overwriting_it(unit):
    """Is a held h unit replaced after h_t, and a held c unit before h_t = o_t tanh(c_t)?"""
    model, ids, v = double_model(), stream(), values()
    nll, _, _ = ablated_nll(model, ids, ablation_masks([[unit]], H), v, P=P)
    np.testing.assert_allclose(nll[0], reference_nll(model, ids, unit, v[unit]),
                               rtol=1e-12, atol=1e-12)


def test_the_runs_of_one_batch_do_not_mix():
    """Does each run give the losses it gives alone, whatever runs share its batch?"""
    model, ids, v = double_model(), stream(), values()
    runs = [[], [0], [H + 1], [2, H + 4]]
    together, _, _ = ablated_nll(model, ids, ablation_masks(runs, H), v, P=P)
    for k, units in enumerate(runs):
        alone, _, _ = ablated_nll(model, ids, ablation_masks([units], H), v, P=P)
        np.testing.assert_allclose(together[k], alone[0], rtol=1e-12, atol=1e-12)


def test_holding_a_unit_changes_the_losses():
    model, ids, v = double_model(), stream(), values()
    nll, _, _ = ablated_nll(model, ids, ablation_masks([[], [H + 3]], H), v, P=P)
    assert np.abs(nll[1] - nll[0]).max() > 1e-6


def test_a_dropout_model_is_scored_as_in_evaluation():
    """Dropout is off in evaluation: is the intact run still nats_per_char's?"""
    model, ids = double_model(dropout_in=0.5, dropout_out=0.5), stream()
    nll, _, _ = ablated_nll(model.train(), ids, ablation_masks([[]], H), values(), P=P)
    np.testing.assert_allclose(nll[0].mean(), nats_per_char(model, ids, B=P), rtol=1e-12)


@pytest.mark.parametrize("options", [{"zoneout_c": 0.3}, {"layer_norm": True}])
def test_models_whose_step_differs_are_refused(options):
    """Would zoneout or layer normalisation be silently ignored, scoring another model?"""
    with pytest.raises(ValueError, match="zoneout and layer normalisation"):
        ablated_nll(double_model(**options), stream(), ablation_masks([[]], H), values(), P=P)


def test_masks_and_values_of_the_wrong_shape_are_refused():
    model, ids = double_model(), stream()
    with pytest.raises(ValueError, match=r"masks must have shape \(K, 2H\)"):
        ablated_nll(model, ids, np.zeros((1, H), dtype=bool), values(), P=P)
    with pytest.raises(ValueError, match=r"values must have shape \(2H,\)"):
        ablated_nll(model, ids, ablation_masks([[]], H), np.zeros(H), P=P)
