"""The upload page on a hub in a real browser (Debian's Chromium, driven by playwright): the
learner opens the service's page, is signed in through the hub's OAuth (the fake hub of
``fakehub``), sends the notebook with no token to type, and sees its score: the page's script
sends the hub's cookie with the hub's XSRF token."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.autograder.service.conftest import clear_checks, notebook_bytes, start_service
from tests.autograder.service.fakehub import PREFIX
from tests.autograder.service.test_pages import CHROMIUM, WAIT_MS

pytestmark = pytest.mark.slow  # grades a notebook, drives a browser


@pytest.fixture(scope="module")
def service(course, tokens, hub):
    clear_checks(course)
    service = start_service(course, "--jobs", "1", name="hub-page", env=hub.environment())
    hub.service_origin = service.url
    yield service
    service.stop()


@pytest.fixture
def page(service, hub):
    """A page that can reach the service and the hub only, its script errors recorded."""
    if not Path(CHROMIUM).exists():  # a failure, never a skip: the check must not go missing
        pytest.fail(f"Chromium is not installed ({CHROMIUM} missing): run `bash "
                    "scripts/prereqs.sh`, or name one in RNN_CHROMIUM.", pytrace=False)
    from playwright.sync_api import sync_playwright

    allowed = {urlsplit(service.url).netloc, urlsplit(hub.url).netloc}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        page.route("**/*", lambda route: route.continue_()
                   if urlsplit(route.request.url).netloc in allowed else route.abort())
        page.errors = []
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        yield page
        browser.close()


def test_a_learner_signed_in_through_the_hub_uploads_and_sees_the_score(page, service, hub,
                                                                         course, tmp_path):
    hub.browser_user = "dave"
    path = tmp_path / "add.ipynb"
    path.write_bytes(notebook_bytes(course))
    page.goto(service.url + PREFIX)  # to the hub's sign-in and back
    assert page.url == service.url + PREFIX
    assert page.text_content("#hub-user") == "dave" and page.locator("#token").count() == 0
    page.select_option("#assignment", "add")
    page.set_input_files("#notebook", str(path))
    page.click("#send")
    page.wait_for_selector("#result:not([hidden])", timeout=WAIT_MS)
    assert page.text_content("#score") == "Score: 3 / 3"
    assert page.errors == []
