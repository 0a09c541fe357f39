"""Two Streamlit servers on one database (N servers behind a sticky proxy), in a real headless Chromium.

Both start on an empty database and open the Overview at the same moment: the schema, the default agreement,
the demo company and the frozen last week are each written once. Then a file imported through one server's
Data page shows on the other once it reads the data generation again (``loaders.GENERATION_TTL``: 3 s; its
counts are cached per generation). On a SQLite file and on PostgreSQL.
"""

from __future__ import annotations

import time

import pandas as pd
from playwright.sync_api import Browser, Page, expect

import clock
from analytics.agreement import versions_from_rows
from analytics.periods import last_closed_week
from data import journal, queries, syncs
from data.engine import make_engine
from pages.components.loaders import GENERATION_TTL
from tests.browser.conftest import serving, wait_for_app
from tests.browser.test_data_import_browser import LEADS_CSV, leads_metric
from tests.conftest import clock_env

SLOW = 60_000  # ms: two servers, a browser and pytest share two cores
AGREEMENT = "Sales and Marketing SLA"
DEMO_LEADS = 400
COUNTS_TTL = GENERATION_TTL  # s: loaders.table_counts, the Data page's counts, are kept per data generation


def opened(browser: Browser, url: str) -> Page:
    """A page of its own browser context (another person) at ``url``, not waited for."""
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(url, wait_until="commit")
    return page


def test_two_servers_on_one_database_start_once_and_see_each_others_writes(browser, empty_url, tmp_path):
    env = {
        **clock_env(), "ACCORD_DATABASE_URL": empty_url, "ACCORD_DEMO_LEADS": str(DEMO_LEADS),
        "ACCORD_MAPPINGS_DIR": str(tmp_path / "mappings"), "HUBSPOT_ACCESS_TOKEN": "",
    }  # fmt: skip
    with serving(env, tmp_path / "a.log") as a, serving(env, tmp_path / "b.log") as b:
        try:
            # Both first runs at once: each server migrates, bootstraps and freezes last week in its own process.
            on_a, on_b = opened(browser, f"{a.url}/overview"), opened(browser, f"{b.url}/overview")
            for page in (on_a, on_b):
                wait_for_app(page, timeout=SLOW * 3)
                expect(page.get_by_role("heading", name="Overview", exact=True)).to_be_visible(timeout=SLOW)
            engine = make_engine(empty_url)
            assert journal.read_agreement_versions(engine)["version"].tolist() == [1]
            assert syncs.read_sync_runs(engine)[["connector", "status"]].values.tolist() == [["demo", "ok"]]
            assert queries.table_counts(engine)["leads"] == DEMO_LEADS
            snapshots = journal.read_snapshots(engine, AGREEMENT)
            tz = versions_from_rows(journal.read_agreement_versions(engine))[0].document.timezone
            closed = last_closed_week(pd.Timestamp(clock.now()), tz)
            assert snapshots[["week", "final"]].values.tolist() == [[closed, True]]
            assert len(journal.read_audit(engine, action="snapshot.freeze")) == 1
            assert len(journal.read_audit(engine, action="agreement.save")) == 1

            # B shows the counts (and caches them); A imports three leads.
            on_b.goto(f"{b.url}/data")
            wait_for_app(on_b, timeout=SLOW)
            expect(leads_metric(on_b)).to_have_text(f"{DEMO_LEADS:,}", timeout=SLOW)
            cached_at = time.monotonic()
            import_through(on_a, a.url, tmp_path)
            expect(leads_metric(on_a)).to_have_text(
                f"{DEMO_LEADS + 3:,}", timeout=SLOW
            )  # A cleared its caches
            assert queries.table_counts(engine)["leads"] == DEMO_LEADS + 3

            # B sees them once it reads the generation again, and not later than that (plus a reload's time).
            while True:
                on_b.reload()
                wait_for_app(on_b, timeout=SLOW)
                if leads_metric(on_b).inner_text(timeout=SLOW) == f"{DEMO_LEADS + 3:,}":
                    break
                assert time.monotonic() - cached_at < COUNTS_TTL + 60, "B still shows the old count"
                on_b.wait_for_timeout(3_000)
            engine.dispose()
        except BaseException:
            print(f"--- server A ---\n{a.log()}\n--- server B ---\n{b.log()}")
            raise


def import_through(page: Page, server_url: str, folder) -> None:
    """Import the three good leads of the Data import test's CSV on ``page``'s server."""
    csv_path = folder / "web-leads.csv"
    csv_path.write_text(LEADS_CSV, encoding="utf-8")
    page.goto(f"{server_url}/data")
    wait_for_app(page, timeout=SLOW)
    page.get_by_role("tab", name="Import a file").click()
    page.locator(".st-key-import_file input[type='file']").set_input_files(str(csv_path))
    wait_for_app(page, timeout=SLOW)
    expect(page.get_by_text("columns were matched by their names")).to_be_visible(timeout=SLOW)
    page.locator(".st-key-import_run button:visible").click()
    wait_for_app(page, timeout=SLOW)
    expect(page.locator(".st-key-import_report")).to_contain_text("3 added (new)", timeout=SLOW)
