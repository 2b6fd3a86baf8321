"""A training loop shared by the book's experiments: progress bar, loss history, nothing else.

The loop knows nothing about models. The caller passes ``step``, a function that performs
one optimisation step (forward, backward, clip, update) and returns the training loss as a
float; the loop calls it ``n_steps`` times, shows a tqdm progress bar with a smoothed loss,
and returns every loss, so a page can plot its learning curve.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm


@dataclass
class History:
    """Losses recorded by :func:`train_loop`: one per step, plus optional evaluations."""

    loss: list[float] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    eval_loss: list[float] = field(default_factory=list)

    def smoothed(self, window: int = 50) -> np.ndarray:
        """Running mean of the training loss over ``window`` steps, shape (len(loss),)."""
        x = np.asarray(self.loss, dtype=float)
        c = np.cumsum(np.insert(x, 0, 0.0))
        n = np.minimum(np.arange(1, len(x) + 1), window)
        return (c[1:] - c[np.arange(1, len(x) + 1) - n]) / n


def train_loop(
    step: Callable[[int], float],
    n_steps: int,
    desc: str = "training",
    evaluate: Callable[[], float] | None = None,
    eval_every: int = 0,
    stop_below: float | None = None,
) -> History:
    """Call ``step(i)`` for i = 0 .. n_steps-1 and record the losses it returns.

    If ``evaluate`` is given, it is called every ``eval_every`` steps and at the end, and its
    value is recorded in ``History.eval_loss``. If ``stop_below`` is given, training stops
    early once an evaluation falls below it.
    """
    hist = History()
    bar = tqdm(range(n_steps), desc=desc, mininterval=1.0, leave=False)
    for i in bar:
        hist.loss.append(float(step(i)))
        last = i == n_steps - 1
        if evaluate is not None and eval_every and ((i + 1) % eval_every == 0 or last):
            hist.eval_steps.append(i + 1)
            hist.eval_loss.append(float(evaluate()))
            bar.set_postfix(loss=f"{hist.smoothed(eval_every)[-1]:.4f}",
                            eval=f"{hist.eval_loss[-1]:.4f}")
            if stop_below is not None and hist.eval_loss[-1] < stop_below:
                break
    bar.close()
    return hist
