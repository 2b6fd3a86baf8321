"""Learners' outputs and markdown made inert before an instructor or a learner sees them.

A notebook's outputs and markdown are the learner's: whatever their code displays (an
``IPython.display.HTML``, ``Javascript``, an SVG, a markdown output) and whatever they write in
a markdown cell reaches the graded notebook that formgrader shows and the feedback HTML. Both
are pages in someone's browser, so every such piece goes through an allow-list:

- outputs keep only the MIME types of ``KEPT`` (plain text, PNG/JPEG/GIF images) and of
  ``CLEANED`` (HTML, SVG, markdown: each cleaned by bleach, the sanitiser nbconvert uses, with
  our allow-lists of tags, attributes and URL schemes); everything else (JavaScript, widgets,
  JSON, PDF, LaTeX, vendor types) is dropped. Output metadata keeps only image sizes.
- a markdown cell is left as written when mistune (nbconvert's markdown parser) renders it the
  same with raw HTML escaped and harmful links removed as without: no raw HTML and no
  ``javascript:``-like link, so nothing to clean (the course's own cells all pass). Otherwise
  its rendering is cleaned by bleach and kept as one block of HTML; if that block is not a
  fixed point of the sanitiser, the cell shows its source as code instead.
- attachments keep only images; raw cells are cleaned as HTML; widget state is dropped.

Error and stream outputs are text that nbconvert escapes; they are kept (nbgrader grades by
them).
"""

from __future__ import annotations

import copy

import bleach
from bleach.css_sanitizer import CSSSanitizer
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
from nbformat import NotebookNode

# Formatting, lists, tables, code and images: what an answer or a result table needs.
HTML_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "col", "colgroup", "dd", "del",
    "details", "div", "dl", "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img",
    "ins", "kbd", "li", "ol", "p", "pre", "q", "s", "samp", "small", "span", "strong", "sub",
    "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul", "var",
})
HTML_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan", "align"},
    "th": {"colspan", "rowspan", "align"},
    "abbr": {"title"},
}
# Drawing elements of SVG: no script, foreignObject, animation, link or style element.
SVG_TAGS = frozenset({
    "svg", "g", "defs", "clipPath", "mask", "linearGradient", "radialGradient", "stop",
    "path", "rect", "circle", "ellipse", "line", "polyline", "polygon", "text", "tspan",
    "use", "symbol", "marker", "pattern", "title", "desc",
})
SVG_ATTRIBUTES = frozenset({
    "xmlns", "xlink", "version", "viewBox", "width", "height", "preserveAspectRatio", "id",
    "x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "rx", "ry", "d", "points",
    "transform", "fill", "fill-opacity", "fill-rule", "stroke", "stroke-width",
    "stroke-opacity", "stroke-linecap", "stroke-linejoin", "stroke-dasharray",
    "stroke-dashoffset", "stroke-miterlimit", "opacity", "clip-path", "clip-rule", "mask",
    "font-family", "font-size", "font-weight", "font-style", "text-anchor",
    "dominant-baseline", "dx", "dy", "offset", "stop-color", "stop-opacity",
    "gradientUnits", "gradientTransform", "patternUnits", "patternTransform",
    "markerWidth", "markerHeight", "refX", "refY", "orient", "markerUnits",
    "clipPathUnits", "maskUnits", "style",
})
URL_SCHEMES = ("http", "https", "mailto", "data")
IMAGE_DATA = ("data:image/png;base64,", "data:image/jpeg;base64,", "data:image/gif;base64,")

KEPT = ("text/plain", "image/png", "image/jpeg", "image/gif")
CLEANED = ("text/html", "image/svg+xml", "text/markdown")
IMAGE_METADATA = ("width", "height")


def _html_attribute(tag: str, name: str, value: str) -> bool:
    """Whether ``name="value"`` may stay on ``tag`` (bleach checks the URL scheme too)."""
    if name not in HTML_ATTRIBUTES.get(tag, ()):
        return False
    if name == "src":  # images are inline data, never a request to another host
        return value.startswith(IMAGE_DATA)
    if name == "href":
        return not value.lower().startswith("data:")
    if name in ("width", "height"):
        return value.isdigit()
    return True


def _svg_attribute(tag: str, name: str, value: str) -> bool:
    """Whether ``name="value"`` may stay on an SVG element: presentation attributes, and
    references inside the drawing only (``href="#id"``, ``url(#id)``)."""
    if name == "href":
        return value.startswith("#")
    if name not in SVG_ATTRIBUTES:
        return False
    return "url(" not in value or value.strip().startswith("url(#")


_HTML = bleach.Cleaner(tags=HTML_TAGS, attributes=_html_attribute, protocols=URL_SCHEMES,
                       strip=False, strip_comments=True)
_SVG = bleach.Cleaner(tags=SVG_TAGS, attributes=_svg_attribute, protocols=(), strip=True,
                      strip_comments=True, css_sanitizer=CSSSanitizer())


def clean_html(text: str) -> str:
    """``text`` (HTML) with every tag, attribute and URL outside the allow-lists removed or
    escaped (a ``<script>`` becomes visible text)."""
    return _HTML.clean(text)


def clean_svg(text: str) -> str:
    """``text`` (an SVG document) reduced to drawing elements and presentation attributes."""
    return _SVG.clean(text)


def _render_markdown(source: str, safe: bool, attachments: dict | None = None) -> str:
    """``source`` rendered as nbconvert renders a markdown cell; ``safe``: raw HTML escaped
    and ``javascript:``-like links removed by mistune itself."""
    renderer = IPythonRenderer(escape=safe, allow_harmful_protocols=not safe,
                               attachments=attachments or {})
    return MarkdownWithMath(renderer=renderer).render(source)


def _as_code(source: str) -> str:
    """``source`` as an indented markdown code block: shown as text, never rendered."""
    return "\n".join("    " + line for line in source.splitlines())


def clean_markdown(source: str, attachments: dict | None = None) -> str:
    """Markdown that renders as ``source`` would, without active content (see the module)."""
    try:
        as_written = _render_markdown(source, safe=False, attachments=attachments)
        if as_written == _render_markdown(source, safe=True, attachments=attachments):
            return source
    except Exception:  # noqa: BLE001  (mistune or a missing attachment: show the source)
        return _as_code(source)
    block = "<div>" + clean_html(as_written).replace("\n", "&#10;") + "</div>"
    rendered = _render_markdown(block, safe=False)
    return block if clean_html(rendered) == rendered else _as_code(source)


def _clean_value(mime: str, value: object) -> str | None:
    """The kept or cleaned text of one output ``value``; None drops it."""
    if isinstance(value, list):  # nbformat allows multiline strings as lists of lines
        value = "".join(value) if all(isinstance(v, str) for v in value) else None
    if not isinstance(value, str):
        return None
    if mime in KEPT:
        return value
    return {"text/html": clean_html, "image/svg+xml": clean_svg,
            "text/markdown": clean_markdown}[mime](value)


def _image_metadata(metadata: dict) -> dict:
    """Only the integer sizes of images: nbconvert writes output metadata into attributes."""
    kept = {}
    for mime, entry in metadata.items():
        if mime in KEPT and isinstance(entry, dict):
            sizes = {k: v for k, v in entry.items()
                     if k in IMAGE_METADATA and type(v) is int and v >= 0}
            if sizes:
                kept[mime] = sizes
    return kept


def clean_output(output: NotebookNode) -> tuple[NotebookNode | None, list[str]]:
    """One output made inert, and what was removed; None when nothing of it may be shown."""
    kind = output.get("output_type")
    if kind in ("stream", "error"):
        return output, []
    if kind not in ("display_data", "execute_result"):
        return None, [f"an output of type {kind!r}"]
    data, removed = {}, []
    for mime, value in output.get("data", {}).items():
        cleaned = _clean_value(mime, value) if mime in KEPT + CLEANED else None
        if cleaned is None:
            removed.append(mime)
        else:
            if cleaned != value:
                removed.append(f"active content of its {mime}")
            data[mime] = cleaned
    output = copy.copy(output)
    output["data"] = data
    output["metadata"] = _image_metadata(output.get("metadata") or {})
    return (output if data else None), removed


def _clean_attachments(attachments: dict) -> dict:
    """Only the image data of a markdown cell's attachments."""
    return {name: {m: v for m, v in bundle.items() if m in KEPT[1:] and isinstance(v, str)}
            for name, bundle in attachments.items() if isinstance(bundle, dict)}


def clean_cell(cell: NotebookNode) -> list[str]:
    """Make ``cell`` inert in place; return what was removed or rewritten."""
    notes = []
    if cell.cell_type == "markdown":
        if "attachments" in cell:
            cell.attachments = _clean_attachments(cell.attachments)
        cleaned = clean_markdown(cell.source, cell.get("attachments"))
        if cleaned != cell.source:
            notes.append("active markup in markdown")
            cell.source = cleaned
    elif cell.cell_type == "raw":
        cleaned = clean_html(cell.source)
        if cleaned != cell.source:
            notes.append("active markup in a raw cell")
            cell.source = cleaned
    elif cell.cell_type == "code":
        outputs = []
        for output in cell.get("outputs", []):
            kept, removed = clean_output(output)
            notes += [f"{what} of an output" for what in removed]
            if kept is not None:
                outputs.append(kept)
        cell.outputs = outputs
    return notes


def clean_notebook(nb: NotebookNode) -> list[str]:
    """Make every output and markdown cell of ``nb`` inert, in place; return, per cell, what
    was removed (``"cell 3: application/javascript of an output"``)."""
    notes = []
    if "widgets" in nb.metadata:
        del nb.metadata["widgets"]
        notes.append("notebook: widget state")
    for index, cell in enumerate(nb.cells):
        notes += [f"cell {index}: {note}" for note in clean_cell(cell)]
    return notes
