"""The learners' tree (``publish``): the book, the exercises and ``rnncourse``, and no
reference solution, no hidden test and no answer key, however one got into a published file.

The checks here read the tree on their own (nbformat, nbgrader's hidden-test rule), not
through ``publish``'s own leak check, so a fault in that check does not hide a leak here.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest
from nbgrader.utils import compute_checksum
from nbgrader.validator import Validator

from autograder.commands.publish import (
    PUBLIC_LINES,
    LeakFound,
    PublishRefused,
    find_leaks,
    is_published,
    is_trivial,
    normalise,
    publish,
    secret_lines,
    tracked_files,
)
from autograder.core.course import find_root
from autograder.core.learners_notebook import NotPublishable, learners_notebook
from autograder.runner.hidetests import hidden_line_numbers
from tests.builders import grade_cell, notebook

ROOT = find_root()
TRACKED = tracked_files(ROOT)
SOURCES = sorted(p for p in TRACKED if p.startswith("solutions/") and p.endswith(".ipynb"))
KEYS = sorted(p for p in TRACKED if p.startswith("autograder/keys/"))
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS")


def lines_of_tree(tree: Path) -> dict[str, set[str]]:
    """Each text file of ``tree`` -> its normalised lines (a notebook's: those of its cells'
    sources and outputs too)."""
    out = {}
    for path in tree.rglob("*"):
        if not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        lines = {normalise(x) for x in text.splitlines()}
        if path.suffix == ".ipynb":
            for cell in nbformat.reads(text, as_version=4).cells:
                lines |= {normalise(x) for x in cell.source.splitlines()}
                for o in cell.get("outputs", []):
                    lines |= {normalise(x) for x in json.dumps(o).split("\\n")}
        out[path.relative_to(tree).as_posix()] = lines
    return out


def released_lines() -> set[str]:
    """Every line of the repository's release (exercises/): public by nbgrader's rule."""
    lines = set()
    for rel in TRACKED:
        if rel.startswith("exercises/") and rel.endswith(".ipynb"):
            for cell in nbformat.read(ROOT / rel, as_version=4).cells:
                lines |= {normalise(x) for x in cell.source.splitlines()}
    return lines


def hidden_test_lines() -> set[str]:
    """Every line of a hidden test of every source notebook (nbgrader's rule), markers aside."""
    lines = set()
    for rel in SOURCES:
        for cell in nbformat.read(ROOT / rel, as_version=4).cells:
            src = cell.source.split("\n")
            lines |= {normalise(src[n - 1]) for n in hidden_line_numbers(cell.source)}
    return {x for x in lines if x and not any(m in x for m in MARKERS)}


def solution_lines() -> set[str]:
    """Every non-trivial line between ``BEGIN SOLUTION`` and ``END SOLUTION`` in the sources."""
    lines, inside = set(), False
    for rel in SOURCES:
        for cell in nbformat.read(ROOT / rel, as_version=4).cells:
            for line in cell.source.split("\n"):
                if "BEGIN SOLUTION" in line or "END SOLUTION" in line:
                    inside = "BEGIN" in line
                elif inside and not is_trivial(normalise(line)):
                    lines.add(normalise(line))
    return lines


def leaks(tree: Path, secrets: set[str]) -> list[tuple[str, str]]:
    """(file, line) for each secret line found in a file of ``tree``."""
    return sorted((f, x) for f, lines in lines_of_tree(tree).items() for x in lines & secrets)


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """The learners' tree of this repository."""
    dest = tmp_path_factory.mktemp("learners") / "tree"
    publish(ROOT, dest)
    return dest


def git_copy(dest: Path) -> Path:
    """A git repository at ``dest`` holding this repository's tracked files (in its index)."""
    for rel in TRACKED:
        if (ROOT / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ROOT / rel, dest / rel)
    subprocess.run(["git", "init", "-q", str(dest)], check=True)
    subprocess.run(["git", "-C", str(dest), "add", "-A"], check=True)
    return dest


@pytest.fixture
def repo(tmp_path) -> Path:
    """A throwaway copy of the instructor's repository, to plant leaks in."""
    return git_copy(tmp_path / "repo")


def track(repo: Path, rel: str, content: str | bytes) -> None:
    """Write ``rel`` in ``repo`` and track it."""
    path = repo / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    subprocess.run(["git", "-C", str(repo), "add", "-f", rel], check=True)


def a_solution_line() -> str:
    """A line of rnn_forward's reference solution (the answer itself)."""
    return next(x for x in sorted(solution_lines()) if "np.tanh" in x)


# ---- the learners' tree of this repository ---------------------------------------------------

def test_the_tree_holds_the_book_the_exercises_and_the_package(tree):
    for rel in ("_config.yml", "_toc.yml", "book/intro.md", "rnncourse/__init__.py",
                "requirements.lock", "Makefile", "README.md"):
        assert (tree / rel).is_file(), rel


def test_the_trees_exercises_are_the_repositorys_with_their_tests_on_the_service(tree):
    """Are the learners' exercises, file by file, the release of the repository, each cell
    as released but the ones that need the test helpers (the helper cell, the test cells and
    a self-check that calls a helper)?"""
    ours = sorted(p for p in TRACKED if p.startswith("exercises/"))
    theirs = sorted(p.relative_to(tree).as_posix() for p in (tree / "exercises").rglob("*")
                    if p.is_file())
    assert theirs == ours
    for rel in ours:
        if not rel.endswith(".ipynb"):
            assert (tree / rel).read_bytes() == (ROOT / rel).read_bytes()
            continue
        released = nbformat.read(ROOT / rel, as_version=4)
        published = nbformat.read(tree / rel, as_version=4)
        assert len(published.cells) == len(released.cells)
        for before, after in zip(released.cells, published.cells, strict=True):
            if before.source != after.source:
                assert before.metadata["nbgrader"]["locked"], rel
                assert uses_helpers(before.source, helper_names(released)), rel
            else:
                assert after == before


def helper_names(nb) -> set[str]:
    """The names the notebook's cells import from autograder.keys."""
    names = set()
    for cell in nb.cells:
        if cell.cell_type == "code" and "autograder.keys" in cell.source:
            for node in ast.walk(ast.parse(cell.source)):
                if isinstance(node, ast.ImportFrom):
                    names |= {a.asname or a.name for a in node.names}
    return names


def uses_helpers(source: str, names: set[str]) -> bool:
    """Does the code import autograder, or name one of ``names``?"""
    tree = ast.parse(source)
    return "autograder" in source or any(
        isinstance(n, ast.Name) and n.id in names for n in ast.walk(tree))


def exercise_notebooks(tree: Path) -> list[Path]:
    return sorted((tree / "exercises").rglob("*.ipynb"))


def test_no_cell_of_a_published_exercise_needs_the_test_helpers(tree):
    """Run All in the learners' tree: does a cell import autograder or call a helper?"""
    for path in exercise_notebooks(tree):
        names = helper_names(nbformat.read(ROOT / path.relative_to(tree), as_version=4))
        assert names, f"{path.name} imports no helper: this test would check nothing"
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code" and not cell.source.startswith("%"):
                assert not uses_helpers(cell.source, names), (path.name, cell.source)


def test_each_test_cell_keeps_its_docstring_and_runs_that_test_on_the_service(tree):
    checked = 0
    for path in exercise_notebooks(tree):
        released = {c.metadata["nbgrader"]["grade_id"]: c for c in nbformat.read(
            ROOT / path.relative_to(tree), as_version=4).cells if "nbgrader" in c.metadata}
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if not (meta.get("grade") and not meta.get("solution")):
                continue
            before = ast.parse(released[meta["grade_id"]].source)
            after = ast.parse(cell.source)
            assert ast.get_docstring(after) == ast.get_docstring(before)
            assert ast.get_docstring(after), meta["grade_id"]
            assert cell.source.splitlines()[-1] == (
                f'service_test("{path.parent.name}", "{meta["grade_id"]}")')
            assert len(after.body) == 2
            checked += 1
    assert checked > 50


def test_the_helper_cell_imports_service_test(tree):
    for path in exercise_notebooks(tree):
        helpers = [c for c in nbformat.read(path, as_version=4).cells
                   if c.metadata.get("nbgrader", {}).get("grade_id") == "setup_checks"]
        assert len(helpers) == 1
        assert helpers[0].source.splitlines()[-1] == "from rnncourse.check import service_test"


def test_every_locked_cell_carries_the_checksum_of_its_text(tree):
    """nbgrader's Validate calls a locked cell whose checksum differs "changed": are the
    rewritten cells' checksums those of their new text?"""
    rewritten = 0
    for path in exercise_notebooks(tree):
        released = nbformat.read(ROOT / path.relative_to(tree), as_version=4)
        published = nbformat.read(path, as_version=4).cells
        for before, cell in zip(released.cells, published, strict=True):
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("locked") or meta.get("grade"):
                assert meta["checksum"] == compute_checksum(cell), meta["grade_id"]
                rewritten += before.source != cell.source
        assert Validator()._get_changed_cells(nbformat.read(path, as_version=4)) == []
    assert rewritten > 50


def test_the_published_tree_passes_publishs_own_leak_check(tree):
    """The rewritten cells hold no secret, by publish's own rule."""
    assert find_leaks(tree, secret_lines(ROOT, TRACKED)) == []


def release_notebook(*cells) -> str:
    """An exercise notebook of ``cells`` (nbgrader's test-cell builders)."""
    return nbformat.writes(notebook(*cells))


@pytest.mark.parametrize("grade_id", ['x", "y"); import os; ("', "../admin", "<b>t</b>",
                                      "test one", "t\n"])
def test_a_test_name_service_test_would_refuse_stops_publish(grade_id):
    """The test's name goes into the code of the cell: only a plain name is written."""
    text = release_notebook(grade_cell("assert True", grade_id, 1))
    with pytest.raises(NotPublishable, match="has a name service_test does not take"):
        learners_notebook(text, "add", "exercises/add/add.ipynb")


@pytest.mark.parametrize("assignment", ['add"); import os; ("', "a b", "<i>add</i>"])
def test_an_assignment_folder_service_test_would_refuse_stops_publish(assignment):
    text = release_notebook(grade_cell("assert True", "test_add", 1))
    with pytest.raises(NotPublishable, match="is not one service_test takes"):
        learners_notebook(text, assignment, f"exercises/{assignment}/x.ipynb")


def test_a_notebook_without_a_helper_cell_imports_service_test_in_each_test():
    text = release_notebook(grade_cell('"""add adds."""\nassert add(1, 2) == 3', "test_add", 2))
    cell = nbformat.reads(learners_notebook(text, "add"), as_version=4).cells[0]
    assert cell.source == ('"""add adds."""\nfrom rnncourse.check import service_test\n'
                           'service_test("add", "test_add")')


def test_the_tree_holds_no_hidden_test_line(tree):
    """Does any line of any hidden test of any source notebook appear in a file of the tree
    (a line that a visible test of the release also holds is public)?"""
    secrets = hidden_test_lines() - released_lines()
    assert secrets, "the sources hold no hidden test: this test would check nothing"
    assert leaks(tree, secrets) == []


def test_the_tree_holds_no_line_of_a_reference_solution(tree):
    secrets = solution_lines() - released_lines() - set(PUBLIC_LINES)
    assert secrets
    assert leaks(tree, secrets) == []


def test_the_tree_holds_no_answer_key(tree):
    """No file of autograder/keys, by path or by content, and no line of one."""
    assert not (tree / "autograder").exists()
    assert not (tree / "solutions").exists() and not (tree / "tests").exists()
    keys = {(ROOT / k).read_bytes() for k in KEYS}
    assert not [p for p in tree.rglob("*") if p.is_file() and p.read_bytes() in keys]
    key_lines = {normalise(x) for k in KEYS for x in (ROOT / k).read_text().splitlines()}
    secrets = {x for x in key_lines if not is_trivial(x) and not x.startswith(("import ",
                                                                                "from "))}
    assert leaks(tree, secrets - released_lines() - set(PUBLIC_LINES)) == []


def test_nothing_that_imports_the_keys_is_published_but_the_exercises(tree):
    """Only the exercises' test-helper cell names autograder (the learners' tree cannot run
    it: their tests run on the grading service)."""
    naming = sorted(p.relative_to(tree).as_posix() for p in tree.rglob("*.py")
                    if "autograder.keys" in p.read_text())
    assert naming == ["rnncourse/__init__.py"]  # its docstring says the keys are not there
    assert "import" not in next(x for x in (tree / "rnncourse/__init__.py").read_text()
                                .splitlines() if "autograder.keys" in x)


@pytest.mark.parametrize("line", sorted(PUBLIC_LINES))
def test_each_line_declared_public_is_shown_by_the_book_or_the_package(line):
    shown = [p for p in TRACKED if p.startswith(("book/", "rnncourse/")) and p.endswith(
        (".md", ".py")) and line in {normalise(x) for x in (ROOT / p).read_text().splitlines()}]
    assert shown, f"{line!r} is in PUBLIC_LINES but nothing public shows it: remove it"


def test_only_the_allow_list_is_published():
    published = [p for p in TRACKED if is_published(p)]
    assert not [p for p in published if p.startswith(("solutions/", "autograder/", "tests/",
                                                       "benchmarks/", ".ci/"))]
    assert [p for p in published if p.startswith("exercises/")]


def test_the_learners_makefile_builds_the_book_and_runs_no_tests(tree):
    text = (tree / "Makefile").read_text()
    assert "\nbook: venv build" in text and "\nbuild: venv" in text
    assert "pytest" not in text and "\ntest:" not in text and "prereqs" not in text
    assert (tree / "scripts/lockfile.py").is_file()  # what `make venv` runs


def test_the_book_workflow_is_published_and_the_test_workflow_is_not(tree):
    assert (tree / ".github/workflows/book.yml").is_file()
    assert not (tree / ".github/workflows/test.yml").exists() and not (tree / ".ci").exists()


# ---- what publish copies, and where ------------------------------------------------------------

def test_untracked_and_ignored_files_are_not_published(repo, tmp_path):
    (repo / "book/draft.md").write_text("an untracked draft\n")
    (repo / "grading").mkdir()
    (repo / "grading/gradebook.db").write_text("ignored\n")
    publish(repo, tmp_path / "out")
    assert not (tmp_path / "out/book/draft.md").exists()
    assert not (tmp_path / "out/grading").exists()


def test_a_destination_that_holds_files_is_refused(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out/keep.txt").write_text("mine\n")
    with pytest.raises(PublishRefused, match="not an empty folder"):
        publish(ROOT, tmp_path / "out")
    assert (tmp_path / "out/keep.txt").read_text() == "mine\n"


def test_a_repository_without_the_sources_is_refused(tmp_path):
    """Without solutions/ the check would know no secret: publish the instructor's tree."""
    repo = tmp_path / "learners"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    track(repo, "book/intro.md", "# A book\n")
    with pytest.raises(PublishRefused, match="tracks no source notebook"):
        publish(repo, tmp_path / "out")


def test_a_folder_that_is_not_a_git_repository_is_refused(tmp_path):
    with pytest.raises(PublishRefused, match="not a git repository"):
        publish(tmp_path, tmp_path / "out")


# ---- hostile: leaks planted in published files -----------------------------------------------

def test_a_solution_line_copied_into_a_book_page_is_caught(repo, tmp_path):
    """Is the check on content: a reference line in a published page stops publish?"""
    page = repo / "book/intro.md"
    track(repo, "book/intro.md", page.read_text() + f"\n```python\n    {a_solution_line()}\n```\n")
    with pytest.raises(LeakFound, match="book/intro.md: a line of the solution"):
        publish(repo, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_key_copied_into_a_new_folder_of_the_package_is_caught(repo, tmp_path):
    """A tracked file in a new (published) folder: a copy of the reference implementations."""
    track(repo, "rnncourse/extra/ref.py", (ROOT / "autograder/keys/reference.py").read_text())
    with pytest.raises(LeakFound, match="rnncourse/extra/ref.py: a line of the answer key"):
        publish(repo, tmp_path / "out")


def test_a_hidden_test_in_a_notebooks_output_is_caught(repo, tmp_path):
    """A hidden line inside a notebook's JSON (an output), escaped as JSON escapes it."""
    hidden = sorted(hidden_test_lines() - released_lines())[0]
    nb = nbformat.read(repo / "exercises/rnn_forward/rnn_forward.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("print(1)", outputs=[nbformat.v4.new_output(
        "stream", name="stdout", text=f"before\n        {hidden}\nafter\n")]))
    track(repo, "book/leaked.ipynb", nbformat.writes(nb))
    with pytest.raises(LeakFound, match="book/leaked.ipynb: a line of the hidden test"):
        publish(repo, tmp_path / "out")


def test_an_archive_in_the_books_static_folder_is_refused(repo, tmp_path):
    """A zip (of solutions, say) is binary the check cannot read, under any name."""
    blob = shutil.make_archive(str(tmp_path / "sol"), "zip", ROOT / "solutions/rnn_forward")
    data = Path(blob).read_bytes()
    track(repo, "book/_static/answers.zip", data)
    track(repo, "book/_static/figure.png", data)
    with pytest.raises(LeakFound) as err:
        publish(repo, tmp_path / "out")
    assert "book/_static/answers.zip: (binary content)" in str(err.value)
    assert "book/_static/figure.png: (binary content)" in str(err.value)


def test_a_tracked_link_to_the_solutions_is_not_followed(repo, tmp_path):
    os.symlink("../solutions/rnn_forward/rnn_forward.ipynb", repo / "book/answers.ipynb")
    subprocess.run(["git", "-C", str(repo), "add", "book/answers.ipynb"], check=True)
    report = publish(repo, tmp_path / "out")
    assert not (tmp_path / "out/book/answers.ipynb").exists()
    assert "symbolic link" in report.left_out["book/answers.ipynb"]
