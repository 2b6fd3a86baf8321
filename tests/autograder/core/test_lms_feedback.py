"""Member names of the feedback zips: what Moodle's and Canvas's bulk uploads match, and
nothing a hostile learner name can steer.

``moodle_reads`` and ``canvas_reads`` restate, in Python, how each LMS reads a member name
(Moodle: ``assignfeedback_file_zip_importer::is_valid_filename_for_import``; Canvas:
``Assignment#infer_comment_context_from_filename``), so the tests check the names against
the importers' own rules, not against our writer.
"""

from __future__ import annotations

import os
import re
import zipfile

import pytest

from autograder.core.lms_feedback import (
    MAX_FILE,
    MAX_NAME,
    LmsIds,
    ascii_letters,
    feedback_file,
    member_name,
    moodle_name,
    read_page,
    write_zip,
)

HOSTILE_NAMES = [
    "../../etc/passwd",
    "a/b\\c",
    "nul\x00name",
    "x" * 300,
    "=HYPERLINK(\"http://evil.example\")",
    "42",
    "_123_456_",
    ".hidden",
    "~tilde",
    "line\nbreak\rreturn\u202eRTL",
    "José Núñez 山田",
    "",
]
SAFE_MEMBER = re.compile(r"[\w .\-]+(/[\w.\-]+)?")  # one folder at most, no "..", no control


def moodle_reads(path: str) -> tuple[str, str, str] | None:
    """(participant id, plugin, file name) as Moodle's zip import reads ``path``, or None."""
    parts = path.split("/")
    if parts[-1].startswith((".", "~")):
        return None
    while parts:
        info = parts.pop(0).split("_", 4)
        if len(info) < 4 or not info[1].isnumeric():
            continue
        rest = info[4] if len(info) == 5 else ""
        return info[1], f"{info[2]}_{info[3]}", "/".join([rest, *parts])
    return None


def canvas_reads(path: str) -> tuple[str, str] | None:
    """(user id, attachment id) as Canvas's re-upload reads ``path``, or None (ignored)."""
    name = path.rsplit("/", 1)[-1]
    split = name.split("_")
    ids = [p for p in split if re.fullmatch(r"\d+", p)][:2]
    if len(ids) < 2 or re.match(r"link", split[-1]) or name.startswith("._"):
        return None
    return ids[0], ids[1]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_moodle_reads_the_participant_whatever_the_learner_is_called(name):
    """Does any learner name change the participant Moodle finds, or the file it stores?"""
    member = member_name("moodle", name, LmsIds("4711"), "rnn_forward.html")
    assert moodle_reads(member) == ("4711", "assignsubmission_file",
                                    "/feedback-rnn-forward.html")


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_canvas_reads_the_user_and_attachment_whatever_the_learner_is_called(name):
    """Does any learner name (digits, underscores, a path) change the ids Canvas reads?"""
    member = member_name("canvas", name, LmsIds("424242", "99001"), "rnn_forward.html")
    assert canvas_reads(member) == ("424242", "99001")


@pytest.mark.parametrize("fmt", ["canvas", "moodle"])
@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_member_name_is_made_of_allowed_characters_only(fmt, name):
    """Can a learner's name put a path, a NUL, a control character or a hidden file in the
    zip, or make a member longer than its bound?"""
    member = member_name(fmt, name, LmsIds("12", "34"), "../../x\x00y.html")
    assert SAFE_MEMBER.fullmatch(member), member
    assert ".." not in member.split("/") and not member.startswith(("/", "."))
    assert not any(part.startswith((".", "~")) for part in member.split("/"))
    assert len(member) <= MAX_NAME + MAX_FILE + 2 * 20 + len("_assignsubmission_file_/")


def test_a_long_name_is_cut_to_its_bound():
    assert len(ascii_letters("x" * 300)) == MAX_NAME
    assert len(moodle_name("y" * 300)) == MAX_NAME
    assert len(feedback_file("z" * 300 + ".html")) == MAX_FILE


def test_names_keep_what_each_lms_allows():
    """Accents stay in Moodle's folder name (any script), Canvas's name is ASCII letters."""
    assert moodle_name("José Núñez_Ortiz 山田") == "José Núñez Ortiz 山田"
    assert ascii_letters("José Núñez") == "josenunez"
    assert ascii_letters("42") == "learner"  # digits alone would be read as the user id


def test_a_canvas_file_part_is_never_one_canvas_ignores():
    """Canvas ignores a file whose last ``_`` part starts with ``link``."""
    member = member_name("canvas", "Ada", LmsIds("1", "2"), "link_list.html")
    assert canvas_reads(member) == ("1", "2")


@pytest.mark.parametrize("bad", ["12a", "", "1" * 21, "../3", "1\x002"])
def test_an_lms_id_that_is_not_digits_is_refused(bad):
    """Can a hand-edited record put a path or text where the LMS reads an id?"""
    with pytest.raises(ValueError, match="1 to 20 digits"):
        member_name("canvas", "Ada", LmsIds("7", bad), "a.html")
    with pytest.raises(ValueError, match="1 to 20 digits"):
        member_name("moodle", "Ada", LmsIds(bad), "a.html")


def test_a_page_behind_a_symbolic_link_is_never_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("not feedback")
    link = tmp_path / "add.html"
    os.symlink(secret, link)
    with pytest.raises(ValueError, match="symbolic link"):
        read_page(link)


def test_a_page_larger_than_the_limit_is_refused(tmp_path):
    page = tmp_path / "add.html"
    page.write_bytes(b"x" * 101)
    with pytest.raises(ValueError, match="larger than 100 bytes"):
        read_page(page, limit=100)
    assert read_page(page, limit=101) == b"x" * 101


def test_the_zip_holds_regular_files_with_the_names_given(tmp_path):
    path = write_zip(tmp_path / "out.zip", [("A_1_assignsubmission_file_/f.html", b"<p>")])
    with zipfile.ZipFile(path) as zf:
        [info] = zf.infolist()
        assert info.filename == "A_1_assignsubmission_file_/f.html"
        assert (info.external_attr >> 16) & 0o170000 == 0o100000
        assert zf.read(info) == b"<p>"
    assert [p.name for p in tmp_path.iterdir()] == ["out.zip"]
