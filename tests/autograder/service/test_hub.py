"""The service as a JupyterHub service: learners sign in through the hub's OAuth (a fake hub
on 127.0.0.1, ``fakehub``, answering as JupyterHub does), the API takes the hub token of a
learner's server, and per-learner tokens of the service keep working. Refused: a hub user
who is not a learner of the course, a service of the hub (even one named as a learner), a
token the hub issued for another service, a cookie the service did not sign, a request
carrying the cookie without the hub's XSRF token, and a sign-in whose OAuth state is not the
one the service gave the browser. Nothing is graded (``--jobs 0``): what is tested is who is
admitted."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from tornado.web import create_signed_value

from tests.autograder.service.conftest import clear_checks, notebook_bytes, start_service
from tests.autograder.service.fakehub import ACCESS, CLIENT_ID, PREFIX

pytestmark = pytest.mark.slow  # a service process and a hub

TIMEOUT = 30
NOTEBOOK: list[bytes] = []  # the released notebook, as the browser sends it


@pytest.fixture(scope="module")
def service(course, tokens, hub):
    service = start_service(course, "--jobs", "0", "--per-hour", "1000", "--max-active", "100",
                            name="hub", env=hub.environment())
    hub.service_origin = service.url
    yield service
    service.stop()


@pytest.fixture
def fresh(service, course, hub):
    NOTEBOOK[:] = [notebook_bytes(course)]
    clear_checks(course)
    hub.browser_user = "alice"
    yield service
    clear_checks(course)


def page_url(service) -> str:
    return service.url + PREFIX


def sign_in(service, hub, user: str) -> requests.Session:
    """A browser that opened the service's page and signed in to the hub as ``user``,
    following every redirect (the hub's sign-in and the service's callback)."""
    hub.browser_user = user
    browser = requests.Session()
    browser.get(page_url(service), timeout=TIMEOUT)
    return browser


def xsrf_of(page: str) -> str:
    found = re.search(r'id="xsrf" type="hidden" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def submit(service, browser: requests.Session, headers: dict | None = None
           ) -> requests.Response:
    """The browser's upload of the released notebook, its cookies with it (on a connection
    of its own: the service closes the connection of an upload it refuses)."""
    return browser.post(page_url(service) + "api/checks?assignment=add", data=NOTEBOOK[0],
                        headers={**(headers or {}), "Connection": "close"}, timeout=TIMEOUT)


# -- signing in -------------------------------------------------------------------------------

def test_a_browser_without_the_services_cookie_is_sent_to_the_hubs_sign_in(fresh, hub):
    """Does a first visit go to the hub's OAuth authorize with a state and a PKCE challenge?"""
    reply = requests.get(page_url(fresh), allow_redirects=False, timeout=TIMEOUT)
    assert reply.status_code == 302
    where = urlsplit(reply.headers["Location"])
    query = parse_qs(where.query)
    assert f"{where.scheme}://{where.netloc}{where.path}" == \
        f"{hub.url}/hub/api/oauth2/authorize"
    assert query["client_id"] == [CLIENT_ID] and query["state"][0]
    assert query["code_challenge_method"] == ["S256"]


def test_a_learner_signed_in_through_the_hub_checks_a_notebook_from_the_page(fresh, hub):
    """Does the page know the learner by the hub, and take their upload with its XSRF
    token, listing it as theirs?"""
    browser = sign_in(fresh, hub, "alice")
    page = browser.get(page_url(fresh), timeout=TIMEOUT)
    assert page.status_code == 200 and 'id="hub-user">alice<' in page.text
    assert 'id="token"' not in page.text  # no token to type on a hub
    xsrf = xsrf_of(page.text)
    sent = submit(fresh, browser, {"X-XSRFToken": xsrf})
    assert sent.status_code == 202, sent.text
    polled = browser.get(page_url(fresh) + f"api/checks/{sent.json()['id']}", timeout=TIMEOUT,
                         headers={"X-XSRFToken": xsrf, "Sec-Fetch-Mode": "cors",
                                  "Sec-Fetch-Site": "same-origin"})  # as the page's script
    assert polled.status_code == 200 and polled.json()["status"] == "queued"
    mine = fresh.request("GET", "/services/grading/api/checks", None,
                         headers={"Authorization": f"token {hub.token('alice')}"})
    assert [c["id"] for c in mine.body["checks"]] == [sent.json()["id"]]


def test_the_hub_token_of_a_learners_server_checks_a_notebook(fresh, course, hub):
    """Does ``Authorization: token $JUPYTERHUB_API_TOKEN`` of alice's server send a check
    as alice (what rnncourse.check sends on a hub)?"""
    server_token = hub.token("alice")
    sent = fresh.request("POST", f"{PREFIX}api/checks?assignment=add", server_token,
                         notebook_bytes(course))
    assert sent.status == 202, sent.body
    got = fresh.request("GET", f"{PREFIX}api/checks/{sent.body['id']}", server_token)
    assert got.status == 200 and got.body["status"] == "queued"


def test_a_learners_token_of_the_service_still_works_on_a_hub(fresh, course, tokens):
    sent = fresh.request("POST", f"{PREFIX}api/checks?assignment=add", tokens["bob"],
                         notebook_bytes(course))
    assert sent.status == 202, sent.body


def test_a_learner_on_a_hub_cannot_read_another_learners_check(fresh, course, hub):
    alices = fresh.request("POST", f"{PREFIX}api/checks?assignment=add", hub.token("alice"),
                           notebook_bytes(course)).body["id"]
    bobs_view = fresh.request("GET", f"{PREFIX}api/checks/{alices}", hub.token("bob"))
    assert bobs_view.status == 404


# -- hostile ----------------------------------------------------------------------------------

def test_a_hub_user_who_is_not_a_learner_of_the_course_is_refused(fresh, course, hub):
    """The hub signs mallory in, with the service's scope: is she refused on the page and
    by the API, told why?"""
    browser = sign_in(fresh, hub, "mallory")
    page = browser.get(page_url(fresh), timeout=TIMEOUT)
    assert page.status_code == 403 and "not a learner of this course" in page.text
    sent = fresh.request("POST", f"{PREFIX}api/checks?assignment=add", hub.token("mallory"),
                         notebook_bytes(course))
    assert sent.status == 401 and "sign in through the hub" in sent.body["error"]


def test_a_hub_user_whose_name_differs_from_a_learners_only_in_case_is_refused(fresh, course,
                                                                                 hub):
    sent = fresh.request("POST", f"{PREFIX}api/checks?assignment=add", hub.token("Alice"),
                         notebook_bytes(course))
    assert sent.status == 401


def test_a_hub_service_named_as_a_learner_is_refused(fresh, course, hub):
    """A service of the hub named 'alice', holding every access scope: is it refused (only
    users are learners)?"""
    token = hub.token("alice", kind="service", scopes=("access:services",))
    sent = fresh.request("POST", f"{PREFIX}api/checks?assignment=add", token,
                         notebook_bytes(course))
    assert sent.status == 401


def test_a_token_the_hub_issued_for_another_service_is_refused(fresh, course, hub):
    """alice's token for the service 'other' (its OAuth, its scope only): is it refused
    here, where this service's scope is needed?"""
    token = hub.token("alice", scopes=("access:services!service=other",))
    sent = fresh.request("POST", f"{PREFIX}api/checks?assignment=add", token,
                         notebook_bytes(course))
    assert sent.status == 401
    assert fresh.request("GET", f"{PREFIX}api/checks", token).status == 401


def test_a_cookie_the_service_did_not_sign_is_refused(fresh, hub):
    """alice's real hub token, in the service's cookie, signed with another secret or not
    signed at all: is the page's sign-in asked again, and the upload refused?"""
    token = hub.token("alice", scopes=(ACCESS,))
    forged = create_signed_value("a secret the attacker chose", CLIENT_ID, token).decode()
    for cookie in (forged, token):
        browser = requests.Session()
        browser.cookies.set(CLIENT_ID, cookie)
        page = browser.get(page_url(fresh), allow_redirects=False, timeout=TIMEOUT)
        assert page.status_code == 302 and page.headers["Location"].startswith(hub.url)
        browser.cookies.set("_xsrf", "anything")
        sent = submit(fresh, browser, {"X-XSRFToken": "anything"})
        assert sent.status_code == 401


def test_the_hub_cookie_without_the_hubs_xsrf_token_sends_nothing(fresh, hub):
    """A page of another site making alice's browser post to the service (her cookie goes
    along, the page's XSRF token cannot): is the upload refused?"""
    browser = sign_in(fresh, hub, "alice")
    assert browser.get(page_url(fresh), timeout=TIMEOUT).status_code == 200
    assert submit(fresh, browser).status_code == 401
    assert submit(fresh, browser, {"X-XSRFToken": "guessed"}).status_code == 401
    listed = browser.get(page_url(fresh) + "api/checks", timeout=TIMEOUT,
                         headers={"Sec-Fetch-Mode": "cors", "Sec-Fetch-Site": "cross-site"})
    assert listed.status_code == 401


def test_a_sign_in_whose_oauth_state_is_not_the_browsers_is_refused(fresh, hub):
    """An attacker's own sign-in code and state, handed to alice's browser (login CSRF):
    is the callback refused, and no cookie set?"""
    attacker = requests.Session()
    start = attacker.get(page_url(fresh), allow_redirects=False, timeout=TIMEOUT)
    hub.browser_user = "bob"
    back = attacker.get(start.headers["Location"], allow_redirects=False, timeout=TIMEOUT)
    callback = back.headers["Location"]  # the attacker's code and state, never used

    victim = requests.Session()
    victim.get(page_url(fresh), allow_redirects=False, timeout=TIMEOUT)  # her own state
    reply = victim.get(callback, allow_redirects=False, timeout=TIMEOUT)
    assert reply.status_code == 403
    assert CLIENT_ID not in victim.cookies
