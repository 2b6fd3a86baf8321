"""The service run by a real JupyterHub (6.1.1, its proxy configurable-http-proxy, the
dummy authenticator), configured as the instructors' guide says (``c.JupyterHub.services``
and the roles ``user`` and ``server``): a learner signed in to the hub opens the service's
page through the hub's proxy and checks a notebook; a hub token holding the service's scope
is taken; one without it, a cookie upload without the XSRF token, and a hub user who is not
a learner are refused."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.autograder.distributed.servers import free_port
from tests.autograder.service.conftest import notebook_bytes

pytestmark = pytest.mark.slow  # a JupyterHub, its proxy and the service

# scripts/prereqs.sh installs it into the repository's .prereqs/ (as axe-core)
PREREQS_CHP = (Path(__file__).resolve().parents[3]
               / ".prereqs/node_modules/.bin/configurable-http-proxy")
CHP = (os.environ.get("RNN_CHP") or shutil.which("configurable-http-proxy")
       or (str(PREREQS_CHP) if PREREQS_CHP.exists() else ""))
START_SECONDS = 120
TIMEOUT = 30

CONFIG = '''
c = get_config()  # noqa
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {proxy_port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.ConfigurableHTTPProxy.command = [{chp!r}]
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allow_all = True
c.JupyterHub.db_url = "sqlite:///{folder}/hub.sqlite"
c.JupyterHub.cookie_secret_file = "{folder}/cookie_secret"
c.JupyterHub.pid_file = "{folder}/hub.pid"
# as the instructors' guide says
c.JupyterHub.services = [
    {{
        "name": "grading",
        "url": "http://127.0.0.1:{service_port}",
        "command": [{python!r}, "-m", "autograder", "serve", "--jobs", "0"],
        "cwd": {course!r},
        "environment": {{"RNNCOURSE_ROOT": {course!r}}},
        "oauth_no_confirm": True,
        "display": True,
    }},
]
c.JupyterHub.load_roles = [
    {{"name": "user", "scopes": ["self", "access:services!service=grading"]}},
    {{"name": "server", "scopes": ["users:activity!user", "access:servers!server",
                                   "access:services!service=grading"]}},
]
'''


@pytest.fixture(scope="module")
def hub(course, tokens, tmp_path_factory):
    """The hub's public address (its proxy), the service running under it."""
    if not CHP or not Path(CHP).exists():  # a failure, never a skip
        pytest.fail("configurable-http-proxy is not installed (JupyterHub's proxy): run `bash "
                    "scripts/prereqs.sh`, or name it in RNN_CHP.", pytrace=False)
    folder = tmp_path_factory.mktemp("hub")
    proxy_port = free_port()
    (folder / "jupyterhub_config.py").write_text(CONFIG.format(
        proxy_port=proxy_port, hub_port=free_port(), api_port=free_port(),
        service_port=free_port(), chp=CHP, folder=folder, python=sys.executable,
        course=str(course)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTERHUB_")}
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    log = folder / "hub.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterhub", "-f", str(folder / "jupyterhub_config.py")],
        cwd=folder, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{proxy_port}"
    try:
        deadline = time.monotonic() + START_SECONDS
        while not _service_is_up(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the hub did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)  # the hub stops its service and its proxy
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _service_is_up(url: str) -> bool:
    try:
        reply = requests.get(url + "/services/grading/", allow_redirects=False, timeout=5)
    except requests.RequestException:
        return False
    return reply.status_code == 302 and "oauth2/authorize" in reply.headers.get("Location", "")


def signed_in(hub: str, user: str) -> requests.Session:
    """A browser signed in to the hub as ``user`` (the dummy authenticator: any password)."""
    browser = requests.Session()
    browser.get(hub + "/hub/login", timeout=TIMEOUT)
    reply = browser.post(hub + "/hub/login?next=%2Fhub%2Fhome", allow_redirects=False,
                         data={"username": user, "password": "any",
                               "_xsrf": browser.cookies.get("_xsrf", path="/hub/")},
                         timeout=TIMEOUT)
    assert reply.status_code == 302, reply.text[:300]
    return browser


def upload(hub: str, browser: requests.Session, course: Path, headers: dict
           ) -> requests.Response:
    return browser.post(hub + "/services/grading/api/checks?assignment=add",
                        data=notebook_bytes(course), timeout=TIMEOUT,
                        headers={**headers, "Connection": "close"})


def hub_token(hub: str, browser: requests.Session, user: str, scopes: list[str]) -> str:
    """A token of ``user`` holding ``scopes``, as the hub issues one (a server's, say)."""
    reply = browser.post(hub + f"/hub/api/users/{user}/tokens", json={"scopes": scopes},
                         headers={"X-XSRFToken": browser.cookies.get("_xsrf", path="/hub/")},
                         timeout=TIMEOUT)
    assert reply.status_code == 201, reply.text[:300]
    return reply.json()["token"]


def test_a_learner_signed_in_to_a_real_hub_checks_a_notebook(hub, course):
    browser = signed_in(hub, "alice")
    page = browser.get(hub + "/services/grading/", timeout=TIMEOUT)  # the hub's OAuth
    assert page.status_code == 200 and 'id="hub-user">alice<' in page.text
    xsrf = re.search(r'id="xsrf" type="hidden" value="([^"]+)"', page.text).group(1)
    assert upload(hub, browser, course, {"X-XSRFToken": xsrf}).status_code == 202
    assert upload(hub, browser, course, {}).status_code == 401  # no XSRF token


def test_a_real_hubs_token_is_taken_only_with_the_services_scope(hub):
    browser = signed_in(hub, "bob")
    good = hub_token(hub, browser, "bob", ["access:services!service=grading"])
    other = hub_token(hub, browser, "bob", ["read:users!user=bob"])
    listed = requests.get(hub + "/services/grading/api/checks", timeout=TIMEOUT,
                          headers={"Authorization": f"token {good}"})
    assert listed.status_code == 200 and "checks" in listed.json()
    refused = requests.get(hub + "/services/grading/api/checks", timeout=TIMEOUT,
                           headers={"Authorization": f"token {other}"})
    assert refused.status_code == 401


def test_a_real_hubs_user_who_is_not_a_learner_is_refused(hub):
    page = signed_in(hub, "mallory").get(hub + "/services/grading/", timeout=TIMEOUT)
    assert page.status_code == 403 and "not a learner of this course" in page.text
