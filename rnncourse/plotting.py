"""The course's figure style: one look for every figure in the book.

Figures are drawn on a transparent background with dark-grey text and axes. In the book
theme (sphinx-book-theme on pydata-sphinx-theme) a figure always sits on a light surface:
white in the light mode, and in the dark mode a light-grey panel that the theme puts behind
every cell output and image (then dimmed with a CSS filter). The grey ``#555555`` keeps a
contrast of about 7:1 on the first and 5:1 on the second, above the 4.5:1 that WCAG asks of
text, and the transparent background takes whichever surface the theme draws. Checked on
screenshots of both modes by ``tests/test_browser.py``.

Call :func:`use_style` once in a page's imports cell; use :data:`COLORS` (a colour-blind-safe
palette, Okabe & Ito 2008) when a figure needs named colours, e.g. one colour per cell type.
"""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt

GREY = "#555555"  # text, axes and neutral lines: see the module docstring

# Okabe-Ito colour-blind-safe palette.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442"]

# One colour per model family, used the same way in every chapter.
COLORS = {
    "rnn": PALETTE[0],
    "lstm": PALETTE[1],
    "gru": PALETTE[2],
    "baseline": GREY,
    "truth": "#404040",
    "highlight": PALETTE[3],
}

STYLE = {
    "figure.figsize": (6.4, 3.6),
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "figure.facecolor": "none",
    "savefig.facecolor": "none",
    "savefig.transparent": True,
    "axes.facecolor": "none",
    "axes.edgecolor": GREY,
    "axes.labelcolor": GREY,
    "axes.titlecolor": GREY,
    "axes.grid": True,
    "grid.color": GREY,
    "grid.alpha": 0.25,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": mpl.cycler(color=PALETTE),
    "xtick.color": GREY,
    "ytick.color": GREY,
    "text.color": GREY,
    "legend.frameon": False,
    "legend.labelcolor": GREY,
    "font.size": 11,
    "lines.linewidth": 2.0,
    "image.cmap": "viridis",
}


def use_style() -> None:
    """Apply the course style to every matplotlib figure drawn after this call."""
    plt.rcParams.update(STYLE)


def new_figure(ncols: int = 1, nrows: int = 1, width: float = 6.4, height: float = 3.6, **kw):
    """Return ``(fig, axes)`` in the course style, sized ``width`` x ``height`` inches in all."""
    use_style()
    return plt.subplots(nrows, ncols, figsize=(width, height), layout="constrained", **kw)
