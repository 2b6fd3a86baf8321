"""``feedback``: nbgrader's HTML feedback, without hidden tests, test tracebacks or live markup.

``nbgrader generate_feedback`` runs with the course configuration, whose feedback
preprocessors remove the hidden tests by nbgrader's rule, the release's, and a test's
traceback (``autograder.runner.hidetests``), and clean the learner's outputs and markdown
(``SanitiseOutputs``, ``autograder.runner.sanitise``), and with the template
``autograder/templates/rnn_feedback``: nbgrader's page with our head
(``autograder/templates/feedback/mathjax.html.j2``): a Content Security Policy (no inline
script but MathJax's configuration, no plugin, frame or ``<base>``), long messages that wrap,
and the course's own MathJax (``book/_static/mathjax``), copied once into
``grading/feedback/_mathjax`` beside the pages: no page loads anything from another host, so
math is typeset offline.

Each learner's page is then checked on its own: one whose text (entities decoded: a hidden
line's ``<``, ``>`` and ``&`` are the page's ``&lt;``, ``&gt;`` and ``&amp;``) contains a line
of the source's hidden tests (by that same rule) is deleted and reported for that learner, and
a learner whose page nbgrader could not write is reported too; the other learners' pages are
kept.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote

import nbformat

from autograder.core.course import assignments as course_assignments
from autograder.core.course import gradebook_url, run_nbgrader, source_notebook
from autograder.core.gradebook import check
from autograder.errors import AutograderError
from autograder.runner.hidetests import hidden_line_numbers
from autograder.settings import autograded_dir, feedback_dir, grading_dir

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
REPOSITORY = Path(__file__).resolve().parents[2]


class FeedbackIncomplete(AutograderError):
    """Some learners' feedback was withheld or could not be written (the others' was)."""


def hidden_lines(root: Path, assignment: str) -> list[str]:
    """The non-trivial lines of the source's hidden tests (what feedback must never show):
    the lines nbgrader's release removes, but comments and short lines."""
    lines = []
    for cell in nbformat.read(source_notebook(root, assignment), 4).cells:
        source = cell.source.split("\n")
        hidden = [source[n - 1].strip() for n in sorted(hidden_line_numbers(cell.source))]
        lines += [ln for ln in hidden if len(ln) > 12 and not ln.startswith("#")]
    return lines


class _PageText(HTMLParser):
    """The text a reader of a page can get at: its text as shown (text nodes joined as the
    browser joins them) and its attribute values, every character reference decoded (``&lt;``
    is ``<``, ``&#97;`` is ``a``)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.attributes: list[str] = []

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.attributes += [value for _, value in attrs if value]


def page_text(html: str) -> str:
    """The decoded text of ``html``, then its attribute values, one a line."""
    parser = _PageText()
    parser.feed(html)
    parser.close()
    return "\n".join(["".join(parser.text), *parser.attributes])


def leaked_line(html: str, secrets: list[str]) -> str | None:
    """The first line of a hidden test that the page ``html`` shows, if any."""
    text = page_text(html)
    return next((s for s in secrets if s in text), None)


# -- the course's MathJax, offline -------------------------------------------------------------

# The copy the book serves itself (scripts/fetch_mathjax.sh): TeX input with every extension
# built in (nothing loaded later), CommonHTML output, its fonts beside it.
MATHJAX_DIR = REPOSITORY / "book" / "_static" / "mathjax"
MATHJAX_SCRIPT = "tex-chtml-full.js"
# The feedback pages load it from grading/feedback/_mathjax: a page is
# grading/feedback/<student>/<assignment>/<notebook>.html, two folders below it.
FEEDBACK_MATHJAX = "_mathjax"
FEEDBACK_MATHJAX_URL = f"../../{FEEDBACK_MATHJAX}/{MATHJAX_SCRIPT}"
# MathJax 3's settings for a notebook (nbconvert's, in MathJax 3's words), given as the object
# MathJax reads when it starts. MathJax 3 has no "Safe" mode in this bundle: the TeX packages
# that make links, classes, ids or styles (html: \href \class \cssId \style; bbox's style
# argument) or load code (require) are left out, so a learner's math makes only math.
MATHJAX_CONFIG = """
window.MathJax = {
  tex: {
    inlineMath: [["$", "$"], ["\\\\(", "\\\\)"]],
    displayMath: [["$$", "$$"], ["\\\\[", "\\\\]"]],
    processEscapes: true,
    processEnvironments: true,
    tags: "ams",
    packages: {"[-]": ["html", "bbox", "require"]}
  },
  options: {menuOptions: {settings: {assistiveMml: true}}},
  chtml: {displayAlign: "center"}
};
"""
# formgrader's own script (formgrade.js) waits for MathJax 2's startup signal. MathJax 3 has
# none: this gives it one, fired once MathJax 3 has typeset the page (at once if MathJax could
# not load, so that formgrader still works).
MATHJAX2_SIGNAL = """
(function (mj) {
  var done = (mj.startup && mj.startup.promise) || Promise.resolve();
  mj.Hub = {Startup: {signal: {Interest: function (listener) {
    done.then(function () { listener("End"); });
  }}}};
})(window.MathJax = window.MathJax || {});
"""


def script_hash(script: str) -> str:
    """The CSP source that allows exactly the inline ``<script>`` whose text is ``script``."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"


def content_security_policy() -> str:
    """The feedback page's policy: its MathJax configuration (by its hash) and scripts of the
    page's own origin (the MathJax copy beside it) are the only scripts; no inline script,
    event handler, ``javascript:`` URL, plugin, frame, form or ``<base>``; nothing from
    another host; images only inline; styles inline (the page's and MathJax's)."""
    return "; ".join([
        "default-src 'none'",
        f"script-src {script_hash(MATHJAX_CONFIG)} 'self'",
        "style-src 'unsafe-inline'",
        "font-src 'self' data:",
        "img-src data:",
        "object-src 'none'",
        "frame-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
    ])


def feedback_head(_: object = None) -> dict[str, str]:
    """What the feedback page's head needs: its policy, MathJax's configuration (allowed by
    its hash) and MathJax's address, relative to the page. A Jinja filter
    (``HTMLExporter.filters``), because the template's ``mathjax`` macro is imported without
    the page's context."""
    return {"csp": content_security_policy(), "mathjax_config": MATHJAX_CONFIG,
            "mathjax_url": FEEDBACK_MATHJAX_URL}


def _version(folder: Path) -> str | None:
    """The MathJax version of the copy in ``folder`` (its VERSION file), None if none."""
    version = folder / "VERSION"
    return version.read_text(encoding="utf-8").strip() if version.is_file() else None


def install_mathjax(root: Path) -> Path:
    """Copy the course's MathJax into ``grading/feedback/_mathjax`` of the course ``root``
    (again only when its version changed); return the folder.

    No student id starts with ``_`` (``autograder.core.learners.SAFE_ID``), so the folder is
    no learner's; a folder there that is not a MathJax copy (no VERSION) is refused, never
    replaced. The copy is made aside, then moved in place: a page never finds half of it."""
    source = MATHJAX_DIR
    if not (source / MATHJAX_SCRIPT).is_file() or _version(source) is None:
        raise AutograderError(f"the course's MathJax is missing ({source / MATHJAX_SCRIPT}): "
                              "restore book/_static/mathjax from git, or run "
                              "scripts/fetch_mathjax.sh")
    target = feedback_dir(root) / FEEDBACK_MATHJAX
    if _version(target) == _version(source) and (target / MATHJAX_SCRIPT).is_file():
        return target
    if target.exists() and _version(target) is None:
        raise AutograderError(f"{target} is not a copy of MathJax (it has no VERSION file): "
                              "move it elsewhere; `feedback` keeps the course's MathJax there")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".mathjax-", dir=target.parent))
    try:
        shutil.copytree(source, staging / FEEDBACK_MATHJAX)
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging / FEEDBACK_MATHJAX, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _server_root() -> Path:
    """The folder the Jupyter server running formgrader serves (its ``root_dir``); outside
    a server, the working folder (``make formgrader`` serves the course from there)."""
    try:
        from jupyter_server.serverapp import ServerApp
    except ImportError:  # pragma: no cover - formgrader needs jupyter_server
        return Path.cwd()
    if ServerApp.initialized():
        return Path(os.path.expanduser(ServerApp.instance().root_dir)).resolve()
    return Path.cwd().resolve()


def formgrader_mathjax_url(server_root: Path) -> str | None:
    """The course's MathJax as formgrader's submission page (``BASE/formgrader/submissions/
    ID/``) reaches it: the Jupyter server's ``files/`` route, relative to the page so that
    any base URL works; None when the server's folder does not hold it."""
    script = (MATHJAX_DIR / MATHJAX_SCRIPT).resolve()
    if not script.is_relative_to(server_root):
        return None
    return "../../../files/" + quote(script.relative_to(server_root).as_posix())


def formgrader_head(_: object = None) -> dict[str, str | None]:
    """What formgrader's submission page needs in its head: MathJax's configuration, the
    course's MathJax (served by the Jupyter server), and the startup signal formgrader waits
    for. A Jinja filter, as ``feedback_head``."""
    return {"mathjax_config": MATHJAX_CONFIG, "mathjax_url": formgrader_mathjax_url(
        _server_root()), "signal": MATHJAX2_SIGNAL}


def feedback_flags() -> list[str]:
    """nbgrader's command-line settings of the feedback page: our template, nbgrader's
    templates under it, and nbconvert's own HTML sanitiser on outputs."""
    import nbgrader

    nbgrader_templates = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader"
    return ["--HTMLExporter.template_name=rnn_feedback",
            f"--HTMLExporter.extra_template_basedirs={TEMPLATES}",
            f"--HTMLExporter.extra_template_basedirs={nbgrader_templates / 'templates'}",
            "--HTMLExporter.sanitize_html=True"]


def _failure_reason(log: str, student: str, assignment: str) -> str:
    """The error nbgrader logged for ``student``'s notebook (the last ``Name: message`` line
    of its traceback), in one line."""
    lines = log.splitlines()
    marker = f"{student}/{assignment}"
    start = next((i for i, ln in enumerate(lines) if "ERROR" in ln and marker in ln), None)
    reason = None
    for line in lines[start + 1:] if start is not None else []:
        if line.startswith("[") and "ERROR] Traceback" not in line:
            break  # the next log record
        head, _, message = line.strip().partition(": ")
        if message and head.replace(".", "").isidentifier() and head.endswith(("Error",
                                                                             "Exception")):
            reason = line.strip()
    return (reason or "nbgrader wrote no page (see its log)")[:300]


def _learners(root: Path, assignment: str) -> list[str]:
    """The learners with an autograded submission of ``assignment``."""
    return sorted(p.parent.name for p in autograded_dir(root).glob(f"*/{assignment}")
                  if p.is_dir())


def _generate(root: Path, assignment: str, db: str) -> str:
    """Run ``nbgrader generate_feedback`` on every learner of ``assignment``; keep its log in
    grading/logs/ and return it. A learner's notebook that fails does not stop the others."""
    for stale in feedback_dir(root).glob(f"*/{assignment}/*.html"):
        stale.unlink()  # a page nbgrader cannot write again must not be sent as if new
    log = run_nbgrader(root, "generate_feedback", assignment, "--force", *feedback_flags(),
                       db=db, check=False)
    logs = grading_dir(root) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    (logs / f"feedback-{assignment}.log").write_text(log, encoding="utf-8")
    return log


def feedback(root: Path, names: list[str] | None = None, db: str | None = None,
             problems: list[str] | None = None) -> list[Path]:
    """Generate the feedback of every autograded submission of ``names`` (default: all),
    with the grades of the gradebook ``db`` (default: the course's, SQLite or PostgreSQL);
    return the pages written.

    A learner whose page shows a line of a hidden test (it is deleted) or whose page could not
    be written is one line in ``problems`` (``"add/bob: ..."``); every other learner's page is
    written and kept. Without ``problems``, they raise FeedbackIncomplete once every page is
    done.
    """
    db = gradebook_url(root, db)
    known = course_assignments(root)
    out: list[Path] = []
    found: list[str] = []
    for assignment in names or known:
        if assignment not in known:
            raise AutograderError(f"no assignment named {assignment!r} (known: {', '.join(known)})")
        learners = _learners(root, assignment)
        if not learners:
            continue
        check(db)
        install_mathjax(root)
        log = _generate(root, assignment, db)
        secrets = hidden_lines(root, assignment)
        for student in learners:
            pages = sorted((feedback_dir(root) / student / assignment).glob("*.html"))
            if not pages:
                found.append(f"{assignment}/{student}: no feedback written: "
                             f"{_failure_reason(log, student, assignment)}")
            for html in pages:
                leak = leaked_line(html.read_text(encoding="utf-8", errors="replace"), secrets)
                if leak is None:
                    out.append(html)
                    continue
                html.unlink()
                found.append(f"{assignment}/{student}: feedback withheld: {html.name} showed a "
                             "line of a hidden test; check GenerateFeedback.preprocessors in "
                             "autograder/nbgrader_config.py")
    if problems is not None:
        problems += found
    elif found:
        raise FeedbackIncomplete(f"wrote {len(out)} feedback page(s) in grading/feedback/, but "
                                 f"not for {len(found)}:\n" + "\n".join(found))
    return out
