"""The filter pickers' values and the banner's sources, read by index probes: the same as a plain DISTINCT."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import inspect, text

from data import queries, upserts
from data.engine import current_revision, head_revision, make_engine, upgrade
from tests.conftest import empty_postgres


def _distinct(engine, table: str, column: str) -> list:
    with engine.connect() as conn:
        found = conn.execute(text(f"SELECT DISTINCT {column} FROM {table} WHERE {column} IS NOT NULL"))
        return sorted(found.scalars())


def _write(engine) -> None:
    upserts.upsert_leads(engine, pd.DataFrame({
        "source": ["crm", "crm", "crm", "crm", "sheet", "sheet"],
        "external_id": ["L1", "L2", "L3", "L4", "L1", "L5"],
        "channel": ["Webinars", None, "", "Events", "Webinars", "Événements"],
    }))  # fmt: skip
    upserts.upsert_deals(engine, pd.DataFrame({
        "source": ["crm", "import"], "external_id": ["D1", "D2"], "channel": ["Partners", None],
    }))  # fmt: skip


def test_channels_and_sources_equal_a_plain_distinct(engine):
    assert queries.distinct_values(engine, "leads", "channel") == []
    assert queries.source_names(engine) == []
    _write(engine)
    for table in ("leads", "deals"):
        assert queries.distinct_values(engine, table, "channel") == _distinct(engine, table, "channel")
    assert queries.distinct_values(engine, "leads", "channel") == ["", "Events", "Webinars", "Événements"]
    union = set()
    for table in ("owners", "leads", "deals", "activities"):
        union |= set(_distinct(engine, table, "source"))
    assert queries.source_names(engine) == sorted(union) == ["crm", "import", "sheet"]
    assert queries.source_names(engine) == sorted(set(queries.source_counts(engine)["source"]))
    upserts.delete_source(engine, "sheet")
    assert queries.source_names(engine) == ["crm", "import"]
    assert queries.distinct_values(engine, "leads", "channel") == ["", "Events", "Webinars"]


def _upgrade_keeps_every_row(engine) -> None:
    upgrade(engine, "0008_facts")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO leads (source, external_id, channel) VALUES ('crm', 'L1', 'Events'), ('crm', 'L2', NULL)"
        )
        before = conn.exec_driver_sql("SELECT id, source, external_id, channel FROM leads ORDER BY id").all()
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert "ix_leads_channel" in {i["name"] for i in inspect(engine).get_indexes("leads")}
    with engine.connect() as conn:
        assert (
            conn.exec_driver_sql("SELECT id, source, external_id, channel FROM leads ORDER BY id").all()
            == before
        )
    assert queries.distinct_values(engine, "leads", "channel") == ["Events"]


def test_an_older_sqlite_database_gains_the_channel_index_without_losing_a_row(tmp_path):
    _upgrade_keeps_every_row(make_engine(f"sqlite:///{tmp_path / 'old.db'}"))


def test_an_older_postgres_database_gains_the_channel_index_without_losing_a_row():
    _upgrade_keeps_every_row(empty_postgres())


@pytest.mark.parametrize("bad", [("leads", "nope"), ("nowhere", "channel")])
def test_an_unknown_column_is_refused(engine, bad):
    with pytest.raises(queries.SchemaError, match="no column"):
        queries.distinct_values(engine, *bad)


def test_has_rows_says_which_tables_hold_a_row_as_counting_them_would(engine):
    def counted() -> dict[str, bool]:
        return {name: rows > 0 for name, rows in queries.table_counts(engine).items()}

    assert (
        queries.has_rows(engine)
        == counted()
        == dict.fromkeys(["owners", "leads", "deals", "activities"], False)
    )
    upserts.upsert_deals(engine, pd.DataFrame({"source": ["crm"], "external_id": ["D1"]}))
    assert (
        queries.has_rows(engine)
        == counted()
        == {"owners": False, "leads": False, "deals": True, "activities": False}
    )
    _write(engine)
    assert queries.has_rows(engine) == counted()
    upserts.delete_source(engine, "crm")
    upserts.delete_source(engine, "import")
    assert (
        queries.has_rows(engine)
        == counted()
        == {"owners": False, "leads": True, "deals": False, "activities": False}
    )
