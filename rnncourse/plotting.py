"""The course's figure style: one look for every figure in the book.

Figures are drawn on an opaque white background with dark-grey text and axes. Opaque, not
transparent: a transparent figure takes whatever surface is behind it, and on a dark one
(the book theme's dark mode without its image panel, JupyterLab's or Colab's dark theme, an
image opened on its own) its grey text disappears. On white, the grey ``#555555`` has a
contrast of 7.5:1, above the 4.5:1 that WCAG 2.1 asks of text. In the book theme's dark mode
(sphinx-book-theme on pydata-sphinx-theme) the figure keeps its white background, dimmed by
the theme's image filter (``brightness(0.8) contrast(1.2)``); the contrast stays above 4.5:1.
Checked in both modes by ``tests/test_accessibility.py``.

Call :func:`use_style` once in a page's imports cell; use :data:`COLORS` (a colour-blind-safe
palette, Okabe & Ito 2008) when a figure needs named colours, e.g. one colour per cell type.
"""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt

GREY = "#555555"  # text, axes and neutral lines: see the module docstring
BACKGROUND = "#ffffff"  # every figure's background, opaque: see the module docstring

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
    "figure.facecolor": BACKGROUND,
    "savefig.facecolor": BACKGROUND,
    "savefig.transparent": False,
    "axes.facecolor": BACKGROUND,
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
