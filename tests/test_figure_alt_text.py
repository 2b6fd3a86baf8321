"""Every figure of the book is described: alt text that says what it shows (issue 24).

Two checks:

- **In the sources** (unmarked, runs in `make check`): every figure a page names has alt text
  of at least ``MIN_WORDS`` words, in plain text (alt text is not typeset), that is neither a
  file name, a path nor a hash, and is not the caption again (a screen reader reads both). A
  page names a figure with a code cell's ``mystnb: figure:`` or ``mystnb: image:`` metadata
  (the alt text goes in ``mystnb: image: alt:``, which MyST-NB puts on the ``<img>``), a
  ``{figure}`` or ``{image}`` directive (``:alt:``) or a Markdown image ``![alt](path)``.
  Pages are read with MyST-NB's own reader, the one the build uses.
- **In the built book** (``book``: needs `make build`): every image in the main content of
  every page has alt text that is not empty, not a file name or path and not a hash. Sphinx
  gives an executed figure without alt text its own path (``../../_images/866ac357….png``),
  which a screen reader reads out; executed figures must also pass the word count.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
import yaml
from docutils.parsers.rst.directives.images import Figure as FigureDirective
from docutils.parsers.rst.directives.images import Image as ImageDirective
from markdown_it.renderer import RendererHTML
from myst_nb.core.read import read_myst_markdown_notebook
from myst_parser.config.main import MdParserConfig
from myst_parser.parsers.directives import parse_directive_text
from myst_parser.parsers.mdit import create_md_parser

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
CHAPTER_PARTS = ("book/structure/", "book/cells/", "book/training/", "book/applications/",
                 "book/beyond/")

MIN_WORDS = 8   # fewer cannot name what is plotted against what, and the point
FILE_EXTENSION = re.compile(r"\.(png|jpe?g|gif|svg|webp|bmp|tiff?|pdf)$", re.IGNORECASE)
HEX_RUN = re.compile(r"[0-9a-fA-F]{16,}")           # a content hash, as in _images/<sha256>.png
MARKUP = re.compile(r"[$`\\]|\{[a-z][\w-]*\}")      # TeX, code, MyST roles: shown raw in alt


def toc_files() -> list[str]:
    """Every file the table of contents lists, without extension."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]]
    for part in toc["parts"]:
        files += [ch["file"] for ch in part["chapters"]]
    return files


def source_of(name: str) -> Path:
    """The source file of a page of the table of contents (.md or .ipynb)."""
    for suffix in (".md", ".ipynb"):
        if (path := ROOT / f"{name}{suffix}").is_file():
            return path
    raise FileNotFoundError(f"{name} is in _toc.yml but has no .md or .ipynb source")


# ---- what counts as a description ------------------------------------------------------


def normalised(text: str) -> str:
    """Lower case, single spaces: for comparing an alt text with a caption."""
    return " ".join(text.lower().split())


def alt_problem(alt: object, caption: object = None, min_words: int = MIN_WORDS) -> str | None:
    """Why ``alt`` does not describe its figure, or None if it does."""
    if not isinstance(alt, str) or not alt.strip():
        return "has no alt text"
    text = alt.strip()
    if not any(ch.isspace() for ch in text) and ("/" in text or "\\" in text
                                                  or FILE_EXTENSION.search(text)):
        return f"has a file name or path as alt text ({text!r})"
    if HEX_RUN.search(text):
        return f"has a hash in its alt text ({text!r})"
    if min_words > 1 and MARKUP.search(text):
        return (f"has markup in its alt text, which is shown raw ({text!r}): write the "
                "symbols in words")
    words = [w for w in text.split() if any(ch.isalpha() for ch in w)]
    if len(words) < min_words:
        return (f"has alt text of {len(words)} words ({text!r}): say what is plotted against "
                f"what and the point it makes, in at least {min_words} words")
    if isinstance(caption, str) and caption.strip() and normalised(text) in normalised(caption):
        return "repeats its caption as alt text: describe what the figure shows instead"
    return None


# ---- the figures a page names ----------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """One figure a page names: where it is, its alt text and its caption (if any)."""

    where: str
    alt: object
    caption: object = None


class _Directive:
    """Any MyST directive, for reading its options (as YAML) and body."""

    option_spec = {"options": True}
    required_arguments = 0
    optional_arguments = 1
    final_argument_whitespace = True
    has_content = True


# The directives that show an image, with docutils' own option specifications (so that
# `:alt:` is read exactly as the build reads it).
IMAGE_DIRECTIVES = {"figure": FigureDirective, "image": ImageDirective}


MD_PARSER = create_md_parser(
    MdParserConfig(enable_extensions={"amsmath", "colon_fence", "deflist", "dollarmath",
                                      "substitution"}),
    RendererHTML)


def figures_in_markdown(text: str, where: str) -> list[Figure]:
    """Figures of a Markdown cell: ``{figure}``/``{image}`` directives (also nested inside
    other directives, such as exercises) and Markdown images."""
    found = []
    for token in MD_PARSER.parse(text):
        if token.type in ("fence", "colon_fence") and token.info.strip().startswith("{"):
            name, _, first_line = token.info.strip()[1:].partition("}")
            directive = IMAGE_DIRECTIVES.get(name, _Directive)
            parsed = parse_directive_text(directive, first_line, token.content,
                                          validate_options=directive is not _Directive)
            if name in IMAGE_DIRECTIVES:
                found.append(Figure(f"{where}, {{{name}}} {first_line.strip()}",
                                    parsed.options.get("alt"),
                                    "\n".join(parsed.body) if name == "figure" else None))
            else:
                found += figures_in_markdown("\n".join(parsed.body), where)
        for child in token.children or []:
            if child.type == "image":
                found.append(Figure(f"{where}, image {child.attrs.get('src')}", child.content))
    return found


def figures_in_cell_metadata(metadata: dict, where: str) -> list[Figure]:
    """The figure a code cell names in its MyST-NB metadata (``mystnb``, or the deprecated
    ``render``), if any."""
    options = metadata.get("mystnb") or metadata.get("render") or {}
    if not isinstance(options, dict) or not ({"figure", "image"} & options.keys()):
        return []
    figure, image = options.get("figure") or {}, options.get("image") or {}
    name = figure.get("name") if isinstance(figure, dict) else None
    return [Figure(f"{where} (figure {name})" if name else where,
                   image.get("alt") if isinstance(image, dict) else None,
                   figure.get("caption") if isinstance(figure, dict) else None)]


def read_page(text: str, suffix: str) -> nbformat.NotebookNode:
    """A page's notebook, read as the build reads it (MyST-NB's reader for .md)."""
    if suffix == ".md":
        return read_myst_markdown_notebook(text)
    return nbformat.reads(text, as_version=4)


def figures_of_page(text: str, suffix: str = ".md") -> list[Figure]:
    """Every figure a page names, in order."""
    found = []
    for index, cell in enumerate(read_page(text, suffix).cells):
        where = f"cell {index}"
        if cell.cell_type == "code":
            found += figures_in_cell_metadata(cell.metadata, where)
        elif cell.cell_type == "markdown":
            found += figures_in_markdown(cell.source, where)
    return found


def problems_of_page(text: str, suffix: str = ".md") -> list[str]:
    """One line per figure of the page whose alt text does not describe it."""
    return [f"{fig.where} {problem}" for fig in figures_of_page(text, suffix)
            if (problem := alt_problem(fig.alt, fig.caption))]


# ---- the images of a built page --------------------------------------------------------


class _MainImages(HTMLParser):
    """Collects ``(src, alt)`` of every ``<img>`` inside ``<main>`` (alt None when absent)."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.images: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "main":
            self.depth += 1
        elif tag == "img" and self.depth:
            values = dict(attrs)
            self.images.append((values.get("src") or "", values.get("alt")))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "main" and self.depth:
            self.depth -= 1


def images_in_main(html: str) -> list[tuple[str, str | None]]:
    """``(src, alt)`` of the images in a page's main content."""
    parser = _MainImages()
    parser.feed(html)
    parser.close()
    return parser.images


def is_executed_figure(src: str) -> bool:
    """An image Sphinx copied into ``_images`` (a cell's output or a figure's file)."""
    return "_images/" in src


def problems_of_built_page(html: str) -> list[str]:
    """One line per image of the page's main content whose alt text says nothing."""
    problems = []
    for src, alt in images_in_main(html):
        min_words = MIN_WORDS if is_executed_figure(src) else 1
        if problem := alt_problem(alt, min_words=min_words):
            problems.append(f"<img src={src!r}> {problem}")
    return problems


# ---- the sources of the book -----------------------------------------------------------


@pytest.mark.parametrize("name", toc_files())
def test_every_figure_of_the_page_has_alt_text_that_describes_it(name):
    """Does every figure the page names carry alt text that says what it shows?"""
    path = source_of(name)
    problems = problems_of_page(path.read_text(encoding="utf-8"), path.suffix)
    assert not problems, (
        f"{path.relative_to(ROOT)}: figures without a description. Give each code cell that "
        "draws a figure `mystnb: image: alt:` metadata (a `{figure}` directive an `:alt:`), "
        "saying what is plotted against what and the point it makes:\n" + "\n".join(problems))


@pytest.mark.parametrize("name", [n for n in toc_files() if n.startswith(CHAPTER_PARTS)])
def test_every_chapter_names_its_figures(name):
    """Does the scan find the chapter's figures (every chapter has one), so that it checks
    them?"""
    path = source_of(name)
    assert figures_of_page(path.read_text(encoding="utf-8"), path.suffix), (
        f"{path.relative_to(ROOT)} names no figure: give its figure cells `mystnb: figure:` "
        "(name, caption) and `mystnb: image: alt:` metadata")


# ---- the check itself, on synthetic pages ----------------------------------------------

FRONT_MATTER = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---
# A page
"""

GOOD_ALT = ("Loss against the training step on a log scale for two models: both fall, the "
            "gated one much faster.")


def figure_cell(image: str = "", caption: str = "Loss curves of the two models.") -> str:
    """A code cell naming a figure in block-style metadata, with ``image`` lines (or none)."""
    return ("```{code-cell} ipython3\n---\nmystnb:\n" + image
            + f"  figure:\n    name: fig-loss\n    caption: {caption}\n---\n"
            "fig, ax = new_figure()\n```\n")


def with_alt(alt: str) -> str:
    """The ``image`` lines of a figure cell's metadata, with ``alt`` as a quoted scalar."""
    return f"  image:\n    alt: {json.dumps(alt)}\n"


def test_a_described_figure_passes():
    """Is a figure cell with a real description accepted (and found by the scan)?"""
    page = FRONT_MATTER + figure_cell(f"  image:\n    alt: >-\n      {GOOD_ALT}\n")
    assert [f.alt for f in figures_of_page(page)] == [GOOD_ALT]
    assert problems_of_page(page) == []


def test_a_figure_cell_without_alt_text_fails():
    """Is a figure cell whose metadata has a name and caption but no alt text reported?"""
    problems = problems_of_page(FRONT_MATTER + figure_cell())
    assert len(problems) == 1 and "fig-loss" in problems[0] and "no alt text" in problems[0]


def test_a_figure_cell_in_option_line_style_without_alt_text_fails():
    """Is the `:mystnb:` option-line form of the metadata read too?"""
    page = FRONT_MATTER + ("```{code-cell} ipython3\n:tags: [hide-input]\n:mystnb:\n"
                           ":  figure:\n:    name: fig-opt\n:    caption: A figure.\n\n"
                           "fig, ax = new_figure()\n```\n")
    problems = problems_of_page(page)
    assert len(problems) == 1 and "fig-opt" in problems[0]


@pytest.mark.parametrize("alt, reason", [
    ("", "no alt text"),
    ("   ", "no alt text"),
    ("../../_images/866ac357edb5b8bb3a4066b4e4256bbbf46cec6f61f257a9c8af700b0f95a0be.png",
     "file name or path"),
    ("loss_curve.png", "file name or path"),
    ("Figure 866ac357edb5b8bb3a4066b4e4256bbbf46cec6f61f257a9c8af700b0f95a0be of the page",
     "hash"),
    ("Training loss.", "2 words"),
    ("The norm of dh_T/dh_t against the lag $T - t$, falling fast, on a log scale.",
     "markup"),
    ("Loss curves of the two models, with the training step on the horizontal axis.",
     "repeats its caption"),
])
def test_a_figure_whose_alt_text_says_nothing_fails(alt, reason):
    """Is alt text that is empty, a path, a file name, a hash, a few words, TeX or the
    caption reported, with the reason?"""
    caption = "Loss curves of the two models, with the training step on the horizontal axis."
    problems = problems_of_page(FRONT_MATTER + figure_cell(with_alt(alt), caption=caption))
    assert len(problems) == 1 and reason in problems[0], problems


def test_a_figure_directive_without_alt_fails_even_inside_an_exercise():
    """Are `{figure}` directives checked, also when nested in another directive?"""
    page = FRONT_MATTER + ("\n````{exercise}\n:label: page_ex1\n\n```{figure} plot.png\n"
                           ":name: fig-ex\n\nA caption.\n```\n````\n")
    problems = problems_of_page(page)
    assert len(problems) == 1 and "{figure} plot.png" in problems[0]
    described = page.replace(":name: fig-ex", f":name: fig-ex\n:alt: {GOOD_ALT}")
    assert problems_of_page(described) == []


def test_a_markdown_image_with_a_file_name_as_alt_fails():
    """Is a Markdown image whose alt text is its file name reported?"""
    problems = problems_of_page(FRONT_MATTER + "\n![screenshot.png](screenshot.png)\n")
    assert len(problems) == 1 and "file name or path" in problems[0]


# ---- the check itself, on synthetic built pages ----------------------------------------

def built_page(img: str) -> str:
    """A page in the theme's layout: a logo in the header, ``img`` in the main content."""
    return ('<html><body><header><img src="_static/logo.png"></header>'
            f'<main id="main-content"><figure>{img}<figcaption>A caption.</figcaption>'
            '</figure></main></body></html>')


@pytest.mark.parametrize("img, reason", [
    ('<img src="../../_images/866ac357edb5b8bb3a4066b4e4256bbbf46cec6f61f257a9c8af700b0f95a0be'
     '.png" alt="../../_images/866ac357edb5b8bb3a4066b4e4256bbbf46cec6f61f257a9c8af700b0f95a0be'
     '.png" />', "file name or path"),
    ('<img src="../../_images/fig.png">', "no alt text"),
    ('<img src="../../_images/fig.png" alt="">', "no alt text"),
    ('<img src="../../_images/fig.png" alt="866ac357edb5b8bb3a4066b4e4256bbb">', "hash"),
    ('<img src="../../_images/fig.png" alt="A plot.">', "words"),
])
def test_a_built_image_whose_alt_text_says_nothing_fails(img, reason):
    """Is an image of the main content without a real alt text reported?"""
    problems = problems_of_built_page(built_page(img))
    assert len(problems) == 1 and reason in problems[0], problems


def test_a_built_figure_with_its_description_passes():
    """Is a described figure accepted, and a short alt kept for a small image that is not a
    figure (a button's logo)?"""
    figure = f'<img src="../../_images/fig.png" alt="{GOOD_ALT}" />'
    logo = '<img src="../../_static/images/logo_binder.svg" alt="Binder logo">'
    assert images_in_main(built_page(figure + logo)) == [
        ("../../_images/fig.png", GOOD_ALT), ("../../_static/images/logo_binder.svg",
                                              "Binder logo")]
    assert problems_of_built_page(built_page(figure + logo)) == []


# ---- the built book --------------------------------------------------------------------


@pytest.mark.book
@pytest.mark.parametrize("name", toc_files())
def test_every_image_of_the_built_page_has_alt_text(name):
    """Does every image in the built page's main content have alt text that says something
    (not empty, not its path, not a hash)?"""
    path = HTML / f"{name}.html"
    if not HTML.is_dir():
        pytest.fail("the book is not built: run `make build` first")
    assert path.is_file(), f"{name} is in _toc.yml but {path} was not built"
    problems = problems_of_built_page(path.read_text(encoding="utf-8"))
    assert not problems, (
        f"{path.relative_to(ROOT)}: images without a description (give the cell that draws "
        "each one `mystnb: image: alt:` metadata):\n" + "\n".join(problems))
