"""The Agreement page in a real headless Chromium: edit a target, save it, see the new version in the history."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from agreements import store
from data.engine import make_engine
from pages.components.agreement_view import form_prefix, reason_key, target_key
from tests.browser.conftest import demo_copy, screenshot, serving, wait_for_app, watched

NAME = "Sales and Marketing SLA"


@pytest.fixture(scope="module")
def agreement_server(demo_db_url, tmp_path_factory):
    """A dashboard of its own on a copy of the demo database: this test saves, the shared server must not change."""
    folder = tmp_path_factory.mktemp("agreement-browser")
    url = demo_copy(demo_db_url, folder)
    with serving({"ACCORD_DATABASE_URL": url}, folder / "streamlit.log") as server:
        yield server, url


@pytest.fixture
def agreement_page(page: Page, agreement_server, request):
    """A browser page on that server; JavaScript errors fail the test, the server log is printed on failure."""
    yield from watched(page, agreement_server[0], request)


def test_edit_a_target_and_see_the_new_version(agreement_page: Page, agreement_server):
    server, url = agreement_server
    page = agreement_page
    prefix = form_prefix(NAME, 1)
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto(f"{server.url}/agreement")
    wait_for_app(page)
    expect(
        page.get_by_text("Sales follows up every MQL within 4 business hours", exact=False)
    ).to_be_visible()
    screenshot(page, "agreement-in-force")

    page.get_by_role("tab", name="Edit").click()
    wait_for_app(page)
    target = page.locator(f".st-key-{target_key(prefix, 'speed-to-lead')} input")
    expect(target).to_have_value("90")  # rate targets in percent; stored as 0.90
    screenshot(page, "agreement-edit")
    target.fill("85")
    target.press("Tab")
    page.locator(f".st-key-{reason_key(prefix, 'targets')} input").fill("Two reps on leave until January")
    page.locator(f".st-key-{prefix}-targets-save button").click()
    wait_for_app(page)
    saved_text = page.get_by_text(f"Saved {NAME} version 2, in force from", exact=False)
    expect(saved_text).to_be_visible()
    # beside the Save button, inside the targets form, not at the top of the page
    form = page.get_by_test_id("stForm").first  # the targets form
    expect(form.get_by_text(f"Saved {NAME} version 2", exact=False)).to_be_visible()
    save_box = page.locator(f".st-key-{form_prefix(NAME, 2)}-targets-save").bounding_box()
    text_box = saved_text.bounding_box()
    assert abs(text_box["y"] - save_box["y"]) < 60 and text_box["x"] > save_box["x"]  # on the same row
    screenshot(page, "agreement-saved")
    # the form now edits version 2
    expect(page.locator(f".st-key-{target_key(form_prefix(NAME, 2), 'speed-to-lead')} input")).to_have_value(
        "85"
    )

    saved = store.versions(make_engine(url), NAME)
    assert [v.version for v in saved] == [1, 2]
    assert saved[-1].document.commitment("speed-to-lead").target == 0.85
    assert saved[-1].reason == "Two reps on leave until January"

    page.get_by_role("tab", name="History").click()
    wait_for_app(page)
    changes = page.get_by_test_id("stMarkdown").filter(has_text="commitments[speed-to-lead].target")
    expect(changes).to_contain_text("0.90 → 0.85")
    expect(page.get_by_test_id("stDataFrame")).to_be_visible()
    screenshot(page, "agreement-history")

    page.get_by_role("tab", name="In force").click()
    wait_for_app(page)
    expect(page.get_by_text("Version 2 takes effect on", exact=False)).to_be_visible()
    expect(
        page.get_by_text("it is overdue", exact=False)
    ).to_be_visible()  # review.next 2026-07-01 has passed

    page.get_by_role("tab", name="Review").click()
    wait_for_app(page)
    expect(page.get_by_test_id("stAlertContentError")).to_contain_text("The review was due on 1 July 2026")
    screenshot(page, "agreement-review")

    page.get_by_role("tab", name="Baselines").click()
    wait_for_app(page)
    # the reverse funnel plans with version 2, which is scheduled
    expect(page.get_by_text("Targets of version 2, which takes effect on", exact=False)).to_be_visible()
    screenshot(page, "agreement-baselines")
