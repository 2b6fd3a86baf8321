"""The built book, opened page by page in a real browser (headless Chromium from Debian).

Every HTML page of the build is served from a local server and loaded with all requests to
any other host blocked, as in a classroom with no internet. On each page:

- no console error and no uncaught JavaScript exception;
- no request leaves the local server, and no local request fails (404, refused, ...);
- MathJax has typeset every equation, with no TeX error;
- every image has loaded; every interactive figure is drawn and moves with its slider;
- every internal link (an ``href`` with no scheme) resolves, anchors included.

Screenshots of a few pages, in the light and the dark theme, go to ``_build/screenshots/``.
Accessibility (axe-core on every page, the keyboard, screen readers, the dark mode) is checked
by ``tests/test_accessibility.py``, with this module's server and browser.

The browser is Debian's ``chromium`` (``bash scripts/prereqs.sh`` installs it), driven by
playwright through ``executable_path``: no browser is downloaded (``RNN_CHROMIUM`` names
another Chromium binary). Without it every page's test fails, saying so: it never skips.
The built book is ``_build/html``, or the folder in ``RNN_BOOK_HTML``.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import threading
import urllib.error
import urllib.request
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

import pytest

pytestmark = pytest.mark.book

ROOT = Path(__file__).resolve().parents[1]
HTML = Path(os.environ.get("RNN_BOOK_HTML", ROOT / "_build" / "html")).resolve()
SCREENSHOTS = HTML.parent / "screenshots"
CHROMIUM = os.environ.get("RNN_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SKIP_DIRS = {"_static", "_sources", "_images", "_downloads", "_sphinx_design_static"}
# Pages photographed, light and dark, when they exist (paths relative to the build).
SCREENSHOT_PAGES = [
    "book/intro.html",
    "book/structure/rnn_structure.html",
    "book/interactive/gradient_lag.html",
    "book/interactive/sampling_temperature.html",
]
PAGE_TIMEOUT_MS = 60_000


def built_pages() -> list[str]:
    """Every HTML page of the build, relative to it, index first."""
    if not HTML.is_dir():
        return []
    pages = sorted(
        p.relative_to(HTML).as_posix()
        for p in HTML.rglob("*.html")
        if not SKIP_DIRS & set(p.relative_to(HTML).parts)
    )
    return sorted(pages, key=lambda p: p != "index.html")


PAGES = built_pages()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


@pytest.fixture(scope="module")
def server():
    """The built book on http://127.0.0.1:<free port>/, served from a thread."""
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory):
    """One headless Chromium, fresh profile, that can reach nothing but the local server."""
    if not Path(CHROMIUM).exists():  # a failure, never a skip: the check must not go missing
        pytest.fail(f"Chromium is not installed ({CHROMIUM} missing): run `bash "
                    "scripts/prereqs.sh` (or `apt-get install chromium`), or name one in "
                    "RNN_CHROMIUM.", pytrace=False)
    from playwright.sync_api import sync_playwright  # pinned in requirements.txt

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),  # a fresh --user-data-dir
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 900},
        )
        yield context
        context.close()


@pytest.fixture(scope="module")
def link_status(server):
    """Checks an internal URL once per run: its HTTP status and, for anchors, the target."""
    cache: dict[str, str | None] = {}
    bodies: dict[str, str] = {}

    def check(url: str) -> str | None:
        if url in cache:
            return cache[url]
        page, fragment = urldefrag(url)
        problem = None
        if page not in bodies:
            try:
                with urllib.request.urlopen(page, timeout=10) as response:
                    bodies[page] = response.read().decode("utf-8", "replace")
            except urllib.error.HTTPError as err:
                bodies[page] = ""
                problem = f"HTTP {err.code}"
        if problem is None and fragment and page.endswith(".html"):
            anchor = re.escape(unquote(fragment))
            if not re.search(rf'\b(id|name)="{anchor}"', bodies[page]):
                problem = f"no element with id {unquote(fragment)!r}"
        cache[url] = problem
        return problem

    return check


# Moves the slider of every interactive figure to its last step, as a reader does (its
# <input type="range">, rnncourse.interactive), reports a figure whose visible traces did not
# change, and moves the slider back. The keyboard is tested in tests/test_accessibility.py.
_MOVE_SLIDERS = """() => {
    const problems = [];
    for (const div of document.querySelectorAll('.rnncourse-plotly')) {
        const slider = document.getElementById(div.id + '-slider');
        if (!slider) continue;
        const visible = () => div.data.map(t => t.visible !== false).join();
        const before = visible(), start = slider.value;
        slider.value = slider.max;
        slider.dispatchEvent(new Event('input', {bubbles: true}));
        if (visible() === before) problems.push(`${div.id}: the slider changed nothing`);
        slider.value = start;  // back where the page opened it
        slider.dispatchEvent(new Event('input', {bubbles: true}));
    }
    return problems;
}"""


def _is_internal(href: str) -> bool:
    return bool(href) and not href.startswith("//") and not urlsplit(href).scheme


def _redirects(relpath: str) -> bool:
    head = (HTML / relpath).read_text(encoding="utf-8", errors="replace")[:2000]
    return 'http-equiv="Refresh"' in head or "http-equiv='Refresh'" in head


def _wait_for_typesetting(page) -> None:
    has_mathjax = page.evaluate("() => typeof window.MathJax !== 'undefined'")
    if has_mathjax:
        page.wait_for_function(
            "() => window.MathJax.startup && window.MathJax.startup.promise",
            timeout=PAGE_TIMEOUT_MS,
        )
        page.evaluate("() => window.MathJax.startup.promise")


def _wait_for_images(page) -> None:
    page.evaluate(
        """() => Promise.all([...document.images].map(img => img.complete ? null :
              new Promise(resolve => { img.onload = img.onerror = resolve; })))"""
    )


def _screenshot(page, relpath: str) -> None:
    """The top of the page and its first interactive figure, in the light and dark themes."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    stem = relpath.removesuffix(".html").replace("/", "_")
    figure = page.locator(".rnncourse-plotly").first
    for scheme in ("light", "dark"):  # the theme's "auto" mode follows the colour scheme
        page.emulate_media(color_scheme=scheme)
        page.wait_for_timeout(300)
        page.screenshot(path=str(SCREENSHOTS / f"{stem}_{scheme}.png"))
        if figure.count():
            figure.scroll_into_view_if_needed()
            figure.screenshot(path=str(SCREENSHOTS / f"{stem}_figure_{scheme}.png"))
            page.evaluate("() => window.scrollTo(0, 0)")
    page.emulate_media(color_scheme="light")


def test_the_book_is_built():
    """Is there a built book to check?"""
    assert PAGES, f"no HTML pages under {HTML}: build the book first (make build)"


@pytest.mark.parametrize("relpath", PAGES)
def test_page_renders_offline_without_errors(relpath, server, browser_context, link_status):
    """Does the page load, typeset and link correctly with no internet and no error?"""
    problems: list[str] = []
    page = browser_context.new_page()

    def route(r):
        url = r.request.url
        if url.startswith(server) or url.startswith(("data:", "blob:")):
            r.continue_()
        else:
            problems.append(f"request to the internet (blocked): {url}")
            r.abort()

    page.route("**/*", route)
    page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"uncaught exception: {e}"))
    page.on("requestfailed", lambda r: r.url.startswith(server) and problems.append(
        f"failed request: {r.url} ({r.failure})"))
    page.on("response", lambda r: r.status >= 400 and problems.append(
        f"HTTP {r.status}: {r.url}"))

    try:
        page.goto(server + relpath, wait_until="load", timeout=PAGE_TIMEOUT_MS)
        if _redirects(relpath):  # e.g. index.html, which sends the reader to the first page
            page.wait_for_url(lambda url: not url.endswith("/" + relpath))
            page.wait_for_load_state("load")
        _wait_for_typesetting(page)
        _wait_for_images(page)

        math = page.evaluate("""() => ({
            source: document.querySelectorAll('.math, div.math, span.math').length,
            typeset: document.querySelectorAll('mjx-container').length,
            errors: !window.MathJax || !MathJax.startup.document ? [] :
                Array.from(MathJax.startup.document.math)
                // a TeX error, or an undefined macro (shown in red by MathJax's noundefined)
                .filter(m => m.typesetRoot && m.typesetRoot.querySelector(
                    'mjx-merror, mjx-mtext[style*="color: red"]'))
                .map(m => m.math)})""")
        if math["source"] and not math["typeset"]:
            problems.append(f"{math['source']} equations, none typeset by MathJax")
        problems += [f"TeX error: {text}" for text in math["errors"]]

        broken = page.evaluate("""() => [...document.images]
            .filter(img => !(img.complete && img.naturalWidth > 0))
            .map(img => img.getAttribute('src'))""")
        problems += [f"image not loaded: {src}" for src in broken]

        undrawn = page.evaluate("""() => [...document.querySelectorAll('.rnncourse-plotly')]
            .filter(div => !div.querySelector('.main-svg')).map(div => div.id)""")
        problems += [f"interactive figure not drawn: {div}" for div in undrawn]
        problems += [f"interactive figure: {p}" for p in page.evaluate(_MOVE_SLIDERS)]

        hrefs = page.evaluate(
            "() => [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'))")
        for href in sorted({h for h in hrefs if _is_internal(h)}):
            url = urljoin(page.url, href)
            if urldefrag(url)[0].endswith("/"):
                url = url.replace("#", "index.html#", 1) if "#" in url else url + "index.html"
            problem = link_status(url)
            if problem:
                problems.append(f"broken link {href!r}: {problem}")

        if relpath in SCREENSHOT_PAGES:
            _screenshot(page, relpath)
    finally:
        page.close()

    assert not problems, f"{relpath}:\n  " + "\n  ".join(problems)
