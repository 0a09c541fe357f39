"""Storage under faults: concurrent readers while a sync writes, a read-only or full database."""

from __future__ import annotations

import datetime as dt
import threading

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import event

from data import queries, syncs, upserts
from data.engine import make_engine, upgrade
from data.transactions import StorageError

MONTHS = [dt.datetime(2026, m, 1, tzinfo=dt.UTC) for m in range(1, 8)]


def _batch(start: int, size: int) -> pd.DataFrame:
    ids = np.arange(start, start + size)
    month = ids % 6  # spread over January..June
    mql = pd.to_datetime([MONTHS[m] for m in month]) + pd.to_timedelta(ids % 600, unit="min")
    return pd.DataFrame({"source": "crm", "external_id": [f"L{i}" for i in ids], "mql_at": mql, "touches": 1})


def test_eight_readers_while_a_sync_writes_see_whole_batches_and_no_lock_errors(engine):
    """Every read sees a committed state: a multiple of the batch size in total, never a half batch."""
    batch, batches = 500, 12
    stop = threading.Event()
    errors: list[BaseException] = []
    seen: list[int] = []

    def reader() -> None:
        try:
            while not stop.is_set():
                frames = queries.read_leads(engine, MONTHS[0], MONTHS[6])
                seen.append(len(frames))
                assert len(frames) % batch == 0, f"read a half-written batch: {len(frames)} rows"
        except BaseException as exc:  # noqa: BLE001 - reported below, with the thread's failure
            errors.append(exc)

    readers = [threading.Thread(target=reader) for _ in range(8)]
    for thread in readers:
        thread.start()
    try:
        for number in range(batches):
            with engine.begin() as conn:  # one sync page: rows and cursor commit together
                upserts.upsert_leads(conn, _batch(number * batch, batch))
                syncs.set_sync_state(conn, "test", "leads", cursor=str(number))
    finally:
        stop.set()
        for thread in readers:
            thread.join(timeout=60)
    assert not errors, errors[0]
    assert len(seen) >= 8 and max(seen) <= batch * batches
    assert queries.table_counts(engine)["leads"] == batch * batches
    assert syncs.get_sync_state(engine, "test", "leads")[0] == str(batches - 1)


def test_a_read_only_database_is_a_clear_error_and_nothing_is_written(tmp_path):
    path = tmp_path / "ro.db"
    upgrade(make_engine(f"sqlite:///{path}"))
    read_only = make_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    with pytest.raises(StorageError, match="read-only"):
        upserts.upsert_leads(read_only, _batch(0, 10))
    assert queries.table_counts(make_engine(f"sqlite:///{path}"))["leads"] == 0


def test_a_full_disk_is_a_clear_error_and_nothing_is_half_written(sqlite_engine):
    upserts.upsert_leads(sqlite_engine, _batch(0, 100))
    full = make_engine(str(sqlite_engine.url), check=False)  # no pooled connection before the cap

    @event.listens_for(full, "connect")
    def _cap(dbapi_connection, _record):  # the file may not grow: SQLite answers SQLITE_FULL
        dbapi_connection.execute("PRAGMA max_page_count = 1")

    with pytest.raises(StorageError, match="full"):
        upserts.upsert(full, "leads", _batch(100, 20_000), batch_rows=5_000)
    assert queries.table_counts(sqlite_engine)["leads"] == 100  # no batch of the failed write survived
