"""Seed every random number generator a notebook uses, in one visible call."""

from __future__ import annotations

import random

import numpy as np


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python's ``random``, NumPy's global state and PyTorch (if installed).

    Returns a fresh ``np.random.Generator`` seeded with ``seed``: pass it to functions
    that draw random numbers instead of using global state.
    """
    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch
    except ImportError:  # the NumPy-only pages work without torch
        pass
    else:
        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True, warn_only=True)
    return np.random.default_rng(seed)
