"""Lab's save of a Markdown file, without a browser (``tests/test_chapters_roundtrip.py``,
``tests/test_plain_pages.py``): jupytext's contents manager, as ``rnncourse.lab setup``
installs it, on a copy of the course holding one file, and the changes JupyterLab 4 makes to
the notebook model when a learner starts a kernel and runs every cell."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jupyter_server.services.contents.filemanager import FileContentsManager
from jupytext.sync_contentsmanager import build_sync_jupytext_contents_manager_class

from scripts.normalise_chapters import lab_kernelspec

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "jupytext.toml"
ContentsManager = build_sync_jupytext_contents_manager_class(FileContentsManager)


def course_config() -> str:
    """The text of the course's ``jupytext.toml``."""
    return CONFIG.read_text(encoding="utf-8")


def lab_copy(tmp_path: Path, name: str, text: str, config: str | None) -> Any:
    """A contents manager rooted at a copy of the course holding the file ``name``.

    ``config`` is the text of the copy's ``jupytext.toml`` (None: no configuration file).
    """
    tmp_path.mkdir(parents=True, exist_ok=True)
    if config is not None:
        (tmp_path / CONFIG.name).write_text(config, encoding="utf-8")
    page = tmp_path / name
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(text, encoding="utf-8")
    return ContentsManager(root_dir=str(tmp_path))


def run_as_lab_does(content: dict[str, Any]) -> None:
    """Change a notebook model the way JupyterLab 4 does when its kernel starts and runs it.

    ``NotebookPanel._updateSpec`` sets ``kernelspec`` to ``{name, display_name, language}``
    from the kernel spec (a plain page has none: Lab asks, the learner picks Python 3); the
    kernel's reply sets ``language_info``; running a cell sets its outputs and execution
    count, and (with timing recorded, or by other front ends) cell metadata that jupytext's
    default filter leaves out of the text. A learner who folds a cell's input or output adds
    ``jupyter``; jupyterlab-myst, running a markdown cell with ``{eval}`` roles, adds
    ``user_expressions``: the course's ``jupytext.toml`` drops both.
    """
    metadata = content["metadata"]
    metadata["kernelspec"] = lab_kernelspec(metadata.get("kernelspec", {}).get("name",
                                                                                "python3"))
    metadata["language_info"] = {
        "codemirror_mode": {"name": "ipython", "version": 3}, "file_extension": ".py",
        "mimetype": "text/x-python", "name": "python", "nbconvert_exporter": "python",
        "pygments_lexer": "ipython3", "version": "3.11.2"}
    count = 0
    for cell in content["cells"]:
        if cell["cell_type"] == "markdown":
            cell["metadata"]["user_expressions"] = [
                {"expression": "n", "result": {"status": "ok", "data": {"text/plain": "3"}}}]
            continue
        count += 1
        cell["execution_count"] = count
        cell["outputs"] = [{"name": "stdout", "output_type": "stream", "text": "ran\n"}]
        cell["metadata"].update({
            "execution": {"iopub.execute_input": "2026-01-01T00:00:00.000Z",
                          "shell.execute_reply": "2026-01-01T00:00:01.000Z"},
            "trusted": True, "scrolled": True, "collapsed": False,
            "jupyter": {"outputs_hidden": True, "source_hidden": True},
            "ExecuteTime": {"end_time": "2026-01-01T00:00:01.000Z"}})


def saved_by_lab(tmp_path: Path, name: str, text: str, config: str | None) -> str:
    """The text of file ``name`` after Lab opens it as a notebook, runs it and saves it."""
    manager = lab_copy(tmp_path, name, text, config)
    model = manager.get(name, content=True, type="notebook")
    assert model["content"]["cells"], f"{name} opened as a notebook with no cells"
    run_as_lab_does(model["content"])
    manager.save(model, name)
    return (tmp_path / name).read_text(encoding="utf-8")
