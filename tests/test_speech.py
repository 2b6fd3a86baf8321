"""Specifications of rnncourse.speech and rnncourse.data.speech."""

import numpy as np
import pytest
import scipy.fft

from rnncourse.data.speech import load_spoken_digits, mu_law_decode
from rnncourse.speech import (
    dct_matrix,
    deltas,
    frames,
    hz_to_mel,
    log_mel,
    mel_filterbank,
    mel_to_hz,
    mfcc,
    power_spectrum,
)

SR = 8000


def test_mfcc_shape_is_frames_by_coefficients():
    x = np.random.default_rng(0).normal(size=SR)          # 1 s: 1 + (8000 - 200) // 80 frames
    assert mfcc(x, SR, n_mfcc=13).shape == (98, 13)


def test_frames_pad_a_clip_shorter_than_one_frame():
    assert frames(np.ones(50), 200, 80).shape == (1, 200)


def test_mel_scale_round_trips_and_maps_1000_hz_near_1000_mel():
    f = np.array([0.0, 440.0, 4000.0])
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(f)), f)
    assert hz_to_mel(1000.0) == pytest.approx(1000.0, abs=1.0)


def test_every_mel_filter_covers_some_frequency_bin_with_weights_at_most_one():
    fb = mel_filterbank(26, 256, SR)
    assert fb.shape == (129, 26)
    assert fb.min() >= 0.0 and np.all(fb.max(axis=0) > 0.5) and fb.max() <= 1.0


def test_dct_matrix_matches_scipy_orthonormal_dct2():
    L = np.random.default_rng(1).normal(size=(5, 26))
    np.testing.assert_allclose(L @ dct_matrix(26, 13),
                               scipy.fft.dct(L, type=2, norm="ortho", axis=1)[:, :13])


def test_power_spectrum_of_a_sine_peaks_at_its_frequency():
    t = np.arange(SR) / SR
    P = power_spectrum(np.sin(2 * np.pi * 1000 * t), 200, 80, 256, preemphasis=0.0)
    assert np.argmax(P.mean(axis=0)) == 1000 * 256 // SR


def test_log_mel_has_one_row_per_frame():
    assert log_mel(np.ones(1000), SR).shape == (11, 26)


def test_deltas_of_a_linear_ramp_are_its_slope():
    C = np.arange(20.0)[:, None] * 3.0
    np.testing.assert_allclose(deltas(C)[2:-2], 3.0)


def test_mu_law_decode_maps_the_code_range_onto_minus_one_to_one():
    np.testing.assert_allclose(mu_law_decode(np.array([0, 255], np.uint8)), [-1.0, 1.0])


def test_spoken_digits_ship_balanced_over_voices_and_digits():
    d = load_spoken_digits()
    assert len(d.audio) == 1080 and d.sample_rate == SR
    assert np.all(np.bincount(d.digit) == 108) and np.all(np.bincount(d.voice) == 90)
    assert max(np.abs(a).max() for a in d.audio) <= 1.0
