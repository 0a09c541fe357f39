"""The dashboard on PostgreSQL with a read replica: every page reads through ACCORD_READ_DATABASE_URL, every
write (first start's demo load, the Overview's freeze, an agreement save) goes to ACCORD_DATABASE_URL.

The "replica" is the same database through a second URL whose sessions are read-only
(``default_transaction_read_only``, as on a streaming standby), so a write sent to it would fail.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import Engine, event
from streamlit.testing.v1 import AppTest

import settings
from data import journal, queries
from pages.components import loaders
from pages.components.agreement_view import form_prefix, reason_key, yaml_key
from tests.conftest import plain, reset_postgres
from tests.data.test_read_engine import read_only_url

APP = str(settings.ROOT / "app.py")
AGREEMENT = "Sales and Marketing SLA"
WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|CREATE|ALTER|DROP)\b", re.IGNORECASE)
PAGES = ("pages/overview.py", "pages/sales.py", "pages/marketing.py", "pages/funnel.py", "pages/agreement.py",
         "pages/data.py")  # fmt: skip


def _forget_engines() -> None:
    """Drop the cached engines and the first start: the test PostgreSQL's URL is the same in every test."""
    loaders.clear()
    for cached in (loaders._engine_for, loaders._reader_for, loaders._bootstrapped):
        cached.clear()


@pytest.fixture
def statements():
    """Every statement any engine runs in this process, as (who, SQL): "reader" for the replica's URL."""
    seen: list[tuple[str, str]] = []

    def record(conn, _cursor, statement, _parameters, _context, _many):
        who = "reader" if conn.engine.url.query.get("application_name") == "accord_read" else "writer"
        seen.append((who, statement))

    event.listen(Engine, "before_cursor_execute", record)
    yield seen
    event.remove(Engine, "before_cursor_execute", record)


@pytest.fixture
def replica(monkeypatch):
    """(writer, read URL): an empty, migrated test PostgreSQL and its read-only URL, both configured."""
    writer = reset_postgres(None)
    _forget_engines()
    monkeypatch.setenv("ACCORD_DATABASE_URL", writer.url.render_as_string(hide_password=False))
    monkeypatch.setenv("ACCORD_READ_DATABASE_URL", read_only_url(writer))
    monkeypatch.setenv("ACCORD_DEMO_LEADS", "400")
    yield writer
    _forget_engines()
    writer.dispose()


def tables(sql: list[str]) -> set[str]:
    """The tables named after FROM / INTO / UPDATE in ``sql``."""
    named = r"\b(?:FROM|INTO|UPDATE)\s+\"?(\w+)"
    return {table.lower() for statement in sql for table in re.findall(named, statement, re.IGNORECASE)}


def test_the_pages_read_through_the_replica_and_write_only_to_the_database(replica, statements):
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()  # the first start: migrate, save the default agreement, load the demo company
    assert not at.exception, at.exception
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        said = [plain(e.value) for e in (*at.error, *at.caption, *at.warning)]
        refused = [line for line in said if "read-only" in line or "could not be frozen" in line]
        assert not refused, (page, refused)
    reads = [sql for who, sql in statements if who == "reader"]
    writes = [sql for who, sql in statements if who == "writer" and WRITE.match(sql)]
    # Writes reached the writer only: the demo load, the default agreement and the Overview's freeze.
    assert not [sql for sql in reads if WRITE.match(sql)]
    assert {"leads", "agreement_versions", "weekly_snapshots", "sync_runs"} <= tables(writes)
    # The pages' data came through the replica: the frames, the agreement, the snapshots, the Data page's
    # counts, runs and audit trail.
    assert {"leads", "deals", "activities", "owners", "agreement_versions", "weekly_snapshots", "sync_runs",
            "audit_log"} <= tables(reads)  # fmt: skip
    assert queries.table_counts(replica)["leads"] == 400
    assert not journal.read_snapshots(replica, AGREEMENT).empty  # frozen through the writer


def test_an_agreement_saved_on_the_page_goes_to_the_writer(replica, statements):
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()  # the first start
    at.switch_page("pages/agreement.py")
    at.query_params["section"] = "Edit"
    at.run()
    assert not at.exception, at.exception
    statements.clear()
    v1 = form_prefix(AGREEMENT, 1)
    edited = at.text_area(key=yaml_key(v1)).value.replace("every: quarter", "every: month")
    at.text_area(key=yaml_key(v1)).set_value(edited)
    at.text_input(key=reason_key(v1, "yaml")).set_value("monthly reviews while we ramp up")
    at.button(key=f"{v1}-yaml-save").click().run()
    assert not at.exception, at.exception
    assert at.success[0].value.startswith(f"Saved {AGREEMENT} version 2")
    assert journal.read_agreement_versions(replica, AGREEMENT)["version"].tolist() == [1, 2]
    writes = [(who, sql) for who, sql in statements if WRITE.match(sql)]
    assert {"agreement_versions", "audit_log"} <= tables([sql for _, sql in writes])
    assert {who for who, _ in writes} == {"writer"}
    # After the save the page shows version 2, read back through the replica.
    assert [sql for who, sql in statements if who == "reader" and "agreement_versions" in sql]
