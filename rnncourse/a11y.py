"""Sphinx extension of the book (listed in ``_config.yml``): markup that WCAG 2.1 AA accepts.

Each fix is made where the markup is made, not by silencing a checker:

1. **The bibliography is a list of list items.** docutils (0.21) writes each entry of
   sphinxcontrib-bibtex's bibliography as ``<div role="doc-biblioentry">`` inside
   ``<div role="list">``. DPUB-ARIA 1.1 deprecated ``doc-biblioentry``; a list's children
   must be ``listitem`` s. The HTML translator in use (whichever the theme built) gets a
   ``visit_citation`` that writes ``role="listitem"``, keeping docutils' ids and classes.
2. **A hidden cell's toggle is named by its visible text.** MyST-NB writes the toggle of a
   ``hide-input`` cell as ``<summary aria-label="Toggle hidden content">`` around its visible
   "Show code cell source"; a name that leaves out the visible text fails WCAG 2.5.3 (label in
   name). The course's visitor writes the same markup without the ``aria-label``: the name is
   then the text shown, "Show code cell source" or "Hide code cell source".
3. **The course's stylesheet and script**, added to every page: ``_static/rnncourse-a11y.css``
   (contrast of links on tinted admonitions, a visible focus ring, the interactive figures'
   slider) and ``_static/rnncourse-a11y.js`` (the colour mode switch tells its current mode).

The theme's own components with a mismatched accessible name (the search button, the colour
mode switch) are overridden as templates in ``book/_templates`` (``templates_path``), and
MathJax's assistive MathML is set in ``_config.yml``. ``tests/test_accessibility.py`` runs
axe-core on every page of the build.
"""

from __future__ import annotations

import types
from html import escape

from docutils import nodes
from myst_nb.sphinx_ import HideCodeCellNode, depart_HideCellInput
from sphinx.writers.html5 import HTML5Translator

CSS_FILE = "rnncourse-a11y.css"
JS_FILE = "rnncourse-a11y.js"
#: The role of one entry of a citation list (DPUB-ARIA 1.1: ``doc-biblioentry`` is deprecated).
CITATION_ROLE = "listitem"


class CitationListItemMixin:
    """Writes each citation as a ``listitem`` of docutils' ``role="list"`` wrapper."""

    def visit_citation(self, node: nodes.citation) -> None:
        """The opening tag of a citation; the first of a run opens the list as docutils does."""
        if not isinstance(node.previous_sibling(), type(node)):
            self.body.append('<div role="list" class="citation-list">\n')
        self.body.append(self.starttag(node, "div", classes=[node.tagname], role=CITATION_ROLE))


def visit_hidden_cell(self, node: HideCodeCellNode) -> None:
    """MyST-NB's ``<details>`` of a hidden cell, its ``<summary>`` named by its own text."""
    classes = " ".join(node["classes"])
    self.body.append(f'<details class="admonition hide {classes}">\n<summary>\n')
    self.body.append(f'<p class="collapsed admonition-title">{escape(node["prompt_show"])}</p>\n')
    self.body.append(f'<p class="expanded admonition-title">{escape(node["prompt_hide"])}</p>\n')
    self.body.append("</summary>\n")


def _with_mixin(translator: type) -> type:
    """``translator`` with :class:`CitationListItemMixin` in front of it."""
    if issubclass(translator, CitationListItemMixin):
        return translator
    return types.new_class(translator.__name__, (CitationListItemMixin, translator), {})


def _wrap_translators(app) -> None:
    """Put the mixin in front of every HTML translator, after the theme has chosen its own."""
    if app.builder.format != "html":
        return
    registered = dict(app.registry.translators)
    if app.builder.name not in registered:
        registered[app.builder.name] = app.builder.default_translator_class
    for name, translator in registered.items():
        if issubclass(translator, HTML5Translator):
            app.set_translator(name, _with_mixin(translator), override=True)


def setup(app) -> dict:
    """Sphinx entry point."""
    # After pydata-sphinx-theme's own builder-inited handler (priority 500) wraps the translator.
    app.connect("builder-inited", _wrap_translators, priority=900)
    app.setup_extension("myst_nb")  # its node first, so that the visitor below replaces its own
    app.add_node(HideCodeCellNode, override=True, html=(visit_hidden_cell, depart_HideCellInput))
    app.add_css_file(CSS_FILE)
    app.add_js_file(JS_FILE, defer="defer")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
