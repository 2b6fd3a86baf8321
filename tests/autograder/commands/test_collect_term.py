"""collect over a term: exports collected again, resubmissions, late files, accented names.

A class's exports are built here, as Canvas and Moodle write them: Canvas
``<sortable name>[_LATE]_<user id>_<attachment id>_<file>`` (``-1``, ``-2`` appended to a file
uploaded again), Moodle ``<Full Name>_<participant id>_assignsubmission_file_/<file>`` (some
exports with a submission time after the participant id).
"""

from __future__ import annotations

import json
import unicodedata
from datetime import datetime
from pathlib import Path

import pytest
from nbgrader.utils import parse_utc

from autograder.commands.collect import CollectReport, collect
from tests.builders import add_assignment, make_course
from tests.builders import answered_notebook as answer
from tests.builders import zip_export as export

JOSE_CANVAS = "núñezjosé"  # Canvas: sortable name, lower case, spaces and commas dropped
JOSE_MOODLE = "José Núñez"




@pytest.fixture
def course(tmp_path) -> Path:
    return make_course(tmp_path / "course", {"add": add_assignment()})




def canvas_export(path: Path) -> Path:
    return export(path, {
        f"{JOSE_CANVAS}_12345_900001_add.ipynb": answer("josé canvas"),
        "leeann_222_900002_add.ipynb": answer("ann"),
    })


def moodle_export(path: Path) -> Path:
    return export(path, {
        f"{JOSE_MOODLE}_424242_assignsubmission_file_/add.ipynb": answer("josé moodle"),
        "Zoë Martin_3_assignsubmission_file_/add.ipynb": answer("zoë"),
    })


def grading_files(course: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under grading/ (the gradebook aside): its bytes and modification time."""
    base = course / "grading"
    return {p.relative_to(base).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(base.rglob("*")) if p.is_file()}


def submitted(course: Path, student: str) -> Path:
    return course / "grading" / "submitted" / student / "add"


def attempts(course: Path, student: str) -> dict:
    record = course / "grading" / "attempts" / student / "add" / "attempts.json"
    return json.loads(record.read_text(encoding="utf-8"))


def graded_line(report: CollectReport, student: str) -> str:
    """The report's line saying which attempt of ``student`` is graded and why."""
    lines = report.lines()
    at = next(i for i, line in enumerate(lines) if f" {student}/add:" in line)
    assert lines[at + 1].startswith("    graded: "), lines
    return lines[at + 1]


# -- collecting again changes nothing ---------------------------------------------------------

def test_canvas_and_moodle_exports_collected_twice_change_nothing_the_second_time(
        course, tmp_path):
    """Does the second collect of the same exports say "unchanged" for every learner, and
    leave every file under grading/ as it was, byte for byte and untouched?"""
    exports = [canvas_export(tmp_path / "canvas.zip"), moodle_export(tmp_path / "moodle.zip")]
    for archive in exports:
        assert len(collect(course, archive, progress=False).imported) == 2
    before = grading_files(course)
    for archive in exports:
        again = collect(course, archive, progress=False)
        assert (again.imported, again.updated, again.kept, again.refused) == ([], [], [], [])
        assert len(again.skipped) == 2
        assert again.lines()[0].startswith("imported 0, updated 0, unchanged 2,")
    assert grading_files(course) == before


def test_a_notebook_replaced_by_hand_is_kept_when_the_export_is_collected_again(course,
                                                                                tmp_path):
    """The instructor fixed a learner's file by hand: collecting the original export again
    must not put the old file back (it took her from 10 back to 4)."""
    archive = canvas_export(tmp_path / "canvas.zip")
    collect(course, archive, progress=False)
    mine = submitted(course, "leeann_222") / "add.ipynb"
    mine.write_bytes(answer("fixed by hand"))
    report = collect(course, archive, progress=False)
    assert mine.read_bytes() == answer("fixed by hand")
    assert [s for s, _, _, _ in report.kept] == ["leeann_222"]
    assert "changed by hand" in report.kept[0][3] and "--replace" in report.kept[0][3]
    assert "changed by hand is graded" in graded_line(report, "leeann_222")


def test_replace_grades_the_export_s_notebook_and_keeps_the_one_made_by_hand(course,
                                                                            tmp_path):
    archive = canvas_export(tmp_path / "canvas.zip")
    collect(course, archive, progress=False)
    mine = submitted(course, "leeann_222") / "add.ipynb"
    mine.write_bytes(answer("fixed by hand"))
    (mine.parent / "also.ipynb").write_bytes(answer("added by hand"))
    report = collect(course, archive, progress=False, replace=True)
    assert [s for s, _, _ in report.updated] == ["leeann_222"]
    assert [p.name for p in mine.parent.glob("*.ipynb")] == ["add.ipynb"]
    assert mine.read_bytes() == answer("ann")
    kept = course / "grading" / "attempts" / "leeann_222" / "add"
    assert {p.read_bytes() for p in kept.glob("*.ipynb")} == {
        answer("ann"), answer("fixed by hand"), answer("added by hand")}
    assert "graded because collect was given --replace" in graded_line(report, "leeann_222")


def test_an_older_export_collected_again_never_replaces_a_newer_attempt(course, tmp_path):
    first = export(tmp_path / "a.zip", {"leeann_222_900002_add.ipynb": answer("first")})
    second = export(tmp_path / "b.zip", {"leeann_222_900003_add.ipynb": answer("second")})
    collect(course, first, progress=False)
    assert [s for s, _, _ in collect(course, second, progress=False).updated] == ["leeann_222"]
    again = collect(course, first, progress=False)
    assert again.updated == [] and [s for s, _, _ in again.skipped] == ["leeann_222"]
    assert (submitted(course, "leeann_222") / "add.ipynb").read_bytes() == answer("second")


def test_every_attempt_is_kept_on_disk_and_the_record_says_which_is_graded(course, tmp_path):
    collect(course, export(tmp_path / "a.zip", {"leeann_222_900002_add.ipynb":
                                                answer("first")}), progress=False)
    report = collect(course, export(tmp_path / "b.zip", {"leeann_222_900003_add.ipynb":
                                                         answer("second")}), progress=False)
    kept = course / "grading" / "attempts" / "leeann_222" / "add"
    assert (kept / "1.ipynb").read_bytes() == answer("first")
    assert (kept / "2.ipynb").read_bytes() == answer("second")
    record = attempts(course, "leeann_222")
    assert record["graded"] == 2 and [a["source"] for a in record["attempts"]] == ["a.zip",
                                                                                  "b.zip"]
    assert "attempt 2 (add.ipynb from b.zip)" in graded_line(report, "leeann_222")
    assert "2 attempt(s) kept" in graded_line(report, "leeann_222")


# -- resubmissions and late files -------------------------------------------------------------

@pytest.mark.parametrize("order", ["as Canvas lists them", "the resubmission first"])
def test_canvas_s_resubmission_suffix_makes_it_the_graded_attempt(course, tmp_path, order):
    """Of ``…_add.ipynb`` and ``…_LATE_…_add-1.ipynb``, the -1 was uploaded later: is it
    graded, whatever the order of the zip, and are both kept?"""
    files = {"doejane_12345_678901_add.ipynb": answer("one"),
             "doejane_LATE_12345_678902_add-1.ipynb": answer("two")}
    if order != "as Canvas lists them":
        files = dict(reversed(files.items()))
    report = collect(course, export(tmp_path / "e.zip", files), progress=False)
    assert report.refused == [] and [s for s, _, _ in report.imported] == ["doejane_12345"]
    assert (submitted(course, "doejane_12345") / "add.ipynb").read_bytes() == answer("two")
    assert len(attempts(course, "doejane_12345")["attempts"]) == 2
    assert "Canvas's -1: uploaded again after add.ipynb" in graded_line(report, "doejane_12345")


def test_canvas_s_late_marker_is_recorded_without_inventing_a_time(course, tmp_path):
    """Canvas says LATE but gives no time: the attempt records it as late, the report says
    so, and no timestamp.txt is written with a made-up time."""
    report = collect(course, export(tmp_path / "e.zip", {
        "doejane_LATE_12345_678902_add.ipynb": answer("late")}), progress=False)
    record = attempts(course, "doejane_12345")
    assert [a["late"] for a in record["attempts"]] == [True]
    assert record["attempts"][0]["submitted"] is None
    assert "LATE by Canvas's marker (the export gives no time)" in graded_line(report,
                                                                               "doejane_12345")
    assert not (submitted(course, "doejane_12345") / "timestamp.txt").exists()


def test_a_submission_time_in_a_moodle_folder_name_is_written_for_nbgrader(course, tmp_path):
    """nbgrader reads the time of a submission from timestamp.txt beside it."""
    collect(course, export(tmp_path / "e.zip", {
        f"{JOSE_MOODLE}_424242_20261201T101500Z_assignsubmission_file_/add.ipynb":
            answer("timed")}), progress=False)
    stamp = submitted(course, "josé_núñez_424242") / "timestamp.txt"
    assert parse_utc(stamp.read_text()) == datetime(2026, 12, 1, 10, 15, 0)
    assert attempts(course, "josé_núñez_424242")["attempts"][0]["submitted"] == \
        "2026-12-01T10:15:00"


def test_moodle_times_make_the_latest_attempt_the_graded_one(course, tmp_path):
    early = f"{JOSE_MOODLE}_424242_20261201T101500Z_assignsubmission_file_/add.ipynb"
    late = f"{JOSE_MOODLE}_424242_20261203T090000Z_assignsubmission_file_/add.ipynb"
    report = collect(course, export(tmp_path / "e.zip", {late: answer("late"),
                                                         early: answer("early")}),
                     progress=False)
    sid = "josé_núñez_424242"
    assert (submitted(course, sid) / "add.ipynb").read_bytes() == answer("late")
    assert "the latest submission time the export gives" in graded_line(report, sid)


def test_an_export_of_an_earlier_submission_is_kept_but_not_graded(course, tmp_path):
    """Collected after a later one, an export with an earlier time never replaces it."""
    sid = "josé_núñez_424242"
    collect(course, export(tmp_path / "late.zip", {
        f"{JOSE_MOODLE}_424242_20261203T090000Z_assignsubmission_file_/add.ipynb":
            answer("late")}), progress=False)
    report = collect(course, export(tmp_path / "early.zip", {
        f"{JOSE_MOODLE}_424242_20261201T101500Z_assignsubmission_file_/add.ipynb":
            answer("early")}), progress=False)
    assert (submitted(course, sid) / "add.ipynb").read_bytes() == answer("late")
    assert [s for s, _, _, why in report.kept if "submitted before" in why] == [sid]
    assert parse_utc((submitted(course, sid) / "timestamp.txt").read_text()) == \
        datetime(2026, 12, 3, 9, 0, 0)


def test_different_notebooks_the_export_does_not_order_are_still_refused(course, tmp_path):
    report = collect(course, export(tmp_path / "e.zip", {
        "Ann Lee_111_assignsubmission_file_/add.ipynb": answer("one"),
        "Ann Lee_111_assignsubmission_file_/add (copy).ipynb": answer("two")}),
        progress=False)
    assert len([f for f, why in report.refused if "nothing in the export says" in why]) == 2
    assert not (course / "grading" / "submitted" / "ann_lee_111").exists()


# -- identity -----------------------------------------------------------------------------------

def test_accented_names_keep_their_accents_in_ids_from_canvas_and_moodle(course, tmp_path):
    canvas = collect(course, canvas_export(tmp_path / "c.zip"), progress=False)
    moodle = collect(course, moodle_export(tmp_path / "m.zip"), progress=False)
    assert canvas.unmatched == [] and moodle.unmatched == []
    assert sorted(s for s, _, _ in canvas.imported) == ["leeann_222", "núñezjosé_12345"]
    assert sorted(s for s, _, _ in moodle.imported) == ["josé_núñez_424242", "zoë_martin_3"]
    folders = {p.name for p in (course / "grading" / "submitted").iterdir() if p.is_dir()}
    assert "josé_núñez_424242" in folders and "jos_n_ez_424242" not in folders


def test_a_decomposed_accent_gives_the_same_id_as_a_composed_one(course, tmp_path):
    """macOS writes names decomposed (NFD): José is one learner either way."""
    nfd = unicodedata.normalize("NFD", JOSE_MOODLE)
    report = collect(course, export(tmp_path / "e.zip", {
        f"{nfd}_424242_assignsubmission_file_/add.ipynb": answer("nfd")}), progress=False)
    assert [s for s, _, _ in report.imported] == [unicodedata.normalize("NFC",
                                                                        "josé_núñez_424242")]


def test_a_canvas_name_with_accents_in_a_zip_without_the_utf8_flag_is_matched(course,
                                                                              tmp_path):
    """Canvas's zips carry UTF-8 names without the UTF-8 flag (Python reads them as cp437)."""
    archive = export(tmp_path / "e.zip", {f"{JOSE_CANVAS}_12345_900001_add.ipynb":
                                          answer("josé")})
    raw = bytearray(archive.read_bytes())
    central = raw.index(b"PK\x01\x02")
    for flags in (6, central + 8):
        raw[flags + 1] &= ~0x08  # clear bit 11, UTF-8
    archive.write_bytes(raw)
    report = collect(course, archive, progress=False)
    assert [s for s, _, _ in report.imported] == ["núñezjosé_12345"]


def test_a_folder_named_with_accents_keeps_its_name(course, tmp_path):
    inbox = tmp_path / "inbox" / "José" / "add"
    inbox.mkdir(parents=True)
    (inbox / "add.ipynb").write_bytes(answer("josé"))
    report = collect(course, tmp_path / "inbox", progress=False)
    assert [s for s, _, _ in report.imported] == ["José"]


def test_the_record_of_learners_holds_each_learner_s_lms_id(course, tmp_path):
    collect(course, canvas_export(tmp_path / "c.zip"), progress=False)
    collect(course, moodle_export(tmp_path / "m.zip"), progress=False)
    record = json.loads((course / "grading" / "submitted" / ".learners.json")
                        .read_text(encoding="utf-8"))["learners"]
    assert record["núñezjosé_12345"]["lms"] == {"canvas_id": "12345"}
    assert record["josé_núñez_424242"]["lms"] == {"moodle_participant_id": "424242"}
    assert record["josé_núñez_424242"]["name"] == "José Núñez"


def test_fields_a_roster_wrote_in_the_record_survive_a_collect(course, tmp_path):
    record = course / "grading" / "submitted" / ".learners.json"
    record.parent.mkdir(parents=True)
    record.write_text(json.dumps({"version": 1, "learners": {"leeann_222": {
        "identity": "canvas:222", "name": "leeann", "lms": {"sis_user_id": "S-7"},
        "email": "ann@example.edu"}}}), encoding="utf-8")
    collect(course, canvas_export(tmp_path / "c.zip"), progress=False)
    entry = json.loads(record.read_text(encoding="utf-8"))["learners"]["leeann_222"]
    assert entry["lms"] == {"sis_user_id": "S-7", "canvas_id": "222"}
    assert entry["email"] == "ann@example.edu"


# -- nbgrader's timestamp.txt in a folder layout ----------------------------------------------

def folder_with_time(root: Path, stamp: bytes) -> Path:
    """An nbgrader exchange layout: alice/add/add.ipynb and its timestamp.txt."""
    (root / "alice" / "add").mkdir(parents=True)
    (root / "alice" / "add" / "add.ipynb").write_bytes(answer("alice"))
    (root / "alice" / "add" / "timestamp.txt").write_bytes(stamp)
    return root


@pytest.mark.parametrize("stamp, utc", [
    (b"2026-12-01 10:15:00.123456 UTC", datetime(2026, 12, 1, 10, 15, 0, 123456)),
    (b"2026-12-01T11:15:00+01:00\n", datetime(2026, 12, 1, 10, 15, 0)),
])
def test_nbgrader_s_timestamp_in_a_folder_layout_is_kept_for_grading(course, tmp_path, stamp,
                                                                      utc):
    report = collect(course, folder_with_time(tmp_path / "inbox", stamp), progress=False)
    assert report.unmatched == []
    assert parse_utc((submitted(course, "alice") / "timestamp.txt").read_text()) == utc


@pytest.mark.parametrize("stamp", [
    b"2026-12-01 10:15:00 /usr/share/zoneinfo/Europe/Paris",  # parse_utc opens this path
    b"2026-12-01 10:15:00 Europe/Paris",  # a zone's name: parse_utc opens a file of that name
    b"tomorrow",
    b"2026-13-45 10:15:00 UTC",
    b"2026-12-01 10:15:00 UTC" + b" " * 200,
])
def test_a_timestamp_collect_does_not_read_is_reported_and_never_passed_on(course, tmp_path,
                                                                         stamp):
    """Only a date, a time and UTC or an offset are read: a zone's name would make nbgrader's
    parse_utc open a file of the learner's choosing."""
    report = collect(course, folder_with_time(tmp_path / "inbox", stamp), progress=False)
    assert [f for f, why in report.unmatched if "not a time collect reads" in why] == [
        "alice/add/timestamp.txt"]
    assert [s for s, _, _ in report.imported] == ["alice"]
    assert not (submitted(course, "alice") / "timestamp.txt").exists()


def test_a_damaged_record_of_attempts_refuses_that_learner_only_and_says_what_to_do(
        course, tmp_path):
    archive = canvas_export(tmp_path / "canvas.zip")
    collect(course, archive, progress=False)
    (course / "grading" / "attempts" / "leeann_222" / "add" / "attempts.json").write_text("{")
    report = collect(course, archive, progress=False)
    assert [f for f, why in report.refused if "restore it from a backup" in why] == [
        "leeann_222_900002_add.ipynb"]
    assert [s for s, _, _ in report.skipped] == ["núñezjosé_12345"]


def test_a_notebook_that_matches_no_learner_makes_collect_exit_1(course, tmp_path):
    """A Canvas name collect cannot read once left a learner out with exit status 0."""
    report = collect(course, export(tmp_path / "e.zip", {
        "núñezjosé_add.ipynb": answer("josé"), "readme.txt": b"hello"}), progress=False)
    assert report.exit_status == 1
    assert "could not be matched: a learner's work may be missing" in report.lines()[-1]


def test_the_report_says_why_a_new_attempt_replaces_the_graded_one(course, tmp_path):
    collect(course, export(tmp_path / "a.zip", {"leeann_222_900002_add.ipynb":
                                                answer("first")}), progress=False)
    report = collect(course, export(tmp_path / "b.zip", {"leeann_222_900003_add.ipynb":
                                                         answer("second")}), progress=False)
    assert "new since attempt 1 (a.zip), first met in a later collect" in graded_line(
        report, "leeann_222")
