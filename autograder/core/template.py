"""The *template course* of an assignment: its source, generated once by nbgrader.

It holds only that assignment's source and a gradebook that knows every test, hidden ones
included, and lives in ``grading/cache/<assignment>-<hash of the source>``: a new version of
the source gets a new template. Grading copies it to a scratch folder per submission. A
template is built in a folder marked with its builder (``runner.leftovers``) and renamed
when done: a build whose process was killed is removed by the next one.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from autograder.core.course import run_nbgrader, source_notebook
from autograder.files import files_sha256
from autograder.runner import leftovers
from autograder.settings import cache_dir, gradebook_file


def source_hash(folder: Path) -> str:
    """A hash of every file of an assignment's source folder, names and contents."""
    return files_sha256(folder, [p for p in folder.rglob("*") if p.is_file()])[:16]


def template_course(root: Path, assignment: str) -> Path:
    """The generated template course of ``assignment``, built once per version of its source."""
    src = source_notebook(root, assignment).parent
    cache = cache_dir(root) / f"{assignment}-{source_hash(src)}"
    if gradebook_file(cache).exists():
        return cache
    cache.parent.mkdir(parents=True, exist_ok=True)
    leftovers.sweep(cache.parent)
    build = leftovers.mkdtemp(f".{assignment}", dir=cache.parent)
    shutil.copytree(src, build / "solutions" / assignment)
    run_nbgrader(build, "generate_assignment", assignment, "--force")
    (build / "nbgrader_config.py").unlink()  # written again for wherever the copy lands
    try:
        os.rename(build, cache)
    except OSError:  # another process built it first
        shutil.rmtree(build, ignore_errors=True)
    return cache
