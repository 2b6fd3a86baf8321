"""Shared code of the open course on recurrent neural networks.

Notebooks import from here instead of repeating data loading, training loops and plotting:

- ``rnncourse.seeding``: one call that seeds Python, NumPy and PyTorch.
- ``rnncourse.plotting``: the course's figure style, readable in light and dark themes.
- ``rnncourse.training``: a training loop with a progress bar and a loss history.
- ``rnncourse.data``: loaders of the data sets that ship with installed packages (Shakespeare,
  tweets, statsmodels' series, stock prices) or with this package (spoken digits).
- ``rnncourse.text``, ``rnncourse.series``, ``rnncourse.speech``: what the applications share
  (vocabularies and sampling; windows, baselines and MASE; MFCC features).
- ``rnncourse.tasks``, ``rnncourse.memory_tasks``: synthetic tasks generated from a seed.
- ``rnncourse.diagrams``: the cell and unrolled-graph diagrams the chapters draw.
- ``rnncourse.beyond``: what the pages beyond the classic RNN share (timing, character data,
  a character LSTM with the regularisers).

The assignments' test helpers and reference implementations live with the grader
(``autograder.keys``), not here.
"""

__version__ = "0.1.0"
