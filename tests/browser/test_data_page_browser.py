"""The Data page in a real headless Chromium."""

from __future__ import annotations

from playwright.sync_api import expect

from data import queries
from data.engine import make_engine
from tests.browser.conftest import screenshot, wait_for_app


def test_data_page_shows_demo_row_counts(app_page, app_server, demo_db_url):
    counts = queries.table_counts(make_engine(demo_db_url))
    app_page.goto(f"{app_server.url}/data")
    wait_for_app(app_page)
    metrics = app_page.get_by_test_id("stMetric")
    for table, rows in counts.items():
        metric = metrics.filter(has_text=table.capitalize()).first
        expect(metric.get_by_test_id("stMetricValue")).to_have_text(f"{rows:,}")
    expect(app_page.get_by_text("You are looking at demo data")).to_be_visible()
    screenshot(app_page, "data-page")
