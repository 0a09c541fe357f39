"""The Overview page in a real headless Chromium: cards, gaps, charts, the CSV and the PDF meeting pack."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from playwright.sync_api import Page, expect

from data import journal
from data.engine import make_engine
from tests.browser.conftest import demo_copy, screenshot, serving, wait_for_app, watched

AGREEMENT = "Sales and Marketing SLA"


@pytest.fixture(scope="module")
def overview_db(demo_db_url, tmp_path_factory) -> str:
    """A copy of the demo database: opening the Overview freezes last week, which writes."""
    return demo_copy(demo_db_url, tmp_path_factory.mktemp("overview"))


@pytest.fixture(scope="module")
def overview_server(overview_db, tmp_path_factory):
    log = tmp_path_factory.mktemp("logs") / "streamlit.log"
    with serving({"ACCORD_DATABASE_URL": overview_db}, log) as server:
        yield server


@pytest.fixture
def overview_page(page: Page, overview_server, request):
    yield from watched(page, overview_server, request)


def test_overview_shows_every_commitment_and_exports_csv_and_pdf(
    overview_page, overview_server, overview_db, tmp_path
):
    page = overview_page
    page.goto(overview_server.url)  # the Overview is the default page
    wait_for_app(page)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.get_by_role("heading", name="The three biggest gaps")).to_be_visible()
    for title in (
        "MQL volume",
        "Sourced pipeline",
        "MQL acceptance",
        "Speed to lead",
        "Touches",
        "Disposition",
    ):
        expect(page.locator(f".st-key-overview_card_{title.lower().replace(' ', '-')}")).to_be_visible()
    expect(page.get_by_test_id("stPlotlyChart").first).to_be_visible()
    # Opening the page froze last week for good.
    assert journal.read_snapshots(make_engine(overview_db), AGREEMENT)["final"].any()
    page.set_viewport_size(
        {"width": 1400, "height": 3000}
    )  # Streamlit scrolls inside: a tall window shows it all
    wait_for_app(page)
    screenshot(page, "overview-page")

    with page.expect_download() as csv_download:
        page.locator(".st-key-overview_csv").get_by_role("button").click()
    csv_text = csv_download.value.path().read_text(encoding="utf-8-sig")
    assert "mql-volume" in csv_text and "speed-to-lead" in csv_text

    with page.expect_download(timeout=90_000) as pdf_download:
        page.locator(".st-key-overview_pdf").get_by_role("button").click()
    pdf = tmp_path / "pack.pdf"
    pdf_download.value.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF")
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    for title in (
        "MQL volume",
        "Sourced pipeline",
        "MQL acceptance",
        "Speed to lead",
        "Touches",
        "Disposition",
    ):
        assert title in text
    assert "The three biggest gaps" in text and "Marketing" in text and "Sales" in text
    artifacts = screenshot(page, "overview-page-after-downloads").parent
    shutil.copy(pdf, artifacts / "overview-meeting-pack.pdf")
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", str(pdf), str(artifacts / "overview-meeting-pack")], check=True
    )


def test_a_team_deep_link_recomputes_the_weeks(overview_page, overview_server):
    page = overview_page
    page.goto(f"{overview_server.url}/?team=EMEA")  # the default page lives at the root
    wait_for_app(page)
    expect(page.get_by_text("Filtered by team, owner or channel")).to_be_visible()
    expect(page.get_by_text("Page not found")).to_have_count(0)
    screenshot(page, "overview-page-emea")
