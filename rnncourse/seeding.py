"""Seed every random number generator a notebook uses, in one visible call."""

from __future__ import annotations

import random

import numpy as np


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python's ``random``, NumPy's global state and PyTorch (if installed).

    On a GPU, PyTorch is also asked for deterministic algorithms. On the CPU its kernels give
    the same numbers twice at a fixed thread count already, and asking imports
    ``torch._inductor``: about 2 s of every page.

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
        if torch.cuda.is_available():
            torch.use_deterministic_algorithms(True, warn_only=True)
    return np.random.default_rng(seed)
