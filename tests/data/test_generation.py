"""The data generation changes with every kind of write the figures depend on, and with no read (SQLite and
PostgreSQL: the ``engine`` fixture runs both)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import time_machine

import bootstrap
import clock
from agreements import store
from bootstrap import DEFAULT_AGREEMENT
from data import fact_upkeep, frames, journal, queries, record_links, syncs, upserts
from data.generation import RUNNING_STEP_SECONDS, generation
from reports import weeks

T0 = pd.Timestamp("2026-11-02T09:00Z")


def _stamp(values: list[str]) -> pd.Series:
    return pd.to_datetime(pd.Series(values), utc=True)


def _leads(ids: list[str], source: str = "crm", **values) -> pd.DataFrame:
    frame = pd.DataFrame({"source": source, "external_id": ids, "owner_external_id": "o1"})
    frame["mql_at"] = _stamp(["2026-11-02T09:00Z"] * len(ids))
    frame["created_at"] = frame["mql_at"]
    for column, value in values.items():
        frame[column] = value
    return frame


def _owners(source: str = "crm") -> pd.DataFrame:
    return pd.DataFrame({"source": [source], "external_id": ["o1"], "name": ["Ada"], "team": ["EMEA"]})


@pytest.fixture
def stored(engine):
    """An engine holding the default agreement, an owner and two leads (each with a deal and a touch)."""
    bootstrap.ensure_default_agreement(engine)
    upserts.upsert_owners(engine, _owners())
    upserts.upsert_leads(engine, _leads(["L1", "L2"]))
    upserts.upsert_deals(engine, _deals(["D1", "D2"], ["L1", "L2"]))
    upserts.upsert_activities(engine, _activities(["A1", "A2"], ["L1", "L2"]))
    return engine


def _deals(ids: list[str], leads: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"source": "crm", "external_id": ids, "lead_external_id": leads, "amount": 100.0,
                         "created_at": _stamp(["2026-11-03T09:00Z"] * len(ids))})  # fmt: skip


def _activities(ids: list[str], leads: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"source": "crm", "external_id": ids, "lead_external_id": leads, "kind": "call",
                         "owner_external_id": "o1", "occurred_at": _stamp(["2026-11-02T10:00Z"] * len(ids))})  # fmt: skip


WRITES = {
    "owners": lambda e: upserts.upsert_owners(e, _owners("other")),
    "leads": lambda e: upserts.upsert_leads(e, _leads(["L3"])),
    "deals": lambda e: upserts.upsert_deals(e, _deals(["D3"], ["L1"])),
    "activities": lambda e: upserts.upsert_activities(e, _activities(["A3"], ["L2"])),
    "handovers": lambda e: upserts.replace_handovers(
        e,
        pd.DataFrame(
            {
                "source": "crm",
                "lead_external_id": ["L1", "L1"],
                "mql_at": _stamp(["2026-10-01T09:00Z", "2026-11-02T09:00Z"]),
            }
        ),
    ),  # fmt: skip
    "rejected rows": lambda e: journal.add_rejected_rows(
        e, [{"source": "crm", "object": "leads", "external_id": "bad", "reasons": "no email"}]
    ),
    "audit entry": lambda e: journal.add_audit(e, "someone", "sync.hubspot", "crm"),
    "record links base": lambda e: record_links.save_link_base(e, "hubspot", {"portal_id": 7}),
    "sync cursor": lambda e: syncs.set_sync_state(e, "hubspot", "leads", cursor="2026-11-02T10:00Z"),
    "agreement saved": lambda e: store.save(
        e, DEFAULT_AGREEMENT.read_text(), None, author="Ada", reason="new targets"
    ),
    "demo removed": lambda e: bootstrap.remove_demo(e, "Ada"),
}


@pytest.mark.parametrize("write", WRITES)
def test_each_kind_of_write_starts_a_new_generation(stored, write):
    if write == "demo removed":  # demo rows older than the newest ids: only the removal's audit entry says so
        upserts.upsert_leads(stored, _leads(["X1"], source="demo"))
        upserts.upsert_leads(stored, _leads(["L9"]))
    before = generation(stored)
    WRITES[write](stored)
    assert generation(stored) != before


def test_a_run_changes_it_when_it_starts_every_step_while_it_runs_and_when_it_ends(stored):
    before = generation(stored)
    with time_machine.travel(T0.to_pydatetime(), tick=False):  # the start of a step
        run = syncs.start_run(stored, "hubspot", "sync")
        started = generation(stored)
        with stored.begin() as conn:  # a connector's batch: rows updated in place, committed with its cursor
            upserts.upsert_leads(conn, _leads(["L1"], channel="Events"))
            syncs.set_sync_state(conn, "hubspot", "leads", cursor="2026-11-02T10:00Z")
        upserts.upsert_leads(stored, _leads(["L3"]))  # an import's batch: a new row
        syncs.beat_run(stored, run)
        assert generation(stored) == started  # batches within a step are read with the next step
    later = T0 + pd.Timedelta(seconds=RUNNING_STEP_SECONDS)
    with time_machine.travel(later.to_pydatetime(), tick=False):
        next_step = generation(stored)
        store.save(stored, DEFAULT_AGREEMENT.read_text(), None, author="Ada", reason="new targets")
        saved = generation(stored)  # an agreement saved meanwhile shows at once
        upserts.upsert_leads(stored, _leads(["L1"], channel="Webinar"))
        syncs.finish_run(stored, run, "ok", {"leads": 2})
        ended = generation(stored)
    seen = [before, started, next_step, saved, ended]
    assert len(set(seen)) == len(seen), seen


def test_the_facts_refreshed_after_a_run_ends_change_it(stored):
    fact_upkeep.refresh_all(stored)  # kept: the Overview's figures come from them
    with time_machine.travel(T0.to_pydatetime(), tick=False):
        run = syncs.start_run(stored, "hubspot", "sync")
        upserts.upsert_leads(stored, _leads(["L1"], channel="Events"))
    with time_machine.travel((T0 + pd.Timedelta(seconds=30)).to_pydatetime(), tick=False):
        refresh = fact_upkeep.after_run
        between = []
        # The run's end: marked ended first, then its facts refreshed. A view built in between is of this one.
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(
                fact_upkeep, "after_run", lambda bind: between.append(generation(bind)) or refresh(bind)
            )
            syncs.finish_run(stored, run, "ok", {"leads": 1})
        assert between and generation(stored) != between[0]


def test_a_merge_shows_when_its_run_ends(stored):
    run = syncs.start_run(stored, "hubspot", "sync")
    before = generation(stored)
    upserts.merge_leads(stored, "crm", {"L1": ["L2"]})
    assert queries.table_counts(stored)["leads"] == 1
    syncs.finish_run(stored, run, "ok", {})
    assert generation(stored) != before


def test_a_run_ending_that_is_not_the_newest_changes_it(stored):
    older = syncs.start_run(stored, "hubspot", "sync")
    newer = syncs.start_run(stored, "file:crm", "import")
    syncs.finish_run(stored, newer, "ok", {})
    before = generation(stored)
    syncs.finish_run(stored, older, "failed", {}, "stopped")
    assert generation(stored) != before


def test_a_frozen_week_and_its_provisional_replacement_each_change_it(stored):
    before = generation(stored)
    assert journal.save_snapshot(stored, "Sales and Marketing SLA", "2026-W45", [{"a": 1}], final=False)
    frozen = generation(stored)
    with time_machine.travel(clock.now() + dt.timedelta(minutes=5)):
        assert journal.save_snapshot(stored, "Sales and Marketing SLA", "2026-W45", [{"a": 2}], final=False)
        replaced = generation(stored)
    assert len({before, frozen, replaced}) == 3


def test_freezing_a_week_as_the_overview_does_changes_it(stored):
    before = generation(stored)
    done = weeks.freeze_week(stored, "Sales and Marketing SLA", "2026-W45", pd.Timestamp(clock.now()))
    assert done.written
    assert generation(stored) != before


def test_alerts_runs_and_entries_leave_it_as_it_was(stored):
    before = generation(stored)
    run = syncs.start_run(stored, "alerts", "send")
    journal.add_audit(stored, "alerts", "alert.send", "L1")
    syncs.finish_run(stored, run, "ok", {})
    assert generation(stored) == before


def test_reads_leave_it_as_it_was(stored):
    before = generation(stored)
    frames.read_window(stored, T0 - pd.Timedelta(days=30), T0 + pd.Timedelta(days=30))
    queries.table_counts(stored)
    queries.source_counts(stored)
    queries.read_owners(stored)
    syncs.read_sync_runs(stored)
    journal.read_snapshots(stored, "Sales and Marketing SLA")
    journal.read_audit(stored)
    journal.read_rejected_rows(stored)
    journal.read_agreement_versions(stored)
    assert generation(stored) == generation(stored) == before


def test_it_is_small_and_hashable(stored):
    token = generation(stored)
    assert hash(token) == hash(generation(stored))
    assert len(repr(token)) < 600
