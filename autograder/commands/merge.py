"""``merge``: store into this course's gradebook the results graded in another copy of the
course (its grading/results/ and grading/autograded/ folders), a thin use of
``core.gradebook.store``."""

from __future__ import annotations

from pathlib import Path

from autograder.core.gradebook import merge as merge_results


def merge(root: Path, other: Path) -> list[str]:
    """The ``assignment/student`` names merged from the course copy ``other``."""
    return merge_results(root, other)
