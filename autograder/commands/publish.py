"""``publish``: the learners' tree, made from the instructor's repository.

The instructor's repository holds everything: the book, the exercises, the ``rnncourse``
package, and what must stay private when the course runs for credit, the nbgrader sources in
``solutions/`` (reference solutions and hidden tests), the answer keys in
``autograder/keys/`` (reference implementations and the hidden checks), the tests and
catalogues that import them. ``publish(root, dest)`` writes the learners' tree, which the
instructor makes public (a repository of its own, the book's site); ``solutions/`` stays in a
private repository with the grading service.

Two defences, each enough alone for what it covers:

1. **An allow-list of paths.** The input is ``git ls-files`` of the instructor's tree (never
   an untracked or ignored file: ``grading/``, ``.venv``), and only the tracked files under
   :data:`PUBLISHED_FOLDERS` or named in :data:`PUBLISHED_FILES` are copied, each a regular
   file (a tracked symbolic link is left out: it could point anywhere). The ``Makefile`` and
   ``README.md`` are written for the learners (:func:`learners_makefile`,
   :func:`learners_readme`). A binary file is published only when it is a known media file
   (its type checked by its first bytes) or a NumPy archive of numbers and text (the text
   checked too).
2. **A check of content.** Every line of a hidden test of every source notebook, every
   non-trivial line of a solution region (``### BEGIN SOLUTION`` ... ``### END SOLUTION``)
   and of a file of ``autograder/keys/`` is a secret, unless the release keeps it (it is in
   the source outside every solution and hidden region: a visible test's line that a hidden
   test repeats) or :data:`PUBLIC_LINES` names it with its reason. If any published file
   holds a secret line (in any indentation, or inside a notebook's JSON), nothing is written
   at ``dest`` and :class:`LeakFound` names each one.

The exercises' tests need the test helpers of ``autograder.keys``, which stay with the grader,
so the learners' tree holds each exercise notebook rewritten (:func:`learners_notebook`): the
test-helper cell imports ``service_test`` from ``rnncourse.check``, and each test cell keeps
its docstring (what it checks) and runs that test on the course's grading service,
``service_test("rnn_forward", "test_rnn_cell_forward_hand_case")``, which sends the saved
notebook once per version and prints the test's result or raises with the service's message.
The rewritten cells carry nbgrader's checksum of their new text (Validate does not call them
changed); the service grades the learner's file with the source's test cells (the release's
locked cells are put back before grading, and nbgrader puts back the hidden tests). The leak
check reads the rewritten notebooks. See the instructors' guide, "Running it for credit".
"""

from __future__ import annotations

import io
import json
import keyword
import os
import re
import shutil
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from autograder.core.learners_notebook import NotPublishable, learners_notebook
from autograder.errors import AutograderError
from autograder.runner.hidetests import hidden_line_numbers

# What the learners get: every tracked file under these folders ...
PUBLISHED_FOLDERS = ("book/", "exercises/", "rnncourse/")
# ... and these tracked files (the book's configuration, the environment, the tools
# `make book` runs, the workflow that publishes the book; not the test workflow, which runs
# `make test` and needs solutions/).
PUBLISHED_FILES = frozenset({
    "_config.yml", "_toc.yml", "pyproject.toml", "requirements.txt", "requirements.lock",
    ".gitignore", "scripts/lockfile.py", "scripts/lock-tools.txt", "scripts/fetch_mathjax.sh",
    ".github/workflows/book.yml",
})
# Written for the learners, not copied.
GENERATED_FILES = ("Makefile", "README.md")
# The Makefile targets the learners need: the environment and the book.
MAKE_TARGETS = ("book", "venv", "$(BIN)/python", "lock", "build", "clean")
MAKE_VARIABLES = ("PYTHON", "VENV", "BIN", "JB_FLAGS", "LOCK_VENV")

# Lines of a solution or a key that the book or the package shows on purpose: each is public
# for the reason given. Any other secret line in the learners' tree stops `publish`.
PUBLIC_LINES = {
    "return self.head(Hs), state":
        "a recurrent layer with a linear read-out: book/applications/language_model.md and "
        "rnncourse/tasks.py show it; the forecasting assignment's Forecaster is that pattern",
    "gen = torch.Generator().manual_seed(seed)":
        "the forecasting assignment's text names this generator; the language-model page "
        "samples with it",
    "return np.random.default_rng(seed)": "rnncourse.seeding.seed_everything",
    "def forward(self, X: torch.Tensor, state=None):": "rnncourse/tasks.py, the book's models",
}

# A line with fewer names (identifiers and numbers, Python keywords aside) carries too little
# of an answer to be one: `loss.backward()`, `super().__init__()`, `return Hs`.
MIN_NAMES = 4
_NAME = re.compile(r"[A-Za-z_]\w*|\d+(?:\.\d+)?")
_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")

# Binary files the learners' tree may hold, by suffix, and the bytes each must begin with.
MEDIA_MAGIC = {
    ".png": (b"\x89PNG\r\n\x1a\n",), ".jpg": (b"\xff\xd8\xff",), ".jpeg": (b"\xff\xd8\xff",),
    ".gif": (b"GIF87a", b"GIF89a"), ".woff": (b"wOFF",), ".woff2": (b"wOF2",),
}


UNREADABLE = "unreadable file"  # the kind of a Leak that is a file the check cannot read


class PublishRefused(AutograderError):
    """``publish`` cannot start: no git repository, or the destination is not empty."""


class LeakFound(AutograderError):
    """A file of the learners' tree holds a reference solution, a hidden test or a key."""


@dataclass(frozen=True)
class Secret:
    """Where a secret line comes from: the file and what it is there."""

    source: str  # e.g. solutions/rnn_forward/rnn_forward.ipynb
    kind: str  # "hidden test", "solution" or "answer key"


@dataclass(frozen=True)
class Leak:
    """A secret line found in a file of the learners' tree."""

    path: str  # relative to the tree
    line: str
    secret: Secret

    def __str__(self) -> str:
        if self.secret.kind == UNREADABLE:
            return (f"{self.path}: {self.line}: the leak check cannot read it (publish takes "
                    "regular files, and of binary files only images, fonts and NumPy "
                    "archives of numbers and text)")
        return (f"{self.path}: a line of the {self.secret.kind} in {self.secret.source}: "
                f"{self.line!r}")


@dataclass
class PublishReport:
    """What ``publish`` wrote, and what it left out."""

    dest: Path
    published: list[str] = field(default_factory=list)
    left_out: dict[str, str] = field(default_factory=dict)  # tracked path -> why

    def lines(self) -> list[str]:
        """A summary for the terminal: counts, and the folders left out."""
        folders: dict[str, int] = {}
        for path in self.left_out:
            top = path.split("/")[0] + ("/" if "/" in path else "")
            folders[top] = folders.get(top, 0) + 1
        out = [f"published {len(self.published)} files into {self.dest}",
               f"left out {len(self.left_out)} tracked files: "
               + ", ".join(f"{k} ({v})" for k, v in sorted(folders.items()))]
        odd = [f"  {p}: {why}" for p, why in sorted(self.left_out.items())
               if why != "not for the learners"]
        return out + odd


# --------------------------------------------------------------------------------------------
# Reading lines
# --------------------------------------------------------------------------------------------

def normalise(line: str) -> str:
    """``line`` with its whitespace collapsed (indentation and spacing do not hide a copy)."""
    return " ".join(line.split())


def is_trivial(line: str) -> bool:
    """Does ``line`` (normalised) hold fewer than :data:`MIN_NAMES` distinct names?"""
    names = {t for t in _NAME.findall(line) if not keyword.iskeyword(t)}
    return len(names) < MIN_NAMES


def _strings(node) -> list[str]:
    """Every string inside a JSON value."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [s for item in node for s in _strings(item)]
    if isinstance(node, dict):
        return [s for item in node.values() for s in _strings(item)]
    return []


def text_lines(text: str) -> set[str]:
    """The normalised lines of ``text``; of a notebook (JSON), also those of each string in
    it (cell sources and outputs, whose lines JSON escapes)."""
    lines = {normalise(line) for line in text.splitlines()}
    try:
        data = json.loads(text)
    except ValueError:
        return lines
    for s in _strings(data):
        lines.update(normalise(line) for line in s.splitlines())
    return lines


# --------------------------------------------------------------------------------------------
# The secrets
# --------------------------------------------------------------------------------------------

def _cells(path: Path) -> list[str]:
    """The source of each cell of the notebook at ``path``."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for cell in nb.get("cells", []):
        src = cell.get("source", "")
        out.append("".join(src) if isinstance(src, list) else src)
    return out


def _split_source(source: str) -> tuple[list[str], list[str], list[str]]:
    """The lines of one cell: (hidden test, solution region, public), markers aside."""
    hidden_numbers = hidden_line_numbers(source)
    hidden, solution, public = [], [], []
    inside = False
    for n, line in enumerate(source.split("\n"), 1):
        if "BEGIN SOLUTION" in line:
            inside = True
        elif "END SOLUTION" in line:
            inside = False
        elif any(m in line for m in _MARKERS):
            pass
        elif n in hidden_numbers:
            hidden.append(line)
        elif inside:
            solution.append(line)
        else:
            public.append(line)
    return hidden, solution, public


def secret_lines(root: Path, tracked: list[str]) -> dict[str, Secret]:
    """Normalised line -> where it comes from, for every line the learners' tree must not hold.

    Secrets: each line of a hidden test in ``solutions/``; each non-trivial line of a solution
    region there and of a file of ``autograder/keys/``. Not secret: a line the release keeps
    (the source holds it outside every hidden and solution region), a line of
    :data:`PUBLIC_LINES`.
    """
    secrets: dict[str, Secret] = {}
    public: set[str] = set()
    for rel in tracked:
        path = root / rel
        if rel.startswith("solutions/") and rel.endswith(".ipynb") and path.is_file():
            for source in _cells(path):
                hidden, solution, shown = _split_source(source)
                public.update(normalise(line) for line in shown)
                for line in map(normalise, hidden):
                    if line:
                        secrets[line] = Secret(rel, "hidden test")
                for line in map(normalise, solution):
                    if not is_trivial(line):
                        secrets.setdefault(line, Secret(rel, "solution"))
        elif rel.startswith("autograder/keys/") and rel.endswith(".py") and path.is_file():
            for line in map(normalise, path.read_text(encoding="utf-8").splitlines()):
                if not is_trivial(line) and not line.startswith(("import ", "from ")):
                    secrets.setdefault(line, Secret(rel, "answer key"))
    return {line: s for line, s in secrets.items()
            if line not in PUBLIC_LINES and line not in public}


def binary_text(rel: str, data: bytes) -> str | None:
    """The text to check in ``data`` (not UTF-8), or None when the learners' tree may not
    hold it: a media file of its type has none (""); a NumPy archive of numeric and text
    arrays only (no pickled objects) has its text arrays' strings, one a line."""
    suffix = Path(rel).suffix.lower()
    if suffix in MEDIA_MAGIC:
        return "" if data.startswith(MEDIA_MAGIC[suffix]) else None
    if suffix != ".npz":
        return None
    import numpy as np

    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            arrays = [archive[k] for k in archive.files]
    except (ValueError, OSError, zipfile.BadZipFile):
        return None
    if any(a.dtype.kind not in "biufcU" for a in arrays):
        return None
    return "\n".join(str(s) for a in arrays if a.dtype.kind == "U" for s in a.ravel())


def find_leaks(tree: Path, secrets: dict[str, Secret]) -> list[Leak]:
    """Every secret line in a file of ``tree``, and every file the check cannot read (a
    binary file that is neither a known media file nor a numeric NumPy archive)."""
    leaks = []
    for path in sorted(p for p in tree.rglob("*") if p.is_file() or p.is_symlink()):
        rel = path.relative_to(tree).as_posix()
        if path.is_symlink():
            leaks.append(Leak(rel, "(a symbolic link)", Secret(rel, UNREADABLE)))
            continue
        data = path.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = binary_text(rel, data)
            if text is None:
                leaks.append(Leak(rel, "(binary content)", Secret(rel, UNREADABLE)))
                continue
        for line in sorted(text_lines(text) & secrets.keys()):
            leaks.append(Leak(rel, line, secrets[line]))
    return leaks


# --------------------------------------------------------------------------------------------
# The tree
# --------------------------------------------------------------------------------------------

def tracked_files(root: Path) -> list[str]:
    """The files git tracks in ``root`` (``git ls-files``), as paths relative to it."""
    try:
        out = subprocess.run(["git", "-C", str(root), "ls-files", "-z"], capture_output=True,
                             check=True).stdout
    except (OSError, subprocess.CalledProcessError) as err:
        raise PublishRefused(f"{root} is not a git repository (publish copies the files "
                             f"`git ls-files` lists): {err}") from None
    return [p for p in out.decode("utf-8").split("\0") if p]


def is_published(rel: str) -> bool:
    """Is the tracked file ``rel`` one the learners get (the allow-list)?"""
    return rel.startswith(PUBLISHED_FOLDERS) or rel in PUBLISHED_FILES


def learners_makefile(makefile: str) -> str:
    """The instructor's Makefile cut to :data:`MAKE_TARGETS` and :data:`MAKE_VARIABLES`."""
    out = ["# The learners' tree: `make book` sets up .venv and builds the book.",
           "", "\n".join(_variables(makefile)), "",
           ".PHONY: " + " ".join(t for t in MAKE_TARGETS if not t.startswith("$")), ""]
    for block in re.split(r"\n\s*\n", makefile):
        rule = next((ln for ln in block.splitlines() if ln and not ln.startswith("#")), "")
        target = rule.split(":", 1)[0].strip() if ":" in rule and "=" not in rule.split(":")[0] \
            else None
        if target in MAKE_TARGETS:
            out += [block.strip("\n"), ""]
    return "\n".join(out)


def _variables(makefile: str) -> list[str]:
    """The assignments of :data:`MAKE_VARIABLES` in ``makefile``, in order."""
    pattern = re.compile(r"^(\w+)\s*[:?]?=")
    return [ln for ln in makefile.splitlines()
            if (m := pattern.match(ln)) and m.group(1) in MAKE_VARIABLES]


def learners_readme() -> str:
    """The README of the learners' tree."""
    return (
        "# Recurrent Neural Networks: an open course (learners' edition)\n\n"
        "The book (`book/`), the assignments as you get them (`exercises/`) and the package\n"
        "every notebook imports (`rnncourse/`). `make book` creates `.venv` and builds the\n"
        "book into `_build/html/index.html`.\n\n"
        "Your course runs a grading service, and the tests of the exercises run there: each\n"
        "test cell sends the saved notebook (once per version) and shows its result. Set the\n"
        "service's address and your token first (RNNCOURSE_SERVICE and RNNCOURSE_TOKEN, or\n"
        "~/.rnncourse.json; the learners' guide, *Checking your work before you submit*).\n"
        "To see the whole result at once: `from rnncourse.check import check; check()`.\n")


def _assignment_of(rel: str) -> str:
    """The assignment of the exercise notebook ``rel``: its folder under ``exercises/``."""
    parts = rel.split("/")
    return parts[1] if len(parts) > 2 else Path(rel).stem


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def _fresh_dest(dest: Path) -> None:
    """Refuse a ``dest`` that holds anything (publish never writes over files)."""
    if dest.is_symlink() or (dest.exists() and (not dest.is_dir() or any(dest.iterdir()))):
        raise PublishRefused(f"{dest} exists and is not an empty folder: give a new folder "
                             "(publish never writes over files)")


def publish(root: Path, dest: Path) -> PublishReport:
    """Write the learners' tree of the repository ``root`` into the new folder ``dest``.

    The tree is built beside ``dest`` and checked (:func:`find_leaks`) before it is moved
    there: when the check finds a leak, nothing is left at ``dest`` and :class:`LeakFound`
    lists each one.
    """
    root, dest = Path(root).resolve(), Path(dest).absolute()
    _fresh_dest(dest)
    tracked = tracked_files(root)
    if not any(rel.startswith("solutions/") and rel.endswith(".ipynb") for rel in tracked):
        raise PublishRefused(f"{root} tracks no source notebook in solutions/: run publish in "
                             "the instructor's repository (it reads the hidden tests and the "
                             "solutions there to check that the learners' tree holds none)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    report = PublishReport(dest)
    try:
        for rel in tracked:
            src = root / rel
            if rel in GENERATED_FILES or not is_published(rel):
                report.left_out[rel] = ("written for the learners" if rel in GENERATED_FILES
                                        else "not for the learners")
            elif src.is_symlink():
                report.left_out[rel] = "a symbolic link (only regular files are published)"
            elif not src.is_file():
                report.left_out[rel] = "deleted in the working tree"
            elif rel.startswith("exercises/") and rel.endswith(".ipynb"):
                out = staging / rel
                out.parent.mkdir(parents=True, exist_ok=True)
                try:
                    text = learners_notebook(src.read_text(encoding="utf-8"),
                                             _assignment_of(rel), rel)
                except NotPublishable as err:
                    raise PublishRefused(str(err)) from None
                out.write_text(text, encoding="utf-8")
                report.published.append(rel)
            else:
                _copy(src, staging / rel)
                report.published.append(rel)
        makefile = root / "Makefile"
        if makefile.is_file():
            (staging / "Makefile").write_text(learners_makefile(makefile.read_text()))
        (staging / "README.md").write_text(learners_readme())
        report.published += list(GENERATED_FILES)
        leaks = find_leaks(staging, secret_lines(root, tracked))
        if leaks:
            shown = "\n".join(f"  {leak}" for leak in leaks[:20])
            more = f"\n  ... and {len(leaks) - 20} more" if len(leaks) > 20 else ""
            raise LeakFound(f"the learners' tree would hold {len(leaks)} secret line(s); "
                            f"nothing was written at {dest}. Remove them from the files "
                            f"named (or, if a line is public on purpose, add it to "
                            f"PUBLIC_LINES in autograder/commands/publish.py with the "
                            f"reason):\n{shown}{more}")
        if dest.is_dir():
            dest.rmdir()
        os.replace(staging, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return report
