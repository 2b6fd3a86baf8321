"""The course's JupyterLab (``rnncourse.lab``, issue 29): learner tools only, a quiet log.

Setup writes into a scratch prefix here, never into ``.venv``: the servers these tests start
read it through ``JUPYTER_CONFIG_PATH`` (and ``LabApp.app_settings_dir``), with a user config
folder of their own (``JUPYTER_CONFIG_DIR``), so neither the environment's configuration nor
the user's changes what they see. Each server works in a scratch course (the course's nbgrader
configuration, one released exercise, one chapter) on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
import time
from pathlib import Path

import nbformat
import pytest

from rnncourse import lab
from tests.lab_helpers import (
    CHAPTER,
    EXERCISE,
    chromium_context,
    menu_titles,
    noise_in,
    open_in_lab,
    run_in_a_kernel,
    start_lab,
    wait_for_an_idle_kernel,
)

# ---- setup: the files it writes -----------------------------------------------------------------

def read(prefix: Path, relative) -> dict:
    return json.loads((prefix / relative).read_text(encoding="utf-8"))


def disabled_plugins(prefix: Path) -> set[str]:
    data = read(prefix, lab.PAGE_CONFIG)["disabledExtensions"]
    return {plugin for plugin, disabled in data.items() if disabled}


def enabled_server_extensions(prefix: Path) -> set[str]:
    data = read(prefix, lab.SERVER_EXTENSIONS)["ServerApp"]["jpserver_extensions"]
    return {name for name, enabled in data.items() if enabled}


def test_a_learner_gets_validate_and_none_of_the_instructors_tools(tmp_path):
    """Does the default setup disable Formgrader, Create Assignment, Course List, the
    Assignment List and their menu, and keep Validate, in Lab and in the server?"""
    lab.setup(prefix=tmp_path)
    assert disabled_plugins(tmp_path) == set(lab.INSTRUCTOR_PLUGINS)
    assert enabled_server_extensions(tmp_path) == set(lab.LEARNER_SERVER_EXTENSIONS)
    assert lab.configured_role(tmp_path) == "learner"


def test_an_instructor_gets_every_nbgrader_tool(tmp_path):
    """Does ``--instructor`` turn every nbgrader tool on, Validate included?"""
    lab.setup("learner", tmp_path)
    lab.setup("instructor", tmp_path)
    assert disabled_plugins(tmp_path) == set()
    assert enabled_server_extensions(tmp_path) == (
        set(lab.INSTRUCTOR_SERVER_EXTENSIONS) | set(lab.LEARNER_SERVER_EXTENSIONS))
    assert lab.configured_role(tmp_path) == "instructor"


def test_markdown_chapters_open_as_jupytext_notebooks(tmp_path):
    """Do Markdown and MyST documents open with jupytext's notebook factory by default?"""
    lab.setup(prefix=tmp_path)
    viewers = read(tmp_path, lab.LAB_OVERRIDES)["@jupyterlab/docmanager-extension:plugin"]
    assert viewers["defaultViewers"] == {"markdown": "Jupytext Notebook",
                                         "myst": "Jupytext Notebook"}


def test_the_jupytext_factory_is_the_one_the_installed_extension_registers():
    """Is our factory name the one jupyterlab-jupytext's built code registers (a renamed
    factory would silently leave chapters in the text editor)?"""
    static = Path(sys.prefix, "share/jupyter/labextensions/jupyterlab-jupytext/static")
    code = "".join(p.read_text(encoding="utf-8") for p in static.glob("*.js"))
    assert f'FACTORY="{lab.JUPYTEXT_FACTORY}"' in code


def test_the_plugins_named_are_the_ones_nbgrader_ships():
    """Does the installed nbgrader labextension define every plugin setup names (a renamed
    plugin would stay enabled)?"""
    static = Path(sys.prefix, "share/jupyter/labextensions/@jupyter/nbgrader/static")
    code = "".join(p.read_text(encoding="utf-8") for p in static.glob("*.js"))
    for plugin in (*lab.INSTRUCTOR_PLUGINS, *lab.LEARNER_PLUGINS):
        assert f'"{plugin}"' in code, plugin


def test_setup_twice_changes_nothing(tmp_path):
    """Is setup idempotent: the second run writes no file and leaves every one as it was?"""
    first = lab.setup(prefix=tmp_path)
    stamps = {p: p.stat().st_mtime_ns for p in first}
    assert lab.setup(prefix=tmp_path) == []
    assert {p: p.stat().st_mtime_ns for p in first} == stamps


def test_setup_keeps_the_other_server_settings_of_the_environment(tmp_path):
    """Does setup set only its own keys in the environment's jupyter_server_config.json?"""
    settings = tmp_path / lab.SERVER_SETTINGS
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps({"ServerApp": {"root_dir": "/srv/course",
                                                  "tornado_settings": {"x": 1}},
                                    "MappingKernelManager": {"cull_idle_timeout": 600}}))
    lab.setup(prefix=tmp_path)
    data = read(tmp_path, lab.SERVER_SETTINGS)
    assert data["ServerApp"]["root_dir"] == "/srv/course"
    assert data["ServerApp"]["tornado_settings"] == {"x": 1, "ws_ping_interval": 0}
    assert data["MappingKernelManager"] == {"cull_idle_timeout": 600}
    assert data["ServerApp"]["contents_manager_class"] == lab.CONTENTS_MANAGER


def test_kernels_get_curve_keys_only_where_pyzmq_has_curve(tmp_path, monkeypatch):
    """Is encryption asked for only where libzmq has CurveZMQ (jupyter_client refuses "auto"
    without it, and no kernel would start)?"""
    import zmq

    lab.setup(prefix=tmp_path)
    assert read(tmp_path, lab.SERVER_SETTINGS)["KernelManager"] == {
        "transport_encryption": "auto" if zmq.has("curve") else "disabled"}
    monkeypatch.setattr(zmq, "has", lambda capability: False)
    lab.setup(prefix=tmp_path)
    for settings in (lab.SERVER_SETTINGS, lab.NBGRADER_SETTINGS):
        assert read(tmp_path, settings)["KernelManager"] == {"transport_encryption": "disabled"}


def test_a_broken_server_settings_file_is_reported_and_left_alone(tmp_path):
    """Is a jupyter_server_config.json that is not JSON reported with what to do, and kept?"""
    settings = tmp_path / lab.SERVER_SETTINGS
    settings.parent.mkdir(parents=True)
    settings.write_text("{not json")
    with pytest.raises(lab.LabSetupError, match="fix or remove it"):
        lab.setup(prefix=tmp_path)
    assert settings.read_text() == "{not json"


def test_setup_writes_only_inside_the_prefix(tmp_path, monkeypatch):
    """Does setup leave the user's home (~/.jupyter, ~/.local) untouched?"""
    home, prefix = tmp_path / "home", tmp_path / "prefix"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    written = lab.setup(prefix=prefix)
    assert written and all(p.is_relative_to(prefix) for p in written)
    assert list(home.iterdir()) == []


def test_a_write_that_fails_leaves_the_old_file_and_no_temporary_one(tmp_path, monkeypatch):
    """Is each file replaced in one step: when the rename fails, the old file is intact and
    no temporary file is left beside it?"""
    lab.setup("learner", tmp_path)
    before = (tmp_path / lab.PAGE_CONFIG).read_text()

    def failing_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(lab.os, "replace", failing_replace)
    with pytest.raises(lab.LabSetupError, match="No space left"):
        lab.setup("instructor", tmp_path)
    assert (tmp_path / lab.PAGE_CONFIG).read_text() == before
    assert sorted(p.name for p in (tmp_path / lab.PAGE_CONFIG).parent.iterdir()) == [
        lab.CONFIG_NAME]


def test_an_unknown_role_is_refused(tmp_path):
    with pytest.raises(lab.LabSetupError, match="learner, instructor"):
        lab.setup("teacher", tmp_path)  # type: ignore[arg-type]
    assert not tmp_path.joinpath("etc").exists()


def test_the_command_line_sets_up_the_instructor(tmp_path, capsys):
    """Is ``python -m rnncourse.lab setup --instructor --prefix P`` the one command?"""
    assert lab.main(["setup", "--instructor", "--prefix", str(tmp_path)]) == 0
    assert lab.configured_role(tmp_path) == "instructor"
    assert "instructor" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        lab.main(["setup", "--instructor", "--learner"])


def test_the_command_line_reports_an_unwritable_prefix_without_a_traceback(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert lab.main(["setup", "--prefix", str(blocker)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("LabSetupError: ") and "Traceback" not in err


# ---- trust: a notebook with nothing to distrust ------------------------------------------------

def a_notebook(*outputs: dict, trusted_flag: bool = False) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell("x = 1", outputs=[nbformat.from_dict(o) for o in outputs])
    if trusted_flag:
        cell.metadata["trusted"] = True
    return nbformat.v4.new_notebook(cells=[cell, nbformat.v4.new_markdown_cell("text")])


SCRIPT_OUTPUT = {"output_type": "display_data", "metadata": {},
                 "data": {"text/html": "<script>alert(1)</script>"}}
STREAM_OUTPUT = {"output_type": "stream", "name": "stdout", "text": "42\n"}


def a_contents_manager(tmp_path: Path) -> lab.CourseContentsManager:
    """The course's contents manager on ``tmp_path``, its notary's key and store in memory."""
    manager = lab.CourseContentsManager(root_dir=str(tmp_path))
    manager.notary.db_file = ":memory:"
    manager.notary.secret = secrets.token_bytes(32)
    return manager


def loaded_trust(tmp_path: Path, nb: nbformat.NotebookNode, sign: bool = False) -> list[bool]:
    """The trust each code cell gets when the course's contents manager opens ``nb``."""
    manager = a_contents_manager(tmp_path)
    if sign:
        manager.notary.sign(nb)
    # As bytes on disk, not through nbformat.write, which drops a cell's "trusted" flag.
    (tmp_path / "nb.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    model = asyncio.run(manager.get("nb.ipynb"))
    return [c.metadata.get("trusted") for c in model["content"].cells if c.cell_type == "code"]


def test_a_notebook_without_rich_output_opens_trusted(tmp_path):
    """Does a released exercise (no outputs, or only text) open trusted, unsigned?"""
    assert loaded_trust(tmp_path, a_notebook()) == [True]
    assert loaded_trust(tmp_path, a_notebook(STREAM_OUTPUT)) == [True]


def test_an_unsigned_notebook_with_a_script_output_stays_untrusted(tmp_path):
    """Hostile: does an unsigned notebook whose output holds a script stay untrusted, even
    with ``"trusted": true`` written in its cell's metadata on disk?"""
    assert loaded_trust(tmp_path, a_notebook(SCRIPT_OUTPUT)) == [False]
    assert loaded_trust(tmp_path, a_notebook(SCRIPT_OUTPUT, trusted_flag=True)) == [False]


def test_a_signed_notebook_with_rich_output_is_still_trusted(tmp_path):
    """Does Jupyter's own trust (a stored signature) still hold?"""
    assert loaded_trust(tmp_path, a_notebook(SCRIPT_OUTPUT), sign=True) == [True]


def test_a_trusted_flag_in_a_cells_metadata_does_not_count(tmp_path):
    """Hostile: does a notebook model that reaches the check carrying ``"trusted": true`` in
    a cell's metadata (nbformat drops the flag when it reads a file; the check does not rely
    on the reader) still count as holding a script, and is the model left unchanged?"""
    nb = a_notebook(SCRIPT_OUTPUT, trusted_flag=True)
    before = json.dumps(nb, sort_keys=True)
    manager = a_contents_manager(tmp_path)
    assert lab.holds_no_rich_output(nb, manager.notary) is False
    assert json.dumps(nb, sort_keys=True) == before


# ---- a real JupyterLab ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def learner_lab(tmp_path_factory):
    yield from start_lab(tmp_path_factory.mktemp("learner"), "learner")


@pytest.fixture(scope="module")
def instructor_lab(tmp_path_factory):
    yield from start_lab(tmp_path_factory.mktemp("instructor"), "instructor")


@pytest.mark.slow
def test_a_learners_lab_loads_no_instructor_plugin_and_keeps_validate(learner_lab):
    """Does the learner's Lab page disable the instructor's plugins and keep Validate?"""
    disabled = set(learner_lab.page_config()["disabledExtensions"])
    assert set(lab.INSTRUCTOR_PLUGINS) <= disabled
    assert not set(lab.LEARNER_PLUGINS) & disabled


@pytest.mark.slow
def test_a_learners_server_has_no_formgrader_and_no_exchange(learner_lab):
    """Are formgrader, the Assignment List and the Course List absent from the server?"""
    for path in ("/formgrader", "/assignments?course_id=rnn-course", "/courses"):
        assert learner_lab.get(path, allow_redirects=False).status_code == 404, path


@pytest.mark.slow
def test_chapters_open_as_notebooks_by_default(learner_lab):
    """Does Lab's document manager default to jupytext's notebook for Markdown and MyST?"""
    settings = learner_lab.get("/lab/api/settings/@jupyterlab/docmanager-extension:plugin")
    default = settings.json()["schema"]["properties"]["defaultViewers"]["default"]
    assert default["markdown"] == default["myst"] == lab.JUPYTEXT_FACTORY


@pytest.mark.slow
def test_a_learners_session_leaves_a_quiet_log(learner_lab):
    """Starting a kernel, running a cell, opening an exercise and a chapter and validating the
    exercise: does the log hold none of the warnings a learner saw?"""
    assert run_in_a_kernel(learner_lab, "print(6 * 7)") == "42\n"
    assert learner_lab.get(f"/api/contents/{EXERCISE}").status_code == 200
    chapter = learner_lab.get(f"/api/contents/{CHAPTER}?type=notebook")
    assert chapter.status_code == 200 and chapter.json()["type"] == "notebook"
    validated = learner_lab.post("/assignments/validate", data={"path": EXERCISE})
    assert validated.json()["success"] is True  # it ran: the release fails its tests
    time.sleep(1)  # the kernels' own log lines reach the file
    log = learner_lab.log()
    assert "Kernel started" in log and "Validating" in log
    assert noise_in(learner_lab) == []


@pytest.mark.slow
def test_an_instructors_lab_loads_every_nbgrader_plugin(instructor_lab):
    disabled = instructor_lab.page_config()["disabledExtensions"]
    assert not (set(lab.INSTRUCTOR_PLUGINS) | set(lab.LEARNER_PLUGINS)) & set(disabled)


@pytest.mark.slow
def test_an_instructors_formgrader_and_exchange_answer_without_error(instructor_lab):
    """Do Formgrader's Manage Assignments, the Course List and the Assignment List answer,
    with no exchange error and no serialisation warning in the log?"""
    assert instructor_lab.get("/formgrader/manage_assignments").status_code == 200
    for path in ("/courses", "/assignments?course_id=rnn-course"):
        answer = instructor_lab.get(path).json()
        assert answer["success"] is True, (path, answer)
    assert noise_in(instructor_lab) == []


# ---- in Chromium: what a learner sees -----------------------------------------------------------

@pytest.fixture(scope="module")
def chromium(tmp_path_factory):
    yield from chromium_context(tmp_path_factory.mktemp("chromium-profile"))


@pytest.mark.slow
def test_a_learner_sees_validate_and_no_nbgrader_menu_in_chromium(learner_lab, chromium):
    """Opened in Chromium, does the exercise show a Validate button, and the menu bar no
    Nbgrader menu?"""
    page = open_in_lab(chromium, learner_lab, EXERCISE)
    try:
        page.locator(".jp-NotebookPanel-toolbar").get_by_text("Validate").wait_for()
        assert "Nbgrader" not in menu_titles(page)
        assert "File" in menu_titles(page)  # the menu bar is there
        # The notebook's kernel, started by Lab and connected over its websocket: a quiet log.
        wait_for_an_idle_kernel(learner_lab)
        assert noise_in(learner_lab) == []
    finally:
        page.close()


@pytest.mark.slow
def test_a_chapter_opens_as_a_notebook_in_chromium(learner_lab, chromium):
    """Does double-clicking's default (the URL opens the default viewer) show a chapter as a
    notebook, not as text?"""
    page = open_in_lab(chromium, learner_lab, CHAPTER)
    try:
        assert page.locator(".jp-MainAreaWidget .jp-Notebook").count() == 1
        assert page.locator(".jp-MainAreaWidget .jp-FileEditor").count() == 0
    finally:
        page.close()


@pytest.mark.slow
def test_an_instructor_sees_the_nbgrader_menu_in_chromium(instructor_lab, chromium):
    page = open_in_lab(chromium, instructor_lab, EXERCISE)
    try:
        page.locator(".jp-NotebookPanel-toolbar").get_by_text("Validate").wait_for()
        assert "Nbgrader" in menu_titles(page)
        wait_for_an_idle_kernel(instructor_lab)
        assert noise_in(instructor_lab) == []
    finally:
        page.close()
