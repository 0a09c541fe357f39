"""Storage round trips, on SQLite and on a real PostgreSQL (the ``engine`` fixture runs both)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from analytics.schema import SchemaError, validate_frame
from data import repository as repo

UTC = dt.UTC


def _owners():
    return pd.DataFrame(
        {
            "source": ["crm", "crm", "other"],
            "external_id": ["o1", "o2", "o1"],
            "name": ["Ada Lovelace", "Bo Diddley", "Other Ada"],
            "email": ["ada@example.com", "bo@example.com", None],
            "team": ["EMEA", "Americas", "EMEA"],
            "active": [True, False, None],
        }
    )


def _leads():
    return pd.DataFrame(
        {
            "source": ["crm"] * 4,
            "external_id": ["L1", "L2", "L3", "L4"],
            "created_at": pd.to_datetime(
                [
                    "2026-03-01T08:00:00Z",
                    "2026-03-29T00:30:00Z",
                    "2026-04-01T00:00:00Z",
                    "2026-03-31T23:59:59Z",
                ]
            ),
            "mql_at": pd.to_datetime(
                ["2026-03-01T09:00:00Z", "2026-03-29T01:30:00Z", "2026-04-01T00:00:00Z", None], utc=True
            ),
            "owner_external_id": ["o1", "o2", "nobody", None],
            "channel": ["Paid Search", "Événements", None, "Partners"],
            "touches": [3, 0, None, 1],
            "disposition": ["accepted", "open", "rejected", None],
            "rejection_reason": [None, None, "not_icp", None],
            "archived": [False, False, True, None],
        }
    )


def test_round_trip_keeps_every_value_and_resolves_owner(engine):
    repo.upsert_owners(engine, _owners())
    result = repo.upsert_leads(engine, _leads())
    assert (result.rows, result.inserted, result.updated) == (4, 4, 0)

    leads = validate_frame(repo.read_leads(engine), "leads").set_index("external_id")
    owners = repo.read_owners(engine).set_index(["source", "external_id"])
    assert leads.loc["L1", "owner_id"] == owners.loc[("crm", "o1"), "id"]
    assert leads.loc["L1", "team"] == "EMEA"
    assert leads.loc["L2", "team"] == "Americas"
    assert pd.isna(leads.loc["L3", "owner_id"])  # owner not (yet) known: kept, unresolved
    assert leads.loc["L2", "channel"] == "Événements"
    assert leads.loc["L1", "touches"] == 3 and pd.isna(leads.loc["L3", "touches"])
    assert leads.loc["L3", "archived"] and pd.isna(leads.loc["L4", "archived"])
    assert leads.loc["L3", "rejection_reason"] == "not_icp" and pd.isna(leads.loc["L1", "rejection_reason"])
    assert leads.loc["L2", "mql_at"] == pd.Timestamp("2026-03-29T01:30:00Z")
    assert pd.isna(leads.loc["L4", "mql_at"])
    assert owners.loc[("crm", "o2"), "active"] == False  # noqa: E712 - a stored False, not a missing value
    assert pd.isna(owners.loc[("other", "o1"), "active"])


def test_upsert_twice_leaves_the_same_rows(engine):
    repo.upsert_owners(engine, _owners())
    repo.upsert_leads(engine, _leads())
    first = repo.read_leads(engine)
    again = repo.upsert_leads(engine, _leads())
    assert (again.inserted, again.updated) == (0, 4)
    pd.testing.assert_frame_equal(repo.read_leads(engine), first)
    assert repo.table_counts(engine)["leads"] == 4


def test_upsert_updates_only_the_columns_given(engine):
    repo.upsert_leads(engine, _leads())
    change = pd.DataFrame({"source": ["crm"], "external_id": ["L1"], "disposition": ["rejected"]})
    assert repo.upsert_leads(engine, change).updated == 1
    lead = repo.read_leads(engine).set_index("external_id").loc["L1"]
    assert lead["disposition"] == "rejected"
    assert lead["channel"] == "Paid Search" and lead["touches"] == 3  # untouched columns kept


def test_repeated_key_in_one_frame_last_wins_and_is_counted(engine):
    frame = pd.DataFrame(
        {"source": ["crm", "crm"], "external_id": ["L1", "L1"], "channel": ["first", "last"]}
    )
    result = repo.upsert_leads(engine, frame)
    assert (result.rows, result.duplicates_in_input) == (1, 1)
    assert repo.read_leads(engine)["channel"].tolist() == ["last"]


def test_blank_key_is_refused_with_the_row(engine):
    frame = pd.DataFrame({"source": ["crm", "crm"], "external_id": ["L1", None]})
    with pytest.raises(SchemaError, match="row 1"):
        repo.upsert_leads(engine, frame)
    assert repo.table_counts(engine)["leads"] == 0


def test_timestamps_are_stored_in_utc_whatever_zone_they_arrive_in(engine):
    berlin = pd.Series(
        pd.to_datetime(["2026-03-29 01:30", "2026-03-29 03:30", "2026-10-25 02:30"])
    ).dt.tz_localize("Europe/Berlin", ambiguous=[True, True, False])
    frame = pd.DataFrame({"source": "crm", "external_id": ["a", "b", "c"], "created_at": berlin})
    repo.upsert_leads(engine, frame)
    stored = repo.read_leads(engine).set_index("external_id")["created_at"]
    assert str(stored.dtype) == "datetime64[us, UTC]"
    assert stored["a"] == pd.Timestamp("2026-03-29T00:30:00Z")  # CET, before the jump
    assert stored["b"] == pd.Timestamp("2026-03-29T01:30:00Z")  # CEST, after the jump
    assert stored["c"] == pd.Timestamp("2026-10-25T01:30:00Z")  # the second (CET) 02:30
    naive = pd.DataFrame(
        {"source": "crm", "external_id": ["n"], "created_at": [pd.Timestamp("2026-01-01 12:00")]}
    )
    repo.upsert_leads(engine, naive)
    assert repo.read_leads(engine).set_index("external_id").loc["n", "created_at"] == pd.Timestamp(
        "2026-01-01T12:00Z"
    )


def test_period_filter_is_half_open_and_runs_in_sql(engine):
    repo.upsert_leads(engine, _leads())
    march = repo.read_leads(engine, dt.datetime(2026, 3, 1, tzinfo=UTC), dt.datetime(2026, 4, 1, tzinfo=UTC))
    assert sorted(march["external_id"]) == ["L1", "L2"]  # L3's mql_at is the end bound; L4 has none
    april = repo.read_leads(engine, start=dt.datetime(2026, 4, 1, tzinfo=UTC))
    assert april["external_id"].tolist() == ["L3"]
    by_created = repo.read_leads(engine, end=dt.datetime(2026, 4, 1, tzinfo=UTC), by="created_at")
    assert sorted(by_created["external_id"]) == ["L1", "L2", "L4"]
    with pytest.raises(SchemaError, match="cannot filter by 'owner_id'"):
        repo.read_leads(engine, start=dt.datetime(2026, 1, 1, tzinfo=UTC), by="owner_id")


def test_reads_inside_a_transaction_see_its_writes(engine):
    with engine.begin() as conn:
        repo.upsert_leads(conn, _leads())
        assert len(repo.read_leads(conn)) == 4
    with engine.connect() as conn:
        pd.testing.assert_frame_equal(repo.read_leads(conn), repo.read_leads(engine))


def test_deals_and_activities_resolve_their_lead(engine):
    repo.upsert_owners(engine, _owners())
    repo.upsert_leads(engine, _leads())
    deals = pd.DataFrame(
        {
            "source": "crm",
            "external_id": ["D1", "D2"],
            "created_at": pd.to_datetime(["2026-03-05T10:00Z", "2026-05-01T10:00Z"]),
            "closed_at": pd.to_datetime([None, "2026-06-01T10:00Z"], utc=True),
            "amount": [12500.5, None],
            "is_won": [None, True],
            "lead_external_id": ["L1", None],
            "owner_external_id": ["o2", "o1"],
        }
    )
    repo.upsert_deals(engine, deals)
    activities = pd.DataFrame(
        {
            "source": "crm",
            "external_id": ["A1", "A2"],
            "lead_external_id": ["L1", "L2"],
            "owner_external_id": ["o1", "o1"],
            "kind": ["call", "email"],
            "occurred_at": pd.to_datetime(["2026-03-01T10:00Z", "2026-03-30T10:00Z"]),
        }
    )
    repo.upsert_activities(engine, activities)
    leads = repo.read_leads(engine).set_index("external_id")["id"]
    read = validate_frame(repo.read_deals(engine), "deals").set_index("external_id")
    assert read.loc["D1", "lead_id"] == leads["L1"] and pd.isna(read.loc["D2", "lead_id"])
    assert read.loc["D1", "amount"] == 12500.5 and read.loc["D1", "team"] == "Americas"
    june = repo.read_deals(engine, dt.datetime(2026, 6, 1, tzinfo=UTC), dt.datetime(2026, 7, 1, tzinfo=UTC))
    assert june["external_id"].tolist() == ["D2"]  # closed in June, created in May
    created_in_june = repo.read_deals(
        engine, dt.datetime(2026, 6, 1, tzinfo=UTC), dt.datetime(2026, 7, 1, tzinfo=UTC), by="created_at"
    )
    assert created_in_june.empty
    validate_frame(created_in_june, "deals")  # an empty result still has the canonical shape
    acts = validate_frame(repo.read_activities(engine), "activities").set_index("external_id")
    assert acts.loc["A2", "lead_id"] == leads["L2"]


def test_delete_source_removes_only_that_source(engine):
    repo.upsert_owners(engine, _owners())
    repo.upsert_leads(engine, _leads())
    deleted = repo.delete_source(engine, "crm")
    assert deleted["owners"] == 2 and deleted["leads"] == 4
    assert repo.read_owners(engine)["source"].tolist() == ["other"]


def test_sync_state_and_runs(engine):
    assert repo.get_sync_state(engine, "hubspot", "contacts") == (None, None)
    repo.set_sync_state(engine, "hubspot", "contacts", cursor="1700000000000", checkpoint={"after": "200"})
    repo.set_sync_state(engine, "hubspot", "contacts", checkpoint=None)
    assert repo.get_sync_state(engine, "hubspot", "contacts") == ("1700000000000", None)
    run = repo.start_run(engine, "hubspot", "full")
    repo.finish_run(engine, run, "failed", {"contacts": 10}, "token invalid")
    runs = repo.read_sync_runs(engine)
    assert runs.loc[0, "status"] == "failed" and runs.loc[0, "counts"] == {"contacts": 10}
    assert runs.loc[0, "finished_at"] >= runs.loc[0, "started_at"]


def test_rejected_rows_are_kept_once(engine):
    bad = [
        {"source": "file:a.csv", "object": "leads", "row_number": 7, "column_name": "Create Date",
         "raw": {"Create Date": "yesterday"}, "reasons": ["Create Date: 'yesterday' is not a date"]},
        {"source": "file:a.csv", "object": "leads", "row_number": 9, "raw": "x", "reasons": "no id"},
    ]  # fmt: skip
    assert repo.add_rejected_rows(engine, bad) == 2
    assert repo.add_rejected_rows(engine, bad) == 0  # re-import: nothing new, nothing doubled
    kept = repo.read_rejected_rows(engine, source="file:a.csv")
    assert len(kept) == 2
    row = kept.set_index("row_number").loc[7]
    assert (
        row["column_name"] == "Create Date" and "not a date" in row["reasons"] and "yesterday" in row["raw"]
    )


def test_agreement_versions_only_grow(engine):
    start = dt.datetime(2026, 1, 1, tzinfo=UTC)
    assert repo.add_agreement_version(engine, "SLA", {"target": 1}, start, "ada", "first") == 1
    assert (
        repo.add_agreement_version(engine, "SLA", {"target": 2}, start.replace(month=3), "bo", "raise") == 2
    )
    assert repo.add_agreement_version(engine, "Other", {"target": 9}, start, "bo", "first") == 1
    versions = repo.read_agreement_versions(engine, "SLA")
    assert versions["version"].tolist() == [1, 2]
    assert versions.loc[1, "document"] == {"target": 2} and versions.loc[1, "reason"] == "raise"
    assert versions.loc[1, "effective_from"] == pd.Timestamp("2026-03-01T00:00Z")


def test_a_final_weekly_snapshot_is_never_replaced(engine):
    figures = [{"commitment": "mql-volume", "actual": 120, "target": 100, "status": "met"}]
    assert repo.save_snapshot(engine, "SLA", "2026-W47", figures, final=False)
    assert repo.save_snapshot(engine, "SLA", "2026-W47", [{**figures[0], "actual": 130}], final=True)
    assert not repo.save_snapshot(engine, "SLA", "2026-W47", [{**figures[0], "actual": 999}], final=True)
    frozen = repo.read_snapshots(engine, "SLA")
    assert frozen["week"].tolist() == ["2026-W47"] and bool(frozen.loc[0, "final"])
    assert frozen.loc[0, "figures"][0]["actual"] == 130
    assert repo.read_snapshots(engine, "Other").empty


def test_audit_trail_lists_newest_first(engine):
    repo.add_audit(engine, "ada@example.com", "agreement.save", "SLA", {"version": 2, "reason": "raise"})
    repo.add_audit(engine, "cron", "sync.hubspot", None, {"contacts": 10})
    trail = repo.read_audit(engine)
    assert trail["action"].tolist() == ["sync.hubspot", "agreement.save"]
    assert trail.loc[1, "detail"] == {"version": 2, "reason": "raise"}


def test_leads_of_deals_in_the_window_come_along_when_asked(engine):
    repo.upsert_leads(engine, _leads())  # L1 handed over 2026-03-01
    deal = pd.DataFrame({"source": ["crm"], "external_id": ["D9"], "lead_external_id": ["L1"],
                         "created_at": pd.to_datetime(["2026-06-10T10:00Z"])})  # fmt: skip
    repo.upsert_deals(engine, deal)
    june = (dt.datetime(2026, 6, 1, tzinfo=UTC), dt.datetime(2026, 7, 1, tzinfo=UTC))
    assert repo.read_leads(engine, *june).empty
    assert repo.read_leads(engine, *june, with_deal_leads=True)["external_id"].tolist() == ["L1"]


def test_distinct_values_for_pickers(engine):
    repo.upsert_leads(engine, _leads())
    assert repo.distinct_values(engine, "leads", "channel") == ["Paid Search", "Partners", "Événements"]
    with pytest.raises(SchemaError):
        repo.distinct_values(engine, "leads", "password")
