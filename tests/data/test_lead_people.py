"""Leads keep who they are (name, company, e-mail): the migration adds the columns without losing a row,
file imports fill them from mapped columns, and the demo's people are fictitious."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import inspect

from connectors import demo
from connectors.files import Mapping, import_file
from data import journal, queries, upserts
from data.engine import current_revision, head_revision, make_engine, upgrade
from tests.conftest import PINNED_NOW, empty_postgres


def _old_lead(engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO leads (source, external_id, channel, segment) VALUES ('crm', 'L1', 'Organic', 'SMB'),"
            " ('crm', 'L2', 'Paid', NULL)"
        )


def _upgrade_keeps_every_row(engine) -> None:
    upgrade(engine, "0006_deal_index")
    _old_lead(engine)
    every_row = "SELECT id, source, external_id, channel, segment FROM leads ORDER BY id"
    with engine.connect() as conn:
        before = conn.exec_driver_sql(every_row).all()
    counts = queries.table_counts(engine)
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert {"name", "company", "email"} <= {c["name"] for c in inspect(engine).get_columns("leads")}
    assert queries.table_counts(engine) == counts
    with engine.connect() as conn:
        assert conn.exec_driver_sql(every_row).all() == before
    leads = queries.read_leads(engine)
    assert leads["external_id"].tolist() == ["L1", "L2"] and leads["name"].isna().all()
    # The columns work on the upgraded database; a later partial write leaves them as they were.
    upserts.upsert_leads(engine, pd.DataFrame({"source": ["crm"], "external_id": ["L1"], "name": ["Ada Lovelace"],
                                            "company": ["Analytical Engines Ltd"], "email": ["ada@engines.test"]}))  # fmt: skip
    upserts.upsert_leads(
        engine, pd.DataFrame({"source": ["crm"], "external_id": ["L1"], "channel": ["Direct"]})
    )
    row = queries.read_leads(engine).set_index("external_id").loc["L1"]
    assert (row["name"], row["company"], row["email"], row["channel"]) == (
        "Ada Lovelace", "Analytical Engines Ltd", "ada@engines.test", "Direct"
    )  # fmt: skip


def test_an_older_sqlite_database_gains_lead_names_without_losing_a_row(tmp_path):
    _upgrade_keeps_every_row(make_engine(f"sqlite:///{tmp_path / 'old.db'}"))


def test_an_older_postgres_database_gains_lead_names_without_losing_a_row():
    _upgrade_keeps_every_row(empty_postgres())


def test_a_file_import_keeps_mapped_names_companies_and_emails_and_rejects_a_too_long_name(engine, tmp_path):
    path = tmp_path / "leads.csv"
    long = "x" * 256
    path.write_text(
        "Id,Created,Full name,Company name,Email\n"
        "L1,2024-02-01,Grace Hopper,Navy Labs,grace@navy.test\n"
        f"L2,2024-02-02,{long},Other,\n"
        "L3,2024-02-03,,,\n"
    )
    mapping = Mapping(table="leads", source="crm", columns={
        "external_id": "Id", "created_at": "Created", "name": "Full name", "company": "Company name", "email": "Email"})  # fmt: skip
    report = import_file(engine, path, "leads", mapping, as_of=PINNED_NOW)
    assert (report.imported, report.rejected) == (2, 1)
    leads = queries.read_leads(engine).set_index("external_id")
    assert leads.loc["L1", ["name", "company", "email"]].tolist() == [
        "Grace Hopper",
        "Navy Labs",
        "grace@navy.test",
    ]
    assert leads.loc["L3", ["name", "company", "email"]].isna().all()
    reasons = journal.read_rejected_rows(engine, source="crm")["reasons"].tolist()
    assert (
        len(reasons) == 1
        and reasons[0].startswith("Full name: ")
        and "longer than 255 characters" in reasons[0]
    )


def test_the_demo_people_are_fictitious_deterministic_and_work_where_their_deal_is():
    one = demo.generate(3000, today=PINNED_NOW.date())
    two = demo.generate(3000, today=PINNED_NOW.date())
    leads = one["leads"]
    pd.testing.assert_frame_equal(
        leads[["name", "company", "email"]], two["leads"][["name", "company", "email"]]
    )
    assert leads[["name", "company", "email"]].notna().all().all()
    assert leads["email"].str.endswith(".example").all()  # reserved for examples (RFC 2606): nobody's address
    assert leads["name"].nunique() > 500
    deals = one["deals"].dropna(subset=["lead_id"]).merge(leads, left_on="lead_id", right_on="id")
    assert (deals["name_x"].str.split(" – ").str[0] == deals["company"]).all()
