"""``rnncourse.check``: a learner checks a notebook with the course's grading service, and
every way that can go wrong says what to do next.

The service here is a fake (``FakeService``: ``http.server`` on 127.0.0.1 in a thread) that
answers as the service's contract says (``POST /api/checks``, ``GET /api/checks/<id>``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from rnncourse import check as client

TOKEN = "learner-token"


def done(score=4.0, max_score=5.0) -> dict:
    """A finished check of rnn_forward: one test passed, one failed with a message."""
    return {"id": "c1", "assignment": "rnn_forward", "status": "done", "position": 0,
            "score": score, "max_score": max_score, "flags": [], "submitted": "2026-12-03T14:02Z",
            "tests": [{"name": "test_rnn_cell_forward_hand_case", "points": 1, "max_points": 1,
                       "message": ""},
                      {"name": "test_rnn_forward_matches_torch", "points": 3, "max_points": 4,
                       "message": "hidden case 2 of 3 failed: Hs differs"}]}


def queued(position: int) -> dict:
    return {"id": "c1", "assignment": "rnn_forward", "status": "queued", "position": position,
            "score": None, "max_score": None, "tests": [], "flags": [], "submitted": None}


@dataclass
class FakeService:
    """What the service answers: to the POST, then to each GET in turn (the last repeats).
    An answer is (status, body bytes or JSON, headers)."""

    post: tuple = (202, {"id": "c1", "status": "queued", "position": 3}, {})
    gets: list = field(default_factory=lambda: [(200, queued(3), {}), (200, queued(3), {}),
                                                (200, queued(1), {}), (200, done(), {})])
    seen: list = field(default_factory=list)  # (method, path, Authorization, body)
    read_body: bool = True  # False: answer before reading the upload, then close
    url: str = ""

    def answer(self, method: str) -> tuple:
        if method == "POST":
            return self.post
        gets = [g for g in self.seen if g[0] == "GET"]
        return self.gets[min(len(gets) - 1, len(self.gets) - 1)]


@pytest.fixture
def service():
    """A FakeService listening on 127.0.0.1 (its url set), stopped after the test."""
    fake = FakeService()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self, method: str) -> None:
            size = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(size) if size and fake.read_body else b""
            self.close_connection = not fake.read_body
            fake.seen.append((method, self.path, self.headers.get("Authorization"), body))
            status, payload, headers = fake.answer(method)
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            for k, v in {"Content-Type": "application/json", **headers}.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):  # noqa: N802 (http.server's name)
            self._serve("POST")

        def do_GET(self):  # noqa: N802
            self._serve("GET")

        def log_message(self, *args):  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def notebook(tmp_path) -> Path:
    path = tmp_path / "rnn_forward.ipynb"
    path.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4,
                                "nbformat_minor": 5}))
    return path


@pytest.fixture(autouse=True)
def no_settings(monkeypatch, tmp_path):
    """No service, token or config file from the machine running the tests."""
    monkeypatch.delenv("RNNCOURSE_SERVICE", raising=False)
    monkeypatch.delenv("RNNCOURSE_TOKEN", raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    monkeypatch.delenv("JUPYTERHUB_API_TOKEN", raising=False)
    monkeypatch.setattr(client, "CONFIG", tmp_path / "no-config.json")
    monkeypatch.setattr(client, "FIRST_DELAY", 0.0)  # poll at once: the test is not timed


def run(service, notebook, **kw) -> tuple[dict, list[str]]:
    said: list[str] = []
    result = client.check(url=service.url, token=TOKEN, path=notebook, say=said.append, **kw)
    return result, said


# ---- a check that succeeds ---------------------------------------------------------------

def test_check_sends_the_saved_notebook_with_the_token_and_prints_the_result(service, notebook):
    result, said = run(service, notebook)
    method, path, auth, body = service.seen[0]
    assert (method, path, auth) == ("POST", "/api/checks?assignment=rnn_forward",
                                    f"token {TOKEN}")
    assert body == notebook.read_bytes()
    assert result["score"] == 4.0
    assert said[-1].splitlines() == [
        "rnn_forward: 4 / 5 points",
        "  pass  test_rnn_cell_forward_hand_case  1/1",
        "  FAIL  test_rnn_forward_matches_torch  3/4  hidden case 2 of 3 failed: Hs differs"]


def test_check_says_which_saved_version_it_checks(service, notebook):
    _, said = run(service, notebook)
    assert said[0].startswith("checking rnn_forward.ipynb as saved at ")
    assert "save first (Ctrl+S)" in said[0]


def test_the_queue_position_is_said_each_time_it_changes_and_polling_stops(service, notebook):
    _, said = run(service, notebook)
    assert said[1:3] == ["3 ahead of you", "1 ahead of you"]
    assert [s[0] for s in service.seen] == ["POST", "GET", "GET", "GET", "GET"]
    assert all(s[2] == f"token {TOKEN}" for s in service.seen)


def test_polling_backs_off_up_to_its_ceiling(monkeypatch):
    """Do the delays between polls double, up to MAX_DELAY, and does polling stop?"""
    monkeypatch.setattr(client, "FIRST_DELAY", 0.5)
    delays: list[float] = []

    class Endless:
        def __call__(self, *a, **k):
            return 200, queued(5)

    monkeypatch.setattr(client, "request", Endless())
    with pytest.raises(client.CheckError, match="still queued"):
        client.wait_for("http://x", TOKEN, "c1", say=lambda s: None, sleep=delays.append,
                        max_wait=60)
    assert delays[:3] == [client.FIRST_DELAY, 2 * client.FIRST_DELAY, 4 * client.FIRST_DELAY]
    assert max(delays) == client.MAX_DELAY and sum(delays[:-1]) < 60


def test_a_check_not_graded_says_so(service, notebook):
    service.gets = [(200, {**done(), "status": "not graded", "tests": [], "score": None,
                           "max_score": None, "flags": ["grading stopped: out of time"]}, {})]
    _, said = run(service, notebook)
    assert said[-1].startswith("rnn_forward: NOT GRADED: grading stopped: out of time")


# ---- where the service is ----------------------------------------------------------------

def test_the_service_and_token_come_from_the_environment(service, notebook, monkeypatch):
    monkeypatch.setenv("RNNCOURSE_SERVICE", service.url)
    monkeypatch.setenv("RNNCOURSE_TOKEN", "from-env")
    client.check(path=notebook, say=lambda s: None)
    assert service.seen[0][2] == "token from-env"


def test_the_service_and_token_come_from_the_config_file(service, notebook, monkeypatch,
                                                         tmp_path):
    config = tmp_path / "rnncourse.json"
    config.write_text(json.dumps({"service": service.url, "token": "from-file"}))
    monkeypatch.setattr(client, "CONFIG", config)
    client.check(path=notebook, say=lambda s: None)
    assert service.seen[0][2] == "token from-file"


def test_no_service_given_says_where_to_give_one(notebook):
    with pytest.raises(client.CheckError, match="RNNCOURSE_SERVICE"):
        client.check(path=notebook)


def test_a_token_copied_with_its_line_end_is_sent_without_it(service, notebook):
    client.check(url=service.url, token=f"{TOKEN}\r\n", path=notebook, say=lambda s: None)
    assert service.seen[0][2] == f"token {TOKEN}"


@pytest.mark.parametrize("token", ["two words", "tab\there", "new\nline", "caf\u00e9"])
def test_a_token_that_is_not_plain_text_is_refused_before_sending(service, notebook, token):
    """A header may not carry it (http.client would raise a traceback): say what to do."""
    with pytest.raises(client.CheckError, match="copy it again"):
        client.check(url=service.url, token=token, path=notebook)
    assert service.seen == []


def test_a_url_that_is_not_a_web_address_is_refused(notebook):
    with pytest.raises(client.CheckError, match="not a web address"):
        client.check(url="file:///etc/passwd", token=TOKEN, path=notebook)


def test_the_notebook_is_found_from_the_session_jupyter_sets(notebook, monkeypatch):
    monkeypatch.setenv("JPY_SESSION_NAME", str(notebook))
    assert client.notebook_path() == notebook


def test_without_a_session_check_asks_for_the_path(monkeypatch):
    with pytest.raises(client.CheckError, match=r"check\(path="):
        client.notebook_path()


# ---- every error of the service ------------------------------------------------------------

@pytest.mark.parametrize(("status", "headers", "advice"), [
    (400, {}, "send the assignment's notebook"),
    (401, {}, "did not accept your token"),
    (413, {}, "clear the outputs"),
    (429, {"Retry-After": "30"}, "wait 30 seconds, then check again"),
    (503, {}, "try again in a few minutes"),
])
def test_each_error_of_the_service_says_what_to_do(service, notebook, status, headers, advice):
    service.post = (status, {"error": "why, in the service's words"}, headers)
    with pytest.raises(client.CheckError) as err:
        run(service, notebook)
    assert advice in str(err.value) and "why, in the service's words" in str(err.value)


def test_an_upload_cut_off_by_the_service_is_said_to_be_maybe_too_large(service, tmp_path):
    """A service refuses an oversized upload before reading it (413) and closes the
    connection: the client, still sending, sees the connection reset, not the 413."""
    service.read_body, service.post = False, (413, {"error": "too large"}, {})
    big = tmp_path / "rnn_forward.ipynb"
    big.write_bytes(b" " * (64 << 20))
    with pytest.raises(client.CheckError, match="clear the outputs|Clear the outputs"):
        client.check(url=service.url, token=TOKEN, path=big, say=lambda s: None)


def test_an_unreachable_service_says_so(notebook):
    with pytest.raises(client.CheckError, match="could not reach the grading service"):
        client.check(url="http://127.0.0.1:9", token=TOKEN, path=notebook)


# ---- hostile answers ------------------------------------------------------------------------

def test_an_oversized_answer_is_refused(service, notebook, monkeypatch):
    service.gets = [(200, b'{"x": "' + b"a" * (client.MAX_ANSWER_BYTES + 10) + b'"}', {})]
    with pytest.raises(client.CheckError, match="larger than"):
        run(service, notebook)


@pytest.mark.parametrize("answer", [
    b"<html>a login page</html>", b"[1, 2]",
    json.dumps({**done(), "tests": [{"name": "t", "points": "all", "max_points": 1}]}).encode(),
    json.dumps({**done(), "score": None}).encode(),
    json.dumps({**done(), "status": "hacked"}).encode(),
])
def test_a_malformed_answer_is_refused(service, notebook, answer):
    service.gets = [(200, answer, {})]
    with pytest.raises(client.CheckError, match="not (the JSON|one) a grading service sends"):
        run(service, notebook)


def test_a_redirect_is_not_followed_with_the_token(service, notebook):
    """A redirect (here to another path of the same server) would carry the token along."""
    service.post = (307, b"", {"Location": f"{service.url}/elsewhere"})
    with pytest.raises(client.CheckError, match="redirect"):
        run(service, notebook)
    assert [s[1] for s in service.seen] == ["/api/checks?assignment=rnn_forward"]


def test_the_module_needs_nothing_but_the_standard_library():
    """Can a learner's environment without the autograder (nor numpy, torch) import it?"""
    code = ("import sys; sys.modules['autograder'] = None; sys.modules['numpy'] = None; "
            "sys.modules['torch'] = None; import rnncourse.check")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_shell_command_prints_the_result_and_exits_0(service, notebook, monkeypatch, capsys):
    monkeypatch.setenv("RNNCOURSE_SERVICE", service.url)
    monkeypatch.setenv("RNNCOURSE_TOKEN", TOKEN)
    assert client.main([str(notebook)]) == 0
    assert "rnn_forward: 4 / 5 points" in capsys.readouterr().out


def test_the_shell_command_says_an_error_in_one_line_and_exits_2(service, notebook, capsys):
    assert client.main([str(notebook)]) == 2
    assert capsys.readouterr().err.startswith("CheckError: no grading service given")


# ---- service_test: the test cells of the learners' edition ------------------------------------

@pytest.fixture(autouse=True)
def fresh_kernel(monkeypatch):
    """No result kept from another test (the cache lives as long as the kernel)."""
    monkeypatch.setattr(client, "_RESULTS", {})
    monkeypatch.setattr(client, "_SENT", {})
    monkeypatch.setattr(client, "_NOTEBOOK", [])


def run_test_cell(service, notebook, name: str, **kw) -> list[str]:
    """Run ``service_test`` as a test cell of rnn_forward does; what it printed."""
    said: list[str] = []
    client.service_test("rnn_forward", name, url=service.url, token=TOKEN, path=notebook,
                        say=said.append, **kw)
    return said


def posts(service) -> int:
    return sum(1 for s in service.seen if s[0] == "POST")


def saved_at(notebook: Path) -> str:
    return time.strftime("%H:%M", time.localtime(notebook.stat().st_mtime))


def test_a_passing_test_prints_one_line_naming_the_saved_version(service, notebook):
    said = run_test_cell(service, notebook, "test_rnn_cell_forward_hand_case")
    assert said[-1] == ("test_rnn_cell_forward_hand_case: passed (1/1 points), checked on the "
                        f"saved version of {saved_at(notebook)}")
    assert "3 ahead of you" in said  # the queue, as check() says it


def test_a_failing_test_raises_the_services_message_for_it(service, notebook):
    with pytest.raises(client.ServiceTestFailed) as err:
        run_test_cell(service, notebook, "test_rnn_forward_matches_torch")
    assert str(err.value) == "hidden case 2 of 3 failed: Hs differs"
    assert isinstance(err.value, AssertionError)  # a failed test, for nbgrader's Validate


def test_a_failure_shows_no_frame_of_the_package_in_ipython(service, notebook):
    """IPython shows ``_render_traceback_`` instead of the frames: the message, the points,
    the saved version, and nothing of rnncourse's internals."""
    with pytest.raises(client.ServiceTestFailed) as err:
        run_test_cell(service, notebook, "test_rnn_forward_matches_torch")
    shown = err.value._render_traceback_()
    assert shown == ["ServiceTestFailed: hidden case 2 of 3 failed: Hs differs",
                     "(test_rnn_forward_matches_torch: 3/4 points, checked on the saved version "
                     f"of {saved_at(notebook)}: save (Ctrl+S) before you run the tests again)"]


def test_the_tests_of_one_saved_version_send_it_once(service, notebook):
    run_test_cell(service, notebook, "test_rnn_cell_forward_hand_case")
    with pytest.raises(client.ServiceTestFailed):
        run_test_cell(service, notebook, "test_rnn_forward_matches_torch")
    assert posts(service) == 1


def test_a_new_saved_version_is_sent_again(service, notebook):
    run_test_cell(service, notebook, "test_rnn_cell_forward_hand_case")
    nb = json.loads(notebook.read_text())
    nb["cells"].append({"cell_type": "code", "source": "h = 1", "metadata": {},
                        "outputs": [], "execution_count": None})
    notebook.write_text(json.dumps(nb))
    service.seen.clear()
    run_test_cell(service, notebook, "test_rnn_cell_forward_hand_case")
    assert posts(service) == 1 and service.seen[0][3] == notebook.read_bytes()


def test_an_autosave_that_only_adds_outputs_is_the_same_version(service, notebook):
    """Jupyter's autosave writes the lines the tests print: not a new version to send."""
    nb = {"cells": [{"cell_type": "code", "source": "h = 1", "metadata": {}, "outputs": [],
                     "execution_count": None}], "metadata": {}, "nbformat": 4,
          "nbformat_minor": 5}
    notebook.write_text(json.dumps(nb))
    run_test_cell(service, notebook, "test_rnn_cell_forward_hand_case")
    nb["cells"][0]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "passed"}]
    nb["cells"][0]["execution_count"] = 7
    notebook.write_text(json.dumps(nb))
    run_test_cell(service, notebook, "test_rnn_cell_forward_hand_case")
    assert posts(service) == 1


def test_a_test_interrupted_while_waiting_waits_for_the_same_check_when_run_again(
        service, notebook, monkeypatch):
    """The service takes one queued check per learner: sending the version again would be
    refused until the first is graded."""
    real_wait = client.wait_for

    def interrupted(*args, **kw):
        monkeypatch.setattr(client, "wait_for", real_wait)
        raise KeyboardInterrupt  # the learner pressed Interrupt during the wait

    monkeypatch.setattr(client, "wait_for", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_test_cell(service, notebook, "test_rnn_cell_forward_hand_case")
    said = run_test_cell(service, notebook, "test_rnn_cell_forward_hand_case")
    assert said[-1].startswith("test_rnn_cell_forward_hand_case: passed")
    assert posts(service) == 1


def test_a_version_not_graded_is_sent_again_by_the_next_test(service, notebook):
    """Not graded is a failure of the service, not a result of the notebook: try again."""
    service.gets = [(200, {**done(), "status": "not graded", "tests": [], "score": None,
                           "max_score": None, "flags": ["the grader ran out of memory"]}, {})]
    with pytest.raises(client.CheckError, match="NOT GRADED"):
        run_test_cell(service, notebook, "test_rnn_cell_forward_hand_case")
    service.gets = [(200, done(), {})]
    said = run_test_cell(service, notebook, "test_rnn_cell_forward_hand_case")
    assert said[-1].startswith("test_rnn_cell_forward_hand_case: passed")
    assert posts(service) == 2


def test_without_a_service_one_message_says_how_to_configure_it(notebook):
    with pytest.raises(client.ServiceNotConfigured) as err:
        client.service_test("rnn_forward", "test_rnn_forward_hand_case", path=notebook)
    message = str(err.value)
    for advice in ("RNNCOURSE_SERVICE", "RNNCOURSE_TOKEN", "~/.rnncourse.json",
                   "`python -m autograder score NOTEBOOK` checks a notebook offline"):
        assert advice in message
    assert err.value._render_traceback_() == [f"ServiceNotConfigured: {message}"]


def test_without_a_token_the_same_message_says_so(service, notebook):
    with pytest.raises(client.ServiceNotConfigured, match="no token given.*RNNCOURSE_SERVICE"):
        client.service_test("rnn_forward", "test_rnn_forward_hand_case", url=service.url,
                            path=notebook)
    assert service.seen == []


def test_without_a_session_the_test_asks_for_use_notebook(service, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no rnn_forward.ipynb here
    with pytest.raises(client.CheckError, match=r"use_notebook\("):
        client.service_test("rnn_forward", "test_rnn_forward_hand_case", url=service.url,
                            token=TOKEN)


def test_without_a_session_the_assignments_notebook_in_the_working_folder_is_sent(
        service, notebook, monkeypatch):
    """nbgrader's Validate runs the notebook in its folder, in a kernel with no session."""
    monkeypatch.chdir(notebook.parent)
    client.service_test("rnn_forward", "test_rnn_cell_forward_hand_case", url=service.url,
                        token=TOKEN, say=lambda s: None)
    assert service.seen[0][3] == notebook.read_bytes()


def test_use_notebook_names_the_file_the_tests_send(service, notebook):
    client.use_notebook(notebook)
    client.service_test("rnn_forward", "test_rnn_cell_forward_hand_case", url=service.url,
                        token=TOKEN, say=lambda s: None)
    assert service.seen[0][3] == notebook.read_bytes()


HOSTILE_NAMES = ["../rnn_forward", "rnn_forward/../../admin", "<b>x</b>", "x\ny",
                 "x&assignment=other", "rnn forward", "", "a" * 101, "caf\u00e9", 3, None]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_test_name_that_is_not_a_plain_name_is_refused_before_sending(service, notebook,
                                                                         name):
    with pytest.raises(client.CheckError) as err:
        run_test_cell(service, notebook, name)
    assert str(err.value) == (f"{name!r} is not the name of a test (letters, digits and _ "
                              "only): the test cells of the exercise name their tests, don't "
                              "edit them")
    assert service.seen == []


@pytest.mark.parametrize("assignment", HOSTILE_NAMES)
def test_an_assignment_name_that_is_not_a_plain_name_is_refused_before_sending(
        service, notebook, assignment):
    with pytest.raises(client.CheckError, match="is not the name of an assignment"):
        client.service_test(assignment, "test_rnn_forward_hand_case", url=service.url,
                            token=TOKEN, path=notebook)
    assert service.seen == []


@pytest.mark.parametrize("tests", [
    ["test_rnn_forward_hand_case"],
    [{"name": "test_rnn_forward_hand_case", "points": 1}],
    [{"name": ["test_rnn_forward_hand_case"], "points": 1, "max_points": 1}],
    [{"name": "test_rnn_forward_hand_case", "points": 1, "max_points": 1, "message": {"a": 1}}],
    {"test_rnn_forward_hand_case": "passed"},
])
def test_a_result_of_an_unexpected_shape_is_refused(service, notebook, tests):
    service.gets = [(200, {**done(), "tests": tests}, {})]
    with pytest.raises(client.CheckError, match="not one a grading service sends"):
        run_test_cell(service, notebook, "test_rnn_forward_hand_case")


@pytest.mark.parametrize("count", [0, 2])
def test_a_result_without_exactly_one_such_test_is_refused(service, notebook, count):
    answer = done()
    answer["tests"] = [{"name": "test_other", "points": 1, "max_points": 1, "message": ""}] + \
        [{"name": "test_rnn_forward_hand_case", "points": 1, "max_points": 1,
          "message": ""}] * count
    service.gets = [(200, answer, {})]
    with pytest.raises(client.CheckError, match=f"holds {count} tests named"):
        run_test_cell(service, notebook, "test_rnn_forward_hand_case")


def test_a_notebook_not_graded_raises_the_services_reason(service, notebook):
    service.gets = [(200, {**done(), "status": "not graded", "tests": [], "score": None,
                           "max_score": None, "flags": ["the grader ran out of memory"]}, {})]
    with pytest.raises(client.CheckError, match="NOT GRADED: the grader ran out of memory"):
        run_test_cell(service, notebook, "test_rnn_forward_hand_case")


# ---- on a JupyterHub ------------------------------------------------------------------------

HUB_SERVICE = "https://hub.example/services/grading/"


def test_on_a_hub_the_servers_hub_token_goes_to_the_service_the_hub_names(monkeypatch):
    """With nothing set but the hub's variables, does check() use the server's hub token?"""
    monkeypatch.setenv("RNNCOURSE_SERVICE", HUB_SERVICE)
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "hubtoken123")
    url, token = client.settings()
    assert (url, token) == (HUB_SERVICE.rstrip("/"), "hubtoken123")


def test_the_hub_token_is_never_sent_to_an_address_given_elsewhere(monkeypatch):
    """The hub token also opens the learner's server: is it kept from a url=... of the
    notebook's (or of a config file), which anyone could have written?"""
    monkeypatch.setenv("RNNCOURSE_SERVICE", HUB_SERVICE)
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "hubtoken123")
    with pytest.raises(client.ServiceNotConfigured, match="no token given"):
        client.settings(url="https://elsewhere.example/")
