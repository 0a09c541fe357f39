"""The SLA facts stay current: a sync, an import or a saved agreement version refreshes them, and after
each the stored facts are what a refresh of everything would store and equal the pandas evaluation."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

from agreements import store
from bootstrap import load_demo_if_empty, load_demo_recorded, remove_demo
from connectors.demo import generate
from connectors.files import Mapping, import_file
from data import fact_upkeep, queries, syncs, upserts
from data.engine import make_engine, upgrade
from data.facts import FACTS, compute_facts, read_frames, refresh_facts
from data.frames import read_window
from tests.conftest import PINNED_NOW
from tests.data.test_facts import DEFAULT, _check_against_evaluate, _comparable, _stored

TODAY = dt.date(2026, 3, 16)
AGREEMENT = "Sales and Marketing SLA"


def _expected(engine) -> pd.DataFrame:
    """What a refresh of everything stores now: the facts of every stored version from all stored rows."""
    return _comparable(compute_facts(store.versions(engine, AGREEMENT), read_frames(engine)))


def _import(engine, tmp_path, table: str, text: str, columns: dict) -> None:
    path = tmp_path / f"{table}.csv"
    path.write_text(text)
    report = import_file(
        engine, path, table, Mapping(table=table, source="demo", columns=columns), as_of=PINNED_NOW
    )
    assert report.rejected == 0, report.summary()


def test_a_first_start_loads_the_demo_without_facts_and_keeps_none_until_asked(engine, monkeypatch):
    refreshes = []
    refresh_all = fact_upkeep.refresh_all
    monkeypatch.setattr(fact_upkeep, "refresh_all", lambda bind: refreshes.append(1) or refresh_all(bind))
    assert load_demo_if_empty(engine, leads=300)
    assert not fact_upkeep.kept(engine) and not refreshes and _stored(engine).empty
    assert not fact_upkeep._PENDING.get(engine.engine)  # nothing noted for a refresh nobody asked for
    assert not load_demo_if_empty(engine, leads=300) and not refreshes  # the next start: still nothing


def test_a_demo_load_into_a_database_that_keeps_facts_refreshes_once_at_its_end(engine, monkeypatch):
    fact_upkeep.refresh_all(engine)  # kept, but nothing stored yet
    calls = []
    refresh_facts = fact_upkeep.facts.refresh_facts
    monkeypatch.setattr(
        fact_upkeep.facts, "refresh_facts", lambda *a, **k: calls.append(k) or refresh_facts(*a, **k)
    )
    load_demo_recorded(engine, leads=300, today=TODAY)
    assert calls and all(k.get("lead_ids") is None for k in calls)  # refreshes of everything, no batch's
    assert _stored(engine).equals(_expected(engine))

    def broken(*args, **kwargs):
        raise RuntimeError("generator on fire")

    monkeypatch.setattr("connectors.demo.write_frames", broken)
    with pytest.raises(RuntimeError, match="generator on fire"):
        load_demo_recorded(engine, leads=300, today=TODAY, reset=True)  # the demo's rows deleted, then fails
    assert _stored(engine).empty  # the failed run's finish refreshed everything: no facts of deleted leads


def test_a_database_keeps_facts_current_from_the_write_after_refresh_all_marks_it(engine):
    load_demo_recorded(engine, leads=300, today=TODAY)  # not through the first start: no facts yet
    assert not fact_upkeep.kept(engine) and _stored(engine).empty
    assert fact_upkeep.refresh_all(engine) > 0  # cli.py db facts
    assert fact_upkeep.kept(engine) and _stored(engine).equals(_expected(engine))
    owners = queries.read_owners(engine, source="demo")
    team = "Americas" if owners["team"].iloc[0] == "EMEA" else "EMEA"
    run = syncs.start_run(engine, "file:demo", "import")
    upserts.upsert_owners(engine, pd.DataFrame({"source": ["demo"], "external_id": [owners["external_id"].iloc[0]],
                                                "team": [team]}))  # fmt: skip
    syncs.finish_run(engine, run, "ok")
    assert _stored(engine).equals(_expected(engine))  # the write after the mark kept them current


def test_a_sync_an_import_and_an_agreement_change_keep_the_facts_current(engine, tmp_path):
    fact_upkeep.refresh_all(engine)  # the database keeps facts, as cli.py db facts makes it
    load_demo_recorded(engine, leads=600, today=TODAY)  # a recorded run, with merges and recycled leads
    facts = _stored(engine)
    assert len(facts) > 0 and (facts["row_id"] < 0).any()
    assert facts.equals(_expected(engine))

    # An import moves the first touch of ten leads a day later and logs two calls on two others.
    leads = queries.read_leads(engine, per_handover=False).dropna(subset=["first_touch_at"])
    later = leads.iloc[:10]
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    lines = [
        f"{r.external_id},{r.created_at.strftime(stamp)},{(r.first_touch_at + pd.Timedelta(days=1)).strftime(stamp)}"
        for r in later.itertuples()
    ]
    text = "Id,Created,First touch\n" + "\n".join(lines) + "\n"
    columns = {"external_id": "Id", "created_at": "Created", "first_touch_at": "First touch"}
    _import(engine, tmp_path, "leads", text, columns)
    other = leads.iloc[20:22]
    calls = [f"C{i},{r.external_id},call,{(r.mql_at + pd.Timedelta(minutes=5)).strftime(stamp)}"
             for i, r in enumerate(other.itertuples())]  # fmt: skip
    _import(engine, tmp_path, "activities", "Id,Lead,Kind,At\n" + "\n".join(calls) + "\n",
            {"external_id": "Id", "lead_external_id": "Lead", "kind": "Kind", "occurred_at": "At"})  # fmt: skip
    after = _stored(engine)
    assert not after.equals(facts)  # the import changed facts ...
    assert after.equals(_expected(engine))  # ... exactly as a refresh of everything would
    start, end = (
        pd.Timestamp("2025-11-01", tz="Europe/Berlin"),
        pd.Timestamp("2026-03-16", tz="Europe/Berlin"),
    )
    frames = read_window(engine, start.tz_convert("UTC"), end.tz_convert("UTC"))
    as_ofs = [pd.Timestamp("2026-02-03T16:45", tz="UTC"), pd.Timestamp("2026-03-16T00:00", tz="UTC")]
    versions = store.versions(engine, AGREEMENT)
    assert _check_against_evaluate(engine, versions, frames, start, end, as_ofs, (None, "team")) > 50

    # The same import again: nothing changes, nothing is duplicated.
    _import(engine, tmp_path, "leads", text, columns)
    assert _stored(engine).equals(after)

    # A new agreement version (2 business hours from March) brings its own facts for every lead.
    yaml = versions[-1].document.to_document()
    yaml["commitments"] = [
        {**c, "params": {"business_hours": 2}} if c["id"] == "speed-to-lead" else c
        for c in yaml["commitments"]
    ]
    store.save(
        engine,
        yaml,
        dt.date(2026, 3, 1),
        "tester",
        "faster follow-up",
        as_of=pd.Timestamp("2026-02-20", tz="UTC"),
    )
    stored = _stored(engine)
    assert sorted(stored["version"].unique()) == [1, 2]
    assert stored.equals(_expected(engine))


def test_a_merge_and_a_removed_source_take_their_leads_facts_away_and_an_owner_change_moves_its_leads(engine):
    fact_upkeep.refresh_all(engine)  # the database keeps facts, as cli.py db facts makes it
    load_demo_recorded(engine, leads=600, today=TODAY)
    leads = queries.read_leads(engine, per_handover=False).dropna(subset=["mql_at", "owner_external_id"])
    survivor, merged = leads["external_id"].iloc[0], leads["external_id"].iloc[1]
    merged_id = int(leads["id"].iloc[1])
    owner = leads["owner_external_id"].iloc[2]
    owners = queries.read_owners(engine, source="demo")
    team = owners.loc[owners["external_id"] == owner, "team"].iloc[0]
    before = _stored(engine)
    assert merged_id in set(before["lead_id"])
    moved = before["team"][before["owner_id"] == leads["owner_id"].iloc[2]]
    assert len(moved) > 0 and set(moved) == {team}
    run = syncs.start_run(engine, "file:demo", "import")
    upserts.merge_leads(engine, "demo", {survivor: [merged]})
    upserts.upsert_owners(
        engine,
        pd.DataFrame(
            {"source": ["demo"], "external_id": [owner], "team": ["Americas" if team == "EMEA" else "EMEA"]}
        ),
    )
    syncs.finish_run(engine, run, "ok")
    stored = _stored(engine)
    assert merged_id not in set(stored["lead_id"])
    assert team not in set(stored["team"][stored["owner_id"] == leads["owner_id"].iloc[2]])
    assert stored.equals(_expected(engine))
    remove_demo(engine, "tester")  # no run follows: the facts go with the rows at once
    assert _stored(engine).empty


def test_too_many_touched_keys_refresh_everything_and_a_failed_refresh_is_tried_again(engine, monkeypatch):
    fact_upkeep.refresh_all(engine)  # the database keeps facts, as cli.py db facts makes it
    store.save(engine, DEFAULT, None, "tester", "first", as_of=pd.Timestamp("2026-03-16", tz="UTC"))
    frames = read_window(engine, pd.Timestamp("2020-01-01", tz="UTC"), pd.Timestamp("2030-01-01", tz="UTC"))
    assert frames["leads"].empty
    company = generate(300, today=TODAY)
    monkeypatch.setattr(fact_upkeep, "MAX_NOTED", 50)
    upserts.upsert_owners(engine, company["owners"])
    upserts.upsert_leads(engine, company["leads"])
    upserts.upsert_activities(engine, company["activities"])

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(fact_upkeep.facts, "refresh_facts", broken)
    run = syncs.start_run(engine, "file:demo", "import")
    with pytest.raises(RuntimeError, match="disk on fire"):
        syncs.finish_run(engine, run, "ok")
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(FACTS)).scalar_one() == 0
    monkeypatch.setattr(fact_upkeep.facts, "refresh_facts", refresh_facts)
    assert fact_upkeep.after_run(engine) > 0  # the notes were kept: everything is refreshed now
    assert _stored(engine).equals(_expected(engine))
    assert fact_upkeep.after_run(engine) == 0  # and then nothing is pending


def test_the_cli_recomputes_every_fact(tmp_path, monkeypatch, capsys):
    import cli

    monkeypatch.setenv("ACCORD_DATABASE_URL", f"sqlite:///{tmp_path / 'accord.db'}")
    engine = make_engine(f"sqlite:///{tmp_path / 'accord.db'}")
    upgrade(engine)
    store.save(engine, DEFAULT, None, "tester", "first", as_of=pd.Timestamp("2026-03-16", tz="UTC"))
    company = generate(300, today=TODAY)
    for table in ("owners", "leads", "activities"):
        upserts.upsert(engine, table, company[table])  # no run finishes: no facts yet
    assert _stored(engine).empty
    assert cli.main(["db", "facts"]) == 0
    assert "SLA facts recomputed for every stored agreement" in capsys.readouterr().out
    stored = _stored(engine)
    assert len(stored) > 0 and stored.equals(_expected(engine))
    engine.dispose()
