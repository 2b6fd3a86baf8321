"""Specifications of rnncourse.beyond: timing, character data, the regularised CharLSTM."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from rnncourse.beyond import (
    CharLSTM,
    best_time,
    load_char_data,
    nats_per_char,
    random_windows,
)
from rnncourse.data import shakespeare

V, H, T, B = 7, 5, 6, 3


def ids(seed: int = 0) -> torch.Tensor:
    return torch.randint(0, V, (T, B), generator=torch.Generator().manual_seed(seed))


def double_model(**options) -> CharLSTM:
    torch.manual_seed(0)
    return CharLSTM(V, H, **options).double()


# ---- best_time ---------------------------------------------------------------------------


def test_best_time_returns_seconds_per_call():
    assert 0 <= best_time(lambda: sum(range(10)), repeats=2, number=3) < 1


def test_best_time_rejects_zero_repeats():
    with pytest.raises(ValueError, match="repeats"):
        best_time(lambda: None, repeats=0)


# ---- data ---------------------------------------------------------------------------------


def test_char_data_holds_out_the_validation_play_with_the_full_vocabulary():
    data = load_char_data(["macbeth"], "hamlet", n_train=500, n_val=300)
    assert data.V == 80
    assert len(data.train) == 500 and len(data.val) == 300
    assert data.vocab.decode(data.val) == data.val_text
    assert data.train_text == shakespeare.load_play("macbeth")[:500]


def test_char_data_refuses_the_validation_play_among_the_training_plays():
    with pytest.raises(ValueError, match="both a training play and the validation play"):
        load_char_data(["hamlet"], "hamlet")


def test_random_windows_are_time_major_and_shifted_by_one():
    stream = np.arange(100)
    x, y = random_windows(stream, B=4, T=10, rng=np.random.default_rng(0))
    assert x.shape == y.shape == (10, 4) and x.dtype == torch.long
    assert torch.equal(y[:-1], x[1:]) and torch.equal(y, x + 1)


def test_random_windows_are_reproducible_from_the_generator():
    a = random_windows(np.arange(50), 3, 5, np.random.default_rng(1))
    b = random_windows(np.arange(50), 3, 5, np.random.default_rng(1))
    assert all(torch.equal(u, v) for u, v in zip(a, b, strict=True))


def test_random_windows_reject_a_too_short_stream():
    with pytest.raises(ValueError, match="too short"):
        random_windows(np.arange(5), 2, 5, np.random.default_rng(0))


# ---- CharLSTM -----------------------------------------------------------------------------


def test_char_lstm_maps_ids_to_logits_and_an_lstm_state():
    logits, (h, c) = CharLSTM(V, H)(ids())
    assert logits.shape == (T, B, V) and h.shape == c.shape == (1, B, H)


def test_unrolled_path_equals_torch_lstm_in_float64():
    model = double_model()
    with torch.no_grad():
        fused, (h1, c1) = model(ids())
        unrolled, (h2, c2) = model(ids(), unrolled=True)
    torch.testing.assert_close(unrolled, fused, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(c2, c1, rtol=1e-12, atol=1e-12)


def test_state_carries_over_between_windows():
    model = double_model()
    x = ids()
    with torch.no_grad():
        whole, _ = model(x)
        first, state = model(x[:3], unrolled=True)
        second, _ = model(x[3:], state)
    torch.testing.assert_close(torch.cat([first, second]), whole, rtol=1e-12, atol=1e-12)


def test_dropout_is_off_in_evaluation_mode():
    plain, dropped = double_model(), double_model(dropout_in=0.5, dropout_rec=0.5,
                                                  dropout_out=0.5)
    dropped.eval()
    with torch.no_grad():
        torch.testing.assert_close(dropped(ids())[0], plain(ids())[0])


def test_variational_dropout_changes_the_output_in_training_mode():
    model = double_model(dropout_in=0.5, dropout_rec=0.5, dropout_out=0.5)
    with torch.no_grad():
        train_out = model(ids())[0]
        eval_out = model.eval()(ids())[0]
    assert not torch.allclose(train_out, eval_out)


def test_variational_input_mask_is_the_same_at_every_step():
    model = double_model(dropout_in=0.5)
    X = torch.ones(T, B, H, dtype=torch.float64)
    dropped = model._drop(X, 0.5)
    assert torch.equal(dropped, dropped[:1].expand_as(dropped))
    assert set(dropped.unique().tolist()) <= {0.0, 2.0}


def test_recurrent_dropout_must_be_variational():
    with pytest.raises(ValueError, match="variational"):
        CharLSTM(V, H, dropout_rec=0.2, variational=False)


def test_rates_outside_zero_one_are_rejected():
    with pytest.raises(ValueError, match="zoneout_c"):
        CharLSTM(V, H, zoneout_c=1.0)


def test_zoneout_in_evaluation_mixes_old_and_new_state():
    z_c, z_h = 0.5, 0.25
    model = double_model(zoneout_c=z_c, zoneout_h=z_h).eval()
    cell = nn.LSTMCell(H, H).double()
    cell.load_state_dict({k.removesuffix("_l0"): v for k, v in model.lstm.state_dict().items()})
    X = torch.randn(T, B, H, dtype=torch.float64)
    h = c = torch.zeros(B, H, dtype=torch.float64)
    with torch.no_grad():
        for x in X:
            h_new, c_new = cell(x, (h, c))
            h, c = z_h * h + (1 - z_h) * h_new, z_c * c + (1 - z_c) * c_new
        _, (h_model, c_model) = model.recurrence(X)
    torch.testing.assert_close(c_model[0], c, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(h_model[0], h, rtol=1e-12, atol=1e-12)


def test_zoneout_in_training_keeps_some_units_at_their_previous_value():
    torch.manual_seed(1)
    model = double_model(zoneout_h=0.5)
    Hs, _ = model.recurrence(torch.randn(T, B, H, dtype=torch.float64))
    kept = (Hs[1:] == Hs[:-1]).double().mean().item()
    assert 0.2 < kept < 0.8


def test_zoneout_and_layer_norm_refuse_the_fused_path():
    with pytest.raises(ValueError, match="unrolled"):
        CharLSTM(V, H, layer_norm=True)(ids(), unrolled=False)


def test_layer_norm_makes_the_model_invariant_to_the_scale_of_its_weights():
    model = double_model(layer_norm=True)
    with torch.no_grad():
        before = model(ids())[0]
        model.lstm.weight_ih_l0.mul_(10.0)
        model.lstm.weight_hh_l0.mul_(10.0)
        after = model(ids())[0]
    torch.testing.assert_close(after, before, rtol=1e-4, atol=1e-4)


def test_weight_tying_shares_embedding_and_decoder():
    model = CharLSTM(V, H, tie=True)
    assert model.decoder.weight is model.embed.weight
    assert sum(p.numel() for p in model.parameters()) == (
        sum(p.numel() for p in CharLSTM(V, H).parameters()) - V * H)


def test_weight_tying_needs_embedding_size_equal_to_hidden_size():
    with pytest.raises(ValueError, match="emb == H"):
        CharLSTM(V, H, emb=H + 1, tie=True)


def test_hidden_and_cell_states_match_torch_lstm():
    model = double_model(emb=4)
    with torch.no_grad():
        Hs_ref, (_, c_last) = model.lstm(model.embed(ids()))
    Hs, Cs = model.hidden_and_cell_states(ids())
    assert Hs.shape == Cs.shape == (T, B, H)
    torch.testing.assert_close(Hs, Hs_ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(Cs[-1], c_last[0], rtol=1e-12, atol=1e-12)


# ---- nats_per_char ------------------------------------------------------------------------


class Uniform(nn.Module):
    def forward(self, x, state=None):
        return torch.zeros(*x.shape, V), None


def test_nats_per_char_of_a_uniform_model_is_log_v():
    stream = np.random.default_rng(0).integers(0, V, 200)
    assert nats_per_char(Uniform(), stream, B=4) == pytest.approx(math.log(V))


def test_nats_per_char_restores_training_mode():
    model = CharLSTM(V, H)
    nats_per_char(model, np.arange(50) % V, B=2)
    assert model.training


def test_nats_per_char_rejects_a_warmup_longer_than_the_pieces():
    with pytest.raises(ValueError, match="nothing to score"):
        nats_per_char(Uniform(), np.arange(20) % V, B=4, warmup=10)
