"""collect: who each file belongs to, where it is stored, and what the report says.

The hostile cases (links, archives that lie, names that collide) are in
tests/autograder/catalogues/test_hostile_collect.py; these are the everyday ones.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from autograder.commands.collect import collect
from autograder.core.exports import TooLarge, printable, read_bounded
from autograder.core.learners import Identity, fold, origin, slug, student_id
from autograder.errors import AutograderError
from tests.builders import add_assignment, answered_notebook, make_course
from tests.builders import zip_export as export

CORRECT = "def add(a, b):\n    return a + b"




def learner_notebook(answer: str = CORRECT) -> bytes:
    """A learner's notebook of ``add`` (its answer cell carries the assignment's cell id)."""
    return answered_notebook(answer)


@pytest.fixture
def course(tmp_path) -> Path:
    return make_course(tmp_path / "course", {"add": add_assignment()})




def stored(course: Path) -> dict[str, bytes]:
    """Every stored notebook, by its path under grading/submitted."""
    base = course / "grading" / "submitted"
    return {p.relative_to(base).as_posix(): p.read_bytes() for p in base.rglob("*.ipynb")}


# -- who a file belongs to -------------------------------------------------------------------

def test_a_folder_layout_keeps_its_student_folders_as_ids(course, tmp_path):
    for student in ("alice", "bob"):
        path = tmp_path / "inbox" / student / "add" / "add.ipynb"
        path.parent.mkdir(parents=True)
        path.write_bytes(learner_notebook())
    report = collect(course, tmp_path / "inbox", progress=False)
    assert sorted(s for s, _, _ in report.imported) == ["alice", "bob"]
    assert sorted(stored(course)) == ["alice/add/add.ipynb", "bob/add/add.ipynb"]


@pytest.mark.parametrize("member, student", [
    ("doejane_12345_678901_add.ipynb", "doejane_12345"),  # Canvas
    ("doejane_LATE_12345_678901_add-1.ipynb", "doejane_12345"),  # Canvas, late resubmission
    ("Jane Doe_424242_assignsubmission_file_/add.ipynb", "jane_doe_424242"),  # Moodle
    ("Jane Doe_424242_assignsubmission_file_add.ipynb", "jane_doe_424242"),  # Moodle, flat
])
def test_an_lms_export_keeps_the_learner_s_lms_id(course, tmp_path, member, student):
    archive = export(tmp_path / "export.zip", {member: learner_notebook(),
                                               "feedback_template.docx": b"nothing"})
    report = collect(course, archive, progress=False)
    assert report.imported == [(student, "add", member)]
    assert [f for f, _ in report.unmatched] == ["feedback_template.docx"]
    assert list(stored(course)) == [f"{student}/add/add.ipynb"]


def test_an_lms_id_is_read_only_where_the_lms_puts_it():
    """Does a learner's own file name, deeper in the path, ever decide whose file it is?"""
    found = origin(("alice", "add", "doejane_12345_678901_add.ipynb"))
    assert found.identity == Identity("folder", "alice", "alice")
    found = origin(("Mallory_7_assignsubmission_file_", "Jane Doe_424242_assignsubmission_"
                    "file_add.ipynb"))
    assert found.identity.token == "moodle:7"


def test_names_fold_to_ascii_without_accents():
    assert fold("José Núñez") == "jose_nunez"
    assert fold("Jose\u0301") == "jose"  # NFD
    assert fold("王芳") == "learner"
    assert len(fold("x" * 300)) == 40


def test_an_lms_learner_s_name_keeps_its_letters_in_any_script_in_the_id():
    assert slug("José Núñez") == "josé_núñez"
    assert slug("Jose\u0301") == "josé"  # NFD: one learner with the NFC form
    assert slug("王芳") == "王芳"
    assert slug("O'Brien, Seán\u202e") == "o_brien_seán"
    assert slug("!!!") == "learner" and len(slug("x" * 300)) == 40


def test_a_folder_with_a_plain_name_in_any_script_keeps_it_as_its_id():
    assert [student_id(Identity("folder", n, n)) for n in ("José", "Jose", "王芳", "a.b-c")] == \
        ["José", "Jose", "王芳", "a.b-c"]


@pytest.mark.parametrize("name", ["Jane Doe", ".hidden", "a\u202eb", "x" * 65, "_x", "a/b"])
def test_a_folder_with_an_unsafe_name_gets_a_slug_with_a_digest(name):
    sid = student_id(Identity("folder", name, name))
    assert sid != name and len(sid) <= 64 and sid.isprintable()
    assert sid[-9] == "_" and all(c in "0123456789abcdef" for c in sid[-8:])


def test_a_learner_renamed_in_the_lms_keeps_their_id(course, tmp_path):
    collect(course, export(tmp_path / "a.zip", {
        "Jane Doe_424242_assignsubmission_file_/add.ipynb": learner_notebook()}),
        progress=False)
    report = collect(course, export(tmp_path / "b.zip", {
        "Jane Smith_424242_assignsubmission_file_/add.ipynb": learner_notebook("x = 1")}),
        progress=False)
    assert [s for s, _, _ in report.updated] == ["jane_doe_424242"]
    assert any("keeps the id jane_doe_424242" in n for n in report.notes)
    assert list(stored(course)) == ["jane_doe_424242/add/add.ipynb"]


def test_zip_names_in_utf8_without_the_utf8_flag_are_read_as_utf8(course, tmp_path):
    """An archiver that writes UTF-8 names but not the flag: zipfile reads them as cp437."""
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("José Núñez_9_assignsubmission_file_/add.ipynb")
        zf.writestr(info, learner_notebook())
    raw = bytearray(archive.read_bytes())
    central = raw.index(b"PK\x01\x02")
    for flags in (6, central + 8):  # the flags of the local header and of the central entry
        raw[flags + 1] &= ~0x08  # clear bit 11, UTF-8
    archive.write_bytes(raw)
    with zipfile.ZipFile(archive) as zf:
        assert not zf.infolist()[0].flag_bits & 0x800
    report = collect(course, archive, progress=False)
    assert [s for s, _, _ in report.imported] == ["josé_núñez_9"]


# -- what is stored -----------------------------------------------------------------------------

def test_collecting_the_same_export_twice_imports_nothing_the_second_time(course, tmp_path):
    archive = export(tmp_path / "export.zip", {
        "doejane_12345_678901_add.ipynb": learner_notebook()})
    collect(course, archive, progress=False)
    again = collect(course, archive, progress=False)
    assert again.imported == [] and again.updated == [] and len(again.skipped) == 1


def test_a_learner_s_changed_notebook_replaces_their_older_one(course, tmp_path):
    collect(course, export(tmp_path / "a.zip", {
        "doejane_12345_678901_add.ipynb": learner_notebook()}), progress=False)
    report = collect(course, export(tmp_path / "b.zip", {
        "doejane_12345_678902_add.ipynb": learner_notebook("x = 1")}), progress=False)
    assert [s for s, _, _ in report.updated] == ["doejane_12345"]
    assert stored(course) == {"doejane_12345/add/add.ipynb": learner_notebook("x = 1")}


def test_a_plain_file_name_of_the_learner_is_kept(course, tmp_path):
    """The grader then says which file it graded as add.ipynb."""
    report = collect(course, export(tmp_path / "e.zip", {
        "doejane_12345_678901_my homework (2).ipynb": learner_notebook()}),
        assignment="add", progress=False)
    assert report.notes == []
    assert list(stored(course)) == ["doejane_12345/add/my homework (2).ipynb"]


def test_the_record_of_learners_is_written_beside_the_submissions(course, tmp_path):
    collect(course, export(tmp_path / "e.zip", {
        "doejane_12345_678901_add.ipynb": learner_notebook()}), progress=False)
    record = json.loads((course / "grading" / "submitted" / ".learners.json").read_text())
    assert record["learners"] == {"doejane_12345": {"identity": "canvas:12345",
                                                    "name": "doejane",
                                                    "lms": {"canvas_id": "12345"}}}


def test_a_damaged_record_of_learners_stops_collect_with_what_to_do(course, tmp_path):
    record = course / "grading" / "submitted" / ".learners.json"
    record.parent.mkdir(parents=True)
    record.write_text("{")
    with pytest.raises(AutograderError, match="restore it"):
        collect(course, export(tmp_path / "e.zip", {}), progress=False)


def test_an_unreadable_notebook_named_after_its_assignment_is_imported_for_the_grader(
        course, tmp_path):
    """The grader then grades it as blank and says why, so the learner is not left out."""
    report = collect(course, export(tmp_path / "e.zip", {
        "doejane_12345_678901_add.ipynb": b"not json"}), progress=False)
    assert report.imported == [("doejane_12345", "add", "doejane_12345_678901_add.ipynb")]


# -- the report ---------------------------------------------------------------------------------

def test_the_report_lists_what_is_not_a_notebook_and_exits_zero(course, tmp_path):
    report = collect(course, export(tmp_path / "e.zip", {
        "doejane_12345_678901_add.ipynb": learner_notebook(), "readme.txt": b"hello"}),
        progress=False)
    assert report.unmatched == [("readme.txt", "not a notebook (.ipynb)")]
    assert report.exit_status == 0
    assert report.lines()[0] == ("imported 1, updated 0, unchanged 0, kept not graded 0, "
                                 "could not match 1, refused 0")


def test_a_source_that_is_not_a_zip_or_a_folder_is_an_error(course, tmp_path):
    (tmp_path / "export.txt").write_text("no")
    with pytest.raises(AutograderError, match="not a zip file"):
        collect(course, tmp_path / "export.txt", progress=False)


def test_printable_escapes_line_breaks_and_shortens_long_names():
    assert printable("a\nb\u202ec") == "a\\u000ab\\u202ec"
    assert len(printable("x" * 500)) == 159


def test_a_bounded_read_stops_as_soon_as_a_stream_gives_more_than_its_limit():
    """Never trust a size announced in advance: count what the stream really gives."""
    with pytest.raises(TooLarge):
        read_bounded(io.BytesIO(b"x" * 1001), 1000)
    assert read_bounded(io.BytesIO(b"x" * 1000), 1000) == b"x" * 1000
