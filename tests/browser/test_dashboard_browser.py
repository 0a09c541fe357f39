"""The Marketing, Sales and Funnel pages in a real headless Chromium: render, keep filters, deep links, CSV."""

from __future__ import annotations

import io
import re

import pandas as pd
from playwright.sync_api import Page, expect

from analytics.followup import followup_detail, followup_queue
from analytics.periods import period_of
from data import queries
from data.engine import make_engine
from tests.browser.conftest import screenshot, wait_for_app
from tests.pages.dashboard_oracle import pinned_as_of, versions
from views.sales import queue_window

AS_OF = pinned_as_of()


def open_page(page: Page, server, path: str) -> None:
    separator = "&" if "?" in path else "?"
    page.goto(f"{server.url}/{path}{separator}as_of={AS_OF}")
    wait_for_app(page)


def whole_page_screenshot(page: Page, name: str) -> None:
    """A screenshot of the whole page: Streamlit scrolls inside its main section, so grow the viewport to fit it."""
    size = page.viewport_size
    height = page.evaluate("document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], int(height) + 40)})
    wait_for_app(page)
    page.wait_for_timeout(500)  # let plotly redraw at the new size
    screenshot(page, name)
    page.set_viewport_size(size)


def download(page: Page, key: str) -> pd.DataFrame:
    """Click the CSV download button with widget ``key`` and read the file."""
    button = page.locator(f".st-key-{key}").get_by_test_id("stDownloadButton").locator("button")
    with page.expect_download() as info:
        button.click()
    return pd.read_csv(io.BytesIO(open(info.value.path(), "rb").read()), encoding="utf-8-sig")


def test_marketing_page(app_page, app_server):
    open_page(app_page, app_server, "marketing")
    expect(app_page.get_by_role("heading", name="Marketing", exact=True)).to_be_visible()
    expect(app_page.get_by_test_id("stMetricLabel").get_by_text("MQLs", exact=True)).to_have_count(1)
    expect(app_page.get_by_test_id("stPlotlyChart")).to_have_count(7, timeout=30_000)
    expect(app_page.get_by_text("the agreement sets no target for it").first).to_be_visible()
    volume = download(app_page, "marketing_volume_csv_channel")
    assert list(volume.columns[:3]) == ["channel", "mqls", "sqls"] and volume["mqls"].sum() > 0
    whole_page_screenshot(app_page, "marketing")


def test_sales_page_queue_is_the_analytics_queue(app_page, app_server, demo_db_url):
    open_page(app_page, app_server, "sales")
    expect(app_page.get_by_role("heading", name="Sales", exact=True)).to_be_visible()
    expect(app_page.get_by_test_id("stPlotlyChart")).to_have_count(5, timeout=30_000)
    queue = download(app_page, "sales_queue_csv")
    # the same queue straight from the analytics layer, on repository frames of the same window
    as_of = pd.Timestamp(AS_OF, tz="UTC") + pd.Timedelta(days=1)
    start, end = queue_window(as_of)
    engine = make_engine(demo_db_url)
    frames = {
        "owners": queries.read_owners(engine),
        "leads": queries.read_leads(engine, start, end, with_deal_leads=True),
    }
    expected = followup_queue(followup_detail(versions(demo_db_url), frames, as_of, start=start), 4.0)
    assert len(expected) and queue["lead_id"].tolist() == expected["lead_id"].tolist()
    assert queue["state"].str.match(r"^(overdue by|due in) \d+\.\d business hours$").all()
    whole_page_screenshot(app_page, "sales")


def test_funnel_page(app_page, app_server):
    open_page(app_page, app_server, "funnel")
    expect(app_page.get_by_role("heading", name="Funnel", exact=True)).to_be_visible()
    for stage in ("MQL", "SQL", "Opportunity", "Won"):
        expect(app_page.get_by_test_id("stMetricLabel").get_by_text(stage, exact=True)).to_have_count(1)
    expect(app_page.get_by_test_id("stPlotlyChart")).to_have_count(5, timeout=30_000)
    cohorts = download(app_page, "funnel_cohort_csv")
    assert {"period", "mql", "sql", "opportunity", "won"} <= set(cohorts.columns)
    whole_page_screenshot(app_page, "funnel")


def test_switching_pages_keeps_the_filters(app_page, app_server):
    open_page(app_page, app_server, "marketing?team=EMEA")
    expect(app_page.get_by_text(re.compile(r"· EMEA · all owners · all channels · as of"))).to_be_visible()
    app_page.get_by_test_id("stSidebarNav").get_by_role("link", name="Sales").click()
    wait_for_app(app_page)
    expect(app_page).to_have_url(re.compile(r"/sales\?.*team=EMEA"))
    expect(app_page.get_by_role("heading", name="Sales", exact=True)).to_be_visible()
    expect(app_page.get_by_text(re.compile(r"· EMEA · all owners · all channels · as of"))).to_be_visible()
    app_page.get_by_test_id("stSidebarNav").get_by_role("link", name="Funnel").click()
    wait_for_app(app_page)
    expect(app_page).to_have_url(re.compile(r"/funnel\?.*team=EMEA"))


def test_a_deep_link_opens_a_past_period_for_one_team(app_page, app_server, demo_db_url):
    as_of = pd.Timestamp(AS_OF, tz="UTC") + pd.Timedelta(days=1)
    doc = versions(demo_db_url)[-1].document
    previous = period_of(period_of(as_of, doc.period, doc.timezone)["period_start"] - pd.Timedelta(days=1),
                         doc.period, doc.timezone)["period"]  # fmt: skip
    open_page(app_page, app_server, f"sales?team=Americas&period={previous}")
    expect(
        app_page.get_by_text(re.compile(r"· Americas · all owners · all channels · as of"))
    ).to_be_visible()
    expect(app_page.get_by_text("is closed: its status is final")).to_be_visible()
    whole_page_screenshot(app_page, "sales-previous-period-americas")
