"""The hostile inbox: class exports and folders aimed at ``collect``.

Each case puts one attack (or one awkward real-world export) beside an honest learner and
checks that it is contained: no learner's work lands in another learner's folder, nothing is
followed, extracted or read past its limit, the attack has its own line in the report (and a
non-zero exit status when it is refused), and the honest learner is imported all the same.
"""

from __future__ import annotations

import os
import stat
import unicodedata
import zipfile
from pathlib import Path

import pytest

from autograder.commands.collect import CollectReport, collect
from autograder.core.exports import ExportLimits, Refused, members
from tests.builders import add_assignment, make_course, zip_export
from tests.builders import answered_notebook as answer

HONEST = "Ann Lee_111_assignsubmission_file_/add.ipynb"  # in every zip: must be imported
HONEST_ID = "ann_lee_111"




@pytest.fixture
def course(tmp_path) -> Path:
    return make_course(tmp_path / "course", {"add": add_assignment()})


def export(path: Path, files: dict[str | zipfile.ZipInfo, bytes]) -> Path:
    """A zip export: the honest learner first, then ``files``."""
    return zip_export(path, {HONEST: answer("honest"), **files}, zipfile.ZIP_DEFLATED)




def folder_inbox(root: Path, files: dict[str, bytes]) -> Path:
    """A folder inbox: the honest ``alice/add/add.ipynb`` and ``files``."""
    for name, data in {"alice/add/add.ipynb": answer("honest"), **files}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def stored(course: Path) -> dict[str, bytes]:
    base = course / "grading" / "submitted"
    return {p.relative_to(base).as_posix(): p.read_bytes() for p in base.rglob("*.ipynb")}


def refused(report: CollectReport, says: str) -> list[str]:
    """The refused files whose reason says ``says``; the report must also say so in a line,
    and the exit status must be 1."""
    files = [f for f, why in report.refused if says in why]
    assert files, report.lines()
    assert report.exit_status == 1
    assert sum(line.startswith("  REFUSED") and says in line for line in report.lines()) \
        >= len(files)
    return files


def honest_imported(report: CollectReport, student: str = HONEST_ID) -> None:
    assert student in [s for s, _, _ in report.imported], report.lines()


def forge_first_member(archive: Path, size: int | None = None, flags: int = 0) -> None:
    """Make the archive's first member declare ``size`` bytes and set ``flags`` in its
    general-purpose bits, in its local header and its central directory entry alike,
    whatever it really holds."""
    raw = bytearray(archive.read_bytes())
    central = raw.index(b"PK\x01\x02")
    for at in (6, central + 8):  # general-purpose flags
        raw[at] |= flags
    if size is not None:
        raw[22:26] = size.to_bytes(4, "little")  # local header: uncompressed size
        raw[central + 24:central + 28] = size.to_bytes(4, "little")
    archive.write_bytes(raw)


def special(name: str, mode: int) -> zipfile.ZipInfo:
    """A zip entry whose Unix mode (external_attr) says ``mode``."""
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (mode | 0o644) << 16
    return info


# -- two learners are never merged --------------------------------------------------------------

def test_two_learners_of_the_same_name_keep_their_own_notebooks(course, tmp_path):
    report = collect(course, export(tmp_path / "e.zip", {
        "Jane Doe_1_assignsubmission_file_/add.ipynb": answer("first"),
        "Jane Doe_2_assignsubmission_file_/add.ipynb": answer("second")}), progress=False)
    assert stored(course)["jane_doe_1/add/add.ipynb"] == answer("first")
    assert stored(course)["jane_doe_2/add/add.ipynb"] == answer("second")
    assert report.updated == [] and any("names alike" in n for n in report.notes)
    honest_imported(report)


def test_two_learners_whose_names_differ_by_an_accent_keep_their_own_notebooks(course,
                                                                               tmp_path):
    report = collect(course, export(tmp_path / "e.zip", {
        "Zoë Martin_3_assignsubmission_file_/add.ipynb": answer("zoë"),
        "Zoé Martin_4_assignsubmission_file_/add.ipynb": answer("zoé")}), progress=False)
    assert stored(course)["zoë_martin_3/add/add.ipynb"] == answer("zoë")
    assert stored(course)["zoé_martin_4/add/add.ipynb"] == answer("zoé")
    assert report.updated == []
    honest_imported(report)


def test_student_folders_differing_only_in_case_are_refused_not_merged(course, tmp_path):
    """On a disk that ignores case (macOS) they would be one folder."""
    report = collect(course, folder_inbox(tmp_path / "inbox", {
        "Bob/add/add.ipynb": answer("one"), "bob/add/add.ipynb": answer("two")}),
        progress=False)
    assert sorted(refused(report, "would be stored as")) == ["Bob/add/add.ipynb",
                                                             "bob/add/add.ipynb"]
    assert list(stored(course)) == ["alice/add/add.ipynb"]


def test_a_folder_named_as_an_lms_learner_s_id_is_refused_not_imported_over_them(course,
                                                                                 tmp_path):
    collect(course, export(tmp_path / "e.zip", {
        "Jane Doe_424242_assignsubmission_file_/add.ipynb": answer("jane")}), progress=False)
    report = collect(course, folder_inbox(tmp_path / "inbox", {
        "jane_doe_424242/add/add.ipynb": answer("impostor")}), progress=False)
    assert refused(report, "belongs to 'Jane Doe' (Moodle participant 424242)") == [
        "jane_doe_424242/add/add.ipynb"]
    assert stored(course)["jane_doe_424242/add/add.ipynb"] == answer("jane")
    honest_imported(report, "alice")


def test_an_lms_learner_whose_id_an_older_folder_holds_is_refused(course, tmp_path):
    """A folder collected before the record of learners existed keeps its owner."""
    old = course / "grading" / "submitted" / "jane_doe_424242" / "add" / "add.ipynb"
    old.parent.mkdir(parents=True)
    old.write_bytes(answer("older"))
    report = collect(course, export(tmp_path / "e.zip", {
        "Jane Doe_424242_assignsubmission_file_/add.ipynb": answer("jane")}), progress=False)
    assert refused(report, "belongs to folder 'jane_doe_424242'")
    assert old.read_bytes() == answer("older")
    honest_imported(report)


def test_an_lms_learner_and_a_folder_wanting_one_id_in_one_source_are_both_refused(course,
                                                                                  tmp_path):
    inbox = folder_inbox(tmp_path / "inbox", {
        "Jane Doe_424242_assignsubmission_file_/add.ipynb": answer("jane"),
        "jane_doe_424242/add/add.ipynb": answer("impostor")})
    report = collect(course, inbox, progress=False)
    assert len(refused(report, "would be stored as too")) == 2
    assert list(stored(course)) == ["alice/add/add.ipynb"]


def test_several_different_notebooks_of_one_learner_are_refused_not_picked(course, tmp_path):
    """Nothing in the export orders them (no time, no Canvas -1 of one file name)."""
    report = collect(course, export(tmp_path / "e.zip", {
        "doejane_12345_678901_add.ipynb": answer("one"),
        "doejane_12345_678902_my add.ipynb": answer("two")}), progress=False,
        assignment="add")
    assert len(refused(report, "2 different notebooks of 'doejane' (Canvas user 12345)")) == 2
    assert list(stored(course)) == [f"{HONEST_ID}/add/add.ipynb"]


def test_the_nfc_and_nfd_forms_of_a_folder_name_are_one_learner(course, tmp_path):
    nfc, nfd = (unicodedata.normalize(form, "José") for form in ("NFC", "NFD"))
    first = collect(course, folder_inbox(tmp_path / "a", {f"{nfc}/add/add.ipynb":
                                                          answer("jose")}), progress=False)
    assert sorted(s for s, _, _ in first.imported) == ["José", "alice"]
    again = collect(course, folder_inbox(tmp_path / "b", {f"{nfd}/add/add.ipynb":
                                                          answer("jose")}), progress=False)
    assert sorted(s for s, _, _ in again.skipped) == sorted(s for s, _, _ in first.imported)
    both = collect(course, folder_inbox(tmp_path / "c", {
        f"{nfc}/add/add.ipynb": answer("one"), f"{nfd}/add/add.ipynb": answer("two")}),
        progress=False)
    assert len(refused(both, "2 different notebooks of folder 'José'")) == 2


# -- long names ---------------------------------------------------------------------------------

def test_a_file_name_of_265_characters_is_stored_under_the_assignment_s_name(course,
                                                                            tmp_path):
    member = "Bo Li_6_assignsubmission_file_/" + "a" * 259 + ".ipynb"
    report = collect(course, export(tmp_path / "e.zip", {member: answer("bo")}),
                     progress=False)
    assert stored(course)["bo_li_6/add/add.ipynb"] == answer("bo")
    assert any("is stored as bo_li_6/add/add.ipynb" in n for n in report.notes)
    assert all(len(line) < 600 for line in report.lines())
    honest_imported(report)


def test_a_learner_name_of_300_characters_is_stored_under_a_short_id(course, tmp_path):
    member = "N" * 300 + "_7_assignsubmission_file_/add.ipynb"
    report = collect(course, export(tmp_path / "e.zip", {member: answer("n")}),
                     progress=False)
    assert stored(course)[f"{'n' * 40}_7/add/add.ipynb"] == answer("n")
    honest_imported(report)


# -- archives that lie about sizes ----------------------------------------------------------

def test_a_zip_member_declaring_2_gb_is_refused_before_it_is_read(course, tmp_path):
    archive = tmp_path / "e.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("Mal Lory_9_assignsubmission_file_/add.ipynb", os.urandom(2 * 2**20))
        zf.writestr(HONEST, answer("honest"))
    forge_first_member(archive, size=2**31)
    report = collect(course, archive, progress=False)
    assert refused(report, "it declares 2147483648 bytes, more than the")
    assert not any(p.name.startswith(".collect-") for p in (course / "grading").iterdir())
    honest_imported(report)


def test_a_zip_member_larger_than_a_notebook_may_be_is_refused(course, tmp_path):
    bomb = b"{" + b" " * (5 * 2**20) + b"}"  # 5 MB that deflate to a few kB
    report = collect(course, export(tmp_path / "e.zip", {
        "Mal Lory_9_assignsubmission_file_/add.ipynb": bomb}), progress=False,
        limits=ExportLimits(max_file_bytes=2**20))
    assert refused(report, "a notebook may have")
    honest_imported(report)


def test_a_zip_member_that_gives_more_than_it_declares_is_refused(course, tmp_path):
    archive = tmp_path / "e.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("Mal Lory_9_assignsubmission_file_/add.ipynb", b" " * (5 * 2**20))
        zf.writestr(HONEST, answer("honest"))
    forge_first_member(archive, size=1000)
    report = collect(course, archive, progress=False)
    assert refused(report, "damaged in the archive")
    honest_imported(report)


def test_what_one_source_may_hold_in_all_is_capped(course, tmp_path):
    each = len(answer("x" * 100))
    report = collect(course, export(tmp_path / "e.zip", {
        f"Learner {k}_{k}_assignsubmission_file_/add.ipynb": answer(str(k) * 100)
        for k in range(1, 4)}), progress=False,
        limits=ExportLimits(max_total_bytes=len(answer("honest")) + 2 * each))
    assert refused(report, "collect reads from one source") == [
        "Learner 3_3_assignsubmission_file_/add.ipynb"]
    assert len(report.imported) == 3


# -- links and other files that are not regular files ---------------------------------------

def test_a_link_to_the_solution_notebook_is_refused_never_followed(course, tmp_path):
    inbox = folder_inbox(tmp_path / "inbox", {})
    (inbox / "mallory" / "add").mkdir(parents=True)
    (inbox / "mallory" / "add" / "add.ipynb").symlink_to(
        course / "solutions" / "add" / "add.ipynb")
    report = collect(course, inbox, progress=False)
    assert refused(report, "a symbolic link") == ["mallory/add/add.ipynb"]
    assert not any(b"HIDDEN TESTS" in data for data in stored(course).values())
    assert list(stored(course)) == ["alice/add/add.ipynb"]


def test_a_linked_folder_is_refused_never_followed(course, tmp_path):
    inbox = folder_inbox(tmp_path / "inbox", {})
    (inbox / "mallory").mkdir()
    (inbox / "mallory" / "add").symlink_to(course / "solutions" / "add")
    report = collect(course, inbox, progress=False)
    assert refused(report, "a symbolic link") == ["mallory/add"]
    assert list(stored(course)) == ["alice/add/add.ipynb"]


def test_a_file_swapped_for_a_link_after_it_was_listed_is_refused(course, tmp_path):
    """Between the listing (lstat: a regular file) and the reading, the file becomes a link:
    the open itself must refuse to follow it."""
    inbox = folder_inbox(tmp_path / "inbox", {"mallory/add/add.ipynb": answer("decoy")})
    target = inbox / "mallory" / "add" / "add.ipynb"
    with members(inbox, ExportLimits()) as entries:
        member = next(m for m in entries if m.parts[0] == "mallory")
        target.unlink()
        target.symlink_to(course / "solutions" / "add" / "add.ipynb")
        with pytest.raises(Refused, match="symbolic link"):
            member.read(2**20)


def test_a_fifo_in_the_inbox_is_refused_without_being_opened(course, tmp_path):
    inbox = folder_inbox(tmp_path / "inbox", {})
    (inbox / "mallory" / "add").mkdir(parents=True)
    os.mkfifo(inbox / "mallory" / "add" / "add.ipynb")  # opening it would wait for a writer
    report = collect(course, inbox, progress=False)
    assert refused(report, "a FIFO") == ["mallory/add/add.ipynb"]
    honest_imported(report, "alice")


@pytest.mark.parametrize("mode, says", [
    (stat.S_IFLNK, "a symbolic link"),
    (stat.S_IFCHR, "a character device"),
    (stat.S_IFBLK, "a block device"),
    (stat.S_IFIFO, "a FIFO"),
])
def test_zip_entries_that_are_not_regular_files_are_refused(course, tmp_path, mode, says):
    member = "Mal Lory_9_assignsubmission_file_/add.ipynb"
    report = collect(course, export(tmp_path / "e.zip", {
        special(member, mode): b"../../../solutions/add/add.ipynb"}), progress=False)
    assert refused(report, says) == [member]
    assert list(stored(course)) == [f"{HONEST_ID}/add/add.ipynb"]


@pytest.mark.parametrize("member, says", [
    ("/mallory/add/add.ipynb", "an absolute path"),
    ("C:\\mallory\\add\\add.ipynb", "an absolute path"),
    ("../mallory/add/add.ipynb", "climbs out of the archive"),
    ("mallory/add/../../alice/add/add.ipynb", "climbs out of the archive"),
])
def test_zip_members_whose_path_leaves_the_archive_are_refused(course, tmp_path, member, says):
    report = collect(course, export(tmp_path / "e.zip", {zipfile.ZipInfo(member):
                                                          answer("mallory")}), progress=False)
    assert refused(report, says)
    assert list(stored(course)) == [f"{HONEST_ID}/add/add.ipynb"]


def test_an_encrypted_zip_member_is_refused(course, tmp_path):
    archive = tmp_path / "e.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("Mal Lory_9_assignsubmission_file_/add.ipynb", answer("mallory"))
        zf.writestr(HONEST, answer("honest"))
    forge_first_member(archive, flags=0x1)
    report = collect(course, archive, progress=False)
    assert refused(report, "encrypted")
    honest_imported(report)


# -- the report ---------------------------------------------------------------------------------

def test_a_file_name_cannot_forge_a_line_of_the_report(course, tmp_path):
    member = ("Mal Lory_9_assignsubmission_file_/x\n  imported alice/add: add.ipynb\n"
              "\u202egnp.txt")
    report = collect(course, export(tmp_path / "e.zip", {member: b"{}"}), progress=False)
    text = "\n".join(report.lines())
    assert "\n  imported alice" not in text and "\u202e" not in text
    assert len(text.splitlines()) == len(report.lines())


def test_the_staging_folder_of_a_killed_collect_is_removed_at_the_next_start(course, tmp_path):
    """A collect killed by a signal leaves its staging folder (copies of learners' notebooks)
    in grading/: is it removed when collect next runs, and a live one's kept?"""
    grading = course / "grading"
    grading.mkdir(exist_ok=True)
    dead = grading / f".collect-p{os.getpid()}.0-killed"  # this pid, another start time
    (dead / "x").mkdir(parents=True)
    (dead / "x" / "add.ipynb").write_bytes(answer("copied"))
    collect(course, export(tmp_path / "e.zip", {}), progress=False)
    assert not dead.exists()
    assert not list(grading.glob(".collect-*")), "collect removes its own staging folder too"
