"""``feedback``: nbgrader's HTML feedback, without hidden tests, test tracebacks or live markup.

``nbgrader generate_feedback`` runs with the course configuration, whose feedback
preprocessors hide the hidden tests (``HideHiddenTests``, ``autograder.runner.hidetests``) and
clean the learner's outputs and markdown (``SanitiseOutputs``, ``autograder.runner.sanitise``),
and with the template ``autograder/templates/rnn_feedback``: nbgrader's page with a Content
Security Policy in its head (no inline script but MathJax's configuration, no plugin, frame or
``<base>``).

Each learner's page is then checked on its own: one whose text (entities decoded) contains a
line of the source's hidden tests is deleted and reported for that learner, and a learner
whose page nbgrader could not write is reported too; the other learners' pages are kept.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import nbformat

from autograder.core.course import assignments as course_assignments
from autograder.core.course import gradebook_url, run_nbgrader, source_notebook
from autograder.core.gradebook import check
from autograder.errors import AutograderError
from autograder.runner.hidetests import HIDDEN
from autograder.settings import autograded_dir, feedback_dir, grading_dir

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


class FeedbackIncomplete(AutograderError):
    """Some learners' feedback was withheld or could not be written (the others' was)."""


def hidden_lines(root: Path, assignment: str) -> list[str]:
    """The non-trivial lines of the source's hidden tests (what feedback must never show)."""
    lines = []
    for cell in nbformat.read(source_notebook(root, assignment), 4).cells:
        for region in HIDDEN.findall(cell.source):
            lines += [ln.strip() for ln in region.splitlines()[1:-1]
                      if len(ln.strip()) > 12 and not ln.strip().startswith("#")]
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
