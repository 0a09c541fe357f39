"""Storage round trips, on SQLite and on a real PostgreSQL (the ``engine`` fixture runs both)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from analytics.schema import COLUMNS, SchemaError, coerce_frame, validate_frame
from data import journal, queries, syncs, upserts
from data.models import CANONICAL_MODELS

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
    upserts.upsert_owners(engine, _owners())
    result = upserts.upsert_leads(engine, _leads())
    assert (result.rows, result.inserted, result.updated) == (4, 4, 0)

    leads = validate_frame(queries.read_leads(engine), "leads").set_index("external_id")
    owners = queries.read_owners(engine).set_index(["source", "external_id"])
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
    upserts.upsert_owners(engine, _owners())
    upserts.upsert_leads(engine, _leads())
    first = queries.read_leads(engine)
    again = upserts.upsert_leads(engine, _leads())
    assert (again.inserted, again.updated) == (0, 4)
    pd.testing.assert_frame_equal(queries.read_leads(engine), first)
    assert queries.table_counts(engine)["leads"] == 4


def test_upsert_updates_only_the_columns_given(engine):
    upserts.upsert_leads(engine, _leads())
    change = pd.DataFrame({"source": ["crm"], "external_id": ["L1"], "disposition": ["rejected"]})
    assert upserts.upsert_leads(engine, change).updated == 1
    lead = queries.read_leads(engine).set_index("external_id").loc["L1"]
    assert lead["disposition"] == "rejected"
    assert lead["channel"] == "Paid Search" and lead["touches"] == 3  # untouched columns kept


def test_repeated_key_in_one_frame_last_wins_and_is_counted(engine):
    frame = pd.DataFrame(
        {"source": ["crm", "crm"], "external_id": ["L1", "L1"], "channel": ["first", "last"]}
    )
    result = upserts.upsert_leads(engine, frame)
    assert (result.rows, result.duplicates_in_input) == (1, 1)
    assert queries.read_leads(engine)["channel"].tolist() == ["last"]


def test_blank_key_is_refused_with_the_row(engine):
    frame = pd.DataFrame({"source": ["crm", "crm"], "external_id": ["L1", None]})
    with pytest.raises(SchemaError, match="row 1"):
        upserts.upsert_leads(engine, frame)
    assert queries.table_counts(engine)["leads"] == 0


def test_timestamps_are_stored_in_utc_whatever_zone_they_arrive_in(engine):
    berlin = pd.Series(
        pd.to_datetime(["2026-03-29 01:30", "2026-03-29 03:30", "2026-10-25 02:30"])
    ).dt.tz_localize("Europe/Berlin", ambiguous=[True, True, False])
    frame = pd.DataFrame({"source": "crm", "external_id": ["a", "b", "c"], "created_at": berlin})
    upserts.upsert_leads(engine, frame)
    stored = queries.read_leads(engine).set_index("external_id")["created_at"]
    assert str(stored.dtype) == "datetime64[us, UTC]"
    assert stored["a"] == pd.Timestamp("2026-03-29T00:30:00Z")  # CET, before the jump
    assert stored["b"] == pd.Timestamp("2026-03-29T01:30:00Z")  # CEST, after the jump
    assert stored["c"] == pd.Timestamp("2026-10-25T01:30:00Z")  # the second (CET) 02:30
    naive = pd.DataFrame(
        {"source": "crm", "external_id": ["n"], "created_at": [pd.Timestamp("2026-01-01 12:00")]}
    )
    upserts.upsert_leads(engine, naive)
    assert queries.read_leads(engine).set_index("external_id").loc["n", "created_at"] == pd.Timestamp(
        "2026-01-01T12:00Z"
    )


def test_period_filter_is_half_open_and_runs_in_sql(engine):
    upserts.upsert_leads(engine, _leads())
    march = queries.read_leads(
        engine, dt.datetime(2026, 3, 1, tzinfo=UTC), dt.datetime(2026, 4, 1, tzinfo=UTC)
    )
    assert sorted(march["external_id"]) == ["L1", "L2"]  # L3's mql_at is the end bound; L4 has none
    april = queries.read_leads(engine, start=dt.datetime(2026, 4, 1, tzinfo=UTC))
    assert april["external_id"].tolist() == ["L3"]
    by_created = queries.read_leads(engine, end=dt.datetime(2026, 4, 1, tzinfo=UTC), by="created_at")
    assert sorted(by_created["external_id"]) == ["L1", "L2", "L4"]
    with pytest.raises(SchemaError, match="cannot filter by 'owner_id'"):
        queries.read_leads(engine, start=dt.datetime(2026, 1, 1, tzinfo=UTC), by="owner_id")


def test_reads_inside_a_transaction_see_its_writes(engine):
    with engine.begin() as conn:
        upserts.upsert_leads(conn, _leads())
        assert len(queries.read_leads(conn)) == 4
    with engine.connect() as conn:
        pd.testing.assert_frame_equal(queries.read_leads(conn), queries.read_leads(engine))


def test_deals_and_activities_resolve_their_lead(engine):
    upserts.upsert_owners(engine, _owners())
    upserts.upsert_leads(engine, _leads())
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
    upserts.upsert_deals(engine, deals)
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
    upserts.upsert_activities(engine, activities)
    leads = queries.read_leads(engine).set_index("external_id")["id"]
    read = validate_frame(queries.read_deals(engine), "deals").set_index("external_id")
    assert read.loc["D1", "lead_id"] == leads["L1"] and pd.isna(read.loc["D2", "lead_id"])
    assert read.loc["D1", "amount"] == 12500.5 and read.loc["D1", "team"] == "Americas"
    june = queries.read_deals(
        engine, dt.datetime(2026, 6, 1, tzinfo=UTC), dt.datetime(2026, 7, 1, tzinfo=UTC)
    )
    assert june["external_id"].tolist() == ["D2"]  # closed in June, created in May
    created_in_june = queries.read_deals(
        engine, dt.datetime(2026, 6, 1, tzinfo=UTC), dt.datetime(2026, 7, 1, tzinfo=UTC), by="created_at"
    )
    assert created_in_june.empty
    validate_frame(created_in_june, "deals")  # an empty result still has the canonical shape
    acts = validate_frame(queries.read_activities(engine), "activities").set_index("external_id")
    assert acts.loc["A2", "lead_id"] == leads["L2"]


def test_delete_source_removes_only_that_source(engine):
    upserts.upsert_owners(engine, _owners())
    upserts.upsert_leads(engine, _leads())
    deleted = upserts.delete_source(engine, "crm")
    assert deleted["owners"] == 2 and deleted["leads"] == 4
    assert queries.read_owners(engine)["source"].tolist() == ["other"]


def test_sync_state_and_runs(engine):
    assert syncs.get_sync_state(engine, "hubspot", "contacts") == (None, None)
    syncs.set_sync_state(engine, "hubspot", "contacts", cursor="1700000000000", checkpoint={"after": "200"})
    syncs.set_sync_state(engine, "hubspot", "contacts", checkpoint=None)
    assert syncs.get_sync_state(engine, "hubspot", "contacts") == ("1700000000000", None)
    run = syncs.start_run(engine, "hubspot", "full")
    syncs.finish_run(engine, run, "failed", {"contacts": 10}, "token invalid")
    runs = syncs.read_sync_runs(engine)
    assert runs.loc[0, "status"] == "failed" and runs.loc[0, "counts"] == {"contacts": 10}
    assert runs.loc[0, "finished_at"] >= runs.loc[0, "started_at"]


def test_rejected_rows_are_kept_once(engine):
    bad = [
        {"source": "file:a.csv", "object": "leads", "row_number": 7, "column_name": "Create Date",
         "raw": {"Create Date": "yesterday"}, "reasons": ["Create Date: 'yesterday' is not a date"]},
        {"source": "file:a.csv", "object": "leads", "row_number": 9, "raw": "x", "reasons": "no id"},
    ]  # fmt: skip
    assert journal.add_rejected_rows(engine, bad) == 2
    assert journal.add_rejected_rows(engine, bad) == 0  # re-import: nothing new, nothing doubled
    kept = journal.read_rejected_rows(engine, source="file:a.csv")
    assert len(kept) == 2
    row = kept.set_index("row_number").loc[7]
    assert (
        row["column_name"] == "Create Date" and "not a date" in row["reasons"] and "yesterday" in row["raw"]
    )


def test_agreement_versions_only_grow(engine):
    start = dt.datetime(2026, 1, 1, tzinfo=UTC)
    assert journal.add_agreement_version(engine, "SLA", {"target": 1}, start, "ada", "first") == 1
    assert (
        journal.add_agreement_version(engine, "SLA", {"target": 2}, start.replace(month=3), "bo", "raise")
        == 2
    )
    assert journal.add_agreement_version(engine, "Other", {"target": 9}, start, "bo", "first") == 1
    versions = journal.read_agreement_versions(engine, "SLA")
    assert versions["version"].tolist() == [1, 2]
    assert versions.loc[1, "document"] == {"target": 2} and versions.loc[1, "reason"] == "raise"
    assert versions.loc[1, "effective_from"] == pd.Timestamp("2026-03-01T00:00Z")


def test_a_final_weekly_snapshot_is_never_replaced(engine):
    figures = [{"commitment": "mql-volume", "actual": 120, "target": 100, "status": "met"}]
    assert journal.save_snapshot(engine, "SLA", "2026-W47", figures, final=False)
    assert journal.save_snapshot(engine, "SLA", "2026-W47", [{**figures[0], "actual": 130}], final=True)
    assert not journal.save_snapshot(engine, "SLA", "2026-W47", [{**figures[0], "actual": 999}], final=True)
    frozen = journal.read_snapshots(engine, "SLA")
    assert frozen["week"].tolist() == ["2026-W47"] and bool(frozen.loc[0, "final"])
    assert frozen.loc[0, "figures"][0]["actual"] == 130
    assert journal.read_snapshots(engine, "Other").empty


def test_audit_trail_lists_newest_first(engine):
    journal.add_audit(engine, "ada@example.com", "agreement.save", "SLA", {"version": 2, "reason": "raise"})
    journal.add_audit(engine, "cron", "sync.hubspot", None, {"contacts": 10})
    trail = journal.read_audit(engine)
    assert trail["action"].tolist() == ["sync.hubspot", "agreement.save"]
    assert trail.loc[1, "detail"] == {"version": 2, "reason": "raise"}


def test_leads_of_deals_in_the_window_come_along_when_asked(engine):
    upserts.upsert_leads(engine, _leads())  # L1 handed over 2026-03-01
    deal = pd.DataFrame({"source": ["crm"], "external_id": ["D9"], "lead_external_id": ["L1"],
                         "created_at": pd.to_datetime(["2026-06-10T10:00Z"])})  # fmt: skip
    upserts.upsert_deals(engine, deal)
    june = (dt.datetime(2026, 6, 1, tzinfo=UTC), dt.datetime(2026, 7, 1, tzinfo=UTC))
    assert queries.read_leads(engine, *june).empty
    assert queries.read_leads(engine, *june, with_deal_leads=True)["external_id"].tolist() == ["L1"]


def test_deal_leads_come_once_whether_in_the_window_or_not(engine):
    """A window's own lead with a deal in it comes once; a lead outside it (or never handed over) comes
    along through its deal; another source's leads stay out. (PostgreSQL reads these as two halves.)"""
    upserts.upsert_leads(engine, _leads())  # L1 2026-03-01, L2 03-29, L3 04-01, L4 never handed over
    deals = pd.DataFrame({"source": ["crm"] * 3, "external_id": ["D1", "D2", "D4"],
                          "lead_external_id": ["L1", "L2", "L4"],
                          "created_at": pd.to_datetime(["2026-03-20T10:00Z", "2026-03-30T10:00Z",
                                                        "2026-01-05T10:00Z"]),
                          "closed_at": pd.to_datetime([None, None, "2026-03-22T10:00Z"], utc=True)})  # fmt: skip
    upserts.upsert_deals(engine, deals)
    march = (dt.datetime(2026, 3, 15, tzinfo=UTC), dt.datetime(2026, 4, 1, tzinfo=UTC))
    read = queries.read_leads(engine, *march, with_deal_leads=True)
    # L2 in the window (its deal too), L1 by its deal created in it, L4 by its deal closed in it.
    assert read["external_id"].tolist() == ["L1", "L2", "L4"]
    assert read["id"].is_monotonic_increasing and read["id"].is_unique
    assert queries.read_leads(engine, *march, source="other", with_deal_leads=True).empty


def test_distinct_values_for_pickers(engine):
    upserts.upsert_leads(engine, _leads())
    assert queries.distinct_values(engine, "leads", "channel") == ["Paid Search", "Partners", "Événements"]
    with pytest.raises(SchemaError):
        queries.distinct_values(engine, "leads", "password")


# ----------------------------------------------------------------------------- fast paths against slow ones


def _company(rows: int = 240, seed: int = 3) -> dict[str, pd.DataFrame]:
    """Owners, leads, deals and activities with the awkward values storage must keep exactly."""
    rng = np.random.default_rng(seed)
    owners = pd.DataFrame(
        {
            "source": ["crm"] * 4 + ["other"],
            "external_id": ["o1", "o2", "o3", "o4", "o1"],
            "name": ["Ada", "Bo 'the' Diddley", "Zoë\nNewline", "", "Other Ada"],
            "team": ["EMEA", "Americas", None, "EMEA", "APAC"],
            "active": [True, False, None, True, True],
            "updated_at": pd.to_datetime(["2026-01-01T00:00:00.000001Z"] * 5),
        }
    )
    base = pd.Timestamp("2024-01-01", tz="UTC")
    offsets = np.sort(rng.integers(0, 3 * 365 * 86_400 * 10**6, rows))  # µs over three years
    stamp = pd.Series(base + pd.to_timedelta(offsets, unit="us"))
    gaps = pd.Series(pd.to_timedelta(rng.integers(0, 10**11, rows), unit="us"))
    missing = rng.random(rows) < 0.2
    leads = pd.DataFrame(
        {
            "source": np.where(rng.random(rows) < 0.9, "crm", "other"),
            "external_id": [f"L{i}" for i in range(rows)],
            "created_at": stamp - gaps,
            "mql_at": stamp.where(~missing),
            "sql_at": (stamp + gaps).where(rng.random(rows) < 0.4),
            "owner_external_id": rng.choice(np.array(["o1", "o2", "o3", "o4", "gone", None], object), rows),
            "channel": rng.choice(
                np.array(["Paid Search", "Événements", "", None, 'a "quoted", one'], object), rows
            ),
            "touches": pd.array(np.where(missing, None, rng.integers(0, 9, rows)), dtype="Int64"),
            "disposition": rng.choice(np.array(["open", "accepted", "rejected", None], object), rows),
            "archived": pd.array(rng.choice(np.array([True, False, None], object), rows), dtype="boolean"),
        }
    )
    leads.loc[0, "created_at"] = pd.Timestamp("1969-07-20T20:17:40.000001Z")  # before the epoch: negative µs
    deals = pd.DataFrame(
        {
            "source": "crm",
            "external_id": [f"D{i}" for i in range(rows // 3)],
            "created_at": stamp.iloc[::3].to_numpy(),
            "closed_at": (stamp.iloc[::3] + gaps.iloc[::3]).where(rng.random(rows // 3) < 0.5).to_numpy(),
            "amount": np.where(rng.random(rows // 3) < 0.2, np.nan, rng.random(rows // 3) * 1e6 + 0.1 + 0.2),
            "is_won": pd.array(rng.choice(np.array([True, False, None], object), rows // 3), dtype="boolean"),
            "owner_external_id": rng.choice(np.array(["o1", "o2", None], object), rows // 3),
            "lead_external_id": rng.choice(
                np.array([f"L{i}" for i in range(rows)] + ["nope", None], object), rows // 3
            ),
        }
    )
    activities = pd.DataFrame(
        {
            "source": "crm",
            "external_id": [f"A{i}" for i in range(2 * rows)],
            "lead_external_id": rng.choice(
                np.array([f"L{i}" for i in range(rows)] + [None], object), 2 * rows
            ),
            "owner_external_id": rng.choice(np.array(["o1", "o4", "gone"], object), 2 * rows),
            "kind": rng.choice(np.array(["call", "email", None], object), 2 * rows),
            "occurred_at": np.repeat(stamp.to_numpy(), 2),
        }
    )
    return {"owners": owners, "leads": leads, "deals": deals, "activities": activities}


def _store(engine, frames: dict[str, pd.DataFrame]) -> None:
    for table in ("owners", "leads", "deals", "activities"):
        upserts.upsert(engine, table, frames[table], batch_rows=50)  # several batches per table


def _slow_read(engine, table: str) -> pd.DataFrame:
    """The obvious read: every row through SQLAlchemy's typed columns, ids resolved in Python dicts."""
    models = CANONICAL_MODELS
    with engine.connect() as conn:
        rows = {name: [dict(r) for r in conn.execute(select(m).order_by(m.id)).mappings()]
                for name, m in models.items() if name in ("owners", "leads", table)}  # fmt: skip
    owners = {(o["source"], o["external_id"]): o for o in rows["owners"]}
    lead_ids = {(r["source"], r["external_id"]): r["id"] for r in rows["leads"]}
    out = []
    for row in rows[table]:
        owner = owners.get((row["source"], row.get("owner_external_id")))
        row = dict(row)
        if table != "owners":
            row["owner_id"] = owner["id"] if owner else None
            row["team"] = owner["team"] if owner else None
        if table in ("deals", "activities"):
            row["lead_id"] = lead_ids.get((row["source"], row["lead_external_id"]))
        out.append({c: row.get(c) for c in COLUMNS[table]})
    return coerce_frame(pd.DataFrame(out, columns=list(COLUMNS[table])), table)


def test_reads_equal_a_slow_row_by_row_read(engine):
    _store(engine, _company())
    readers = {"owners": queries.read_owners, "leads": queries.read_leads, "deals": queries.read_deals,
               "activities": queries.read_activities}  # fmt: skip
    for table, read in readers.items():
        fast = validate_frame(read(engine), table)
        pd.testing.assert_frame_equal(fast, _slow_read(engine, table), check_exact=True, obj=table)
    assert queries.read_deals(engine)["amount"].map(float.hex).tolist() == [
        float.hex(a) for a in _slow_read(engine, "deals")["amount"]
    ]  # floats bit for bit, not to 15 digits


@pytest.mark.parametrize("days", [3, 40, 400, 4000])
def test_a_window_of_any_width_equals_filtering_everything(engine, days):
    _store(engine, _company())
    everything = queries.read_leads(engine)
    start = dt.datetime(2025, 2, 1, tzinfo=UTC)
    end = start + dt.timedelta(days=days)
    window = queries.read_leads(engine, start, end)
    inside = everything["mql_at"].between(pd.Timestamp(start), pd.Timestamp(end), inclusive="left")
    pd.testing.assert_frame_equal(window, everything[inside.fillna(False)].reset_index(drop=True))
    acts = queries.read_activities(engine, start, end)
    all_acts = queries.read_activities(engine)
    kept = all_acts["occurred_at"].between(pd.Timestamp(start), pd.Timestamp(end), inclusive="left")
    pd.testing.assert_frame_equal(acts, all_acts[kept.fillna(False)].reset_index(drop=True))


def test_sqlite_scans_the_table_for_a_wide_window_and_uses_the_index_for_a_narrow_one(sqlite_engine):
    _store(sqlite_engine, _company())
    microseconds = [int(pd.Timestamp(t).value // 1000) for t in ("2025-02-01", "2025-02-04", "2027-02-01")]
    with sqlite_engine.connect() as conn:
        assert not queries._plain_scan(conn, "leads", ("mql_at",), microseconds[0], microseconds[1])
        assert queries._plain_scan(conn, "leads", ("mql_at",), microseconds[0], microseconds[2])
        assert queries._plain_scan(conn, "leads", ("mql_at",), None, None)


def test_columns_reads_only_those_with_the_same_values(engine):
    _store(engine, _company())
    everything = queries.read_leads(engine)
    some = queries.read_leads(engine, columns=["team", "mql_at", "owner_id", "external_id"])
    assert list(some.columns) == ["external_id", "mql_at", "owner_id", "team"]  # canonical order
    pd.testing.assert_frame_equal(some, everything[list(some.columns)])
    lead_ids = queries.read_activities(engine, columns=["lead_id"])
    pd.testing.assert_frame_equal(lead_ids, queries.read_activities(engine)[["lead_id"]])
    with pytest.raises(SchemaError, match="no column 'password'"):
        queries.read_leads(engine, columns=["mql_at", "password"])


def test_batched_upsert_counts_new_and_old_rows_and_numbers_new_ones_in_frame_order(engine):
    frame = pd.DataFrame(
        {
            "source": "crm",
            "external_id": [f"L{i:02d}" for i in range(30)],
            "channel": [f"c{i % 4}" for i in range(30)],
            "campaign": None,  # one value on every row: bound once, not staged
            "archived": True,
        }
    )
    first = upserts.upsert(engine, "leads", frame.iloc[:10], batch_rows=7)
    assert (first.inserted, first.updated) == (10, 0)
    second = upserts.upsert(engine, "leads", frame.iloc[::-1], batch_rows=7)
    assert (second.rows, second.inserted, second.updated) == (30, 20, 10)
    stored = queries.read_leads(engine)
    assert stored["external_id"].tolist() == [f"L{i:02d}" for i in range(10)] + [
        f"L{i:02d}" for i in range(29, 9, -1)
    ]
    assert stored["campaign"].isna().all() and stored["archived"].all()
    upserts.upsert(
        engine, "leads", pd.DataFrame({"source": "crm", "external_id": ["L03"], "archived": False})
    )
    after = queries.read_leads(engine).set_index("external_id")
    assert not after.loc["L03", "archived"] and after.loc["L03", "channel"] == "c3"  # only archived changed


def test_a_failed_batch_leaves_nothing_of_the_frame(engine):
    upserts.upsert_leads(engine, _leads())
    frame = pd.DataFrame({"source": "crm", "external_id": [f"N{i}" for i in range(20)], "touches": 1})
    with pytest.raises(RuntimeError, match="stop"), engine.begin() as conn:
        upserts.upsert(conn, "leads", frame, batch_rows=5)
        raise RuntimeError("stop")
    assert queries.table_counts(engine)["leads"] == 4
    # No stage table left in the way.
    assert upserts.upsert(engine, "leads", frame, batch_rows=5).inserted == 20
