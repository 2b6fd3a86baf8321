"""``report ASSIGNMENT``: one HTML page for the lecturer on how the class did.

The page ``grading/reports/<assignment>/report.html`` holds the grade distribution (a
histogram), each test's failure rate, the known mistakes the class made most, the flagged
submissions with their reasons, the learners who submitted nothing and those collected but
not graded. Its figures are embedded (the page is one file to mail or archive) and also
written beside it as PNGs; each has alt text saying what it shows, and a table below it
gives every number.

What it reads: the result files ``grading/results/<assignment>/<student>.json`` (``grade``
writes one per graded submission: each test's points and failure message, the flags), the
gradebook (learners' names, the roster, and the score that counts, manual grading included;
optional: without a gradebook the results' scores are used) and ``grading/submitted/``
(who was collected). A known mistake is named by the checks themselves: a failing test's
message says "It matches a known mistake: <label>." (``autograder.keys.checks``).

Learner content (names, messages, flag reasons, labels read from messages) is text, never
markup: the page is rendered by Jinja with autoescaping on, so ``<script>`` is shown as
written; the page's Content Security Policy allows no script at all, and images only as
inline data. In the figures, text is drawn as written (no mathtext: a ``$`` in a label is a
dollar sign), and each label is cut to ``MAX_LABEL`` characters.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from autograder.core.types import Result
from autograder.errors import AutograderError
from autograder.settings import grading_dir, results_dir, submitted_dir

MISTAKE = re.compile(r"It matches a known mistake(?: of [^:\n]{1,80})?: (?P<label>[^\n]+)")
MAX_LABEL = 120  # characters of a test name, mistake label or name in a figure or table
TOP_MISTAKES = 10
PAGE = "report.html"
POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; " \
         "form-action 'none'"


def reports_dir(root: Path) -> Path:
    return grading_dir(root) / "reports"


@dataclass
class ClassReport:
    """What the page says about one assignment."""

    assignment: str
    max_score: float
    scores: list[tuple[str, float]]  # learner, the score that counts
    failures: list[tuple[str, int, int, str]]  # test, failed, graded, commonest failure
    # (tests in notebook order; the failure is the first line of a message, shortened)
    mistakes: list[tuple[str, str, int]]  # test, label, learners (most first)
    flagged: list[tuple[str, float, list[str]]]  # learner, score, reasons
    not_submitted: list[str]
    not_graded: list[str]  # collected, no result yet
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Figure:
    """One PNG of the page: its file name, alt text and caption."""

    name: str
    alt: str
    caption: str
    png: bytes


def short(text: object) -> str:
    """``text`` on one line, at most MAX_LABEL characters."""
    line = " ".join(str(text).split())
    return line if len(line) <= MAX_LABEL else line[:MAX_LABEL - 1] + "…"


def known_mistakes(message: str) -> list[str]:
    """The labels of the known mistakes a failure message names (trailing full stop off)."""
    return [short(m["label"].strip().removesuffix(".")) for m in MISTAKE.finditer(message)]


def checked(r: Result) -> Result:
    """``r`` when each field has the type ``grade`` writes; else TypeError."""
    number = (int, float)
    ok = (isinstance(r.score, number) and isinstance(r.max_score, number)
          and isinstance(r.flags, list) and all(isinstance(f, str) for f in r.flags)
          and all(isinstance(t.name, str) and isinstance(t.message, str)
                  and isinstance(t.passed, bool) and isinstance(t.points, number)
                  and isinstance(t.max_points, number) for t in r.tests))
    if not ok:
        raise TypeError("a field of the wrong type")
    return r


def read_results(root: Path, assignment: str, problems: list[str]) -> dict[str, Result]:
    """Student id -> result of each graded submission; an unreadable file is a problem."""
    folder = results_dir(root) / assignment
    results = {}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            results[path.stem] = checked(Result.from_dict(
                json.loads(path.read_text(encoding="utf-8"))))
        except (ValueError, TypeError, AttributeError) as err:
            problems.append(f"{path.name}: not read ({type(err).__name__}: {err})"[:300])
    return results


def collected(root: Path, assignment: str | None = None) -> set[str]:
    """Learners with a folder under grading/submitted/ (for ``assignment``, when given)."""
    base = submitted_dir(root)
    if not base.is_dir():
        return set()
    return {p.name for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")
            and (assignment is None or (p / assignment).is_dir())}


def summarise(assignment: str, results: dict[str, Result], roster: dict[str, str],
              scores: dict[str, float], collected_now: set[str], everyone: set[str],
              problems: list[str] | None = None, max_score: float = 0.0) -> ClassReport:
    """The report of ``results`` (student id -> result). ``roster``: student id -> display
    name; ``scores``: the gradebook's score that counts, where it has one (a learner graded
    there with no result file counts too); ``collected_now``: who was collected for this
    assignment; ``everyone``: every learner known to the course; ``max_score``: the
    gradebook's, when the results do not say."""
    name = {sid: roster.get(sid) or sid
            for sid in everyone | set(results) | collected_now | set(scores)}
    counted = {**scores, **{sid: scores.get(sid, r.score) for sid, r in results.items()}}
    order: dict[str, int] = {}
    failed, graded, mistakes = Counter(), Counter(), Counter()
    messages: dict[str, Counter] = {}
    for r in results.values():
        for t in r.tests:
            order.setdefault(t.name, len(order))
            graded[t.name] += 1
            if not t.passed:
                failed[t.name] += 1
                first = t.message.strip().splitlines()[0] if t.message.strip() else ""
                messages.setdefault(t.name, Counter())[short(first)] += 1
                for label in set(known_mistakes(t.message)):
                    mistakes[(t.name, label)] += 1
    max_score = max([r.max_score for r in results.values()] + [max_score])
    return ClassReport(
        assignment=assignment, max_score=max_score,
        scores=[(name[sid], s) for sid, s in sorted(counted.items())],
        failures=[(t, failed[t], graded[t], _commonest(messages.get(t)))
                  for t in sorted(order, key=order.get)],
        mistakes=[(t, label, n) for (t, label), n in sorted(
            mistakes.items(), key=lambda kv: (-kv[1], kv[0]))][:TOP_MISTAKES],
        flagged=[(name[sid], counted[sid], list(r.flags)) for sid, r in sorted(results.items())
                 if r.flagged],
        not_submitted=sorted(name[sid] for sid in everyone - collected_now - set(counted)),
        not_graded=sorted(name[sid] for sid in collected_now - set(counted)),
        problems=list(problems or []))


def _commonest(counts: Counter | None) -> str:
    """The most frequent message (the first in order among equals), "" when none."""
    if not counts:
        return ""
    return min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]


def score_bins(max_score: float) -> list[float]:
    """Histogram edges: one bar per whole point (centred on it) up to 40 points, else 20
    equal bars from 0 to ``max_score``."""
    if max_score <= 40:
        return [k - 0.5 for k in range(math.ceil(max_score) + 2)]
    return [max_score * k / 20 for k in range(21)]


def _png(fig) -> bytes:
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()


def _axes(height: float, width: float = 6):
    """A new figure on Matplotlib's Agg canvas (no pyplot: no global state, no display)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig, fig.subplots()


def figures(report: ClassReport) -> list[Figure]:
    """The histogram of scores, the failure rate of each test, the most frequent mistakes."""
    import matplotlib
    from matplotlib.ticker import MaxNLocator

    out = []
    with matplotlib.rc_context({"text.parse_math": False, "text.usetex": False}):
        scores = [s for _, s in report.scores]
        if scores:
            fig, ax = _axes(3)
            ax.hist(scores, bins=score_bins(report.max_score), color="#4477aa",
                    edgecolor="white")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlabel(f"score (out of {report.max_score:g})")
            ax.set_ylabel("learners")
            out.append(Figure("grades.png", _score_alt(report, scores),
                              "Grade distribution", _png(fig)))
        if report.failures:
            labels = [short(t) for t, *_ in report.failures]
            rates = [100 * f / g for _, f, g, _ in report.failures]
            fig, ax = _axes(0.4 * len(labels) + 1)
            ax.barh(labels[::-1], rates[::-1], color="#cc6677")
            ax.set_xlim(0, 100)
            ax.set_xlabel("graded submissions failing the test (%)")
            out.append(Figure("tests.png", _failure_alt(report), "Failure rate of each test",
                              _png(fig)))
        if report.mistakes:
            labels = [short(f"{t}: {label}") for t, label, _ in report.mistakes]
            counts = [n for _, _, n in report.mistakes]
            fig, ax = _axes(0.4 * len(labels) + 1, width=7)
            ax.barh(labels[::-1], counts[::-1], color="#ddaa33")
            ax.set_xlabel("learners whose failure matches the mistake")
            out.append(Figure("mistakes.png", _mistake_alt(report),
                              "Known mistakes the class made most", _png(fig)))
    return out


def _score_alt(report: ClassReport, scores: list[float]) -> str:
    full = sum(s >= report.max_score for s in scores)
    return (f"Histogram of the {len(scores)} scores of {report.assignment} out of "
            f"{report.max_score:g}: median {statistics.median(scores):g}, lowest "
            f"{min(scores):g}, highest {max(scores):g}; {full} at full marks.")


def _failure_alt(report: ClassReport) -> str:
    worst = sorted(report.failures, key=lambda x: -x[1] / x[2])[:3]
    said = "; ".join(f"{short(t)} {100 * f / g:.0f} % ({f} of {g})" for t, f, g, _ in worst)
    return (f"Bar chart of the share of graded submissions failing each of the "
            f"{len(report.failures)} tests. Most failed: {said}. The table below gives all.")


def _mistake_alt(report: ClassReport) -> str:
    said = "; ".join(f"{short(t)}: {label} ({n})" for t, label, n in report.mistakes[:3])
    return (f"Bar chart of the {len(report.mistakes)} known mistakes matched most often, by "
            f"number of learners. Most often: {said}. The table below gives all.")


TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{{ policy }}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Class report: {{ r.assignment }}</title>
<style>
body { font-family: sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       overflow-wrap: break-word; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #bbb; padding: 0.25rem 0.5rem; text-align: left;
         vertical-align: top; }
th { white-space: nowrap; }
td { overflow-wrap: anywhere; }
img { max-width: 100%; }
</style>
</head>
<body>
<h1>Class report: {{ r.assignment }}</h1>
<p>{{ r.scores | length }} graded submission(s), {{ r.flagged | length }} flagged,
{{ r.not_graded | length }} collected but not graded, {{ r.not_submitted | length }} learner(s)
with no submission.</p>
{% macro figure(name) %}{% if name in figs %}{% set f = figs[name] %}
<figure><img src="data:image/png;base64,{{ f.data }}" alt="{{ f.alt }}">
<figcaption>{{ f.caption }} (also in {{ f.name }})</figcaption></figure>{% endif %}{% endmacro %}
<h2>Grade distribution</h2>
{% if r.scores %}{{ figure("grades.png") }}
<details><summary>Every learner's score</summary>
<table><thead><tr><th>learner</th><th>score</th></tr></thead><tbody>
{% for who, score in r.scores %}<tr><td>{{ who }}</td><td>{{ '%g'|format(score) }} /
{{ '%g'|format(r.max_score) }}</td></tr>
{% endfor %}</tbody></table></details>{% else %}<p>No graded submission.</p>{% endif %}
<h2>Tests</h2>
{% if r.failures %}{{ figure("tests.png") }}
<table><thead><tr><th>test</th><th>failed</th><th>graded</th>
<th>failure rate</th><th>most frequent failure</th></tr></thead><tbody>
{% for t, failed, graded, why in r.failures %}<tr><td>{{ t }}</td><td>{{ failed }}</td>
<td>{{ graded }}</td><td>{{ '%.0f'|format(100 * failed / graded) }} %</td><td>{{ why }}</td></tr>
{% endfor %}</tbody></table>{% else %}<p>No test results.</p>{% endif %}
<h2>Known mistakes</h2>
{% if r.mistakes %}{{ figure("mistakes.png") }}
<table><thead><tr><th>test</th><th>known mistake</th><th>learners</th>
</tr></thead><tbody>
{% for t, label, n in r.mistakes %}<tr><td>{{ t }}</td><td>{{ label }}</td><td>{{ n }}</td>
</tr>{% endfor %}</tbody></table>
{% else %}<p>No failure matched a known mistake.</p>{% endif %}
<h2>Flagged submissions</h2>
{% if r.flagged %}<table><thead><tr><th>learner</th><th>score</th><th>why</th></tr></thead>
<tbody>{% for who, score, reasons in r.flagged %}<tr><td>{{ who }}</td>
<td>{{ '%g'|format(score) }}</td><td><ul>{% for why in reasons %}<li>{{ why }}</li>{% endfor %}
</ul></td></tr>{% endfor %}</tbody></table>{% else %}<p>None.</p>{% endif %}
<h2>Collected but not graded</h2>
{% if r.not_graded %}<ul>{% for who in r.not_graded %}<li>{{ who }}</li>{% endfor %}</ul>
{% else %}<p>None.</p>{% endif %}
<h2>No submission</h2>
{% if r.not_submitted %}<ul>{% for who in r.not_submitted %}<li>{{ who }}</li>{% endfor %}
</ul>{% else %}<p>None: every known learner submitted.</p>{% endif %}
{% if r.problems %}<h2>Not read</h2><ul>{% for p in r.problems %}<li>{{ p }}</li>
{% endfor %}</ul>{% endif %}
</body>
</html>
"""


def render(report: ClassReport, figs: list[Figure]) -> str:
    """The page (every value escaped by Jinja's autoescaping)."""
    from jinja2 import Environment

    page = Environment(autoescape=True).from_string(TEMPLATE)
    embedded = {f.name: {"name": f.name, "alt": f.alt, "caption": f.caption,
                         "data": base64.b64encode(f.png).decode("ascii")} for f in figs}
    return page.render(r=report, figs=embedded, policy=POLICY)


def _gradebook(root: Path, assignment: str, db: str | None
               ) -> tuple[dict[str, str], dict[str, float], float]:
    """Display names of the gradebook's learners, their scores that count for ``assignment``
    and its maximum; nothing when the course has no gradebook yet."""
    from nbgrader.api import Gradebook, MissingEntry

    from autograder.commands.export import submission_score
    from autograder.core.course import gradebook_url
    from autograder.core.gradebook import check

    url = gradebook_url(root, db)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return {}, {}, 0.0
    check(url)
    roster, scores, max_score = {}, {}, 0.0
    with Gradebook(url) as gb:
        with contextlib.suppress(MissingEntry):
            max_score = float(gb.find_assignment(assignment).max_score)
        for s in gb.students:
            full = " ".join(p for p in (s.first_name, s.last_name) if p)
            roster[str(s.id)] = short(f"{full} ({s.id})" if full else s.id)
            score = submission_score(gb, assignment, s.id)
            if score is not None:
                scores[str(s.id)] = score
    return roster, scores, max_score


def report(root: Path, assignment: str, dest: Path | None = None, db: str | None = None,
           problems: list[str] | None = None) -> Path:
    """Write the class report of ``assignment`` (and its PNGs) into ``dest`` (default
    grading/reports/<assignment>); return the page's path. A result file that cannot be read
    is listed on the page and added to ``problems``."""
    found: list[str] = []
    results = read_results(root, assignment, found)
    roster, scores, max_score = _gradebook(root, assignment, db)
    now = collected(root, assignment)
    if not results and not scores and not now:
        raise AutograderError(f"nothing of {assignment!r} is collected or graded: run "
                              f"`python -m autograder grade {assignment}` first")
    everyone = set(roster) | collected(root)
    summary = summarise(assignment, results, roster, scores, now, everyone, found, max_score)
    dest = Path(dest or reports_dir(root) / assignment)
    dest.mkdir(parents=True, exist_ok=True)
    figs = figures(summary)
    for f in figs:
        (dest / f.name).write_bytes(f.png)
    page = dest / PAGE
    page.write_text(render(summary, figs), encoding="utf-8")
    if problems is not None:
        problems += found
    return page
