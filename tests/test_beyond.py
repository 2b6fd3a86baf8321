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


# ---- rnncourse.studies: several seeds as one batched model ---------------------------------

from rnncourse import studies  # noqa: E402
from rnncourse.studies import (  # noqa: E402
    SeedLSTM,
    clip_per_seed,
    plateaued,
    seed_nats_per_char,
    seed_windows,
)

SEEDS = (3, 4)
STUDY_OPTIONS = [{}, {"tie": True}, {"layer_norm": True}, {"zoneout_c": 0.5, "zoneout_h": 0.1},
                 {"dropout": 0.3}]


def seed_ids(seed: int = 0) -> torch.Tensor:
    """Ids ``(T, S, B)`` for a SeedLSTM of ``len(SEEDS)`` seeds."""
    return torch.randint(0, V, (T, len(SEEDS), B), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("options", STUDY_OPTIONS, ids=lambda o: ",".join(o) or "plain")
def test_each_seed_of_a_seed_lstm_is_the_char_lstm_with_its_weights(options):
    """Does seed s compute, in evaluation mode, what CharLSTM computes with the same weights?"""
    model = SeedLSTM(V, H, SEEDS, **options).double().eval()
    with torch.no_grad():
        for p in model.parameters():  # move gains and biases away from 1 and 0
            p.add_(0.1 * torch.randn_like(p))
        x = seed_ids()
        logits = model(x)
        for s in range(len(SEEDS)):
            one, _ = model.char_lstm(s).eval()(x[:, s])
            torch.testing.assert_close(logits[:, s], one, rtol=1e-12, atol=1e-12)


def test_a_seed_starts_from_the_same_weights_in_every_variant():
    """Do two variants with the same seeds share their initial LSTM weights?"""
    plain, tied = SeedLSTM(V, H, SEEDS), SeedLSTM(V, H, SEEDS, tie=True, dropout=0.2)
    assert torch.equal(plain.W_h, tied.W_h) and torch.equal(plain.E, tied.E)
    assert not torch.equal(plain.W_h[0], plain.W_h[1])


def test_the_tied_matrix_has_a_decoder_scale_not_an_embedding_scale():
    """Is the tied E drawn with standard deviation 1/sqrt(H), not nn.Embedding's 1?"""
    model = SeedLSTM(V, 64, SEEDS, tie=True)
    assert model.decoder_weight().std().item() == pytest.approx(1 / 8, rel=0.1)


def test_dropout_draws_one_mask_per_sequence_reused_at_every_step(monkeypatch):
    """Are the masks of x, h_{t-1} and h_t drawn once per forward pass, one per sequence?"""
    shapes = []
    real_mask = studies._mask

    def recording_mask(shape, p, like):
        shapes.append(shape)
        return real_mask(shape, p, like)

    monkeypatch.setattr(studies, "_mask", recording_mask)
    SeedLSTM(V, H, SEEDS, dropout=0.3)(seed_ids())  # T steps, training mode
    assert shapes == [(len(SEEDS), B, H)] * 3


def test_dropout_masks_differ_between_the_sequences_of_a_batch():
    """Do identical sequences in one batch get different masks (not one per mini-batch)?"""
    torch.manual_seed(0)
    model = SeedLSTM(V, H, SEEDS, dropout=0.5)
    same = seed_ids()[:, :, :1].expand(-1, -1, B)
    with torch.no_grad():
        logits = model(same)
    assert not torch.allclose(logits[:, :, 0], logits[:, :, 1])


def test_seeds_train_as_independent_models_under_clipping():
    """Does seed 3 trained beside seed 4 end where seed 3 trained alone ends (clipped steps)?"""
    pair, alone = SeedLSTM(V, H, SEEDS), SeedLSTM(V, H, SEEDS[:1])
    opts = [torch.optim.Adam(m.parameters(), lr=1e-2) for m in (pair, alone)]
    for step in range(3):
        x = seed_ids(step)
        y = seed_ids(step + 10)
        y[:, 1] = (y[:, 1] * 3) % V  # seed 4 sees other targets and larger gradients
        batches = [(x, y), (x[:, :1], y[:, :1])]
        for model, opt, (xs, ys) in zip((pair, alone), opts, batches, strict=True):
            opt.zero_grad()
            model.loss(xs, ys).sum().backward()
            clip_per_seed(list(model.parameters()), max_norm=0.05)
            opt.step()
    for p_pair, p_alone in zip(pair.parameters(), alone.parameters(), strict=True):
        torch.testing.assert_close(p_pair[:1], p_alone, rtol=1e-5, atol=1e-6)


def test_clip_per_seed_clips_each_seed_to_its_own_norm():
    """Is a seed under the limit left alone while another is scaled down to it?"""
    w = torch.zeros(2, 3, requires_grad=True)
    w.grad = torch.tensor([[0.3, 0.4, 0.0], [30.0, 40.0, 0.0]])  # norms 0.5 and 50
    norms = clip_per_seed([w], max_norm=1.0)
    torch.testing.assert_close(norms, torch.tensor([0.5, 50.0]))
    torch.testing.assert_close(w.grad[0], torch.tensor([0.3, 0.4, 0.0]))
    assert w.grad[1].norm().item() == pytest.approx(1.0, rel=1e-4)


def test_seed_windows_differ_between_seeds_and_are_shifted_by_one():
    x, y = seed_windows(np.arange(100), 2, B, T, np.random.default_rng(0))
    assert x.shape == y.shape == (T, 2, B)
    assert torch.equal(x[1:], y[:-1])
    assert not torch.equal(x[:, 0], x[:, 1])


def test_seed_nats_per_char_of_a_uniform_model_is_log_v():
    model = SeedLSTM(V, H, SEEDS)
    with torch.no_grad():
        model.W_hy.zero_()
    np.testing.assert_allclose(seed_nats_per_char(model, np.arange(50) % V, B=4), math.log(V),
                               rtol=1e-6)
    assert model.training


@pytest.mark.parametrize(("curve", "flat"), [
    ([3.0, 2.5, 2.4, 2.41, 2.405], True),     # flattened
    ([3.0, 2.5, 2.4, 2.6, 2.9], True),        # overfits: the best stopped improving
    ([3.0, 2.8, 2.6, 2.4, 2.2], False),       # still falling
])
def test_plateaued_reads_the_best_so_far(curve, flat):
    assert plateaued(curve, window=2, tol=0.02) is flat


def test_plateaued_needs_a_curve_longer_than_its_window():
    with pytest.raises(ValueError, match="train longer"):
        plateaued([3.0, 2.0], window=2, tol=0.02)
