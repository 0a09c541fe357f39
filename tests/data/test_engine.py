"""The engine factory and schema migrations."""

from __future__ import annotations

import sqlite3

import pandas as pd
import pytest
from sqlalchemy import inspect, text

import settings
from data import queries, upserts
from data.engine import DatabaseConfigError, current_revision, head_revision, make_engine, upgrade
from tests.conftest import empty_postgres


def test_default_url_is_a_sqlite_file_under_var(monkeypatch, tmp_path):
    monkeypatch.delenv("ACCORD_DATABASE_URL", raising=False)
    monkeypatch.setattr(settings, "SECRETS_FILE", tmp_path / "none.toml")
    assert settings.database_url().startswith("sqlite:///") and settings.database_url().endswith(
        "var/accord.db"
    )


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'deep' / 'folder' / 'a.db'}")  # folders are created
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 5000


def test_unparseable_url_names_the_variable(monkeypatch):
    monkeypatch.setenv("ACCORD_DATABASE_URL", "not a url")
    with pytest.raises(DatabaseConfigError, match="ACCORD_DATABASE_URL is not a database URL"):
        make_engine(settings.database_url())


def test_unreachable_server_names_the_variable_and_hides_the_password():
    url = "postgresql+psycopg://accord:hunter2@127.0.0.1:1/accord"
    with pytest.raises(DatabaseConfigError) as caught:
        make_engine(url)
    message = str(caught.value)
    assert "ACCORD_DATABASE_URL" in message and "127.0.0.1:1" in message
    assert "hunter2" not in message


def test_unknown_driver_is_one_clear_line():
    with pytest.raises(DatabaseConfigError, match="driver that is not installed"):
        make_engine("mysql+notadriver://u:p@localhost/db")


def test_migrations_build_every_canonical_table_from_empty(engine):
    assert current_revision(engine) == head_revision()
    tables = set(inspect(engine).get_table_names())
    expected = {"owners", "leads", "deals", "activities", "agreement_versions", "sync_state", "sync_runs",
                "rejected_rows"}  # fmt: skip
    assert expected <= tables


def _upgrade_from_first_revision_keeps_rows(engine):
    upgrade(engine, "0001")
    frame = pd.DataFrame({"source": "crm", "external_id": ["L1", "L2"], "channel": ["Events", "Partners"]})
    upserts.upsert_leads(engine, frame)
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert sorted(queries.read_leads(engine)["channel"]) == ["Events", "Partners"]


def test_an_older_sqlite_database_upgrades_in_place(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    _upgrade_from_first_revision_keeps_rows(engine)


def test_an_older_postgres_database_upgrades_in_place():
    _upgrade_from_first_revision_keeps_rows(empty_postgres())


def test_timestamps_are_integers_in_sqlite(sqlite_engine):
    """SQLite has no timestamp type: Accord stores UTC epoch microseconds (documented in data/models.py)."""
    upserts.upsert_leads(
        sqlite_engine,
        pd.DataFrame(
            {"source": ["s"], "external_id": ["x"], "created_at": [pd.Timestamp("1970-01-01T00:00:01Z")]}
        ),
    )
    with sqlite3.connect(sqlite_engine.url.database) as conn:
        assert conn.execute("select created_at from leads").fetchone() == (1_000_000,)
