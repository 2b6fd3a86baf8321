"""Interactive figures that stay interactive in the static book, with no kernel and no CDN.

A page builds a plotly figure, usually with :func:`slider_figure` (one set of traces per value
of a parameter, and a slider to move between them), and shows it with :func:`show`.

:func:`show` emits two representations of the figure:

- ``application/vnd.plotly.v1+json``, which JupyterLab and VS Code draw with their own plotly;
- ``text/html``: a ``<div>`` and a small script calling ``Plotly.newPlot``, which the book
  renders. The book serves ``plotly.min.js`` itself: the Sphinx extension
  :mod:`rnncourse.sphinxext` copies it from the installed, pinned plotly package into
  ``_static/`` and loads it only on pages that hold an interactive figure.

So the HTML book needs no internet, and each page loads plotly.js at most once. In Google
Colab, which draws neither of the two, :func:`show` falls back to plotly's own renderer.

Figures use the course look of :mod:`rnncourse.plotting` (transparent background, grey
text, the colour-blind-safe palette), so they read on the light and dark themes alike.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import plotly
import plotly.graph_objects as go

from rnncourse.plotting import GREY, PALETTE

#: CSS class of the ``<div>`` holding a figure; the Sphinx extension looks for it.
MARKER_CLASS = "rnncourse-plotly"
PLOTLY_JS = "plotly.min.js"

_TRANSPARENT = "rgba(0,0,0,0)"
_GRID = "rgba(128,128,128,0.25)"


def style_figure(fig: go.Figure, height: int = 420) -> go.Figure:
    """Give ``fig`` the course look (transparent, grey text and grid, course palette)."""
    axis = dict(gridcolor=_GRID, zerolinecolor=_GRID, linecolor=GREY, color=GREY,
                showline=True, ticks="outside")
    fig.update_layout(
        template="none",
        height=height,
        paper_bgcolor=_TRANSPARENT,
        plot_bgcolor=_TRANSPARENT,
        font=dict(color=GREY, size=13),
        colorway=PALETTE,
        legend=dict(bgcolor=_TRANSPARENT, orientation="h", x=0, xanchor="left",
                    y=1.01, yanchor="bottom"),
        title=dict(x=0.01, xanchor="left", y=0.98, yanchor="top"),
        margin=dict(l=80, r=40, t=80, b=40),
    )
    fig.update_xaxes(**axis)
    fig.update_yaxes(**axis)
    return fig


def slider_figure(
    values: Sequence[float],
    make_traces: Callable[[float], list[go.BaseTraceType]],
    *,
    label: str,
    fmt: str = "{:.2f}",
    active: int = 0,
    height: int = 480,
    title: Callable[[float], str] | None = None,
) -> go.Figure:
    """A figure with one set of traces per value in ``values`` and a slider between them.

    ``make_traces(value)`` returns the traces (lines, bars, ...) to show for one value; it must
    return the same number of traces for every value. ``label`` names the parameter on the
    slider, ``fmt`` formats its values. The figure opens on ``values[active]``. If given,
    ``title(value)`` is the figure's title for each value (it changes with the slider).
    """
    fig = go.Figure()
    counts = []
    for value in values:
        traces = make_traces(value)
        counts.append(len(traces))
        for trace in traces:
            fig.add_trace(trace)
    if len(set(counts)) != 1:
        raise ValueError(f"make_traces returned different numbers of traces: {counts}")
    per_step = counts[0]
    n_traces = per_step * len(values)

    steps = []
    for i, value in enumerate(values):
        visible = [i * per_step <= j < (i + 1) * per_step for j in range(n_traces)]
        if title is None:
            steps.append(dict(method="restyle", args=[{"visible": visible}],
                              label=fmt.format(value)))
        else:
            steps.append(dict(method="update",
                              args=[{"visible": visible}, {"title.text": title(value)}],
                              label=fmt.format(value)))
    for j, trace in enumerate(fig.data):  # hidden traces stay out of the legend
        trace.visible = active * per_step <= j < (active + 1) * per_step

    fig.update_layout(sliders=[dict(
        active=active,
        steps=steps,
        currentvalue=dict(prefix=f"{label} = ", font=dict(color=GREY)),
        pad=dict(t=50),
        font=dict(color=GREY),
        bgcolor="rgba(128,128,128,0.35)",
        bordercolor=GREY,
        activebgcolor=PALETTE[0],
        tickcolor=GREY,
    )])
    fig = style_figure(fig, height=height)
    if title is not None:
        fig.update_layout(title_text=title(values[active]))
    return fig


def html_fragment(fig: go.Figure) -> str:
    """The ``<div>`` and script that draw ``fig`` in a page that has loaded plotly.js."""
    div_id = f"{MARKER_CLASS}-{uuid.uuid4().hex[:12]}"
    height = fig.layout.height or 450
    spec = fig.to_json()
    config = json.dumps({"responsive": True, "displaylogo": False})
    return (
        f'<div id="{div_id}" class="{MARKER_CLASS}" style="width:100%;height:{height}px">'
        "</div>\n<script>\n(function () {\n"
        f'  var el = document.getElementById("{div_id}");\n'
        '  if (!window.Plotly) { el.textContent = "This interactive figure needs plotly.js, '
        'which this page did not load."; return; }\n'
        f"  var fig = {spec};\n"
        f"  Plotly.newPlot(el, fig.data, fig.layout, {config});\n"
        "})();\n</script>"
    )


def show(fig: go.Figure) -> None:
    """Display ``fig`` so it stays interactive in JupyterLab, VS Code and the static book."""
    from IPython.display import display

    if "google.colab" in sys.modules:  # Colab draws neither bundle below
        fig.show()
        return
    bundle = {
        "application/vnd.plotly.v1+json": json.loads(fig.to_json()),
        "text/html": html_fragment(fig),
        "text/plain": f"<interactive figure: {len(fig.data)} traces>",
    }
    display(bundle, raw=True)


# ---- plotly.js for the book ----------------------------------------------------------------

def plotly_js_path() -> Path:
    """The ``plotly.min.js`` shipped inside the installed plotly package."""
    path = Path(plotly.__file__).parent / "package_data" / PLOTLY_JS
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: reinstall plotly (pip install -r requirements.txt)."
        )
    return path
