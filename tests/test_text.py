"""Specifications of rnncourse.text: vocabularies, batching, padding, baselines, decoding."""

import math

import numpy as np
import pytest
import torch

from rnncourse.text import (
    PAD,
    UNK,
    Vocab,
    beam_search,
    ngram_nats,
    pad_batch,
    sample_next,
    stream_batches,
    tokenize,
)


def test_vocab_orders_symbols_by_frequency_after_specials():
    voc = Vocab.build("abbccc", specials=[PAD])
    assert voc.itos == [PAD, "c", "b", "a"]


def test_vocab_decode_inverts_encode():
    voc = Vocab.build("hello world")
    assert voc.decode(voc.encode("hello")) == "hello"


def test_vocab_maps_unknown_symbols_to_unk():
    voc = Vocab.build(["a", "b"], specials=[PAD, UNK])
    assert voc.encode(["a", "zzz"]) == [voc.stoi["a"], voc.stoi[UNK]]


def test_vocab_drops_symbols_below_min_count():
    voc = Vocab.build(["a", "a", "b"], min_count=2)
    assert "b" not in voc.stoi


def test_tokenize_replaces_links_and_mentions():
    assert tokenize("@united see http://t.co/x1") == ["<user>", "see", "<url>"]


def test_tokenize_keeps_hashtags_and_contractions():
    assert tokenize("I can't #DeflateGate!!") == ["i", "can't", "#deflategate", "!!"]


def test_stream_batches_have_time_major_windows():
    x, y = next(stream_batches(np.arange(100), B=4, T=5))
    assert x.shape == (5, 4) and y.shape == (5, 4)


def test_stream_batches_targets_are_inputs_shifted_by_one():
    x, y = next(stream_batches(np.arange(100), B=4, T=5))
    np.testing.assert_array_equal(y, x + 1)


def test_stream_batches_continue_each_column_in_the_next_window():
    it = stream_batches(np.arange(100), B=4, T=5)
    (x1, _), (x2, _) = next(it), next(it)
    np.testing.assert_array_equal(x2[0], x1[-1] + 1)


def test_stream_batches_reject_a_stream_too_short():
    with pytest.raises(ValueError, match="too short"):
        next(stream_batches(np.arange(10), B=4, T=5))


def test_pad_batch_pads_to_the_longest_sequence():
    ids, lengths = pad_batch([[1, 2, 3], [4]], pad_id=0)
    assert ids.tolist() == [[1, 4], [2, 0], [3, 0]] and lengths.tolist() == [3, 1]


def test_unigram_nats_of_a_uniform_stream_is_log_V():
    s = np.tile(np.arange(4), 100)
    assert ngram_nats(s, s, V=4, order=1) == pytest.approx(math.log(4), rel=1e-3)


def test_bigram_beats_unigram_on_a_deterministic_cycle():
    s = np.tile(np.arange(4), 100)
    assert ngram_nats(s, s, V=4, order=2) < 0.1


def test_sample_next_with_top_k_one_is_the_argmax():
    logits = torch.tensor([0.1, 2.0, 1.5])
    assert sample_next(logits, temperature=5.0, top_k=1) == 1


def test_sample_next_is_reproducible_with_a_seeded_generator():
    logits = torch.zeros(50)
    draws = [sample_next(logits, generator=torch.Generator().manual_seed(3)) for _ in range(2)]
    assert draws[0] == draws[1]


def test_sample_next_rejects_a_non_positive_temperature():
    with pytest.raises(ValueError, match="temperature"):
        sample_next(torch.zeros(3), temperature=0.0)


def _toy_decoder(table):
    """A decoder whose next-token log-probabilities depend only on the previous token."""
    def step(token, state):
        return torch.log(torch.tensor(table[token])), state
    return step


def test_beam_search_finds_a_sequence_greedy_misses():
    # tokens: 0 = bos, 1 = eos, 2 = "a", 3 = "b". Greedy takes "a" (0.6) then ends at 0.6*0.5;
    # the beam finds "b" (0.4) followed by a certain end: 0.4 > 0.3.
    table = {0: [0.0, 0.0, 0.6, 0.4], 2: [0.0, 0.5, 0.25, 0.25], 3: [0.0, 1.0, 0.0, 0.0]}
    step = _toy_decoder({k: [max(p, 1e-12) for p in v] for k, v in table.items()})
    assert beam_search(step, None, bos=0, eos=1, beam=1) == [2]
    assert beam_search(step, None, bos=0, eos=1, beam=2) == [3]
