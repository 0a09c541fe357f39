"""The app's entry point under Streamlit's AppTest."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

import settings
from data import queries
from data.engine import make_engine
from tests.conftest import plain

APP = str(settings.ROOT / "app.py")


@pytest.fixture
def app(monkeypatch, demo_db_url):
    monkeypatch.setenv("ACCORD_DATABASE_URL", demo_db_url)
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def test_data_page_shows_the_row_count_of_every_table(app, demo_db_url):
    counts = queries.table_counts(make_engine(demo_db_url))
    app.switch_page("pages/data.py").run()
    assert not app.exception
    shown = {m.label: m.value for m in app.metric if m.label.lower() in counts}
    assert shown == {table.capitalize(): f"{rows:,}" for table, rows in counts.items()}
    assert counts["leads"] > 0


def test_demo_data_is_announced(app):
    assert any("demo data" in w.value for w in app.warning)


def test_first_start_on_an_empty_database_loads_the_demo(monkeypatch, tmp_path):
    monkeypatch.setenv("ACCORD_DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.db'}")
    monkeypatch.setenv("ACCORD_DEMO_LEADS", "400")
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert queries.table_counts(make_engine(f"sqlite:///{tmp_path / 'fresh.db'}"))["leads"] == 400
    assert any("demo data" in w.value for w in at.warning)


def test_a_bad_database_url_is_one_clear_error(monkeypatch):
    monkeypatch.setenv("ACCORD_DATABASE_URL", "postgresql+psycopg://u:topsecret@127.0.0.1:1/x")
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    message = plain(at.error[0].value)
    assert "ACCORD_DATABASE_URL" in message and "topsecret" not in message
