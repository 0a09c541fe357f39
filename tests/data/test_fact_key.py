"""The facts key (agreement, version, commitment, lead, row): migration 0009 keeps every fact and figure.

Also the loose index scan of the stored triples and the delete by lead through the key.
"""

from __future__ import annotations

import alembic.command
import pandas as pd
import pytest
import sqlalchemy as sa

from connectors.demo import load_demo
from data import fact_upkeep, facts, queries
from data.engine import _alembic_config, current_revision, head_revision, make_engine, upgrade
from data.facts import CLOCK_METRICS, FACTS, figures, refresh_facts
from tests.conftest import empty_postgres
from tests.data.test_facts import KEY, TODAY, _stored, _versions

OLD_KEY = ["lead_id", "row_id", "agreement", "version", "commitment"]
MONTHS = (pd.Timestamp("2025-11-01", tz="Europe/Berlin"), pd.Timestamp("2026-03-16", tz="Europe/Berlin"))
AS_OF = pd.Timestamp("2026-03-16T00:00", tz="UTC")


def _figures(engine, versions) -> dict:
    out = {}
    for v in versions:
        for c in v.document.commitments:
            if c.metric in CLOCK_METRICS:
                for by in (None, "team"):
                    out[(v.version, c.id, by)] = figures(
                        engine, v.agreement, v.version, c.id, "month", *MONTHS, AS_OF, by=by
                    )
    return out


def _same_figures(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        pd.testing.assert_frame_equal(a[key], b[key], obj=str(key))


def _key_of(engine) -> list[str]:
    return sa.inspect(engine).get_pk_constraint("sla_facts")["constrained_columns"]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_key_migration_keeps_every_fact_and_figure(backend, tmp_path):
    engine = empty_postgres() if backend == "postgresql" else make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0008_facts")
    load_demo(engine, leads=400, today=TODAY)
    versions = _versions()
    assert refresh_facts(engine, versions) > 400
    assert _key_of(engine) == OLD_KEY
    before, counts, figures_before = _stored(engine), queries.table_counts(engine), _figures(engine, versions)
    assert sum(len(f) for f in figures_before.values()) > 20

    upgrade(engine)
    assert current_revision(engine) == head_revision() == "0010_factskey"
    assert _key_of(engine) == KEY
    assert "ix_sla_facts_period" in {i["name"] for i in sa.inspect(engine).get_indexes("sla_facts")}
    pd.testing.assert_frame_equal(_stored(engine), before)
    assert queries.table_counts(engine) == counts
    _same_figures(_figures(engine, versions), figures_before)
    # The rekeyed table refreshes in place: the same leads again give the same rows, none twice.
    some = sorted(before["lead_id"].unique().tolist())[::3]
    refresh_facts(engine, versions, lead_ids=some)
    pd.testing.assert_frame_equal(_stored(engine), before)

    alembic.command.downgrade(_alembic_config(engine), "0008_facts")
    assert _key_of(engine) == OLD_KEY
    pd.testing.assert_frame_equal(_stored(engine), before)
    engine.dispose()


def test_stored_commitments_lists_each_triple_once_in_key_order(engine):
    with engine.connect() as conn:
        assert facts.stored_commitments(conn) == []
    load_demo(engine, leads=200, today=TODAY)
    versions = _versions()
    refresh_facts(engine, versions)
    with engine.connect() as conn:
        slow = conn.execute(
            sa.select(FACTS.c.agreement, FACTS.c.version, FACTS.c.commitment)
            .distinct()
            .order_by(FACTS.c.agreement, FACTS.c.version, FACTS.c.commitment)
        ).all()
        assert facts.stored_commitments(conn) == [tuple(row) for row in slow]
    expected = {(v.agreement, v.version, c.id) for v in versions for c in v.document.commitments
                if c.metric in CLOCK_METRICS}  # fmt: skip
    assert {tuple(row) for row in slow} == expected


def test_forgetting_a_source_deletes_its_facts_of_every_version_and_nothing_else(engine):
    load_demo(engine, leads=200, today=TODAY)
    fact_upkeep.refresh_all(engine)  # no stored agreement: only marks the database as keeping facts
    refresh_facts(engine, _versions())
    stored = _stored(engine)
    leads = queries.read_leads(engine, per_handover=False, columns=["id", "source", "external_id"])
    source = leads["source"].iloc[0]
    gone = leads[leads["source"] == source].iloc[::4]
    with engine.begin() as conn:
        fact_upkeep.forget(conn, source, gone["external_id"].astype(str).tolist())
    kept = stored[~stored["lead_id"].isin(gone["id"])].reset_index(drop=True)
    assert len(kept) < len(stored) and stored["version"].nunique() > 1
    pd.testing.assert_frame_equal(_stored(engine), kept)


def test_the_delete_by_lead_goes_through_the_key(engine):
    upgrade(engine)
    c = FACTS.c
    where = (c.agreement == "a") & (c.version == 2) & (c.commitment == "speed") & c.lead_id.in_([1, 2, 3])
    query = FACTS.delete().where(where).compile(engine, compile_kwargs={"literal_binds": True})
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {query}"))
            assert (
                "sqlite_autoindex_sla_facts_1 (agreement=? AND version=? AND commitment=? AND lead_id=?)"
                in plan
            )
        else:
            conn.exec_driver_sql("SET enable_seqscan = off")  # an empty table: ask which index it would use
            plan = " ".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {query}"))
            assert "sla_facts_pkey" in plan, plan


def test_a_big_write_leaves_postgresql_statistics_for_the_next_delete(monkeypatch):
    engine = empty_postgres()
    upgrade(engine)
    load_demo(engine, leads=300, today=TODAY)
    monkeypatch.setattr(facts, "_REINDEX_ROWS", 100)  # what counts as big
    stats = sa.text("SELECT count(*) FROM pg_stats WHERE tablename = 'sla_facts'")
    with engine.connect() as conn:
        assert conn.execute(stats).scalar_one() == 0
    assert refresh_facts(engine, _versions()) > 100
    with engine.connect() as conn:
        # The planner now knows a (agreement, version, commitment) holds many rows, a lead few.
        assert conn.execute(stats).scalar_one() >= len(KEY)
    engine.dispose()
