"""Speech features in NumPy: framing, power spectrum, mel filter bank, log-mel and MFCC.

The pipeline of Davis & Mermelstein (1980): pre-emphasis, overlapping Hann-windowed
frames, the power spectrum, triangular filters equally spaced on the mel scale, the log of
each filter's energy (log-mel), and a DCT-II of those (mel-frequency cepstral
coefficients, MFCC). A clip of ``n`` samples gives ``T = 1 + (n - frame_len) // hop``
frames (at least one: short clips are zero-padded).
"""

from __future__ import annotations

import numpy as np


def hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    """The mel scale, 2595 log10(1 + f / 700) (O'Shaughnessy's formula)."""
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=float) / 700.0)


def mel_to_hz(m: np.ndarray | float) -> np.ndarray:
    """Inverse of :func:`hz_to_mel`."""
    return 700.0 * (10.0 ** (np.asarray(m, dtype=float) / 2595.0) - 1.0)


def frames(x: np.ndarray, frame_len: int, hop: int) -> np.ndarray:
    """Cut ``x`` (n,) into overlapping frames, shape (T, frame_len); pads short clips."""
    if len(x) < frame_len:
        x = np.pad(x, (0, frame_len - len(x)))
    T = 1 + (len(x) - frame_len) // hop
    idx = hop * np.arange(T)[:, None] + np.arange(frame_len)[None, :]
    return x[idx]


def power_spectrum(x: np.ndarray, frame_len: int, hop: int, n_fft: int,
                   preemphasis: float = 0.97) -> np.ndarray:
    """Power spectrum |FFT|^2 of Hann-windowed frames of ``x``, shape (T, n_fft // 2 + 1)."""
    x = np.append(x[:1], x[1:] - preemphasis * x[:-1])
    F = frames(x, frame_len, hop) * np.hanning(frame_len + 2)[1:-1]   # (T, frame_len)
    return np.abs(np.fft.rfft(F, n=n_fft, axis=1)) ** 2


def mel_filterbank(n_mels: int, n_fft: int, sample_rate: int, f_min: float = 0.0,
                   f_max: float | None = None) -> np.ndarray:
    """Triangular filters equally spaced on the mel scale, shape (n_fft // 2 + 1, n_mels)."""
    f_max = sample_rate / 2 if f_max is None else f_max
    edges = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))
    f = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)[:, None]          # (n_bins, 1)
    lo, mid, hi = edges[:-2], edges[1:-1], edges[2:]                      # (n_mels,)
    rise = (f - lo) / (mid - lo)
    fall = (hi - f) / (hi - mid)
    return np.maximum(0.0, np.minimum(rise, fall))


def dct_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Orthonormal DCT-II as a matrix, shape (n_in, n_out): ``y = x @ D`` (rows are frames)."""
    k = np.arange(n_out)[None, :]
    n = np.arange(n_in)[:, None]
    D = np.cos(np.pi * k * (2 * n + 1) / (2 * n_in)) * np.sqrt(2.0 / n_in)
    D[:, 0] /= np.sqrt(2.0)
    return D


def log_mel(x: np.ndarray, sample_rate: int, frame_ms: float = 25.0, hop_ms: float = 10.0,
            n_fft: int = 256, n_mels: int = 26, floor: float = 1e-10) -> np.ndarray:
    """Log mel-filter-bank energies of clip ``x`` (n,), shape (T, n_mels)."""
    frame_len = int(round(sample_rate * frame_ms / 1000))
    hop = int(round(sample_rate * hop_ms / 1000))
    P = power_spectrum(x, frame_len, hop, n_fft)                        # (T, n_bins)
    return np.log(P @ mel_filterbank(n_mels, n_fft, sample_rate) + floor)


def mfcc(x: np.ndarray, sample_rate: int, n_mfcc: int = 13, n_mels: int = 26,
         **kw) -> np.ndarray:
    """Mel-frequency cepstral coefficients of clip ``x`` (n,), shape (T, n_mfcc)."""
    L = log_mel(x, sample_rate, n_mels=n_mels, **kw)                    # (T, n_mels)
    return L @ dct_matrix(n_mels, n_mfcc)


def deltas(C: np.ndarray, width: int = 2) -> np.ndarray:
    """Regression slope of each coefficient over +-``width`` frames, shape of ``C`` (T, K)."""
    P = np.pad(C, ((width, width), (0, 0)), mode="edge")
    T = len(C)
    num = sum(k * (P[width + k : width + k + T] - P[width - k : width - k + T])
              for k in range(1, width + 1))
    return num / (2 * sum(k * k for k in range(1, width + 1)))
