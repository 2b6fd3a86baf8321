"""The spoken-digit data set: 1 080 utterances of "zero" ... "nine" synthesised by espeak-ng.

The file ``spoken_digits.npz`` next to this module is written by
``scripts/make_spoken_digits.py`` (12 voices x 3 speeds x 3 pitches x 10 digits, 8 kHz,
8-bit mu-law). Loading it needs neither espeak-ng nor a network.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

PATH = Path(__file__).with_name("spoken_digits.npz")


@dataclass
class SpokenDigits:
    """Utterances and their labels; ``N`` utterances of different lengths."""

    audio: list[np.ndarray]   # N float32 arrays in [-1, 1], shape (n_samples_i,)
    digit: np.ndarray         # (N,) int, 0..9
    voice: np.ndarray         # (N,) int, index into ``voices``
    speed: np.ndarray         # (N,) int, words per minute
    pitch: np.ndarray         # (N,) int, espeak-ng pitch 0..99
    voices: list[str]         # espeak-ng voice names
    words: list[str]          # "zero" .. "nine"
    sample_rate: int          # Hz


def mu_law_decode(codes: np.ndarray, mu: int = 255) -> np.ndarray:
    """Invert 8-bit mu-law companding: codes 0..255 -> samples in [-1, 1] (float32)."""
    y = 2.0 * codes.astype(np.float64) / mu - 1.0
    return (np.sign(y) * np.expm1(np.abs(y) * np.log1p(mu)) / mu).astype(np.float32)


def load_spoken_digits(path: Path = PATH) -> SpokenDigits:
    """Load the committed spoken-digit file and decode its audio."""
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: regenerate it with "
                                "`python scripts/make_spoken_digits.py` (needs espeak-ng).")
    with np.load(path) as f:
        x = mu_law_decode(f["audio"])
        off = f["offsets"]
        return SpokenDigits(
            audio=[x[a:b] for a, b in zip(off[:-1], off[1:], strict=True)],
            digit=f["digit"].astype(int), voice=f["voice"].astype(int),
            speed=f["speed"].astype(int), pitch=f["pitch"].astype(int),
            voices=[str(v) for v in f["voices"]], words=[str(w) for w in f["words"]],
            sample_rate=int(f["sample_rate"]),
        )
