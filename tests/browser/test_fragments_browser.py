"""A control that changes one part of a page reruns that part only, in a real headless Chromium.

Opening the records behind a figure, the Sales queue's "Due within", the Marketing breakdown and the
Overview's chart are Streamlit fragments: the rest of the page (its other charts and tables) is not run,
sent or drawn again. A full run is counted by the page's history script (pages/components/history.py writes
``// run N`` into it once per full run of the script); a filter change must still count one.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import wait_for_app
from tests.browser.test_dashboard_browser import open_page

RUN = re.compile(r"// run (\d+)")


def full_runs(page: Page) -> int:
    """How many times the page's script ran in full in this session (the history script's counter)."""
    # While a run's elements are being replaced the script can be briefly absent: wait for it, not for time.
    page.wait_for_function(r"() => [...document.scripts].some(s => /\/\/ run \d+/.test(s.textContent))")
    texts = page.locator("script").evaluate_all("els => els.map(e => e.textContent)")
    runs = [int(m.group(1)) for text in texts for m in RUN.finditer(text)]
    assert runs, "the history script is missing from the page"
    return max(runs)


def test_records_and_the_queue_rerun_their_own_section_only(app_page, app_server):
    page = app_page
    open_page(page, app_server, "sales")
    before = full_runs(page)

    page.locator(".st-key-sales_records_figure").get_by_role("combobox").click()
    page.get_by_role("option", name=re.compile(r"^speed-to-lead — ")).click()
    wait_for_app(page)
    expect(page.get_by_text(re.compile(r"^The [\d,]+ leads behind speed-to-lead in "))).to_be_visible()
    assert full_runs(page) == before

    caption = page.get_by_text(re.compile(r"runs out within [\d.]+ business hours")).first
    shown = re.search(r"runs out within ([\d.]+) business hours", caption.inner_text()).group(1)
    other = (
        page.locator(".st-key-sales_queue_hours")
        .get_by_role("radio")
        .filter(has_not_text=re.compile(rf"^{re.escape(shown)} h"))
    )
    other.first.click()
    wait_for_app(page)
    expect(caption).not_to_contain_text(f"runs out within {shown} business hours")
    assert full_runs(page) == before

    # A filter is not a fragment: the whole page runs again, and the counter sees it.
    page.locator(".st-key-span").get_by_role("radio", name="Week").click()
    wait_for_app(page)
    expect(page.locator(".st-key-week")).to_be_visible()
    assert full_runs(page) > before


def test_the_marketing_breakdown_and_the_overview_chart_rerun_their_own_section_only(app_page, app_server):
    page = app_page
    open_page(page, app_server, "marketing")
    before = full_runs(page)
    page.locator(".st-key-marketing_by").get_by_role("radio", name="Campaign").click()
    wait_for_app(page)
    expect(page.get_by_text("MQLs and SQLs by campaign", exact=False).first).to_be_visible()
    assert full_runs(page) == before

    open_page(page, app_server, "overview")
    before = full_runs(page)
    chart = page.locator(".st-key-overview_chart")
    first = chart.aria_snapshot()  # names the commitment drawn: combobox "Chart": MQL acceptance
    chart.get_by_role("combobox").click()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    wait_for_app(page)
    expect(chart.get_by_role("combobox")).to_be_visible()
    assert chart.aria_snapshot() != first
    assert full_runs(page) == before
