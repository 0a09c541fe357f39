"""From a figure to the records behind it in a real headless Chromium at 1440 px: the Sales page's follow-up
rate opens the leads it counts, as a table and a CSV whose rows are the period's handed-over leads."""

from __future__ import annotations

import re

import pandas as pd
from playwright.sync_api import expect

from data import queries
from data.engine import make_engine
from tests.browser.conftest import wait_for_app
from tests.browser.test_dashboard_browser import download, open_page, whole_page_screenshot
from tests.pages.dashboard_oracle import pinned_as_of, versions
from views.filters import filters_for


def test_drill_from_the_follow_up_rate_to_its_leads(app_page, app_server, demo_db_url):
    page = app_page
    page.set_viewport_size({"width": 1440, "height": 1000})
    open_page(page, app_server, "sales")
    expect(page.get_by_role("heading", name="Records behind a figure")).to_be_visible()
    page.locator(".st-key-sales_records_figure").get_by_role("combobox").click()
    page.get_by_role("option", name=re.compile(r"^speed-to-lead — ")).click()
    wait_for_app(page)
    sentence = page.get_by_text(re.compile(r"^The [\d,]+ leads behind speed-to-lead in "))
    expect(sentence).to_be_visible()
    shown = int(re.search(r"The ([\d,]+) leads", sentence.inner_text()).group(1).replace(",", ""))
    records = download(page, "sales_records_csv")
    # The slow count: leads handed over in the period by as_of, read plainly from the repository.
    as_of = pd.Timestamp(pinned_as_of(), tz="UTC") + pd.Timedelta(days=1)
    f = filters_for(versions(demo_db_url), as_of)
    leads = queries.read_leads(make_engine(demo_db_url))
    live = leads[~leads["archived"].fillna(False).astype(bool)]
    handed = live[
        (live["mql_at"] >= f.period_start) & (live["mql_at"] < f.period_end) & (live["mql_at"] <= as_of)
    ]
    assert shown == len(records) == len(handed) > 0
    assert sorted(records["record"]) == sorted(handed["external_id"])
    assert list(records.columns[:3]) == ["name", "company", "owner"] and records["name"].notna().all()
    assert set(records["status"]) <= {"met", "breached", "pending"}
    sentence.scroll_into_view_if_needed()
    expect(page.get_by_test_id("stDataFrame").filter(has_text="Business hours taken")).to_have_count(1)
    whole_page_screenshot(page, "sales-records-1440")


def test_drill_from_a_funnel_stage_and_an_overview_week_figure(app_page, app_server):
    page = app_page
    page.set_viewport_size({"width": 1440, "height": 1000})
    open_page(page, app_server, "funnel")
    page.locator(".st-key-funnel_records_figure").get_by_role("combobox").click()
    page.keyboard.type("SQL")  # the stages come after the period's commitments: filter the list
    page.get_by_role("option", name=re.compile(r"^SQL — [\d,]+ of the leads handed over in ")).click()
    wait_for_app(page)
    sentence = page.get_by_text(re.compile(r"^The [\d,]+ leads? behind SQL of the leads handed over in "))
    expect(sentence).to_be_visible()
    shown = int(re.search(r"The ([\d,]+) lead", sentence.inner_text()).group(1).replace(",", ""))
    tile = page.get_by_test_id("stMetric").filter(
        has=page.get_by_test_id("stMetricLabel").get_by_text("SQL", exact=True)
    )
    assert tile.get_by_test_id("stMetricValue").inner_text().strip() == f"{shown:,}"  # the tile's count
    records = download(page, "funnel_records_csv")
    assert len(records) == shown > 0 and records["handed_over"].notna().all()
    assert list(records.columns[:9]) == ["name", "company", "owner", "team", "channel", "handed_over", "sql",
                                         "opportunity", "won"]  # fmt: skip
    whole_page_screenshot(page, "funnel-records-1440")

    open_page(page, app_server, "overview")
    page.locator(".st-key-overview_records_figure").get_by_role("combobox").click()
    page.keyboard.type("this week")
    option = page.get_by_role("option", name=re.compile(r"^mql-volume — .* \(this week, \d{4}-W\d{2}\)$"))
    week_figure = int(re.search(r" — ([\d,]+)", option.inner_text()).group(1).replace(",", ""))
    option.click()
    wait_for_app(page)
    records = download(page, "overview_records_csv")
    assert len(records) == week_figure  # the week's MQL volume, as the card shows it
