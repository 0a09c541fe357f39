"""Real exports: dates without a time are days of a timezone, mappings need not repeat their table, and a
deals export without a created date names the column that stands in for it."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from bootstrap import ensure_default_agreement
from connectors.files import Mapping, import_file
from connectors.files.mapping import load_mapping
from data import queries
from tests.connectors.test_file_import import csv_bytes

AS_OF = dt.datetime(2026, 11, 18, 10, tzinfo=dt.UTC)
ROWS = [["Id", "Created", "MQL"], ["L1", "2026-03-01", "2026-03-01"], ["L2", "2026-03-02", "2026-03-02"]]


def leads_file(tmp_path, rows=ROWS):
    path = tmp_path / "leads.csv"
    path.write_bytes(csv_bytes(rows))
    return path


def test_a_date_is_a_day_of_the_mappings_timezone(sqlite_engine, tmp_path):
    mapping = Mapping(
        table="leads",
        source="sheet",
        timezone="America/New_York",
        columns={"external_id": "Id", "created_at": "Created", "mql_at": "MQL"},
    )
    report = import_file(sqlite_engine, leads_file(tmp_path), "leads", mapping, as_of=AS_OF)
    mql = queries.read_leads(sqlite_engine).set_index("external_id")["mql_at"]
    # 1 March in New York starts at 05:00 UTC: the lead stays in March on a New York agreement
    assert mql["L1"] == pd.Timestamp("2026-03-01T05:00Z")
    assert not report.warnings
    assert "dates without a time were read as days in America/New_York" in report.notes


def test_dates_without_a_timezone_warn_once_and_name_the_agreements(sqlite_engine, tmp_path):
    ensure_default_agreement(sqlite_engine)  # Europe/Berlin
    mapping = Mapping(
        table="leads", source="sheet", columns={"external_id": "Id", "created_at": "Created", "mql_at": "MQL"}
    )
    report = import_file(sqlite_engine, leads_file(tmp_path), "leads", mapping, as_of=AS_OF, chunksize=1)
    [warning] = report.warnings  # once, however many chunks held dates
    assert "dates without a time were read as days in UTC" in warning
    assert "timezone: Europe/Berlin" in warning and "your agreement's is Europe/Berlin" in warning
    assert any(line.startswith("Warning: dates without a time") for line in report.summary())


def test_date_times_do_not_warn_about_days(sqlite_engine, tmp_path):
    rows = [["Id", "Created", "MQL"], ["L1", "2026-03-01 10:00", "2026-03-01 10:00"]]
    mapping = Mapping(
        table="leads", source="sheet", columns={"external_id": "Id", "created_at": "Created", "mql_at": "MQL"}
    )
    report = import_file(sqlite_engine, leads_file(tmp_path, rows), "leads", mapping, as_of=AS_OF)
    assert not any("dates without a time" in w for w in report.warnings)


def test_a_mapping_used_with_import_leads_need_not_say_table(sqlite_engine, tmp_path):
    saved = tmp_path / "leads-mapping.yaml"
    saved.write_text(
        "source: sheet\ntimezone: Europe/Berlin\ncolumns: {external_id: Id, created_at: Created, mql_at: MQL}\n"
    )
    assert load_mapping(saved, table="leads").table == "leads"
    report = import_file(sqlite_engine, leads_file(tmp_path), "leads", saved, as_of=AS_OF)
    assert report.imported == 2
    deals = tmp_path / "deals-mapping.yaml"
    deals.write_text("table: deals\ncolumns: {external_id: Id}\n")
    assert load_mapping(deals, table="leads").table == "deals"  # a mapping that says its table keeps it


def test_a_deals_export_without_a_created_date_names_its_stand_in(sqlite_engine, tmp_path):
    path = tmp_path / "deals.csv"
    path.write_bytes(
        csv_bytes(
            [
                ["Id", "Close Date", "Stage", "Value"],
                ["D1", "2026-03-05", "Won", "1200"],
                ["D2", "", "Open", ""],
            ]
        )
    )
    mapping = Mapping(
        table="deals",
        source="sheet",
        timezone="Europe/Berlin",
        columns={"external_id": "Id", "created_at": "Close Date", "closed_at": "Close Date", "stage": "Stage",
                 "amount": "Value"},
        stages={"won": ["Won"], "lost": ["Lost"]},
    )  # fmt: skip
    report = import_file(sqlite_engine, path, "deals", mapping, as_of=AS_OF)
    deals = queries.read_deals(sqlite_engine).set_index("external_id")
    assert deals.loc["D1", "created_at"] == deals.loc["D1", "closed_at"] == pd.Timestamp("2026-03-04T23:00Z")
    assert report.imported + report.rejected == 2


def test_without_as_of_an_import_judges_future_dates_by_accords_clock(sqlite_engine, tmp_path, monkeypatch):
    """A pinned clock (ACCORD_NOW, as the demo and a replayed import use) says what "the future" is, not the
    machine's time: a date after the pinned instant is kept aside, one before it is imported."""
    import time_machine

    import clock

    monkeypatch.setattr(clock, "READ_PIN", True)
    monkeypatch.setenv("ACCORD_NOW", "2026-03-01T12:00Z")
    mapping = Mapping(table="leads", source="sheet", columns={"external_id": "Id", "created_at": "Created",
                                                              "mql_at": "MQL"})  # fmt: skip
    rows = [ROWS[0], ["L1", "2026-02-20", "2026-02-20"], ["L2", "2026-03-20", "2026-03-20"]]
    with time_machine.travel(dt.datetime(2027, 6, 1, tzinfo=dt.UTC), tick=False):  # the machine's clock
        report = import_file(sqlite_engine, leads_file(tmp_path, rows), "leads", mapping)
    assert (report.imported, report.rejected) == (1, 1)
    assert list(queries.read_leads(sqlite_engine)["external_id"]) == ["L1"]
    assert "in the future (after 2026-03-01)" in " ".join(report.summary())
