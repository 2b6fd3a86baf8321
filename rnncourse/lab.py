"""The course's JupyterLab: learner tools only, chapters as notebooks, a quiet log (issue 29).

``python -m rnncourse.lab setup`` configures the Jupyter of the environment it runs in (its
``sys.prefix``, the course's ``.venv`` or a Binder image) for a learner; ``python -m
rnncourse.lab setup --instructor`` for an instructor. ``~/.jupyter`` is never touched, and what
a user sets there still wins. Three files are its own, namespaced ``.d`` files:

- ``etc/jupyter/labconfig/page_config.d/rnncourse.json``: the Lab plugins. A learner gets
  nbgrader's Validate button and none of the instructor's tools (the Nbgrader menu with
  Formgrader, Course List and the exchange's Assignment List, and Create Assignment), whose
  Generate would overwrite ``exercises/`` and whose exchange a learner's machine does not have;
- ``etc/jupyter/jupyter_server_config.d/rnncourse.json``: the same choice of nbgrader's server
  extensions;
- ``share/jupyter/lab/settings/overrides.d/rnncourse.json``: Lab's defaults. A Markdown
  (MyST) chapter opens as a notebook, through jupytext's notebook factory.

In two files of the environment that others may write too, setup sets its own keys and keeps
the rest (the same for both roles):

- ``etc/jupyter/jupyter_server_config.json``: kernels whose kernelspec supports it
  (ipykernel's does) talk to the server over CurveZMQ-encrypted sockets (jupyter_client's
  ``transport_encryption``), so the kernel has nothing to warn about;
  :class:`CourseContentsManager` trusts a notebook that has nothing to distrust; the websocket
  keep-alive whose units jupyter_server and tornado disagree on is off; formgrader shows no
  configuration dump it cannot serialise;
- ``etc/jupyter/nbgrader_config.json``: the same Curve keys for Validate's kernel.

Setup is idempotent (a file whose content is already right is left alone) and writes each file
atomically (a temporary file in the same folder, then a rename), so a Lab starting meanwhile
reads either the old file or the new one.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager

Role = Literal["learner", "instructor"]
ROLES: tuple[Role, ...] = ("learner", "instructor")

# nbgrader's Lab plugins (@jupyter/nbgrader 0.9's labextension) a learner has no use for: the
# Nbgrader menu (which lists the other three), Formgrader, the exchange's Assignment List and
# Course List, and the Create Assignment side panel.
INSTRUCTOR_PLUGINS = (
    "@jupyter/nbgrader:menu",
    "@jupyter/nbgrader:formgrader",
    "@jupyter/nbgrader:create-assignment",
    "@jupyter/nbgrader:course-list",
    "@jupyter/nbgrader:assignment-list",
)
# The learner's tool: a Validate button in each notebook's toolbar.
LEARNER_PLUGINS = ("@jupyter/nbgrader:validate-assignment",)
# nbgrader's server extensions, the same split.
INSTRUCTOR_SERVER_EXTENSIONS = (
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.assignment_list",
    "nbgrader.server_extensions.course_list",
)
LEARNER_SERVER_EXTENSIONS = ("nbgrader.server_extensions.validate_assignment",)

# jupytext's notebook factory (jupyterlab-jupytext's FACTORY) for the Markdown document types
# it opens (its FILE_TYPES "markdown" and "myst"; the chapters are .md MyST notebooks).
JUPYTEXT_FACTORY = "Jupytext Notebook"
MARKDOWN_DOCUMENT_TYPES = ("markdown", "myst")

# Our files, relative to the environment's prefix.
CONFIG_NAME = "rnncourse.json"
PAGE_CONFIG = PurePosixPath("etc/jupyter/labconfig/page_config.d") / CONFIG_NAME
SERVER_EXTENSIONS = PurePosixPath("etc/jupyter/jupyter_server_config.d") / CONFIG_NAME
# The server reads its other settings from this file only (a `.d` folder holds nothing but
# extensions' switches): setup sets its own keys in it and keeps the rest.
SERVER_SETTINGS = PurePosixPath("etc/jupyter/jupyter_server_config.json")
LAB_OVERRIDES = PurePosixPath("share/jupyter/lab/settings/overrides.d") / CONFIG_NAME
# nbgrader's settings of the environment, read by every nbgrader run in it (Lab's Validate
# button among them) before the course's nbgrader_config.py: setup sets its own keys, keeps the
# rest.
NBGRADER_SETTINGS = PurePosixPath("etc/jupyter/nbgrader_config.json")
# The server imports it by this name (``__name__`` is "__main__" under ``python -m``).
CONTENTS_MANAGER = "rnncourse.lab.CourseContentsManager"


class LabSetupError(Exception):
    """Setup could not write the course's Jupyter configuration."""


class CourseContentsManager(AsyncLargeFileManager):
    """Jupyter's contents manager, trusting a notebook that has nothing to distrust.

    Jupyter trusts a notebook whose signature it has stored (one it saved itself), and logs
    "Notebook ... is not trusted" for any other: every released exercise and every chapter a
    learner opens for the first time. Trust decides only whether a notebook's *rich outputs*
    (HTML, JavaScript, SVG) may run in the page, and a notebook with none (what the course
    ships: exercises released with outputs cleared, chapters in MyST Markdown) has no output
    to distrust: Jupyter itself trusts each such cell when it saves the notebook
    (``NotebookNotary.check_cells``). This manager applies that rule when loading too. A
    ``trusted`` flag in a cell's metadata counts for nothing (anyone can write it; nbformat
    drops it when reading a file, and the check does not rely on that); a notebook with rich
    outputs and no stored signature stays untrusted, and is logged, as before.
    """

    def mark_trusted_cells(self, nb: Any, path: str = "") -> None:
        """Mark the cells trusted if the signature is known or no output needs trust."""
        if self.notary.check_signature(nb) or holds_no_rich_output(nb, self.notary):
            self.notary.mark_cells(nb, True)
        else:
            super().mark_trusted_cells(nb, path)


def holds_no_rich_output(nb: Any, notary: Any) -> bool:
    """Whether no code cell of ``nb`` has an output that trust would guard (``nb`` unchanged).

    ``notary.check_cells`` also believes a cell's ``metadata.trusted``, which a file on disk
    can carry: the check runs on a copy without it.
    """
    cleaned = copy.deepcopy(nb)
    for cell in cleaned.get("cells", []):
        cell.get("metadata", {}).pop("trusted", None)
    return bool(notary.check_cells(cleaned))


def page_config(role: Role) -> dict[str, Any]:
    """Lab's page config: which of nbgrader's plugins are disabled for ``role``."""
    disabled = {plugin: role == "learner" for plugin in INSTRUCTOR_PLUGINS}
    disabled.update({plugin: False for plugin in LEARNER_PLUGINS})
    return {"disabledExtensions": disabled}


def server_extensions(role: Role) -> dict[str, Any]:
    """Which of nbgrader's server extensions the server loads for ``role``."""
    extensions = {name: role == "instructor" for name in INSTRUCTOR_SERVER_EXTENSIONS}
    extensions.update({name: True for name in LEARNER_SERVER_EXTENSIONS})
    return {"ServerApp": {"jpserver_extensions": extensions}}


def kernel_encryption() -> str:
    """jupyter_client's ``transport_encryption`` for the course's kernels: "auto" (Curve keys
    for every kernel whose kernelspec supports them) where this pyzmq has CurveZMQ; else
    "disabled", since jupyter_client refuses "auto" there and no kernel would start."""
    import zmq

    return "auto" if zmq.has("curve") else "disabled"


def server_settings() -> dict[str, Any]:
    """The server's traitlets settings of the course (the same for both roles)."""
    return {
        "ServerApp": {
            "contents_manager_class": CONTENTS_MANAGER,
            # jupyter_server's websocket keep-alive reads these in milliseconds and hands the
            # same numbers to tornado (>= 6.5), which reads seconds and warns when the timeout
            # (90000) exceeds the interval (30000) (jupyter-server/jupyter_server#1612). No
            # pair pleases both: a timeout at or below the interval makes jupyter_server's own
            # check close live sockets. So the keep-alive is off (tornado never sent its pings
            # anyway: 30000 s apart). Behind a hub's or Binder's proxy, Lab reconnects a
            # dropped kernel socket by itself.
            "tornado_settings": {"ws_ping_interval": 0},
        },
        # Formgrader's Manage Assignments page shows the loaded configuration when `debug` is
        # on (nbgrader's default), as JSON; jupyter_server's own configuration holds a value
        # JSON cannot write (jpserver_extensions, a traitlets LazyConfigValue), so every visit
        # logged "Formgrader config is not serializable". The page shows no configuration.
        "FormgradeExtension": {"debug": False},
        # Curve keys for every kernel whose kernelspec declares "supported_encryption":
        # ["curve"] (ipykernel's python3 does): no plain-text TCP between server and kernel.
        "KernelManager": {"transport_encryption": kernel_encryption()},
    }


def nbgrader_settings() -> dict[str, Any]:
    """nbgrader's settings of the course's environment (the same for both roles).

    Validate (Lab's button, ``nbgrader validate``) starts its kernel with nbgrader's own
    configuration, not the server's: the same Curve keys. Grading's sandboxed kernel
    (``autograder.runner.sandbox``) keeps its own transport, ipc in a private folder.
    """
    return {
        "KernelManager": {"transport_encryption": kernel_encryption()},
        "SandboxKernelManager": {"transport_encryption": "disabled"},
    }


def lab_overrides() -> dict[str, Any]:
    """Lab's setting overrides: Markdown chapters open as notebooks through jupytext."""
    viewers = {doc_type: JUPYTEXT_FACTORY for doc_type in MARKDOWN_DOCUMENT_TYPES}
    return {"@jupyterlab/docmanager-extension:plugin": {"defaultViewers": viewers}}


def course_files(role: Role) -> dict[PurePosixPath, dict[str, Any]]:
    """The files setup owns, relative to the prefix, with their content."""
    if role not in ROLES:
        raise LabSetupError(f"unknown role {role!r}: choose one of {', '.join(ROLES)}")
    return {
        PAGE_CONFIG: page_config(role),
        SERVER_EXTENSIONS: server_extensions(role),
        LAB_OVERRIDES: lab_overrides(),
    }


def merged(base: dict[str, Any], ours: dict[str, Any]) -> dict[str, Any]:
    """``base`` with every leaf of ``ours`` set (nested dictionaries merged, not replaced)."""
    result = dict(base)
    for key, value in ours.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


def read_json_object(path: Path) -> dict[str, Any]:
    """The JSON object in ``path`` ({} if there is no such file)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except OSError as err:
        raise LabSetupError(f"cannot read {path} ({err.strerror}): run setup with the Python "
                            "of an environment you can write to, or give --prefix") from err
    except (UnicodeDecodeError, ValueError) as err:
        raise LabSetupError(f"{path} is not valid JSON ({err}): fix or remove it, then run "
                            "setup again") from err
    if not isinstance(data, dict):
        raise LabSetupError(f"{path} holds no JSON object: fix or remove it, then run setup "
                            "again")
    return data


def write_json_atomically(path: Path, data: dict[str, Any]) -> bool:
    """Write ``data`` as JSON to ``path`` unless it already holds exactly that text.

    Returns whether the file changed. The text goes to a temporary file in the same folder,
    which then replaces ``path`` in one rename.
    """
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except (FileNotFoundError, UnicodeDecodeError):
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return True


def setup(role: Role = "learner", prefix: Path | None = None) -> list[Path]:
    """Configure the Jupyter of the environment at ``prefix`` (default: this one) for ``role``.

    Returns the files that changed (none when run twice).
    """
    root = Path(sys.prefix if prefix is None else prefix)
    files = course_files(role)
    for relative, ours in ((SERVER_SETTINGS, server_settings()),
                           (NBGRADER_SETTINGS, nbgrader_settings())):
        files[relative] = merged(read_json_object(root / relative), ours)
    changed = []
    for relative, data in files.items():
        path = root / relative
        try:
            if write_json_atomically(path, data):
                changed.append(path)
        except OSError as err:
            raise LabSetupError(
                f"cannot write {path} ({err.strerror}): run setup with the Python of an "
                "environment you can write to (the course's .venv/bin/python), or give "
                "--prefix") from err
    return changed


def configured_role(prefix: Path | None = None) -> Role | None:
    """The role the environment at ``prefix`` is set up for, or None if it is not."""
    root = Path(sys.prefix if prefix is None else prefix)
    try:
        data = json.loads((root / PAGE_CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    for role in ROLES:
        if data == page_config(role):
            return role
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m rnncourse.lab setup [--learner | --instructor] [--prefix PREFIX]``."""
    parser = argparse.ArgumentParser(
        prog="python -m rnncourse.lab",
        description="Configure the course's JupyterLab in this environment.")
    commands = parser.add_subparsers(dest="command", required=True)
    setup_parser = commands.add_parser(
        "setup", help="learner tools only (default), or every nbgrader tool (--instructor)")
    roles = setup_parser.add_mutually_exclusive_group()
    roles.add_argument("--learner", dest="role", action="store_const", const="learner",
                       help="Validate only (the default)")
    roles.add_argument("--instructor", dest="role", action="store_const", const="instructor",
                       help="also Formgrader, Create Assignment, Course List, Assignment List")
    setup_parser.add_argument("--prefix", type=Path, default=None,
                              help=f"the environment to configure (default: {sys.prefix})")
    args = parser.parse_args(argv)
    role: Role = args.role or "learner"
    try:
        changed = setup(role, args.prefix)
    except LabSetupError as err:
        print(f"{type(err).__name__}: {err}", file=sys.stderr)
        return 1
    where = args.prefix or sys.prefix
    print(f"JupyterLab of {where} set up for the {role}"
          + (f" ({len(changed)} file(s) written)." if changed else " (already so)."))
    if changed:
        print("Restart a running JupyterLab (and reload its page) to see the change.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
