"""Synthesise the spoken-digit data set of the speech application with espeak-ng.

Run once by an author (readers and the book build do not need espeak-ng):

    apt-get install -y espeak-ng          # Debian package
    .venv/bin/python scripts/make_spoken_digits.py

Every English digit word, "zero" to "nine", is spoken by each of ``VOICES`` (an espeak-ng
accent plus a voice variant) at each of ``SPEEDS`` (words per minute) and ``PITCHES``
(0-99). Each utterance is resampled from espeak-ng's 22 050 Hz to 8 kHz (telephone
bandwidth), trimmed of leading and trailing silence, and stored as 8-bit mu-law codes
(mu = 255, the companding of ITU-T G.711 telephony), which halve the file size of int16
samples at telephone quality; ``rnncourse.data.speech`` decodes them.

The utterances are concatenated into one array, ``audio``, with ``offsets`` marking where
each one starts and ends, and written to ``rnncourse/data/spoken_digits.npz`` together with
the labels ``digit``, ``voice``, ``speed`` and ``pitch``. The script ends by printing the
counts a reader can check against (like nanoGPT's prepare.py).
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
# Accent (espeak-ng language) + variant (male m1..m7, female f1..f5): twelve voices.
VOICES = [
    "en-us+m1", "en-us+f2", "en-gb+m3", "en-gb+f1", "en-gb-scotland+m2", "en-gb-scotland+f3",
    "en-029+m4", "en-029+f4", "en-gb-x-rp+m7", "en-us-nyc+f5", "en-gb-x-gbclan+m5",
    "en-gb-x-gbcwmd+f3",
]
SPEEDS = [130, 175, 220]      # words per minute (espeak-ng default 175)
PITCHES = [25, 50, 75]        # 0..99 (default 50)
SOURCE_RATE = 22_050          # espeak-ng's output sample rate, Hz
SAMPLE_RATE = 8_000           # stored sample rate, Hz
SILENCE_DB = -40.0            # frames this far below the loudest frame count as silence
OUT = Path(__file__).resolve().parents[1] / "rnncourse" / "data" / "spoken_digits.npz"


def speak(word: str, voice: str, speed: int, pitch: int) -> np.ndarray:
    """Return espeak-ng's rendering of ``word`` as float samples at SOURCE_RATE, shape (n,)."""
    cmd = ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", word]
    wav = subprocess.run(cmd, check=True, capture_output=True).stdout
    with wave.open(io.BytesIO(wav)) as w:
        if w.getframerate() != SOURCE_RATE or w.getsampwidth() != 2:
            raise RuntimeError(f"unexpected espeak-ng output format for {voice}: "
                               f"{w.getframerate()} Hz, {8 * w.getsampwidth()} bit")
        # The header of a streamed WAV may give a wrong length: read the raw bytes instead.
    pcm = wav[44:]
    return np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float64)


def trim_silence(x: np.ndarray, rate: int, frame_ms: float = 10.0) -> np.ndarray:
    """Drop leading and trailing frames quieter than SILENCE_DB below the loudest frame."""
    n = int(rate * frame_ms / 1000)
    frames = x[: len(x) // n * n].reshape(-1, n)
    level = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    loud = np.flatnonzero(level > level.max() + SILENCE_DB)
    return x[loud[0] * n : (loud[-1] + 1) * n]


def mu_law_encode(x: np.ndarray, mu: int = 255) -> np.ndarray:
    """Compand samples ``x`` in [-1, 1] and quantise them to 8-bit codes 0..255, shape of x."""
    y = np.sign(x) * np.log1p(mu * np.abs(np.clip(x, -1, 1))) / np.log1p(mu)
    return np.round((y + 1) / 2 * mu).astype(np.uint8)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="output .npz file")
    args = parser.parse_args(argv)
    if shutil.which("espeak-ng") is None:
        print("espeak-ng not found: install it with `apt-get install -y espeak-ng` "
              "(Debian/Ubuntu) and run this script again.", file=sys.stderr)
        return 1

    clips, digit, voice, speed, pitch = [], [], [], [], []
    for v, name in enumerate(VOICES):
        for s in SPEEDS:
            for p in PITCHES:
                for d, word in enumerate(WORDS):
                    x = resample_poly(speak(word, name, s, p), SAMPLE_RATE, SOURCE_RATE)
                    x = trim_silence(x, SAMPLE_RATE)
                    clips.append(mu_law_encode(x / 32768.0))
                    digit.append(d), voice.append(v), speed.append(s), pitch.append(p)
        print(f"voice {v + 1}/{len(VOICES)} {name} done", flush=True)

    offsets = np.concatenate([[0], np.cumsum([len(c) for c in clips])]).astype(np.int64)
    np.savez_compressed(
        args.out, audio=np.concatenate(clips), offsets=offsets,
        digit=np.array(digit, np.int8), voice=np.array(voice, np.int8),
        speed=np.array(speed, np.int16), pitch=np.array(pitch, np.int8),
        voices=np.array(VOICES), words=np.array(WORDS), sample_rate=np.int64(SAMPLE_RATE),
    )
    seconds = offsets[-1] / SAMPLE_RATE
    print(f"wrote {args.out}: {len(clips)} utterances "
          f"({len(VOICES)} voices x {len(SPEEDS)} speeds x {len(PITCHES)} pitches x "
          f"{len(WORDS)} digits), {seconds:.1f} s of audio, "
          f"{args.out.stat().st_size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
