"""Importing a CSV on the Data page in a real headless Chromium: upload, import, counts move, rejected rows download."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from data import queries
from data.engine import make_engine
from tests.browser.conftest import demo_copy, screenshot, serving, wait_for_app, watched

SLOW = 30_000  # ms: other test suites may share the machine's two cores

# Three good leads and two bad ones (a date that is none, a negative touch count).
LEADS_CSV = (
    "Lead ID,Created,MQL date,Channel,Touches\n"
    "web-1,2026-10-01 09:00,2026-10-01 10:00,Organic Search,1\n"
    "web-2,2026-10-02 09:00,2026-10-02 11:00,Paid Search,0\n"
    "web-3,2026-10-03 09:00,2026-10-03 09:30,Referrals,2\n"
    "web-4,someday,2026-10-04 10:00,Organic Search,1\n"
    "web-5,2026-10-05 09:00,2026-10-05 10:00,Paid Search,-2\n"
)


@pytest.fixture
def writable_server(demo_db_url, tmp_path):
    """The dashboard on a private copy of the demo database (this test writes; the shared server's is read-only)."""
    env = {
        "ACCORD_DATABASE_URL": demo_copy(demo_db_url, tmp_path),
        "ACCORD_MAPPINGS_DIR": str(tmp_path / "mappings"),
        "HUBSPOT_ACCESS_TOKEN": "",
    }
    with serving(env, tmp_path / "streamlit.log") as server:
        server.database_url = env["ACCORD_DATABASE_URL"]
        yield server


@pytest.fixture
def browser_page(page: Page, writable_server, request):
    yield from watched(page, writable_server, request)


def leads_metric(page: Page):
    return page.get_by_test_id("stMetric").filter(has_text="Leads").get_by_test_id("stMetricValue")


def show_everything(page: Page) -> None:
    """A viewport tall enough for the whole page (Streamlit scrolls inside its main area, so a "full page"
    screenshot would show only the window), the pointer parked where it opens no tooltip."""
    height = page.get_by_test_id("stMain").evaluate("main => main.scrollHeight")
    page.set_viewport_size({"width": 1440, "height": max(1000, int(height) + 40)})
    page.mouse.move(1, 1)
    wait_for_app(page)


def test_import_a_csv_then_download_its_rejected_rows(browser_page: Page, writable_server, tmp_path):
    page = browser_page
    engine = make_engine(writable_server.database_url)
    leads_before = queries.table_counts(engine)["leads"]
    csv_path = tmp_path / "web-leads.csv"
    csv_path.write_text(LEADS_CSV, encoding="utf-8")

    page.goto(f"{writable_server.url}/data")
    wait_for_app(page)
    expect(leads_metric(page)).to_have_text(f"{leads_before:,}", timeout=SLOW)

    page.get_by_role("tab", name="Import a file").click()
    page.locator(".st-key-import_file input[type='file']").set_input_files(str(csv_path))
    wait_for_app(page)
    expect(page.get_by_text("columns were matched by their names")).to_be_visible(timeout=SLOW)
    import_tab = page.get_by_role("tabpanel", name="Import a file")
    expect(import_tab.get_by_test_id("stDataFrame")).to_be_visible(timeout=SLOW)  # the preview
    # it says which of its rows the import would refuse, before anything is written
    expect(import_tab.get_by_text("2 of these 5 rows would be rejected", exact=False)).to_be_visible()
    show_everything(page)
    screenshot(page, "data-import-preview")

    page.locator(".st-key-import_run button:visible").click()
    wait_for_app(page)
    report = page.locator(".st-key-import_report")
    expect(report).to_contain_text("Imported web-leads.csv into leads", timeout=SLOW)
    expect(report).to_contain_text("3 added (new)")
    expect(report).to_contain_text("2 rejected")
    expect(leads_metric(page)).to_have_text(f"{leads_before + 3:,}", timeout=SLOW)
    expect(page.get_by_role("tab", name="Import a file")).to_have_attribute(
        "aria-selected", "true", timeout=SLOW
    )
    assert queries.table_counts(engine)["leads"] == leads_before + 3
    show_everything(page)
    screenshot(page, "data-import-done")

    page.get_by_role("tab", name="Rejected rows").click()
    wait_for_app(page)
    expect(page.get_by_role("tabpanel", name="Rejected rows").get_by_test_id("stDataFrame")).to_be_visible(
        timeout=SLOW
    )
    with page.expect_download() as download_info:
        page.locator(".st-key-rejected_download button:visible").click()
    download = download_info.value
    assert download.suggested_filename == "accord-rejected-rows-all.csv"
    download.save_as(tmp_path / "rejected.csv")
    text = (tmp_path / "rejected.csv").read_text(encoding="utf-8-sig")
    assert "web-4" in text and "web-5" in text and "Created" in text and "Touches" in text
    show_everything(page)
    screenshot(page, "data-rejected-rows")

    page.get_by_role("tab", name="History").click()
    history = page.get_by_role("tabpanel", name="History")
    expect(history.get_by_test_id("stDataFrame")).to_be_visible(timeout=SLOW)
    expect(history.get_by_text("times in Europe/Berlin", exact=False)).to_be_visible()
    screenshot(page, "data-history")
