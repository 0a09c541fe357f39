"""One running sync or import per connector, across processes and machines (SQLite and PostgreSQL).

A run records its host, process id and a heartbeat. The next run of the same
connector is refused while that run is alive, and takes over (marking it
"interrupted") once its process is gone or it has not been heard from for
``STALE_AFTER``. A unique index on running runs settles simultaneous claims.
"""

from __future__ import annotations

import datetime as dt
import threading
import time

import pandas as pd
import pytest
from sqlalchemy import insert, inspect, text
from sqlalchemy.exc import IntegrityError

from data import syncs
from data.engine import make_engine, upgrade
from data.models import SyncRun
from tests.conftest import empty_postgres, pretend_run


def _run(engine, run_id: int) -> pd.Series:
    return syncs.read_sync_runs(engine).set_index("id").loc[run_id]


def test_a_live_run_in_another_process_refuses_a_second_one(engine, other_process):
    first = syncs.start_run(engine, "hubspot", "incremental")
    pretend_run(engine, first, pid=other_process)
    with pytest.raises(syncs.RunBusyError) as refused:
        syncs.start_run(engine, "hubspot", "full")
    message = str(refused.value)
    assert (
        f"run {first}" in message and f"process {other_process}" in message and "last heard from" in message
    )
    assert syncs.read_sync_runs(engine)["id"].tolist() == [first]  # the refused one left no trace
    syncs.finish_run(engine, first, "ok")
    second = syncs.start_run(engine, "hubspot", "full")  # once it has ended, the next one may start
    assert _run(engine, second)["status"] == "running" and _run(engine, first)["status"] == "ok"


def test_a_run_whose_process_died_is_taken_over_at_once(engine, dead_pid):
    dead = syncs.start_run(engine, "hubspot", "incremental")
    pretend_run(engine, dead, pid=dead_pid)  # heartbeat fresh, but the process is gone (kill -9)
    new = syncs.start_run(engine, "hubspot", "incremental")
    left = _run(engine, dead)
    assert left["status"] == "interrupted" and pd.isna(left["finished_at"])
    assert "killed or crashed" in left["error"] and left["error"].endswith(
        f"run {new} of the same source started"
    )


def test_a_run_on_another_machine_counts_as_alive_until_its_heartbeat_is_stale(engine):
    far = syncs.start_run(engine, "hubspot", "incremental")
    pretend_run(engine, far, host="another-machine", pid=1)
    with pytest.raises(syncs.RunBusyError, match="on another-machine"):
        syncs.start_run(engine, "hubspot", "incremental")
    quiet_since = dt.datetime.now(dt.UTC) - syncs.STALE_AFTER - dt.timedelta(seconds=5)
    pretend_run(engine, far, heartbeat_at=quiet_since)
    new = syncs.start_run(engine, "hubspot", "incremental")
    assert _run(engine, far)["status"] == "interrupted" and _run(engine, new)["status"] == "running"


def test_runs_of_other_connectors_are_not_in_the_way(engine, other_process):
    import_run = syncs.start_run(engine, "file:crm", "import")
    pretend_run(engine, import_run, pid=other_process)
    sync_run = syncs.start_run(engine, "hubspot", "incremental")
    assert _run(engine, import_run)["status"] == "running" and _run(engine, sync_run)["status"] == "running"


def test_the_database_itself_refuses_a_second_running_run_of_a_connector(engine):
    syncs.start_run(engine, "hubspot", "incremental")
    now = dt.datetime.now(dt.UTC)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(SyncRun).values(connector="hubspot", kind="x", started_at=now, status="running"))
    with engine.begin() as conn:  # ended runs are not limited
        for status in ("ok", "ok", "failed"):
            conn.execute(insert(SyncRun).values(connector="hubspot", kind="x", started_at=now, status=status))


def test_simultaneous_claims_let_exactly_one_run_start(engine):
    """Six threads (separate connections) claim the same connector at once: one run, five clear refusals."""
    claimers = 6
    barrier = threading.Barrier(claimers)
    started, refused, other = [], [], []

    def claim() -> None:
        barrier.wait()
        try:
            started.append(syncs.start_run(engine, "hubspot", "incremental"))
        except syncs.RunBusyError as exc:
            refused.append(str(exc))
        except Exception as exc:  # a lock error or a constraint error would reach the user
            other.append(repr(exc))

    threads = [threading.Thread(target=claim) for _ in range(claimers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert other == [] and len(started) == 1 and len(refused) == claimers - 1
    assert all(f"run {started[0]}" in message for message in refused)
    runs = syncs.read_sync_runs(engine)
    assert runs["id"].tolist() == started and runs["status"].tolist() == ["running"]


def test_keep_alive_beats_the_heartbeat_until_the_block_ends(engine):
    run = syncs.start_run(engine, "hubspot", "incremental")
    first = _run(engine, run)["heartbeat_at"]
    with syncs.keep_alive(engine, run, every=0.05):
        deadline = time.monotonic() + 10
        while _run(engine, run)["heartbeat_at"] == first and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _run(engine, run)["heartbeat_at"] > first
    syncs.finish_run(engine, run, "ok")
    ended = _run(engine, run)
    syncs.beat_run(engine, run)  # a late beat does not revive an ended run
    assert _run(engine, run)["status"] == "ok" and _run(engine, run)["heartbeat_at"] == ended["heartbeat_at"]


def _upgrade_with_runs_left_running(engine) -> None:
    upgrade(engine, "0002")
    with engine.begin() as conn:
        for connector, status in [("hubspot", "running"), ("hubspot", "running"), ("demo", "ok")]:
            conn.execute(
                text(
                    "INSERT INTO sync_runs (connector, kind, started_at, status) "
                    "VALUES (:connector, 'full', :at, :status)"
                ),
                {"connector": connector, "status": status, "at": 0 if engine.dialect.name == "sqlite" else
                 dt.datetime(2026, 11, 1, tzinfo=dt.UTC)},
            )  # fmt: skip
    upgrade(engine)
    runs = syncs.read_sync_runs(engine)
    assert runs["status"].tolist() == ["ok", "interrupted", "interrupted"]
    assert runs["error"].iloc[1].endswith("found still running when the database was upgraded")
    assert "uq_sync_runs_one_running" in {index["name"] for index in inspect(engine).get_indexes("sync_runs")}
    syncs.start_run(engine, "hubspot", "incremental")  # and the next sync starts


def test_an_older_sqlite_database_with_runs_left_running_upgrades(tmp_path):
    _upgrade_with_runs_left_running(make_engine(f"sqlite:///{tmp_path / 'old.db'}"))


def test_an_older_postgres_database_with_runs_left_running_upgrades():
    _upgrade_with_runs_left_running(empty_postgres())
