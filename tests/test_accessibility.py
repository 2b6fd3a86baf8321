"""Accessibility of the book (issue 24): WCAG 2.1 AA, as a reader with a screen reader, a
keyboard or the dark mode meets it.

On every page of the built book, served locally and opened in headless Chromium with no
internet (the server and browser of ``tests/test_browser.py``), after MathJax ran:

- **axe-core finds no violation** of the WCAG 2.0/2.1 A and AA rules in the light mode, nor
  of its colour rules in the dark mode. A failure prints the rule, the page, the mode and
  each element. axe-core is the
  npm package pinned in ``scripts/prereqs.sh`` (``NPM_PREREQS``), installed by it into the
  git-ignored ``.prereqs/`` and read from disk: nothing is downloaded when the test runs.
- **every equation has MathML for assistive technology** (MathJax's assistive MathML), its
  picture hidden from it;
- **every figure is opaque in the dark mode**: no transparent pixel behind grey text.

On every interactive figure of the book: the slider is **reached with Tab, moved with the
arrow keys, Home and End**, shows a focus ring, has its label as accessible name, announces
its value, and the figure's text alternative and a live region follow it.

Without the built book, the markup the fixes produce is checked against the markup they
replace: the theme's own search button and colour switch, docutils' bibliography, a figure
whose data would close its script, a transparent matplotlib figure. Tests that need Chromium
are marked ``book`` (``make test``); the others run in ``make check``.
"""

from __future__ import annotations

import io
import json
import re
import types
from pathlib import Path

import jinja2
import pytest

from tests.test_browser import (  # noqa: F401 - fixtures, used by name
    HTML,
    PAGE_TIMEOUT_MS,
    PAGES,
    _redirects,
    _wait_for_images,
    _wait_for_typesetting,
    browser_context,
    server,
)

ROOT = Path(__file__).resolve().parents[1]
PREREQS = ROOT / "scripts" / "prereqs.sh"
AXE_DIR = ROOT / ".prereqs" / "node_modules" / "axe-core"
#: The rules checked: WCAG 2.0 and 2.1, levels A and AA (axe-core's tags).
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
MODES = ("light", "dark")
TEMPLATES = ROOT / "book" / "_templates"

# The pages audited: every page of the build but the ones that only redirect (index.html).
AUDITED = [p for p in PAGES if not _redirects(p)]
INTERACTIVE = [p for p in AUDITED if "rnncourse-plotly" in (HTML / p).read_text("utf-8")]


# ---- axe-core -------------------------------------------------------------------------------

def pinned_axe_version() -> str:
    """The version of axe-core that ``scripts/prereqs.sh`` pins (its ``NPM_PREREQS`` line)."""
    match = re.search(r'^\s*"axe-core\|([^|]+)\|', PREREQS.read_text("utf-8"), re.MULTILINE)
    assert match, f"{PREREQS} pins no axe-core in NPM_PREREQS: add its line back"
    return match.group(1)


def axe_source() -> str:
    """axe.min.js of the pinned axe-core, from ``.prereqs/``; a failure says how to install it."""
    package = AXE_DIR / "package.json"
    installed = json.loads(package.read_text("utf-8"))["version"] if package.is_file() else None
    if installed != pinned_axe_version():
        pytest.fail(f"axe-core {pinned_axe_version()} is not in {AXE_DIR} (found {installed}): "
                    "run `bash scripts/prereqs.sh`.", pytrace=False)
    return (AXE_DIR / "axe.min.js").read_text("utf-8")


#: In the dark mode only colours change: the rules that read them run again there.
COLOUR_RULES = ["color-contrast", "link-in-text-block"]

_RUN_AXE = """async (runOnly) => {
    const result = await axe.run(document, {runOnly, resultTypes: ['violations']});
    return result.violations.map(v => ({
        rule: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.map(n => ({target: n.target.join(' '), html: n.html,
                                  summary: n.failureSummary}))}));
}"""


def run_axe(page, rules: list[str] | None = None) -> list[dict]:
    """The violations axe-core finds on ``page`` as it is now: of the WCAG 2.0/2.1 A and AA
    rules, or of ``rules`` alone."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=axe_source())
    run_only = ({"type": "rule", "values": rules} if rules
                else {"type": "tag", "values": AXE_TAGS})
    return page.evaluate(_RUN_AXE, run_only)


def describe_violations(where: str, violations: list[dict]) -> list[str]:
    """One line per element in violation: rule, impact, where, element, and axe's advice."""
    lines = []
    for v in violations:
        for node in v["nodes"]:
            summary = " ".join((node["summary"] or "").split())
            lines.append(f"{v['rule']} ({v['impact']}) on {where}: {node['target']}\n"
                         f"      {node['html'][:200]}\n      {v['help']}. {summary[:300]}")
    return lines


# ---- pages --------------------------------------------------------------------------------

def open_offline(context, base_url: str, relpath: str):
    """A new tab on ``relpath`` of the local server, every other host blocked, typeset."""
    page = context.new_page()
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(base_url)
               or r.request.url.startswith(("data:", "blob:")) else r.abort())
    page.goto(base_url + relpath, wait_until="load", timeout=PAGE_TIMEOUT_MS)
    _wait_for_typesetting(page)
    _wait_for_images(page)
    return page


# True once no finite CSS transition or animation runs: the theme fades its colours in over
# 0.15 s, and a contrast measured half-way is no colour a reader sees for long.
_SETTLED = """() => document.getAnimations().every(a => a.playState !== 'running'
    || a.effect.getComputedTiming().iterations === Infinity)"""


def set_mode(page, mode: str) -> None:
    """Switch the theme's colour mode the way a reader's system does (its "auto" mode)."""
    page.emulate_media(color_scheme=mode)
    page.wait_for_function("m => document.documentElement.dataset.theme === m", arg=mode,
                           timeout=10_000)
    page.wait_for_function(_SETTLED, timeout=10_000)


_MATHML = """() => [...document.querySelectorAll('mjx-container')].filter(c => {
    const math = c.querySelector('mjx-assistive-mml math');
    const picture = c.querySelector('mjx-math');
    return !math || !math.textContent.trim() || !picture
        || picture.getAttribute('aria-hidden') !== 'true';
}).map(c => c.textContent.slice(0, 80))"""

# Every figure image of the article, drawn on a canvas: the share of its pixels that are not
# opaque. And every interactive figure's background colour.
_FIGURE_OPACITY = """() => {
    const found = [];
    for (const img of document.querySelectorAll('.bd-article img')) {
        if (!img.naturalWidth) continue;
        const w = Math.min(img.naturalWidth, 400);
        const h = Math.max(1, Math.round(img.naturalHeight * w / img.naturalWidth));
        const canvas = document.createElement('canvas');
        canvas.width = w; canvas.height = h;
        const ctx = canvas.getContext('2d');
        ctx.drawImage(img, 0, 0, w, h);
        const data = ctx.getImageData(0, 0, w, h).data;
        let clear = 0;
        for (let i = 3; i < data.length; i += 4) if (data[i] < 250) clear++;
        if (clear) found.push(`${img.getAttribute('src')}: ${(100 * clear / (w * h)).toFixed(1)}`
                              + ' % of its pixels are transparent');
    }
    for (const div of document.querySelectorAll('.rnncourse-plotly')) {
        const svg = div.querySelector('.main-svg');
        const bg = svg ? getComputedStyle(svg).backgroundColor : 'none';
        const alpha = bg.startsWith('rgba') ? parseFloat(bg.split(',')[3]) : 1;
        if (!svg || alpha < 1) found.push(`${div.id}: background ${bg}`);
    }
    return found;
}"""


def audit_page(context, base_url: str, relpath: str) -> dict:
    """What the tests below ask of one page, measured in one visit."""
    page = open_offline(context, base_url, relpath)
    try:
        result = {"violations": [], "mathml": page.evaluate(_MATHML)}
        for mode, rules in zip(MODES, (None, COLOUR_RULES), strict=True):
            set_mode(page, mode)
            result["violations"] += describe_violations(f"{relpath} ({mode} mode)",
                                                        run_axe(page, rules))
        result["figures"] = page.evaluate(_FIGURE_OPACITY)  # in the dark mode
    finally:
        page.close()
    return result


@pytest.fixture(scope="module")
def audit(server, browser_context):  # noqa: F811 - the fixtures imported above
    """``audit(relpath)``: :func:`audit_page` of that page, measured once per run."""
    results: dict[str, dict] = {}

    def get(relpath: str) -> dict:
        if relpath not in results:
            results[relpath] = audit_page(browser_context, server, relpath)
        return results[relpath]

    return get


@pytest.mark.book
def test_every_page_is_audited():
    """Is there a built book, with interactive figures, to audit?"""
    assert AUDITED, f"no HTML pages under {HTML}: build the book first (make build)"
    assert INTERACTIVE, "no page of the build holds an interactive figure (rnncourse-plotly)"


@pytest.mark.book
@pytest.mark.parametrize("relpath", AUDITED)
def test_page_has_no_wcag_violation(relpath, audit):
    """Does axe-core find nothing against WCAG 2.0/2.1 A and AA, in either colour mode?"""
    violations = audit(relpath)["violations"]
    assert not violations, f"{len(violations)} violations:\n  " + "\n  ".join(violations)


@pytest.mark.book
@pytest.mark.parametrize("relpath", AUDITED)
def test_equations_carry_mathml_for_screen_readers(relpath, audit):
    """Does every typeset equation carry MathML, its picture hidden from screen readers?"""
    missing = audit(relpath)["mathml"]
    assert not missing, f"{relpath}: equations without assistive MathML: {missing}"


@pytest.mark.book
@pytest.mark.parametrize("relpath", AUDITED)
def test_figures_are_opaque_in_dark_mode(relpath, audit):
    """Does every figure keep its own background in the dark mode (no transparency)?"""
    transparent = audit(relpath)["figures"]
    assert not transparent, f"{relpath} (dark mode):\n  " + "\n  ".join(transparent)


# ---- interactive figures by keyboard ---------------------------------------------------

_FOCUSABLE = """() => document.querySelectorAll(
    'a[href], button, input, select, textarea, summary, [tabindex]').length"""

_FIGURE_STATE = """(id) => {
    const div = document.getElementById(id), slider = document.getElementById(id + '-slider');
    const status = document.getElementById(id + '-status');
    return {value: Number(slider.value), max: Number(slider.max),
            valuetext: slider.getAttribute('aria-valuetext'),
            shown: document.getElementById(id + '-value').textContent,
            visible: div.data.map(t => t.visible !== false).join(),
            alternative: div.getAttribute('aria-label'), role: div.getAttribute('role'),
            status: status.textContent, statusRole: status.getAttribute('role')};
}"""

_FOCUS_RING = """(id) => {
    const el = document.activeElement, style = getComputedStyle(el);
    return {focused: el.id === id + '-slider', visible: el.matches(':focus-visible'),
            outline: style.outlineStyle, width: parseFloat(style.outlineWidth)};
}"""


def tab_to(page, element_id: str) -> int | None:
    """Presses Tab from the top of the page until ``element_id`` has the focus: how many."""
    page.evaluate("() => { document.activeElement && document.activeElement.blur();"
                  " window.scrollTo(0, 0); }")
    for presses in range(1, page.evaluate(_FOCUSABLE) + 2):
        page.keyboard.press("Tab")
        if page.evaluate("id => document.activeElement.id === id", element_id):
            return presses
    return None


def keyboard_problems(page, figure_id: str) -> list[str]:
    """Everything a keyboard or screen-reader user would miss on one interactive figure."""
    from playwright.sync_api import expect

    slider_id = f"{figure_id}-slider"
    if tab_to(page, slider_id) is None:
        return [f"{figure_id}: Tab never reaches its slider"]
    problems = []
    ring = page.evaluate(_FOCUS_RING, figure_id)
    if not (ring["visible"] and ring["outline"] != "none" and ring["width"] >= 2):
        problems.append(f"{figure_id}: no visible focus ring on the slider ({ring})")
    label = page.locator(f"label[for='{slider_id}']").inner_text().strip()
    try:
        expect(page.locator(f"#{slider_id}")).to_have_accessible_name(label, timeout=2_000)
    except AssertionError as err:
        problems.append(f"{figure_id}: the slider is not named by its label {label!r}: {err}")
    if not label:
        problems.append(f"{figure_id}: the slider's label is empty")

    before = page.evaluate(_FIGURE_STATE, figure_id)
    if before["role"] != "img" or not before["alternative"]:
        problems.append(f"{figure_id}: the figure has no text alternative ({before['role']})")
    key, step = ("ArrowRight", 1) if before["value"] < before["max"] else ("ArrowLeft", -1)
    page.keyboard.press(key)
    after = page.evaluate(_FIGURE_STATE, figure_id)
    checks = {
        f"{key} moves the slider one step": after["value"] == before["value"] + step,
        "the figure changes": after["visible"] != before["visible"],
        "the value is announced (aria-valuetext) and shown":
            after["valuetext"] == after["shown"] != before["valuetext"],
        "the text alternative follows the slider": after["alternative"] != before["alternative"],
        "a live region says what changed":
            after["statusRole"] == "status" and after["status"] == after["alternative"],
    }
    problems += [f"{figure_id}: {what}: no ({before} -> {after})"
                 for what, ok in checks.items() if not ok]
    for key, expected in (("End", before["max"]), ("Home", 0)):
        page.keyboard.press(key)
        if page.evaluate(_FIGURE_STATE, figure_id)["value"] != expected:
            problems.append(f"{figure_id}: {key} does not move the slider to {expected}")
    return problems


@pytest.mark.book
@pytest.mark.parametrize("relpath", INTERACTIVE)
def test_interactive_figures_work_by_keyboard(relpath, server, browser_context):  # noqa: F811
    """Is every slider of the page reached with Tab, moved with the keys, and announced?"""
    page = open_offline(browser_context, server, relpath)
    try:
        ids = page.evaluate("() => [...document.querySelectorAll('.rnncourse-plotly')]"
                            ".filter(d => document.getElementById(d.id + '-slider'))"
                            ".map(d => d.id)")
        problems = [p for figure_id in ids for p in keyboard_problems(page, figure_id)]
    finally:
        page.close()
    assert ids, f"{relpath}: an interactive figure with no keyboard slider"
    assert not problems, f"{relpath}:\n  " + "\n  ".join(problems)


# ---- the fixes, against the markup they replace (no built book needed) --------------------

def _demo_figure(name: str = "tanh RNN"):
    """A small slider figure like the book's: three radii, a log axis, one curve each."""
    import numpy as np
    import plotly.graph_objects as go

    from rnncourse.interactive import slider_figure

    lags = np.arange(5)
    fig = slider_figure([0.5, 1.0, 2.0],
                        lambda r: [go.Scatter(x=lags, y=r ** lags, name=name)],
                        label="spectral radius ρ", active=1,
                        title=lambda r: f"Gradient norm, ρ = {r:.2f}")
    fig.update_xaxes(title_text="lag k")
    fig.update_yaxes(title_text="norm", type="log")
    return fig


def test_text_alternative_says_axes_curves_and_values():
    """Does each step's text alternative name the axes, each curve and its values?"""
    from rnncourse.interactive import step_descriptions

    descriptions = step_descriptions(_demo_figure(name="ρ<sup>k</sup> rate"))
    assert len(descriptions) == 3
    assert descriptions[1] == ("Gradient norm, ρ = 1.00. Chart of norm against lag k "
                               "(logarithmic y axis). ρ^k rate: from 1 at 0 to 1 at 4.")
    assert "from 1 at 0 to 16 at 4" in descriptions[2]


def test_figure_data_cannot_close_its_script():
    """Can a trace name end the figure's script and add markup to the page? (It must not.)"""
    from rnncourse.interactive import html_fragment

    hostile = "</script><img src=x onerror=alert(1)>&amp;"
    fragment = html_fragment(_demo_figure(name=hostile))
    assert fragment.count("</script>") == 2  # the JSON's and the code's own
    assert "<img" not in fragment
    spec = re.search(r'<script type="application/json" id="[^"]+">(.*?)</script>', fragment,
                     re.DOTALL).group(1)
    assert json.loads(spec)["data"][0]["name"] == hostile  # the data itself is intact


def test_matplotlib_figures_are_opaque():
    """Does a figure in the course style come out of the notebook with no transparent pixel?"""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.image
    import matplotlib.pyplot as plt

    from rnncourse.plotting import new_figure

    fig, ax = new_figure()
    ax.plot([0, 1], [0, 1])
    ax.set_title("a title in grey")
    buffer = io.BytesIO()
    fig.canvas.print_figure(buffer, format="png", bbox_inches="tight")  # as matplotlib-inline
    plt.close(fig)
    buffer.seek(0)
    alpha = matplotlib.image.imread(buffer)[..., 3]
    assert alpha.min() == 1.0, f"{(alpha < 1).mean():.0%} of the figure's pixels are transparent"


def test_plotly_figures_are_opaque():
    """Does an interactive figure in the course style have an opaque background?"""
    from rnncourse.interactive import style_figure

    fig = style_figure(_demo_figure())
    for colour in (fig.layout.paper_bgcolor, fig.layout.plot_bgcolor):
        assert colour == "#ffffff", colour


def test_bibliography_entries_are_list_items(tmp_path):
    """Does the book's Sphinx write bibliography entries as list items of their list?"""
    from sphinx.cmd.build import build_main

    (tmp_path / "conf.py").write_text('extensions = ["rnncourse.a11y"]\n', "utf-8")
    (tmp_path / "index.rst").write_text(
        "Title\n=====\n\nSee [Pa54]_ and [Ho97]_.\n\n"
        ".. [Pa54] E. S. Page. Continuous inspection schemes. 1954.\n"
        ".. [Ho97] S. Hochreiter, J. Schmidhuber. Long short-term memory. 1997.\n", "utf-8")
    out = tmp_path / "html"
    assert build_main(["-q", "-b", "html", str(tmp_path), str(out)]) == 0
    body = (out / "index.html").read_text("utf-8")
    assert body.count('role="list"') == 1
    assert body.count('role="listitem"') == 2
    assert "doc-biblioentry" not in body


def test_hidden_cell_toggle_is_myst_nbs_without_the_mismatched_name():
    """Is the course's toggle of a hidden cell MyST-NB's markup minus its aria-label?"""
    from myst_nb.sphinx_ import visit_HideCellInput

    from rnncourse.a11y import visit_hidden_cell

    theirs, ours = _hidden_cell_markup(visit_HideCellInput), _hidden_cell_markup(visit_hidden_cell)
    assert ' aria-label="Toggle hidden content"' in theirs
    assert ours == theirs.replace(' aria-label="Toggle hidden content"', "")


def _hidden_cell_markup(visit) -> str:
    """The opening markup ``visit`` writes for a hidden code cell, as in the book."""
    from myst_nb.sphinx_ import HideCodeCellNode

    node = HideCodeCellNode(classes=["tag_hide-input"], prompt_show="Show code cell source",
                            prompt_hide="Hide code cell source")
    writer = types.SimpleNamespace(body=[])  # the one attribute the visitors use
    visit(writer, node)
    return "".join(writer.body) + "<pre>x = 1</pre></details>"


@pytest.mark.book
def test_hidden_cell_toggle_says_its_visible_text(browser_context):  # noqa: F811
    """Is the toggle of a hidden cell named by what it shows, where MyST-NB's own markup
    fails WCAG 2.5.3 (label in name)?"""
    from myst_nb.sphinx_ import visit_HideCellInput

    from rnncourse.a11y import visit_hidden_cell

    theirs = _axe_on_markup(browser_context, _hidden_cell_markup(visit_HideCellInput))
    assert "label-content-name-mismatch" in {v["rule"] for v in theirs}, theirs
    ours = _axe_on_markup(browser_context, _hidden_cell_markup(visit_hidden_cell))
    assert not ours, "\n".join(describe_violations("a hidden cell", ours))


def _render(template: Path) -> str:
    """A theme component template rendered as the theme renders it (English)."""
    env = jinja2.Environment(autoescape=False)
    return env.from_string(template.read_text("utf-8")).render(_=lambda text: text)


def _theme_component(name: str) -> Path:
    """The theme's own copy of a component that ``book/_templates`` overrides."""
    import pydata_sphinx_theme

    path = (Path(pydata_sphinx_theme.__file__).parent / "theme" / "pydata_sphinx_theme"
            / "components" / name)
    assert path.is_file(), f"pydata-sphinx-theme has no {name} any more: review the override"
    return path


def _axe_on_markup(browser_context, html: str) -> list[dict]:  # noqa: F811
    """axe-core's violations on a page made of ``html`` and the theme's icon script."""
    import pydata_sphinx_theme

    icons = (Path(pydata_sphinx_theme.__file__).parent / "theme" / "pydata_sphinx_theme"
             / "static" / "scripts" / "fontawesome.js")
    page = browser_context.new_page()
    try:
        page.route("**/*", lambda r: r.abort())
        page.set_content(f'<!DOCTYPE html><html lang="en"><head><title>t</title></head>'
                         f"<body><main>{html}</main></body></html>")
        page.add_script_tag(path=str(icons))  # turns <i title=...> into <svg><title>
        page.wait_for_timeout(200)
        return run_axe(page)
    finally:
        page.close()


@pytest.mark.book
@pytest.mark.parametrize("component", ["search-button-field.html", "theme-switcher.html"])
def test_theme_buttons_say_their_visible_text(component, browser_context):  # noqa: F811
    """Is the name of the course's search and colour buttons their visible text, where the
    theme's own markup fails WCAG 2.5.3 (label in name)?"""
    theirs = _axe_on_markup(browser_context, _render(_theme_component(component)))
    assert "label-content-name-mismatch" in {v["rule"] for v in theirs}, theirs
    ours = _axe_on_markup(browser_context, _render(TEMPLATES / component))
    assert not ours, "\n".join(describe_violations(component, ours))


@pytest.mark.book
def test_axe_failure_names_rule_page_and_element(browser_context):  # noqa: F811
    """Does a failure print the rule, the page and the element, e.g. for docutils' own
    bibliography markup (deprecated doc-biblioentry)?"""
    docutils_markup = ('<div role="list" class="citation-list"><div class="citation" id="pa54"'
                       ' role="doc-biblioentry"><p>E. S. Page, 1954.</p></div></div>')
    lines = describe_violations("references.html (light mode)",
                                _axe_on_markup(browser_context, docutils_markup))
    assert lines and lines[0].startswith("aria-deprecated-role (")
    assert "on references.html (light mode): #pa54" in lines[0]
    assert 'role="doc-biblioentry"' in lines[0]
    ours = docutils_markup.replace("doc-biblioentry", "listitem")
    assert not _axe_on_markup(browser_context, ours)


@pytest.mark.book
def test_interactive_figure_works_by_keyboard_outside_the_book(browser_context):  # noqa: F811
    """Does a figure made by ``html_fragment`` work by keyboard on a page of its own?"""
    from rnncourse.interactive import html_fragment, plotly_js_path

    page = browser_context.new_page()
    try:
        page.route("**/*", lambda r: r.abort())
        page.set_content('<!DOCTYPE html><html lang="en"><head><title>t</title></head><body>'
                         '<a href="#top">before</a><main></main></body></html>')
        page.add_script_tag(path=str(plotly_js_path()))
        fragment = html_fragment(_demo_figure())
        page.evaluate("""html => { const range = document.createRange();
            range.selectNode(document.querySelector('main'));
            document.querySelector('main').appendChild(range.createContextualFragment(html)); }""",
                      fragment)
        page.add_style_tag(path=str(ROOT / "book" / "_static" / "rnncourse-a11y.css"))
        figure_id = re.search(r'id="(rnncourse-plotly-[0-9a-f]+)"', fragment).group(1)
        page.wait_for_selector(f"#{figure_id} .main-svg")
        problems = keyboard_problems(page, figure_id)
        violations = run_axe(page)
    finally:
        page.close()
    assert not problems, "\n".join(problems)
    assert not violations, "\n".join(describe_violations("the figure's page", violations))
