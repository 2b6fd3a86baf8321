"""Interactive figures that stay interactive in the static book, with no kernel and no CDN.

A page builds a plotly figure, usually with :func:`slider_figure` (one set of traces per value
of a parameter, and a slider to move between them), and shows it with :func:`show`.

:func:`show` emits two representations of the figure:

- ``application/vnd.plotly.v1+json``, which JupyterLab and VS Code draw with their own plotly;
- ``text/html``: a ``<div>`` and a small script calling ``Plotly.newPlot``, which the book
  renders. The book serves ``plotly.min.js`` itself: the Sphinx extension
  :mod:`rnncourse.sphinxext` copies it from the installed, pinned plotly package into
  ``_static/`` and loads it only on pages that hold an interactive figure.

In the book a figure is usable without a mouse and without sight (WCAG 2.1 AA). Its slider is
a native ``<input type="range">`` (in the tab order, moved with the arrow keys, Home and End,
named by a ``<label>``, announcing its value through ``aria-valuetext``) instead of plotly's
SVG slider, which no keyboard reaches. The plot is one ``role="img"`` whose text alternative,
computed here from the figure's data (:func:`step_descriptions`), follows the slider, and a
live region (``role="status"``) says what changed. The figure's data reaches the page as
JSON in a ``<script type="application/json">`` with ``<``, ``>`` and ``&`` escaped, so no trace
name or title can close the script or add markup; the script puts text into the page with
``textContent`` and attributes only.

So the HTML book needs no internet, and each page loads plotly.js at most once. In Google
Colab, which draws neither of the two, :func:`show` falls back to plotly's own renderer.

Figures use the course look of :mod:`rnncourse.plotting` (an opaque white background, grey
text, the colour-blind-safe palette), so they read on the light and dark themes alike.
"""

from __future__ import annotations

import html
import json
import math
import numbers
import re
import sys
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import plotly
import plotly.graph_objects as go

from rnncourse.plotting import BACKGROUND, GREY, PALETTE

#: CSS class of the ``<div>`` holding a figure; the Sphinx extension looks for it.
MARKER_CLASS = "rnncourse-plotly"
PLOTLY_JS = "plotly.min.js"

_TRANSPARENT = "rgba(0,0,0,0)"
# Text a screen reader must not hear as a list of words: plotly's own markup in names.
_MARKUP = re.compile(r"<[^>]*>")
_GRID = "rgba(128,128,128,0.25)"


def style_figure(fig: go.Figure, height: int = 420) -> go.Figure:
    """Give ``fig`` the course look (white, grey text and grid, course palette).

    The background is opaque, not transparent: the grey text must not depend on the surface
    that a page, a notebook or a dark theme happens to put behind the figure.
    """
    axis = dict(gridcolor=_GRID, zerolinecolor=_GRID, linecolor=GREY, color=GREY,
                showline=True, ticks="outside")
    fig.update_layout(
        template="none",
        height=height,
        paper_bgcolor=BACKGROUND,
        plot_bgcolor=BACKGROUND,
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
        name=label,  # the book's keyboard slider is labelled with it (html_fragment)
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


def _plain(text: object) -> str:
    """``text`` without plotly's markup (``ρ<sup>k</sup>`` -> ``ρ^k``), for a text alternative."""
    text = re.sub(r"<sup>(.*?)</sup>", r"^\1", str(text or ""))
    return " ".join(_MARKUP.sub("", text).split())


def _number(value: object) -> str:
    """A value as a reader hears it: 3 significant digits for numbers, the text otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return _plain(value)
    return "not a number" if math.isnan(value) else f"{float(value):.3g}"


def _describe_trace(trace: go.BaseTraceType) -> str:
    """What one trace shows: its ends and extremes for a curve, its largest bars for bars."""
    name = _plain(trace.name) or "the series"
    ys = list(trace.y) if trace.y is not None else []
    xs = list(trace.x) if trace.x is not None else list(range(len(ys)))
    points = [(x, y) for x, y in zip(xs, ys, strict=False)
              if isinstance(y, numbers.Real) and not isinstance(y, bool) and not math.isnan(y)]
    if not points:
        return f"{name}: no values"
    if trace.type == "bar":
        largest = sorted(points, key=lambda p: -p[1])[:3]
        bars = ", ".join(f"{_number(x)} {_number(y)}" for x, y in largest)
        return f"{name}: {len(points)} bars, the largest {bars}"
    first, last = points[0], points[-1]
    text = f"{name}: from {_number(first[1])} at {_number(first[0])}"
    text += f" to {_number(last[1])} at {_number(last[0])}"
    for word, point in (("highest", max(points, key=lambda p: p[1])),
                        ("lowest", min(points, key=lambda p: p[1]))):
        if point not in (first, last):
            text += f", {word} {_number(point[1])} at {_number(point[0])}"
    return text


def _describe(fig: go.Figure, visible: Sequence[bool], title: str) -> str:
    """The text alternative of ``fig`` showing the traces marked in ``visible``."""
    x_name = _plain(fig.layout.xaxis.title.text)
    y_name = _plain(fig.layout.yaxis.title.text)
    traces = [t for t, shown in zip(fig.data, visible, strict=True) if shown]
    kind = "Bar chart" if traces and all(t.type == "bar" for t in traces) else "Chart"
    axes = f" of {y_name or 'the values'} against {x_name or 'position'}"
    if fig.layout.yaxis.type == "log":
        axes += " (logarithmic y axis)"
    parts = [p for p in (_plain(title), kind + axes) if p]
    return ". ".join(parts) + ". " + "; ".join(_describe_trace(t) for t in traces) + "."


def step_descriptions(fig: go.Figure) -> list[str]:
    """One text alternative per slider step of ``fig`` (one in all if it has no slider).

    Each says the step's title, the kind of chart and its axes, and for every visible trace
    its first, last, highest and lowest points (a curve) or its three largest bars.
    """
    title = fig.layout.title.text or ""
    if not fig.layout.sliders:
        return [_describe(fig, [t.visible is not False for t in fig.data], title)]
    slider = fig.layout.sliders[0]
    descriptions = []
    for step in slider.steps:
        restyle = step.args[0]
        relayout = step.args[1] if len(step.args) > 1 else {}
        step_title = relayout.get("title.text", title)
        if not relayout.get("title.text") and slider.name:
            step_title = f"{step_title}. {slider.name} = {step.label}".lstrip(". ")
        descriptions.append(_describe(fig, restyle["visible"], step_title))
    return descriptions


def _script_json(value: object) -> str:
    """``value`` as JSON that is safe inside ``<script>``: no ``<``, ``>`` or ``&`` in it."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _steps(fig: go.Figure) -> list[dict]:
    """The slider's steps as data: which traces each shows, its title and its label."""
    steps = []
    for step in fig.layout.sliders[0].steps:
        relayout = step.args[1] if len(step.args) > 1 else {}
        steps.append({"visible": list(step.args[0]["visible"]), "label": str(step.label),
                      "title": relayout.get("title.text")})
    return steps


_SCRIPT = """(function () {
  var el = document.getElementById("%(id)s");
  var spec = JSON.parse(document.getElementById("%(id)s-spec").textContent);
  if (!window.Plotly) {
    el.removeAttribute("role");
    el.textContent = "This interactive figure needs plotly.js, which this page did not load. " +
      spec.descriptions[spec.active];
    return;
  }
  Plotly.newPlot(el, spec.data, spec.layout, spec.config);
  var slider = document.getElementById("%(id)s-slider");
  if (!slider) return;
  var output = document.getElementById("%(id)s-value");
  var status = document.getElementById("%(id)s-status");
  slider.addEventListener("input", function () {
    var i = Number(slider.value), step = spec.steps[i];
    var relayout = step.title === null ? {} : {"title.text": step.title};
    Plotly.update(el, {visible: step.visible}, relayout);
    slider.setAttribute("aria-valuetext", step.label);
    output.textContent = step.label;
    el.setAttribute("aria-label", spec.descriptions[i]);
    status.textContent = spec.descriptions[i];
  });
})();"""

# Visually hidden but read by screen readers (inline, so it holds outside the book's CSS).
_SR_ONLY = ("position:absolute;width:1px;height:1px;padding:0;margin:-1px;overflow:hidden;"
            "clip:rect(0,0,0,0);white-space:nowrap;border:0")


def html_fragment(fig: go.Figure) -> str:
    """The HTML that draws ``fig`` in a page that has loaded plotly.js, keyboard and all.

    A ``role="img"`` ``<div>`` named by the figure's text alternative, a labelled range
    input for the slider (if any) and a live region, then the figure's data as JSON and the
    script that draws it and moves it with the input (see the module docstring).
    """
    div_id = f"{MARKER_CLASS}-{uuid.uuid4().hex[:12]}"
    height = fig.layout.height or 450
    descriptions = step_descriptions(fig)
    spec = json.loads(fig.to_json())
    layout = spec["layout"]
    slider = layout.pop("sliders", [None])[0]
    active = int(slider.get("active", 0)) if slider else 0
    data = {"data": spec["data"], "layout": layout, "active": active,
            # No mode bar: its ten buttons (zoom, pan, "share chart" to plotly's cloud, ...)
            # would sit inside the role="img", as tab stops that a screen reader cannot reach.
            "config": {"responsive": True, "displaylogo": False, "displayModeBar": False},
            "descriptions": descriptions, "steps": _steps(fig) if slider else []}
    parts = [
        f'<div class="rnncourse-interactive">\n'
        f'<div id="{div_id}" class="{MARKER_CLASS}" role="img" '
        f'aria-label="{html.escape(descriptions[active])}" '
        f'style="width:100%;height:{height}px"></div>'
    ]
    if slider:
        label = html.escape(_plain(slider.get("name")) or "step")
        value = html.escape(data["steps"][active]["label"])
        parts.append(
            f'<div class="rnncourse-slider">'
            f'<label for="{div_id}-slider">{label}</label> '
            f'<input type="range" id="{div_id}-slider" min="0" '
            f'max="{len(data["steps"]) - 1}" step="1" value="{active}" '
            f'aria-valuetext="{value}"> '
            f'<output id="{div_id}-value" for="{div_id}-slider">{value}</output></div>\n'
            f'<p id="{div_id}-status" role="status" style="{_SR_ONLY}"></p>'
        )
    parts.append(f'<script type="application/json" id="{div_id}-spec">{_script_json(data)}'
                 "</script>")
    parts.append(f"<script>\n{_SCRIPT % {'id': div_id}}\n</script>\n</div>")
    return "\n".join(parts)


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
