"""Check your notebook with the course's grading service, from the notebook itself.

In a notebook::

    from rnncourse.check import check
    check()

sends the last *saved* version of this notebook to the service your instructor runs, waits
for its turn ("3 ahead of you"), and prints your score and a message for each test (never a
hidden test's code). Save first (Ctrl+S / Cmd+S): the service grades the file on disk.

Where the service is, and who you are: ``check(url=..., token=...)``, else the environment
variables ``RNNCOURSE_SERVICE`` and ``RNNCOURSE_TOKEN``, else the file ``~/.rnncourse.json``
(``{"service": "https://...", "token": "..."}``; keep it readable by you only). On a
JupyterHub set up as the instructors' guide says, nothing to set: the hub names the service in
``RNNCOURSE_SERVICE``, and ``check()`` sends it your server's hub token
(``JUPYTERHUB_API_TOKEN``), to that address only.

Which notebook: in JupyterLab, Jupyter Notebook 7 and on a JupyterHub, the kernel knows its
notebook's path (``__session__``, which ipykernel sets from ``JPY_SESSION_NAME``). In Colab it
does not: the notebook lives in Google Drive, not on the kernel's disk. There, mount your Drive
(``from google.colab import drive; drive.mount("/content/drive")``), save, and pass the
notebook's path, ``check(path="/content/drive/MyDrive/Colab Notebooks/rnn_forward.ipynb")``;
or download the notebook (File > Download > .ipynb) and check it from your own machine with
``python -m rnncourse.check NOTEBOOK``. Nothing is checked offline: the tests run on the
service. Elsewhere (VS Code, a plain Python kernel), pass ``path=``.

In the learners' edition of the course (``python -m autograder publish``), each test cell of
an exercise keeps its docstring and runs that test on the service::

    # the docstring of the test: what it checks
    service_test("rnn_forward", "test_rnn_cell_forward_hand_case")

:func:`service_test` sends the saved notebook once per version (the first test cell sends it,
the others read the same result) and prints ``test_...: passed (1/1 points), checked on the
saved version of 15:42``, or raises :class:`ServiceTestFailed` with the service's message for
that test.

This module uses the standard library only (urllib), so it runs wherever the notebook runs.
The instructor's command ``python -m autograder score NB --remote URL`` uses it too.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

MAX_ANSWER_BYTES = 1 << 20  # the largest answer read from the service (a result is ~ 10 kB)
CONFIG = Path("~/.rnncourse.json")
DONE = ("done", "not graded")  # a check's final states
WAITING = ("queued", "running")
FIRST_DELAY, MAX_DELAY = 0.5, 10.0  # seconds between two polls: doubling, up to MAX_DELAY
MAX_WAIT = 30 * 60.0  # seconds to wait for one check before giving up


class CheckError(Exception):
    """The check could not be made; the message says what to do next."""

    def _render_traceback_(self) -> list[str]:
        """What IPython shows for it: the message, not this module's frames."""
        return [f"{type(self).__name__}: {self}"]


class ServiceNotConfigured(CheckError):
    """No grading service is configured (address or token)."""


class ServiceTestFailed(AssertionError):
    """A test failed on the service; the message is the service's message for that test."""

    def __init__(self, message: str, detail: str) -> None:
        super().__init__(message)
        self.detail = detail  # which test, its points and the saved version checked

    def _render_traceback_(self) -> list[str]:
        """What IPython shows for it: the service's message and the detail, no frames."""
        return [f"{type(self).__name__}: {self}", self.detail]


# --------------------------------------------------------------------------------------------
# Where the service is
# --------------------------------------------------------------------------------------------

def settings(url: str | None = None, token: str | None = None,
             config: Path | None = None) -> tuple[str, str]:
    """The service's address and your token: the arguments, else ``RNNCOURSE_SERVICE`` and
    ``RNNCOURSE_TOKEN``, else ``config`` (JSON with "service" and "token")."""
    stored: dict = {}
    config = config or CONFIG
    path = config.expanduser()
    if path.is_file():
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, OSError) as err:
            raise CheckError(f"{path} is not a JSON object with \"service\" and \"token\" "
                             f"({err}): fix or delete it") from None
        if not isinstance(stored, dict):
            raise CheckError(f"{path} is not a JSON object with \"service\" and \"token\"")
    url = url or os.environ.get("RNNCOURSE_SERVICE") or stored.get("service")
    token = token or os.environ.get("RNNCOURSE_TOKEN") or stored.get("token")
    if not token and url and url == os.environ.get("RNNCOURSE_SERVICE"):
        # On a JupyterHub: this learner's server's token, which the course's service (a service
        # of the same hub, whose role `server` holds access:services!service=grading) takes as
        # this learner's. Sent only to the address the hub's spawner environment names, never
        # to one given as url=... or in the config file: the token also opens this server.
        token = os.environ.get("JUPYTERHUB_API_TOKEN")
    if not url:
        raise ServiceNotConfigured(
            "no grading service given: pass url=..., or set RNNCOURSE_SERVICE, or write "
            f"{{\"service\": ..., \"token\": ...}} into {config}")
    if not token:
        raise ServiceNotConfigured(
            "no token given: pass token=..., or set RNNCOURSE_TOKEN, or put \"token\" into "
            f"{config} (your instructor gives you your token)")
    token = str(token).strip()  # a token copied with its line's end (CSV, e-mail)
    if not token or not all("!" <= ch <= "~" for ch in token):
        raise CheckError("the token holds spaces or characters that are not plain text: copy "
                         "it again exactly as your instructor gave it")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CheckError(f"{url!r} is not a web address (http:// or https://): check the "
                         "service's address your instructor gave you")
    return url.rstrip("/"), token


# --------------------------------------------------------------------------------------------
# Talking to the service
# --------------------------------------------------------------------------------------------

class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are refused: the token goes to the address given, and nowhere else."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise CheckError(f"the service answered with a redirect to {newurl}: give that "
                         "address itself (check() sends your token to no other place)")


_OPENER = urllib.request.build_opener(_NoRedirect)


def _read(stream, limit: int) -> bytes:
    """At most ``limit`` bytes of ``stream``; more is refused."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise CheckError(f"the service's answer is larger than {limit} bytes, far more than a "
                         "result: refused (is the address the course's grading service?)")
    return data


def _json(data: bytes) -> dict:
    try:
        answer = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        answer = None
    if not isinstance(answer, dict):
        raise CheckError("the service's answer is not the JSON a grading service sends: "
                         "check the address (it should be the course's grading service)")
    return answer


def error_message(status: int, answer: dict, retry_after: str | None) -> str:
    """What to tell the learner about an error answer of the service."""
    said = str(answer.get("error", "")).strip()[:500]
    said = f" (the service says: {said})" if said else ""
    if status == 400:
        return (f"the service refused the notebook{said}: send the assignment's notebook "
                "(.ipynb, saved by Jupyter) and the assignment's name")
    if status == 401 and os.environ.get("JUPYTERHUB_API_TOKEN"):
        return (f"the service did not accept your token{said}: on a JupyterHub, ask your "
                "instructor to give the hub's role 'server' the scope "
                "access:services!service=grading; elsewhere check RNNCOURSE_TOKEN")
    if status == 401:
        return (f"the service did not accept your token{said}: check RNNCOURSE_TOKEN or the "
                "token your instructor gave you")
    if status == 404:
        return f"the service knows no such check or address{said}: check the service's address"
    if status == 413:
        return (f"the notebook is too large for the service{said}: clear the outputs "
                "(Kernel > Restart Kernel and Clear Outputs), save, and check again")
    if status == 429:
        wait = f"{retry_after} seconds" if retry_after else "a minute"
        return (f"the service takes no more checks from you for now{said}: wait {wait}, then "
                "check again")
    if status == 503:
        return (f"the service is busy or stopped{said}: try again in a few minutes, or ask "
                "your instructor")
    return f"the service answered {status}{said}: try again later, or ask your instructor"


def request(method: str, url: str, token: str, body: bytes | None = None, *,
            timeout: float = 60.0, limit: int = MAX_ANSWER_BYTES) -> tuple[int, dict]:
    """One request to the service: (status, JSON answer). An error status raises CheckError
    with :func:`error_message`; so do an unreachable service and an answer that is too large
    or not a JSON object."""
    req = urllib.request.Request(url, data=body, method=method, headers={
        "Authorization": f"token {token}", "Accept": "application/json",
        **({"Content-Type": "application/x-ipynb+json"} if body is not None else {})})
    try:
        with _OPENER.open(req, timeout=timeout) as reply:
            return reply.status, _json(_read(reply, limit))
    except urllib.error.HTTPError as err:
        try:
            answer = _json(_read(err, limit))
        except CheckError:
            answer = {}
        raise CheckError(error_message(err.code, answer, err.headers.get("Retry-After"))) \
            from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        if body is not None and isinstance(reason, (ConnectionResetError, BrokenPipeError)):
            raise CheckError(
                f"the service closed the connection while the notebook ({len(body) / 1e6:.1f} "
                "MB) was being sent: it refuses a notebook over its size limit so. Clear the "
                "outputs (Kernel > Restart Kernel and Clear Outputs), save, and check again; "
                "if the notebook is small, try again later") from None
        raise CheckError(f"could not reach the grading service at {url} ({reason}): check "
                         "the address and your connection, then try again") from None


def submit(url: str, token: str, assignment: str, notebook: bytes) -> dict:
    """Send ``notebook`` for a check of ``assignment``; the service's answer (id, position)."""
    query = urllib.parse.urlencode({"assignment": assignment})
    _, answer = request("POST", f"{url}/api/checks?{query}", token, notebook)
    if not isinstance(answer.get("id"), (str, int)):
        raise CheckError("the service's answer names no check: is the address the course's "
                         "grading service?")
    return answer


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def validate(answer: dict) -> dict:
    """``answer`` if it is a well-formed result of the service, else CheckError."""
    tests = answer.get("tests")
    ok = (answer.get("status") in DONE + WAITING and isinstance(tests, list)
          and isinstance(answer.get("flags", []), list)
          and all(isinstance(t, dict) and isinstance(t.get("name"), str)
                  and _number(t.get("points")) and _number(t.get("max_points"))
                  and isinstance(t.get("message", ""), str) for t in tests))
    if ok and answer["status"] == "done":
        ok = _number(answer.get("score")) and _number(answer.get("max_score"))
    if not ok:
        raise CheckError("the service's result is not one a grading service sends: try again "
                         "later, or ask your instructor")
    return answer


def wait_for(url: str, token: str, check_id: str | int, *, say: Callable[[str], None] = print,
             sleep: Callable[[float], None] = time.sleep, max_wait: float = MAX_WAIT) -> dict:
    """Poll the check until it is done (or not graded), with back-off; say the queue position
    each time it changes. The result (validated)."""
    delay, waited, last = FIRST_DELAY, 0.0, None
    while True:
        _, answer = request("GET", f"{url}/api/checks/{urllib.parse.quote(str(check_id))}",
                            token)
        answer = validate({"tests": [], **answer})
        if answer["status"] in DONE:
            return answer
        position = answer.get("position")
        shown = (f"{position} ahead of you" if _number(position) and position > 0
                 else "being graded" if answer["status"] == "running" else "next in line")
        if shown != last:
            say(shown)
            last = shown
        if waited >= max_wait:
            raise CheckError(f"the check {check_id} is still {answer['status']} after "
                             f"{waited:.0f} s: the service is busy; try again later")
        sleep(delay)
        waited += delay
        delay = min(2 * delay, MAX_DELAY)


def format_result(answer: dict) -> str:
    """The result as the instructor's ``score`` prints it: one line per test."""
    name = answer.get("assignment", "")
    if answer["status"] == "not graded" or not answer["tests"]:
        why = "; ".join(map(str, answer.get("flags", []))) or "it could not be graded"
        return (f"{name}: NOT GRADED: {why}\n  no score: this is a failure of the grading "
                "machine, not of the notebook (try again, or ask your instructor)")
    lines = [f"{name}: {answer['score']:g} / {answer['max_score']:g} points"]
    for t in answer["tests"]:
        mark = "pass" if t["points"] >= t["max_points"] else "FAIL"
        line = f"  {mark}  {t['name']}  {t['points']:g}/{t['max_points']:g}"
        lines.append(line + (f"  {t['message']}" if t.get("message") else ""))
    if answer.get("flags"):
        lines.append("  FLAGGED for manual review:")
        lines += [f"    {f}" for f in answer["flags"]]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# This notebook
# --------------------------------------------------------------------------------------------

def notebook_path() -> Path:
    """The file of the notebook this kernel runs (JupyterLab, Notebook 7, a hub)."""
    session = None
    try:
        from IPython import get_ipython

        shell = get_ipython()
        session = shell.user_ns.get("__session__") if shell is not None else None
    except ImportError:
        pass
    session = session or os.environ.get("JPY_SESSION_NAME")
    if session:
        path = Path(session).expanduser()
        for candidate in (path, Path.cwd() / path, Path.cwd() / path.name):
            if candidate.suffix == ".ipynb" and candidate.is_file():
                return candidate
    raise CheckError("cannot tell which notebook this is (Colab, VS Code or an older "
                     "Jupyter): pass its path, check(path=\"my_notebook.ipynb\")")


def check(assignment: str | None = None, url: str | None = None, token: str | None = None,
          *, path: str | Path | None = None, say: Callable[[str], None] = print) -> dict:
    """Send the saved version of this notebook (or ``path``) to the course's grading service
    and print the result; return it (the service's JSON). ``assignment``: by default the
    notebook's file name (``rnn_forward.ipynb`` is ``rnn_forward``)."""
    url, token = settings(url, token)
    nb = Path(path) if path is not None else notebook_path()
    try:
        data, saved = nb.read_bytes(), time.localtime(nb.stat().st_mtime)
    except OSError as err:
        raise CheckError(f"cannot read {nb}: {err.strerror}") from None
    say(f"checking {nb.name} as saved at {time.strftime('%H:%M:%S', saved)}: if you changed "
        "it since, save first (Ctrl+S) and check again")
    answer = submit(url, token, assignment or nb.stem, data)
    result = wait_for(url, token, answer["id"], say=say)
    say(format_result(result))
    return result


# --------------------------------------------------------------------------------------------
# The test cells of the learners' edition
# --------------------------------------------------------------------------------------------

# A test's name is its nbgrader grade_id; an assignment's name is its folder under exercises/.
TEST_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")
ASSIGNMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")
NOT_CONFIGURED = (
    "the tests of this exercise run on your course's grading service, and none is configured "
    "({why}). Set the environment variables RNNCOURSE_SERVICE (its address) and "
    "RNNCOURSE_TOKEN (your token), or write {{\"service\": \"https://...\", \"token\": "
    "\"...\"}} into ~/.rnncourse.json, with what your instructor gave you; then restart the "
    "kernel and run the tests again. Studying on your own? In the course's open repository "
    "(with solutions/), `python -m autograder score NOTEBOOK` checks a notebook offline.")

# This kernel's checks, by (service, token, assignment, notebook digest): the check sent for
# that version (its id, when the version was saved) and, once graded, its result.
_SENT: dict[tuple[str, str, str, str], tuple[str | int, float]] = {}
_RESULTS: dict[tuple[str, str, str, str], dict] = {}
_NOTEBOOK: list[Path] = []  # the notebook given by use_notebook(), if any


def use_notebook(path: str | Path) -> None:
    """Tell the test cells which file this notebook is (Colab, VS Code: the kernel cannot
    tell), e.g. ``use_notebook("/content/drive/MyDrive/Colab Notebooks/rnn_forward.ipynb")``."""
    _NOTEBOOK[:] = [Path(path).expanduser()]


def exact_name(value: object, form: re.Pattern, what: str) -> str:
    """``value`` if it is a str of ``form`` (whole), else CheckError: a name goes into a URL
    and is shown to the learner, so only the names the course itself uses pass."""
    if not isinstance(value, str) or not form.fullmatch(value):
        raise CheckError(f"{value!r} is not the name of {what} (letters, digits and _ only): "
                         "the test cells of the exercise name their tests, don't edit them")
    return value


def notebook_digest(data: bytes) -> str:
    """The sha256 of what grading reads of a notebook: each cell's type and source. Outputs
    and metadata aside, since Jupyter's autosave rewrites them while the tests print: the
    same work is one version. A file that is not a notebook: the sha256 of its bytes."""
    try:
        nb = json.loads(data.decode("utf-8"))
        cells = [[c.get("cell_type"), c.get("source")] for c in nb["cells"]]
    except (UnicodeDecodeError, ValueError, TypeError, KeyError, AttributeError):
        return hashlib.sha256(data).hexdigest()
    return hashlib.sha256(json.dumps(cells, sort_keys=True).encode()).hexdigest()


def _this_notebook(path: str | Path | None, assignment: str) -> Path:
    """``path``, else the one given by :func:`use_notebook`, else this kernel's notebook, else
    ``<assignment>.ipynb`` in the working folder (nbgrader's Validate and ``nbconvert
    --execute`` run the notebook in its folder without telling the kernel its name)."""
    __tracebackhide__ = True
    if path is not None:
        return Path(path)
    if _NOTEBOOK:
        return _NOTEBOOK[0]
    try:
        return notebook_path()
    except CheckError:
        pass
    in_folder = Path.cwd() / f"{assignment}.ipynb"
    if in_folder.is_file():
        return in_folder
    raise CheckError(
        "cannot tell which file this notebook is (Colab, VS Code or an older Jupyter): run "
        "`from rnncourse.check import use_notebook; use_notebook(\"path/to/this.ipynb\")` "
        "in a cell of your own, save, and run the tests again")


def saved_result(assignment: str, url: str, token: str, path: Path,
                 say: Callable[[str], None] = print) -> tuple[dict, float]:
    """The service's result for the saved version of the notebook at ``path`` and when that
    version was saved. Each version is sent once per kernel: a test cell interrupted while it
    waits waits for the same check when run again. A result that is not graded (a failure of
    the service) is not kept: the next test cell sends the version again."""
    __tracebackhide__ = True
    try:
        data, saved = path.read_bytes(), path.stat().st_mtime
    except OSError as err:
        raise CheckError(f"cannot read {path}: {err.strerror}") from None
    key = (url, token, assignment, notebook_digest(data))
    if key not in _SENT:
        say(f"sending {path.name} as saved at {time.strftime('%H:%M', time.localtime(saved))} "
            "to the grading service (if you changed it since, save (Ctrl+S) and run the "
            "tests again)")
        _SENT[key] = (submit(url, token, assignment, data)["id"], saved)
    check_id, saved = _SENT[key]
    if key not in _RESULTS:
        result = wait_for(url, token, check_id, say=say)
        if result["status"] != "done" or not result["tests"]:
            del _SENT[key]
            return result, saved
        _RESULTS[key] = result
    return _RESULTS[key], saved


def outcome_line(result: dict, name: str, saved: float) -> str:
    """The line for test ``name`` of ``result`` when it passed; else ServiceTestFailed with
    the service's message (CheckError when the result has no such test or was not graded)."""
    __tracebackhide__ = True
    when = time.strftime("%H:%M", time.localtime(saved))
    if result["status"] != "done" or not result["tests"]:
        raise CheckError(format_result(result).replace("\n", " "))
    found = [t for t in result["tests"] if t["name"] == name]
    if len(found) != 1:
        raise CheckError(f"the service's result holds {len(found)} tests named {name}: is this "
                         "notebook the exercise of your course's current release? Ask your "
                         "instructor")
    test = found[0]
    points = f"{test['points']:g}/{test['max_points']:g} points"
    if test["points"] >= test["max_points"]:
        return f"{name}: passed ({points}), checked on the saved version of {when}"
    raise ServiceTestFailed(
        test.get("message") or f"{name} failed",
        f"({name}: {points}, checked on the saved version of {when}: save (Ctrl+S) before "
        "you run the tests again)")


def service_test(assignment: str, name: str, *, path: str | Path | None = None,
                 url: str | None = None, token: str | None = None,
                 say: Callable[[str], None] = print) -> None:
    """Run the test ``name`` of ``assignment`` on the course's grading service, on the saved
    version of this notebook (sent once per version: the other test cells read the same
    result). A passing test prints one line; a failing one raises ServiceTestFailed with the
    service's message for it."""
    __tracebackhide__ = True
    assignment = exact_name(assignment, ASSIGNMENT_NAME, "an assignment")
    name = exact_name(name, TEST_NAME, "a test")
    try:
        url, token = settings(url, token)
    except ServiceNotConfigured as err:
        raise ServiceNotConfigured(NOT_CONFIGURED.format(why=err)) from None
    result, saved = saved_result(assignment, url, token,
                                 _this_notebook(path, assignment), say)
    say(outcome_line(result, name, saved))


def main(argv: list[str] | None = None) -> int:
    """``python -m rnncourse.check NOTEBOOK [ASSIGNMENT]``: check a notebook from a shell."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m rnncourse.check NOTEBOOK [ASSIGNMENT]\n(the service and "
              "token: RNNCOURSE_SERVICE, RNNCOURSE_TOKEN or ~/.rnncourse.json)")
        return 0
    try:
        result = check(argv[1] if len(argv) > 1 else None, path=argv[0])
    except CheckError as err:
        print(f"CheckError: {err}", file=sys.stderr)
        return 2
    return 0 if result["status"] == "done" and result["tests"] else 1


if __name__ == "__main__":
    sys.exit(main())
