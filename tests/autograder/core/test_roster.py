"""core.roster: the LMS roster files read (as Canvas and Moodle write them), hostile ones
refused or cleaned, and rows of one learner in two LMSs made one student.

The files here are written as the LMSs write them: Canvas's gradebook export (canvas-lms
``GradebookExporter``: a header, a "Points Possible" row, ``,`` or ``;``, a byte-order mark or
none), Moodle's participants download and grade export (``First name``, ``Last name`` and the
identity fields) and an assignment's grading worksheet (``Identifier`` "Participant N").
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest

import autograder.core.roster as roster
from autograder.core.learners import Identity, Registry, student_id
from autograder.core.roster import RosterRefused, merge, read

CANVAS_HEADER = "Student,ID,SIS User ID,SIS Login ID,Section,add (8812)\n"
CANVAS_POINTS = "    Points Possible,,,,,3.00\n"
MOODLE_HEADER = "First name,Last name,ID number,Institution,Department,Email address,add\n"
WORKSHEET_HEADER = ("Identifier,Full name,Email address,ID number,Status,Grade,"
                    "Maximum Grade,Grade can be changed,Last modified (submission)\n")


def write(tmp_path: Path, text: str | bytes, name: str = "roster.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def canvas(tmp_path: Path, *rows: str, bom: bool = True) -> Path:
    return write(tmp_path, ("\ufeff" if bom else "") + CANVAS_HEADER + CANVAS_POINTS
                 + "".join(rows))


def refused_lines(table) -> list[int]:
    return [line for line, _ in table.refused]


# -- the formats, as the LMSs write them ------------------------------------------------------

def test_a_canvas_gradebook_export_gives_names_ids_and_section(tmp_path):
    table = read(canvas(tmp_path, '"Núñez, José",12345,S-1,jose@uni.edu,Lab A,2.00\n',
                        '"Lee, Ann",222,S-2,ann@uni.edu,Lab A,\n'))
    assert table.format.name == "canvas" and table.refused == [] and table.warnings == []
    jose, ann = table.people
    assert (jose.first_name, jose.last_name, jose.canvas_id) == ("José", "Núñez", "12345")
    assert (jose.sis_user_id, jose.sis_login_id, jose.section) == ("S-1", "jose@uni.edu",
                                                                    "Lab A")
    assert (ann.line, ann.canvas_id) == (4, "222")


def test_canvas_s_points_possible_and_manual_posting_rows_are_not_learners(tmp_path):
    table = read(canvas(tmp_path, ",,,,,Manual Posting\n", '"Lee, Ann",222,S-2,,,\n'))
    assert [p.canvas_id for p in table.people] == ["222"]
    assert table.warnings == [] and table.refused == []


def test_a_canvas_export_with_semicolons_and_no_byte_order_mark_is_read(tmp_path):
    text = CANVAS_HEADER.replace(",", ";") + '"Lee, Ann";222;S-2;ann@uni.edu;A;1,5\n'
    table = read(write(tmp_path, text))
    assert table.format.name == "canvas" and table.people[0].canvas_id == "222"


def test_canvas_s_first_and_last_name_columns_are_read(tmp_path):
    table = read(write(tmp_path, "LastName,FirstName,ID,SIS Login ID,Section\n"
                                 "Núñez,José,12345,jose@uni.edu,A\n"))
    assert (table.people[0].first_name, table.people[0].last_name) == ("José", "Núñez")


def test_a_name_canvas_quoted_for_spreadsheets_is_read_unquoted(tmp_path):
    """Canvas writes a name starting with ``=`` as ``="=..."`` so Excel shows it as text."""
    table = read(canvas(tmp_path, '"=""=Doe, Jane""",12,,,,\n'))
    assert table.people[0].last_name == "=Doe" and table.people[0].first_name == "Jane"


def test_a_moodle_participants_download_gives_names_id_numbers_and_emails(tmp_path):
    table = read(write(tmp_path, "First name,Last name,ID number,Email address\n"
                                 "José,Núñez,S-1,jose@uni.edu\nZoë,Martin,,zoe@uni.edu\n"))
    assert table.format.name == "moodle"
    assert [(p.name, p.id_number, p.email) for p in table.people] == [
        ("José Núñez", "S-1", "jose@uni.edu"), ("Zoë Martin", "", "zoe@uni.edu")]


def test_moodle_s_grade_export_and_older_surname_header_are_read(tmp_path):
    table = read(write(tmp_path, MOODLE_HEADER + "Ann,Lee,S-2,Uni,CS,ann@uni.edu,7.00\n"))
    assert table.format.name == "moodle" and table.people[0].id_number == "S-2"
    older = read(write(tmp_path, "First name,Surname,Email address\nAnn,Lee,ann@uni.edu\n"))
    assert older.people[0].last_name == "Lee"


def test_a_moodle_row_with_neither_id_number_nor_email_is_skipped_with_a_warning(tmp_path):
    table = read(write(tmp_path, MOODLE_HEADER + "Ann,Lee,,Uni,CS,,\n"))
    assert table.people == [] and table.warnings[0][0] == 2
    assert "no ID number and no email" in table.warnings[0][1]


def test_a_moodle_grading_worksheet_gives_each_participant_id(tmp_path):
    table = read(write(tmp_path, WORKSHEET_HEADER + "Participant 424242,José Núñez,"
                                                    "jose@uni.edu,S-1,Submitted,,10,Yes,\n"))
    assert table.format.name == "moodle-worksheet"
    jose = table.people[0]
    assert (jose.participant_id, jose.first_name, jose.last_name) == ("424242", "José", "Núñez")


def test_an_unknown_header_is_refused_naming_the_formats_and_their_columns(tmp_path):
    with pytest.raises(RosterRefused) as err:
        read(write(tmp_path, "name,mail\nAnn,ann@uni.edu\n"))
    message = str(err.value)
    assert "name,mail" in message
    assert all(f in message for f in ("canvas", "moodle", "moodle-worksheet", "Student",
                                      "Identifier", "First name", "Email address"))


def test_a_format_asked_for_that_the_header_does_not_fit_names_the_missing_column(tmp_path):
    with pytest.raises(RosterRefused, match="no column Identifier"):
        read(canvas(tmp_path, '"Lee, Ann",222,,,,\n'), "moodle-worksheet")


# -- hostile files ----------------------------------------------------------------------------

def test_a_column_named_twice_is_read_from_its_first_place(tmp_path):
    """Canvas puts custom columns and assignments after its own: one titled "ID" is not the
    learner's id."""
    table = read(write(tmp_path, "Student,ID,SIS Login ID,Section,ID\n"
                                 '"Lee, Ann",222,,A,999\n"Doe, Jo",,,A,333\n'))
    assert [p.canvas_id for p in table.people] == ["222"]
    assert "no Canvas ID" in table.warnings[0][1]


def test_a_file_larger_than_the_limit_is_refused_before_it_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(roster, "MAX_BYTES", 100)
    with pytest.raises(RosterRefused, match="larger than 100 bytes"):
        read(canvas(tmp_path, *['"Lee, Ann",222,,,,\n'] * 10))


def test_a_file_with_nul_bytes_is_refused(tmp_path):
    with pytest.raises(RosterRefused, match="NUL"):
        read(write(tmp_path, (CANVAS_HEADER + '"Lee, Ann",2\x0022,,,,\n').encode()))


def test_a_file_that_is_not_utf8_is_refused_with_where_and_what_to_do(tmp_path):
    with pytest.raises(RosterRefused, match=r"not UTF-8 \(byte 0xfa .*CSV UTF-8"):
        read(write(tmp_path, (CANVAS_HEADER + '"Núñez, José",1,,,,\n').encode("latin-1")))


def test_a_utf16_file_with_its_byte_order_mark_is_read(tmp_path):
    """Excel's "Unicode text" is UTF-16 with a byte-order mark (and tabs)."""
    text = CANVAS_HEADER.replace(",", "\t") + "Núñez, José\t1\t\t\t\t\n"
    table = read(write(tmp_path, text.encode("utf-16")))
    assert table.people[0].last_name == "Núñez"


def test_a_cell_longer_than_the_limit_refuses_its_row_only(tmp_path):
    table = read(canvas(tmp_path, f'"{"x" * (roster.MAX_FIELD + 1)}, A",1,,,,\n',
                        '"Lee, Ann",222,,,,\n'))
    assert refused_lines(table) == [3] and [p.canvas_id for p in table.people] == ["222"]


def test_a_field_beyond_the_csv_module_s_limit_refuses_the_file_with_its_line(tmp_path):
    with pytest.raises(RosterRefused, match="line 3.*not CSV"):
        read(canvas(tmp_path, '"' + "x" * 200_000 + '",1,,,,\n'))


def test_more_rows_than_a_class_has_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(roster, "MAX_ROWS", 3)
    with pytest.raises(RosterRefused, match="more than 3 rows"):
        read(canvas(tmp_path, *[f'"L, A",{n},,,,\n' for n in range(1, 5)]))


@pytest.mark.parametrize("bad", ["12a", "-1", "1" * 21, "１２"])  # the last: full-width digits
def test_a_canvas_id_that_is_not_a_number_refuses_the_row(tmp_path, bad):
    table = read(canvas(tmp_path, f'"Lee, Ann",{bad},,,,\n', '"Doe, Jane",7,,,,\n'))
    assert refused_lines(table) == [3] and [p.canvas_id for p in table.people] == ["7"]


@pytest.mark.parametrize("bad", ["Participant", "Participant 12.5", "Teilnehmer/in 12",
                                 "Participant 1; DROP", "=Participant 1"])
def test_a_worksheet_identifier_not_as_moodle_writes_it_refuses_the_row(tmp_path, bad):
    table = read(write(tmp_path, WORKSHEET_HEADER + f'"{bad}",Ann Lee,ann@uni.edu,,,,,,\n'))
    assert refused_lines(table) == [2] and table.people == []


def test_an_id_with_spaces_or_separators_refuses_the_row(tmp_path):
    table = read(write(tmp_path, "First name,Last name,ID number,Email address\n"
                                 'Ann,Lee,"S 1, S 2",ann@uni.edu\n'))
    assert refused_lines(table) == [2] and table.people == []


def test_an_email_address_that_is_not_one_is_left_out_with_a_warning(tmp_path):
    table = read(write(tmp_path, "First name,Last name,ID number,Email address\n"
                                 "Ann,Lee,S-2,=HYPERLINK(\"x\")\n"))
    assert table.people[0].email == "" and table.people[0].id_number == "S-2"
    assert "not one: left out" in table.warnings[0][1]


def test_a_name_a_spreadsheet_would_run_is_kept_as_text_and_kept_out_of_ids(tmp_path):
    """A formula is defused where a CSV is written (``commands.export.cell``); the roster keeps
    the learner's name as they wrote it, and their student id has letters and digits only."""
    table = read(canvas(tmp_path, '"=cmd|\' /C calc\'!A0, Mallory",99,,,,\n'))
    person = table.people[0]
    assert person.last_name == "=cmd|' /C calc'!A0"
    sid = student_id(Identity("canvas", person.canvas_id, person.name))
    assert sid == "mallory_cmd_c_calc_a0_99"


def test_control_characters_in_a_name_are_removed_with_a_warning(tmp_path):
    table = read(canvas(tmp_path, '"Lee\r\n\x1b[31m, Ann\x07",222,,,,\n'))
    assert (table.people[0].last_name, table.people[0].first_name) == ("Lee [31m", "Ann")
    assert any("control characters" in why for _, why in table.warnings)


def test_names_are_kept_in_nfc_whatever_the_export_wrote(tmp_path):
    nfd = unicodedata.normalize("NFD", "Núñez, José")
    table = read(canvas(tmp_path, f'"{nfd}",1,,,,\n'))
    assert table.people[0].last_name == unicodedata.normalize("NFC", "Núñez")


def test_a_name_longer_than_nbgrader_s_column_is_cut_with_a_warning(tmp_path):
    table = read(canvas(tmp_path, f'"{"é" * 300}, Ann",1,,,,\n'))
    assert len(table.people[0].last_name) == roster.DB_FIELD
    assert any("cut to 128" in why for _, why in table.warnings)


# -- one learner, one student -----------------------------------------------------------------

@pytest.fixture
def registry(tmp_path) -> Registry:
    return Registry.load(tmp_path / "course")


def people(tmp_path: Path, text: str, name: str):
    return read(write(tmp_path, text, name)).people


def test_canvas_and_moodle_rows_with_one_institution_id_are_one_learner(tmp_path, registry):
    merge(registry, people(tmp_path, CANVAS_HEADER + '"Núñez, José",12345,S-1,,A,\n', "c.csv"),
          None)
    result = merge(registry, people(tmp_path, "First name,Last name,ID number,Email address\n"
                                              "José,Núñez,S-1,jose@uni.edu\n", "m.csv"), None)
    assert result.refused == [] and [s for _, s, _ in result.placed] == ["josé_núñez_12345"]
    lms = registry.owners["josé_núñez_12345"]["lms"]
    assert (lms["canvas_id"], lms["id_number"], lms["email"]) == ("12345", "S-1", "jose@uni.edu")


def test_canvas_s_login_id_that_is_an_email_matches_moodle_s_email(tmp_path, registry):
    merge(registry, people(tmp_path, CANVAS_HEADER + '"Lee, Ann",222,,ANN@uni.edu,A,\n',
                           "c.csv"), None)
    result = merge(registry, people(tmp_path, "First name,Last name,Email address\n"
                                              "Ann,Lee,ann@uni.edu\n", "m.csv"), None)
    assert [(s, state) for _, s, state in result.placed] == [("ann_lee_222", "updated")]
    assert len(registry.owners) == 1


def test_a_row_whose_ids_belong_to_two_learners_is_refused_not_merged(tmp_path, registry):
    merge(registry, people(tmp_path, CANVAS_HEADER + '"Lee, Ann",222,S-2,ann@uni.edu,,\n'
                                                     '"Doe, Jane",333,S-3,jane@uni.edu,,\n',
                           "c.csv"), None)
    before = json.dumps(registry.owners, sort_keys=True)
    result = merge(registry, people(tmp_path, "First name,Last name,ID number,Email address\n"
                                              "Ann,Lee,S-3,ann@uni.edu\n", "m.csv"), None)
    assert result.placed == [] and "ann_lee_222" in result.refused[0][1]
    assert "jane_doe_333" in result.refused[0][1]
    assert json.dumps(registry.owners, sort_keys=True) == before


def test_another_canvas_id_for_a_known_learner_is_refused(tmp_path, registry):
    merge(registry, people(tmp_path, CANVAS_HEADER + '"Lee, Ann",222,S-2,,,\n', "a.csv"), None)
    result = merge(registry, people(tmp_path, CANVAS_HEADER + '"Lee, Ann",999,S-2,,,\n',
                                    "b.csv"), None)
    assert result.placed == [] and "another canvas id (222, not 999)" in result.refused[0][1]


def test_two_rows_of_one_file_for_one_learner_are_read_as_one_with_a_warning(tmp_path,
                                                                             registry):
    result = merge(registry, people(tmp_path, CANVAS_HEADER + '"Lee, Ann",222,,,A,\n'
                                                              '"Lee, Ann",222,,,B,\n', "c.csv"),
                   None)
    assert {s for _, s, _ in result.placed} == {"ann_lee_222"} and len(registry.owners) == 1
    assert result.warnings == [(3, "the same learner as line 2 (ann_lee_222): read as one")]


def test_two_rows_of_one_file_with_one_email_and_two_canvas_ids_are_refused(tmp_path,
                                                                            registry):
    result = merge(registry, people(tmp_path, CANVAS_HEADER + '"Lee, Ann",222,,a@uni.edu,,\n'
                                                              '"Doe, Jo",333,,a@uni.edu,,\n',
                                    "c.csv"), None)
    assert [line for line, _ in result.refused] == [3] and "line 2" in result.refused[0][1]


def test_a_learner_keeps_the_student_id_an_earlier_collect_gave_them(tmp_path, registry):
    registry.owners["núñezjosé_12345"] = {"identity": "canvas:12345", "name": "núñezjosé",
                                          "lms": {"canvas_id": "12345"}}
    result = merge(registry, people(tmp_path, CANVAS_HEADER + '"Núñez, José",12345,S-1,,,\n',
                                    "c.csv"), None)
    assert [s for _, s, _ in result.placed] == ["núñezjosé_12345"]
    assert registry.owners["núñezjosé_12345"]["identity"] == "canvas:12345"


def test_a_new_learner_gets_the_id_collect_would_make_from_the_same_lms_id(tmp_path, registry):
    result = merge(registry, people(tmp_path, CANVAS_HEADER + '"Núñez, José",12345,,,,\n',
                                    "c.csv"), None)
    sid = student_id(Identity("canvas", "12345", "José Núñez"))
    assert [s for _, s, _ in result.placed] == [sid] == ["josé_núñez_12345"]
    assert registry.owners[sid]["identity"] == "roster:josé_núñez_12345"


def test_a_worksheet_records_each_participant_id_for_its_assignment(tmp_path, registry):
    merge(registry, people(tmp_path, "First name,Last name,ID number,Email address\n"
                                     "José,Núñez,S-1,jose@uni.edu\n", "m.csv"), None)
    merge(registry, people(tmp_path, WORKSHEET_HEADER + "Participant 424242,José Núñez,"
                                                        "jose@uni.edu,,,,,,\n", "w.csv"), "add")
    (entry,) = registry.owners.values()
    assert entry["lms"]["moodle_participants"] == {"add": "424242"}
    assert registry.member_of(Identity("moodle", "424242", "José Núñez")) == \
        next(iter(registry.owners))
