"""Back after a filter change restores the previous filters and figures, in a real headless Chromium."""

from __future__ import annotations

import re

import pandas as pd
from playwright.sync_api import Page, expect

from tests.browser.conftest import wait_for_app
from tests.pages.dashboard_oracle import pinned_as_of


def mqls(page: Page) -> str:
    """The MQL tile's value on the Marketing page."""
    tile = page.get_by_test_id("stMetric").filter(
        has=page.get_by_test_id("stMetricLabel").get_by_text("MQLs", exact=True)
    )
    return tile.get_by_test_id("stMetricValue").inner_text()


def caption(page: Page, selection: str):
    return page.get_by_text(re.compile(rf" · {re.escape(selection)} · as of "))


def choose(page: Page, key: str, option: str) -> None:
    page.locator(f".st-key-{key}").click()
    page.get_by_role("option", name=option, exact=True).click()
    page.keyboard.press("Escape")


def test_back_after_a_filter_change_restores_the_filters_and_the_figures(app_page, app_server):
    page = app_page
    page.goto(f"{app_server.url}/marketing?as_of={pinned_as_of()}")
    wait_for_app(page)
    everyone = "all teams · all owners · all channels"
    expect(caption(page, everyone)).to_be_visible()
    all_mqls = mqls(page)

    choose(page, "team", "EMEA")
    expect(page).to_have_url(re.compile(r"/marketing\?.*team=EMEA"))
    expect(caption(page, "EMEA · all owners · all channels")).to_be_visible()
    wait_for_app(page)
    emea_mqls = mqls(page)
    assert emea_mqls != all_mqls

    page.go_back()
    expect(page).not_to_have_url(re.compile(r"team="))
    expect(caption(page, everyone)).to_be_visible()
    wait_for_app(page)
    assert mqls(page) == all_mqls
    expect(page.locator(".st-key-team").get_by_text("EMEA")).to_have_count(0)

    page.go_forward()
    expect(page).to_have_url(re.compile(r"team=EMEA"))
    expect(caption(page, "EMEA · all owners · all channels")).to_be_visible()
    wait_for_app(page)
    assert mqls(page) == emea_mqls

    # A period change is an entry too: Back returns to the month before it, with its figures.
    month = page.get_by_role("heading", name=re.compile(r"^Against target — "))
    before = month.inner_text()
    earlier = pd.Timestamp(pinned_as_of()) - pd.DateOffset(months=1)
    choose(page, "period", f"{earlier:%Y-%m}")
    expect(page).to_have_url(re.compile(rf"period={earlier:%Y-%m}"))
    expect(page.get_by_role("heading", name=f"Against target — {earlier:%B %Y}")).to_be_visible()
    wait_for_app(page)
    assert mqls(page) != emea_mqls
    page.go_back()
    expect(page).not_to_have_url(re.compile(r"period="))
    expect(page.get_by_role("heading", name=before)).to_be_visible()
    wait_for_app(page)
    assert mqls(page) == emea_mqls


def test_back_after_choosing_a_week_restores_the_week_on_the_overview(app_page, app_server):
    page = app_page
    page.goto(f"{app_server.url}/?as_of={pinned_as_of()}")  # as of a past instant: nothing is frozen
    wait_for_app(page)
    card = page.locator(".st-key-overview_card_mql-volume")
    expect(card).to_be_visible()
    first = re.search(r"\d{4}-W\d{2}", card.inner_text()).group()  # the card's label names its week
    earlier = f"{pd.Timestamp(pinned_as_of()) - pd.Timedelta(weeks=3):%G-W%V}"

    choose(page, "week", earlier)
    expect(page).to_have_url(re.compile(rf"week={earlier}"))
    expect(card).to_contain_text(re.compile(rf"^\W*MQL volume\W+{earlier}"))
    wait_for_app(page)

    page.go_back()
    expect(page).not_to_have_url(re.compile(r"week="))
    expect(card).to_contain_text(re.compile(rf"^\W*MQL volume\W+{first}"))
