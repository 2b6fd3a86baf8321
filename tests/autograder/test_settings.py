"""The course's folders are nbgrader's CourseDirectory's, as the course configuration sets them."""

from __future__ import annotations

from pathlib import Path

import pytest
from nbgrader.coursedir import CourseDirectory

from autograder import settings
from autograder.errors import AutograderError

ROOT = Path("/srv/course")


@pytest.fixture
def configured(tmp_path, monkeypatch):
    """Give the course a configuration of its own: the course's, plus ``lines``."""
    def configure(*lines: str) -> None:
        path = tmp_path / "config" / "nbgrader_config.py"
        path.parent.mkdir(exist_ok=True)
        path.write_text("\n".join(["c = get_config()  # noqa: F821",
                                   f"load_subconfig({str(settings.NBGRADER_CONFIG)!r})",
                                   *lines, ""]))
        monkeypatch.setattr(settings, "NBGRADER_CONFIG", path)
        clear()

    def clear() -> None:
        settings.course_config.cache_clear()
        settings.course_directory.cache_clear()

    yield configure
    clear()  # the next test reads the course's own configuration again


def coursedir(root: Path) -> CourseDirectory:
    """nbgrader's CourseDirectory for ``root``, configured as nbgrader is in the course."""
    return CourseDirectory(config=settings.course_config(), root=str(root))


@pytest.mark.parametrize(("folder", "step"), [(settings.submitted_dir, "submitted_directory"),
                                               (settings.autograded_dir, "autograded_directory"),
                                               (settings.feedback_dir, "feedback_directory")])
def test_a_learners_folder_is_where_nbgrader_looks_for_it(folder, step):
    """Is ``<folder>/<student>/<assignment>`` the path nbgrader's commands use?"""
    nbgrader = coursedir(ROOT)
    expected = nbgrader.format_path(getattr(nbgrader, step), "s1", "rnn_forward")
    assert folder(ROOT) / "s1" / "rnn_forward" == Path(expected)


def test_the_gradebook_is_the_database_nbgrader_is_configured_with():
    assert settings.db_url(ROOT) == coursedir(ROOT).db_url.replace(
        "sqlite:///", f"sqlite:///{ROOT}/")
    assert settings.gradebook_file(ROOT) == ROOT / "grading" / "gradebook.db"


def test_what_nbgrader_has_no_folder_for_lives_beside_its_folders():
    grading = settings.grading_dir(ROOT)
    assert settings.submitted_dir(ROOT).parent == grading
    for folder in (settings.results_dir, settings.cache_dir, settings.logs_dir,
                   settings.export_dir):
        assert folder(ROOT).parent == grading


def test_a_relative_root_gives_relative_paths_as_before():
    assert settings.submitted_dir(Path("course")) == Path("course/grading/submitted")


def test_the_folders_follow_a_change_of_the_configuration(configured):
    """Is the configuration the one place the folders are named (no second spelling)?"""
    configured("c.CourseDirectory.submitted_directory = 'work/incoming'",
               "c.CourseDirectory.autograded_directory = 'work/graded'",
               "c.CourseDirectory.feedback_directory = 'work/feedback'",
               "c.CourseDirectory.db_url = 'sqlite:///work/grades.db'")
    assert settings.submitted_dir(ROOT) == ROOT / "work" / "incoming"
    assert settings.autograded_dir(ROOT) == ROOT / "work" / "graded"
    assert settings.feedback_dir(ROOT) == ROOT / "work" / "feedback"
    assert settings.logs_dir(ROOT) == ROOT / "work" / "logs"
    assert settings.db_url(ROOT) == f"sqlite:///{ROOT}/work/grades.db"


def test_a_gradebook_server_in_the_course_configuration_is_refused_with_what_to_do(configured):
    """Template and scratch courses keep a SQLite gradebook; a server belongs in the course
    root's own nbgrader_config.py, which ``course.gradebook_url`` reads."""
    configured("c.CourseDirectory.db_url = 'postgresql://grader@db/course'")
    with pytest.raises(AutograderError, match="course root's nbgrader_config.py"):
        settings.gradebook_file(ROOT)


def test_the_configuration_is_read_once_per_process():
    settings.submitted_dir(ROOT)
    before = settings.course_directory.cache_info()
    for _ in range(3):
        settings.submitted_dir(ROOT), settings.db_url(ROOT), settings.logs_dir(ROOT)
    after = settings.course_directory.cache_info()
    assert after.misses == before.misses and after.hits > before.hits


def test_the_course_id_is_the_configured_one():
    assert settings.COURSE_ID == settings.course_directory().course_id
