"""Specifications of the marked-bit memory task and its classifier (book/cells/comparison)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnncourse.memory_tasks import MemoryClassifier, marked_bit_batch, open_memory_gate


def test_batch_is_time_major_with_a_bit_and_a_marker_channel():
    X, y, t_mark = marked_bit_batch(T=9, B=4, rng=np.random.default_rng(0))
    assert X.shape == (9, 4, 2) and y.shape == (4,) and t_mark.shape == (4,)


def test_target_is_the_marked_bit():
    X, y, t_mark = marked_bit_batch(T=12, B=50, rng=np.random.default_rng(1), mark_first=False)
    marked = X[t_mark, torch.arange(50), 0]
    assert torch.equal(y, (marked > 0).float())


def test_exactly_one_step_is_marked_per_sequence():
    X, _, _ = marked_bit_batch(T=12, B=30, rng=np.random.default_rng(2), mark_first=False)
    assert torch.equal(X[..., 1].sum(0), torch.ones(30))


def test_same_seed_gives_the_same_batch():
    a = marked_bit_batch(T=5, B=3, rng=np.random.default_rng(7))[0]
    b = marked_bit_batch(T=5, B=3, rng=np.random.default_rng(7))[0]
    assert torch.equal(a, b)


def test_classifier_returns_one_logit_per_sequence():
    model = MemoryClassifier("gru", hidden_size=8)
    assert model(torch.zeros(6, 5, 2)).shape == (5,)


def test_open_memory_gate_sets_the_lstm_forget_and_input_biases():
    model = MemoryClassifier("lstm", hidden_size=4)
    open_memory_gate(model, 3.0)
    total = model.rnn.bias_ih_l0 + model.rnn.bias_hh_l0
    assert torch.allclose(total[4:8], torch.full((4,), 3.0))
    assert torch.allclose(total[0:4], torch.full((4,), -3.0))


def test_open_memory_gate_refuses_a_simple_rnn():
    with pytest.raises(ValueError, match="no memory gate"):
        open_memory_gate(MemoryClassifier("rnn", hidden_size=4), 3.0)
