"""A translation task our code generates: English number words to French number words.

``num2words`` (LGPL) spells integers in many languages: 71 is "seventy-one" in English and
"soixante et onze" in French. :func:`number_pairs` turns integers into pairs of token
lists, splitting on spaces and hyphens (the hyphen stays as a token, so the output can be
joined back exactly) and dropping English commas. :func:`split_numbers` draws disjoint
train, validation and test integers, so every test item is a number never seen in training.
"""

from __future__ import annotations

import re

import numpy as np
from num2words import num2words

_SPLIT = re.compile(r"-|[^\s,-]+")


def words(n: int, lang: str) -> list[str]:
    """Tokens of the integer ``n`` spelled in ``lang`` ("en", "fr", ...), hyphens kept."""
    return _SPLIT.findall(num2words(int(n), lang=lang))


def join_words(tokens: list[str]) -> str:
    """Inverse of :func:`words` (up to English commas): "quatre - vingts" -> "quatre-vingts"."""
    return " ".join(tokens).replace(" - ", "-")


def number_pairs(
    numbers: np.ndarray, src: str = "en", tgt: str = "fr"
) -> list[tuple[list[str], list[str]]]:
    """``(source tokens, target tokens)`` for each integer in ``numbers``."""
    return [(words(n, src), words(n, tgt)) for n in numbers]


def split_numbers(
    rng: np.random.Generator, n_max: int, sizes: tuple[int, int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Disjoint train, validation and test integers drawn without replacement from
    ``0 .. n_max - 1``, of the given ``sizes``."""
    if sum(sizes) > n_max:
        raise ValueError(f"Cannot draw {sum(sizes)} distinct numbers below {n_max}: "
                         "raise n_max or shrink the splits.")
    draw = rng.choice(n_max, size=sum(sizes), replace=False)
    a, b = sizes[0], sizes[0] + sizes[1]
    return draw[:a], draw[a:b], draw[b:]
