"""The service's two pages in a real browser (Debian's Chromium, driven by playwright): a
learner uploads a notebook through the form and sees the score appear; the instructor signs
in and sees each learner's latest check; a learner's HTML in a test message stays text on
both pages, and no script runs that the pages do not serve themselves."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.autograder.service.conftest import clear_checks, notebook_bytes, start_service

pytestmark = pytest.mark.slow  # grades notebooks, drives a browser

CHROMIUM = os.environ.get("RNN_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
HOSTILE = "<img src=x onerror=\"window.pwned=1\"><script>window.pwned=1</script>"
WAIT_MS = 300_000  # grading, the first time, includes the pre-flight of the assignment


@pytest.fixture(scope="module")
def service(course, tokens):
    clear_checks(course)
    service = start_service(course, "--jobs", "1", name="pages")
    yield service
    service.stop()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():  # a failure, never a skip: the check must not go missing
        pytest.fail(f"Chromium is not installed ({CHROMIUM} missing): run `bash "
                    "scripts/prereqs.sh`, or name one in RNN_CHROMIUM.", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser, service):
    """A fresh page that can reach the service only, its errors and dialogs recorded."""
    context = browser.new_context()
    page = context.new_page()
    page.route("**/*", lambda route: route.continue_()
               if urlsplit(route.request.url).netloc == urlsplit(service.url).netloc
               else route.abort())
    page.errors, page.dialogs = [], []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    yield page
    context.close()


def upload(page, service, token: str, path: Path) -> None:
    page.goto(service.url + "/")
    page.fill("#token", token)
    page.select_option("#assignment", "add")
    page.set_input_files("#notebook", str(path))
    page.click("#send")


def test_a_notebook_uploaded_through_the_form_shows_its_score(page, service, course, tokens,
                                                              tmp_path):
    path = tmp_path / "add.ipynb"
    path.write_bytes(notebook_bytes(course))
    upload(page, service, tokens["erin"], path)
    page.wait_for_selector("#result:not([hidden])", timeout=WAIT_MS)
    assert page.text_content("#score") == "Score: 3 / 3"
    assert page.locator("#tests tbody tr").count() == 2
    assert page.text_content("#result-file") == "add.ipynb"
    assert page.errors == []


def test_a_learners_html_in_a_message_is_shown_as_text(page, service, course, tokens,
                                                       tmp_path):
    path = tmp_path / "add.ipynb"
    path.write_bytes(notebook_bytes(course, f"raise ValueError({HOSTILE!r})"))
    upload(page, service, tokens["frank"], path)
    page.wait_for_selector("#result:not([hidden])", timeout=WAIT_MS)
    assert HOSTILE in page.text_content("#tests tbody")
    assert page.locator("#tests img").count() == 0
    assert page.evaluate("window.pwned") is None and page.dialogs == []


def test_the_instructor_page_lists_the_latest_checks_with_learner_html_as_text(page, service,
                                                                               tokens):
    # after the two tests above: erin's and frank's checks are graded
    page.goto(service.url + "/instructor")
    page.fill("#token", tokens["prof"])
    page.click("button[type=submit]")
    page.wait_for_selector("#latest")
    learners = page.locator("#latest td.learner").all_text_contents()
    assert {"erin", "frank"} <= set(learners)
    row = page.locator("#latest tr", has_text="frank")
    assert HOSTILE in row.locator("td.messages").text_content()
    assert row.locator("img").count() == 0 and page.locator("script").count() == 0
    assert page.evaluate("window.pwned") is None and page.dialogs == []


def test_a_learner_token_does_not_open_the_instructor_page(page, service, tokens):
    page.goto(service.url + "/instructor")
    page.fill("#token", tokens["alice"])
    page.click("button[type=submit]")
    assert "not an instructor token" in page.text_content("main")
    assert page.locator("#latest").count() == 0


def test_under_a_hub_prefix_the_form_sends_and_the_instructor_signs_in(browser, course,
                                                                       tokens, tmp_path):
    """As a JupyterHub service, every address starts with its prefix: do the page's script,
    its static files and the sign-in form keep to it?"""
    prefixed = start_service(course, "--jobs", "0", "--base-url", "/services/grading/",
                             name="prefixed")
    try:
        base = prefixed.url + "/services/grading/"
        assert prefixed.request("GET", "/api/checks", tokens["alice"]).status == 404
        context = browser.new_context()
        page = context.new_page()
        path = tmp_path / "add.ipynb"
        path.write_bytes(notebook_bytes(course))
        page.goto(base)
        page.fill("#token", tokens["bob"])
        page.set_input_files("#notebook", str(path))
        page.click("#send")
        page.wait_for_selector("#status:has-text('Queued: 0 check(s) ahead')")
        page.goto(base + "instructor")
        page.fill("#token", tokens["prof"])
        page.click("button[type=submit]")
        page.wait_for_selector("#latest")
        assert "bob" in page.locator("#latest td.learner").all_text_contents()
        context.close()
    finally:
        prefixed.stop()
