"""Shared code of the open course on recurrent neural networks.

Notebooks import from here instead of repeating data loading, training loops and plotting:

- ``rnncourse.seeding``: one call that seeds Python, NumPy and PyTorch.
- ``rnncourse.plotting``: the course's figure style, readable in light and dark themes.
- ``rnncourse.training``: a training loop with a progress bar and a loss history.
"""

__version__ = "0.1.0"
