"""The read replica: the dashboard's engine is a second URL when ACCORD_READ_DATABASE_URL is set."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from connectors.demo import generate
from data import queries, upserts
from data.engine import DatabaseConfigError, make_engine, read_engine
from tests.conftest import reset_postgres


def read_only_url(writer) -> str:
    """The writer's database through a second URL whose sessions are read-only, as on a streaming standby."""
    url = make_url(writer.url.render_as_string(hide_password=False)).update_query_dict(
        {"options": "-c default_transaction_read_only=on", "application_name": "accord_read"}
    )
    return url.render_as_string(hide_password=False)


def test_without_a_read_url_the_dashboard_reads_from_the_writer(sqlite_engine):
    assert read_engine(None, sqlite_engine) is sqlite_engine
    assert read_engine("", sqlite_engine) is sqlite_engine


def test_a_bad_read_url_names_its_own_setting_and_hides_its_password(sqlite_engine):
    with pytest.raises(DatabaseConfigError, match="ACCORD_READ_DATABASE_URL") as caught:
        read_engine("postgresql+psycopg://u:hunter2@127.0.0.1:1/x", sqlite_engine)
    assert "hunter2" not in str(caught.value)
    with pytest.raises(DatabaseConfigError, match="^ACCORD_READ_DATABASE_URL is not a database URL"):
        read_engine("not a url", sqlite_engine)


def test_make_engine_names_the_default_setting():
    with pytest.raises(DatabaseConfigError, match="^ACCORD_DATABASE_URL is not a database URL"):
        make_engine("not a url")


def test_two_urls_on_postgres_write_through_one_and_read_through_the_other():
    writer = reset_postgres(None)
    reader = read_engine(read_only_url(writer), writer)
    assert reader is not writer
    frames = generate(40, today=pd.Timestamp("2026-03-16").date())
    upserts.upsert_leads(writer, frames["leads"])
    pd.testing.assert_frame_equal(queries.read_leads(reader), queries.read_leads(writer))
    with reader.connect() as conn:
        assert conn.execute(text("SELECT current_setting('application_name')")).scalar() == "accord_read"
    with pytest.raises(DBAPIError, match="read-only"):
        upserts.upsert_leads(reader, frames["leads"].head(1))
    reader.dispose()
    writer.dispose()
