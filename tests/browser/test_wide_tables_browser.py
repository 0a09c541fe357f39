"""At 1440 px the Marketing page's channel table and the Overview show every column (screenshots looked at)."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot, wait_for_app
from tests.pages.dashboard_oracle import pinned_as_of

WIDTH = 1440


def no_column_cut(page: Page, text: str) -> int:
    """Every dataframe whose headers include ``text`` scrolls no column out of view: its grid's scroller is no
    wider than its box, and the box ends inside the window. Returns how many were checked."""
    tables = page.get_by_test_id("stDataFrame").filter(has_text=text)
    expect(tables.first).to_be_visible()
    for table in tables.all():
        scroller = table.locator(".dvn-scroller")
        expect(scroller).to_have_count(1)
        overflow = scroller.evaluate("el => el.scrollWidth - el.clientWidth")
        assert overflow <= 0, f"{overflow} px of a table's columns are cut off"
        box = table.bounding_box()
        assert box is not None and box["x"] + box["width"] <= WIDTH
    return tables.count()


def test_the_marketing_channel_table_fits_at_1440_px(app_page, app_server):
    page = app_page
    page.set_viewport_size({"width": WIDTH, "height": 2600})
    page.goto(f"{app_server.url}/marketing?as_of={pinned_as_of()}")
    wait_for_app(page)
    no_column_cut(page, "Usual share")
    screenshot(page, "marketing-1440")


def test_the_overview_fits_at_1440_px(app_page, app_server):
    page = app_page
    page.set_viewport_size({"width": WIDTH, "height": 3000})
    page.goto(f"{app_server.url}/?as_of={pinned_as_of()}")
    wait_for_app(page)
    expect(page.get_by_role("heading", name="Every commitment")).to_be_visible()
    assert no_column_cut(page, "Commitment") == 2  # week by week, and every commitment
    screenshot(page, "overview-1440")
