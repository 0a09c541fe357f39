"""A disk that fills up during an import: one line, the run recorded as failed, no run left "running".

SQLite's ``PRAGMA max_page_count`` makes the database file unable to grow past
a size, exactly as a full disk does ("database or disk is full"): the import's
rows no longer fit, while the small update that records the failure still does.
"""

from __future__ import annotations

import csv

import pytest
from sqlalchemy import event, text

import cli
import data.engine
from connectors.files import import_file
from data import syncs, transactions
from data.engine import make_engine, upgrade


def capped_engine(url: str, spare_pages: int):
    """An engine on ``url`` whose database file may grow by at most ``spare_pages`` pages."""
    engine = make_engine(url)
    with engine.connect() as conn:
        pages = conn.execute(text("PRAGMA page_count")).scalar()

    @event.listens_for(engine, "connect")
    def cap(dbapi_connection, _record):
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages + spare_pages}")

    engine.dispose()  # connections made from now on are capped
    return engine


@pytest.fixture
def leads_csv(tmp_path):
    path = tmp_path / "leads.csv"
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["Record ID", "Create Date", "Contact owner", "Original Source", "Lifecycle Stage"])
        for i in range(20_000):
            out.writerow([f"c-{i}", "2026-05-04 10:00", "", f"Channel {i % 7} " + "x" * 60, "lead"])
    return path


@pytest.mark.parametrize("spare_pages", [0, 4, 40])
def test_a_full_disk_during_an_import_is_one_line_and_no_run_stays_running(
    tmp_path, capsys, monkeypatch, leads_csv, spare_pages
):
    url = f"sqlite:///{tmp_path / 'accord.db'}"
    upgrade(make_engine(url))
    engine = capped_engine(url, spare_pages)
    monkeypatch.setattr(data.engine, "make_engine", lambda *a, **k: engine)
    monkeypatch.setenv("ACCORD_DATABASE_URL", url)

    code = cli.main(["import", "leads", str(leads_csv), "--mapping", "hubspot-contacts"])
    out, err = capsys.readouterr()
    assert code == 1, (out, err)
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert "disk holding the database is full" in err

    runs = syncs.read_sync_runs(make_engine(url))  # read without the cap
    assert "running" not in runs["status"].tolist()
    assert len(runs) <= 1  # recording the failure started no second run
    if len(runs):
        assert runs["status"].iloc[0] == "failed" and "full" in runs["error"].iloc[0]


def test_when_not_even_the_run_can_be_started_recording_it_is_not_tried_again(
    tmp_path, monkeypatch, leads_csv
):
    # The database refuses the run's own row: the old code then called start_run a second time to record it.
    engine = make_engine(f"sqlite:///{tmp_path / 'accord.db'}")
    upgrade(engine)
    calls = []

    def refused(*args, **kwargs):
        calls.append(args)
        raise transactions.StorageError("Nothing was saved: the disk holding the database is full.")

    monkeypatch.setattr(syncs, "start_run", refused)
    with pytest.raises(transactions.StorageError, match="leads.csv: Nothing was saved"):
        import_file(engine, leads_csv, "leads", "hubspot-contacts")
    assert len(calls) == 1
    assert syncs.read_sync_runs(engine).empty
