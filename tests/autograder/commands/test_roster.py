"""roster import: a Canvas and a Moodle roster into nbgrader's students table and the record of
learners; collect then matches files by LMS id, one learner one student across both LMSs; the
LMS exports find each learner's ids; formgrader never lists "None, None".
"""

from __future__ import annotations

import csv
import json
import shutil
import warnings
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from autograder.cli import main
from autograder.commands.collect import collect, name_students
from autograder.commands.export import export_lms
from autograder.commands.roster import import_roster
from autograder.core.course import ensure_bin_on_path
from autograder.core.learners import Registry
from autograder.errors import AutograderError
from autograder.settings import db_url, gradebook_file
from tests.builders import add_assignment, make_course
from tests.builders import answered_notebook as answer
from tests.builders import zip_export as export

CANVAS = ("\ufeffStudent,ID,SIS User ID,SIS Login ID,Section,add (8812)\n"
          "    Points Possible,,,,,3.00\n"
          '"Núñez, José",12345,S-1,jose@uni.edu,Lab A,\n'
          '"Lee, Ann",222,S-2,ann@uni.edu,Lab A,\n')
MOODLE = ("First name,Last name,ID number,Email address\n"
          "José,Núñez,S-1,jose@uni.edu\n"
          "Zoë,Martin,S-3,zoe@uni.edu\n")
WORKSHEET = ("Identifier,Full name,Email address,ID number,Status,Grade\n"
             "Participant 424242,José Núñez,jose@uni.edu,S-1,Submitted,\n"
             "Participant 3,Zoë Martin,zoe@uni.edu,S-3,Submitted,\n")
JOSE = "josé_núñez_12345"


@pytest.fixture(scope="module")
def empty_gradebook(tmp_path_factory) -> Path:
    """An empty nbgrader gradebook, made once (making one runs alembic, seconds of work)."""
    ensure_bin_on_path()
    path = tmp_path_factory.mktemp("gradebook") / "gradebook.db"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Gradebook(f"sqlite:///{path}").close()
    return path


@pytest.fixture
def course(tmp_path, empty_gradebook) -> Path:
    root = make_course(tmp_path / "course", {"add": add_assignment()})
    gradebook_file(root).parent.mkdir(parents=True)
    shutil.copyfile(empty_gradebook, gradebook_file(root))
    return root


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def students(course: Path) -> dict[str, tuple]:
    """The gradebook's students: id -> (first name, last name, email, Canvas user id)."""
    with warnings.catch_warnings(), Gradebook(db_url(course)) as gb:
        warnings.simplefilter("ignore")
        return {s.id: (s.first_name, s.last_name, s.email, s.lms_user_id) for s in gb.students}


def learners(course: Path) -> dict:
    path = course / "grading" / "submitted" / ".learners.json"
    return json.loads(path.read_text(encoding="utf-8"))["learners"]


def folders(course: Path) -> list[str]:
    return sorted(p.name for p in (course / "grading" / "submitted").iterdir() if p.is_dir())


# -- importing ----------------------------------------------------------------------------------

def test_a_canvas_roster_fills_the_students_table_and_the_record(course, tmp_path):
    report = import_roster(course, write(tmp_path, "c.csv", CANVAS))
    assert (report.format, sorted(report.added), report.exit_status) == (
        "canvas", ["ann_lee_222", JOSE], 0)
    assert students(course)[JOSE] == ("José", "Núñez", "jose@uni.edu", "12345")
    lms = learners(course)[JOSE]["lms"]
    assert (lms["canvas_id"], lms["sis_user_id"], lms["section"]) == ("12345", "S-1", "Lab A")
    assert report.lines()[0].startswith("Canvas's gradebook export: added 2, updated 0, "
                                        "unchanged 0, warnings 0, refused 0")


def test_importing_a_roster_again_changes_nothing(course, tmp_path):
    path = write(tmp_path, "c.csv", CANVAS)
    import_roster(course, path)
    before = (students(course), learners(course))
    report = import_roster(course, path)
    assert (report.added, report.updated, sorted(report.unchanged)) == (
        [], [], ["ann_lee_222", JOSE])
    assert (students(course), learners(course)) == before


def test_a_moodle_roster_after_a_canvas_one_adds_to_the_same_learners(course, tmp_path):
    import_roster(course, write(tmp_path, "c.csv", CANVAS))
    report = import_roster(course, write(tmp_path, "m.csv", MOODLE))
    assert report.updated == [JOSE] and len(report.added) == 1
    assert report.added[0].startswith("zoë_martin_")  # an ID number that is not a number: hashed
    assert len(students(course)) == 3
    assert learners(course)[JOSE]["lms"]["id_number"] == "S-1"


def test_a_worksheet_needs_the_assignment_it_is_of(course, tmp_path):
    with pytest.raises(AutograderError, match="--assignment"):
        import_roster(course, write(tmp_path, "w.csv", WORKSHEET))
    with pytest.raises(AutograderError, match="no assignment named 'nope'"):
        import_roster(course, write(tmp_path, "w.csv", WORKSHEET), assignment="nope")


def test_a_refused_row_leaves_the_others_imported_and_the_status_says_so(course, tmp_path):
    import_roster(course, write(tmp_path, "c.csv", CANVAS))
    clash = MOODLE + "Ann,Lee,S-1,ann@uni.edu\n"  # José's ID number, Ann's email
    report = import_roster(course, write(tmp_path, "m.csv", clash))
    assert report.exit_status == 1 and [line for line, _ in report.refused] == [4]
    assert "REFUSED line 4" in "\n".join(report.lines())
    assert "zoë" in " ".join(report.added)


def test_a_roster_never_writes_the_record_when_the_gradebook_cannot_be_written(course,
                                                                             tmp_path):
    gradebook_file(course).write_bytes(b"not a database" * 100)
    with pytest.raises(AutograderError, match="gradebook"):
        import_roster(course, write(tmp_path, "c.csv", CANVAS))
    assert not (course / "grading" / "submitted" / ".learners.json").exists()


# -- collect after a roster ---------------------------------------------------------------------

def test_one_learner_collected_from_canvas_and_moodle_is_one_student(course, tmp_path):
    import_roster(course, write(tmp_path, "c.csv", CANVAS))
    import_roster(course, write(tmp_path, "m.csv", MOODLE))
    import_roster(course, write(tmp_path, "w.csv", WORKSHEET), assignment="add")
    canvas = collect(course, export(tmp_path / "c.zip", {
        "núñezjosé_12345_900001_add.ipynb": answer("josé canvas")}), progress=False)
    moodle = collect(course, export(tmp_path / "m.zip", {
        "José Núñez_424242_assignsubmission_file_/add.ipynb": answer("josé moodle"),
        "Zoë Martin_3_assignsubmission_file_/add.ipynb": answer("zoë")}), progress=False)
    assert [s for s, _, _ in canvas.imported] == [JOSE]
    assert [s for s, _, _ in moodle.updated] == [JOSE] and moodle.refused == []
    assert folders(course) == sorted([JOSE, next(s for s, _, _ in moodle.imported)])
    assert learners(course)[JOSE]["identity"] == f"roster:{JOSE}"


def test_one_learner_s_canvas_and_moodle_files_in_one_source_are_not_picked_at_random(
        course, tmp_path):
    """Two different notebooks of one student, one from each LMS, in one source: nothing in
    the export orders them, so neither is graded."""
    import_roster(course, write(tmp_path, "c.csv", CANVAS))
    import_roster(course, write(tmp_path, "w.csv", WORKSHEET), assignment="add")
    report = collect(course, export(tmp_path / "both.zip", {
        "núñezjosé_12345_900001_add.ipynb": answer("josé canvas"),
        "José Núñez_424242_assignsubmission_file_/add.ipynb": answer("josé moodle")}),
        progress=False)
    assert report.imported == [] and len(report.refused) == 2
    assert "nothing in the export says which is the latest" in report.refused[0][1]


def test_without_a_worksheet_a_moodle_file_is_its_own_learner_as_before(course, tmp_path):
    import_roster(course, write(tmp_path, "c.csv", CANVAS))
    report = collect(course, export(tmp_path / "m.zip", {
        "José Núñez_424242_assignsubmission_file_/add.ipynb": answer("josé")}), progress=False)
    assert [s for s, _, _ in report.imported] == ["josé_núñez_424242"]


def test_a_learner_an_earlier_collect_stored_keeps_their_folder(course, tmp_path):
    collect(course, export(tmp_path / "c.zip", {
        "núñezjosé_12345_900001_add.ipynb": answer("josé")}), progress=False)
    report = import_roster(course, write(tmp_path, "c.csv", CANVAS))
    assert "núñezjosé_12345" in report.updated
    assert folders(course) == ["núñezjosé_12345"]


def test_a_file_whose_lms_id_the_roster_gives_another_learner_is_refused(course, tmp_path):
    """A Canvas file named as José but carrying Ann's user id is Ann's, never José's."""
    import_roster(course, write(tmp_path, "c.csv", CANVAS))
    report = collect(course, export(tmp_path / "c.zip", {
        "núñezjosé_222_900001_add.ipynb": answer("who?")}), progress=False)
    assert [s for s, _, _ in report.imported] == ["ann_lee_222"]


# -- names in formgrader --------------------------------------------------------------------------

def test_collect_names_learners_from_the_export_never_none_none(course, tmp_path):
    collect(course, export(tmp_path / "e.zip", {
        "José Núñez_424242_assignsubmission_file_/add.ipynb": answer("josé"),
        "leeann_222_900002_add.ipynb": answer("ann")}), progress=False)
    found = students(course)
    assert found["josé_núñez_424242"][:2] == ("José", "Núñez")
    assert found["leeann_222"][:2] == ("", "leeann")


def test_collect_uses_the_roster_s_names_and_never_replaces_a_name(course, tmp_path):
    import_roster(course, write(tmp_path, "c.csv", CANVAS))
    with warnings.catch_warnings(), Gradebook(db_url(course)) as gb:
        warnings.simplefilter("ignore")
        gb.update_or_create_student("ann_lee_222", first_name="Annie", last_name="L.")
    collect(course, export(tmp_path / "c.zip", {
        "núñezjosé_12345_900001_add.ipynb": answer("josé"),
        "leeann_222_900002_add.ipynb": answer("ann")}), progress=False)
    found = students(course)
    assert found[JOSE][:2] == ("José", "Núñez") and found["ann_lee_222"][:2] == ("Annie", "L.")


def test_collecting_again_after_a_roster_changes_nothing_in_the_gradebook(course, tmp_path):
    import_roster(course, write(tmp_path, "c.csv", CANVAS))
    archive = export(tmp_path / "c.zip", {"núñezjosé_12345_900001_add.ipynb": answer("j")})
    collect(course, archive, progress=False)
    before = gradebook_file(course).read_bytes()
    again = collect(course, archive, progress=False)
    assert [s for s, _, _ in again.skipped] == [JOSE] and again.notes == []
    assert gradebook_file(course).read_bytes() == before


def test_a_gradebook_collect_cannot_open_is_a_note_and_the_files_are_collected(course,
                                                                             tmp_path):
    gradebook_file(course).write_bytes(b"not a database" * 100)
    report = collect(course, export(tmp_path / "c.zip", {
        "leeann_222_900002_add.ipynb": answer("ann")}), progress=False)
    assert [s for s, _, _ in report.imported] == ["leeann_222"] and report.exit_status == 0
    assert any("names were not written in the gradebook" in n for n in report.notes)


def test_learners_collected_before_the_gradebook_existed_are_named_later(course, tmp_path,
                                                                         empty_gradebook):
    gradebook_file(course).unlink()
    collect(course, export(tmp_path / "e.zip", {
        "José Núñez_424242_assignsubmission_file_/add.ipynb": answer("josé")}), progress=False)
    assert not gradebook_file(course).exists()  # collect does not make one (alembic: seconds)
    shutil.copyfile(empty_gradebook, gradebook_file(course))  # as grade makes it
    assert name_students(db_url(course), Registry.load(course)) is None
    assert students(course)["josé_núñez_424242"][:2] == ("José", "Núñez")


# -- the LMS exports find the ids ---------------------------------------------------------------

def test_the_lms_exports_carry_the_roster_s_ids(course, tmp_path):
    import_roster(course, write(tmp_path, "c.csv", CANVAS))
    import_roster(course, write(tmp_path, "m.csv", MOODLE))
    problems: list[str] = []
    canvas = export_lms(course, "canvas", tmp_path / "out", problems=problems)
    moodle = export_lms(course, "moodle", tmp_path / "out", problems=problems)
    with open(canvas, encoding="utf-8-sig", newline="") as f:
        rows = {r["ID"]: r for r in csv.DictReader(f)}
    assert rows["12345"]["Student"] == "Núñez, José" and rows["12345"]["SIS User ID"] == "S-1"
    with open(moodle, encoding="utf-8", newline="") as f:
        ids = {r["ID number"]: r["Email address"] for r in csv.DictReader(f)}
    # Ann is on the Canvas roster only: Moodle matches her by her SIS User ID (the
    # institution's id, Moodle's ID number) or by the email Canvas gives
    assert ids == {"S-1": "jose@uni.edu", "S-2": "ann@uni.edu", "S-3": "zoe@uni.edu"}
    assert problems == []


def test_a_name_a_spreadsheet_would_run_is_exported_as_text(course, tmp_path):
    import_roster(course, write(tmp_path, "m.csv", "First name,Last name,ID number\n"
                                                   "=HYPERLINK(\"x\"),+1,S-9\n"))
    path = export_lms(course, "moodle", tmp_path / "out", problems=[])
    with open(path, encoding="utf-8", newline="") as f:
        row = next(csv.DictReader(f))
    assert (row["First name"], row["Last name"]) == ("'=HYPERLINK(\"x\")", "'+1")


# -- the command line -----------------------------------------------------------------------------

def test_the_command_prints_a_summary_and_exits_by_what_it_refused(course, tmp_path,
                                                                   monkeypatch, capsys):
    monkeypatch.setenv("RNNCOURSE_ROOT", str(course))
    assert main(["roster", "import", str(write(tmp_path, "c.csv", CANVAS))]) == 0
    assert "added 2" in capsys.readouterr().out
    assert main(["roster", "import", str(write(tmp_path, "x.csv", "name,mail\n"))]) == 2
    assert "RosterRefused: the header row (name,mail)" in capsys.readouterr().err
    clash = MOODLE + "Ann,Lee,S-1,ann@uni.edu\n"
    assert main(["roster", "import", str(write(tmp_path, "m.csv", clash)),
                 "--format", "moodle"]) == 1


def test_a_roster_is_the_first_thing_a_new_course_can_import(tmp_path):
    """In a course that has no grading/ folder yet (nothing collected or graded), does the
    roster make the gradebook and fill it?"""

    from autograder.settings import db_url

    course = make_course(tmp_path / "new", {"add": add_assignment()})
    csv_file = tmp_path / "roster.csv"
    csv_file.write_text("Student,ID,SIS User ID,SIS Login ID,Section\n"
                        '"Núñez, José",12345,S001,jose@uni.example,A\n', encoding="utf-8")
    report = import_roster(course, csv_file)
    assert report.exit_status == 0
    with Gradebook(db_url(course)) as gb:
        assert [(s.first_name, s.last_name, s.lms_user_id) for s in gb.students] == [
            ("José", "Núñez", "12345")]
