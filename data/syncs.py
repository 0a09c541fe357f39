"""Sync runs and their lock: start, heartbeat and finish of a run, the one running run per connector, and the
sync state (each connector's cursor and checkpoint per object).
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pandas as pd
from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError

import clock
from data import fact_upkeep
from data.journal import scrubbed
from data.models import SyncRun, SyncState
from data.transactions import StorageError, transaction
from errors import AccordError

INTERRUPTED = (
    "stopped without recording how it ended (the process was killed or crashed); "
    "noticed when run {run} of the same source started"
)
HEARTBEAT_SECONDS = 30.0  # how often a running run says it is alive
STALE_AFTER = dt.timedelta(minutes=10)  # a run not heard from for this long is taken to have died


class RunBusyError(AccordError, RuntimeError):
    """Another run of the same connector is alive; the message says which, where and since when."""

    exit_code = 75  # EX_TEMPFAIL: cron tries again next time


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def run_alive(run: dict, now: dt.datetime | None = None) -> bool:
    """Whether a run recorded as "running" still is.

    Dead when it has not been heard from for :data:`STALE_AFTER` (its heartbeat, or its start before the
    first heartbeat), or at once when it ran on this machine and its process is gone.
    """
    now = now or clock.now()
    last = run["heartbeat_at"] or run["started_at"]
    if last is None or now - last > STALE_AFTER:
        return False
    if run["host"] == socket.gethostname() and run["pid"] is not None:
        return _process_exists(run["pid"])
    return True


def run_label(connector: str) -> str:
    """What a run of ``connector`` is called in messages.

    >>> run_label("hubspot"), run_label("file:crm"), run_label("demo")
    ('HubSpot sync', "import into source 'crm'", 'demo load')
    """
    if connector.startswith("file:"):
        return f"import into source {connector.removeprefix('file:')!r}"
    return {"hubspot": "HubSpot sync", "salesforce": "Salesforce sync", "demo": "demo load"}.get(
        connector, f"{connector} run"
    )


def _busy_message(run: dict, now: dt.datetime) -> str:
    last = run["heartbeat_at"] or run["started_at"]
    where = f" by process {run['pid']} on {run['host']}" if run["host"] else ""
    return (
        f"Another {run_label(run['connector'])} is already going: run {run['id']}, "
        f"started {run['started_at']:%Y-%m-%d %H:%M} "
        f"UTC{where}, last heard from {max(int((now - last).total_seconds()), 0)} s ago. Wait until it has "
        f"finished (the Data page's history shows it). A run that stops being heard from is taken over "
        f"{int(STALE_AFTER.total_seconds() // 60)} minutes later."
    )


def start_run(bind: Engine | Connection, connector: str, kind: str) -> int:
    """Claim ``connector`` for a new sync or import run and record its start; returns the run's id.

    Only one run per connector is "running" at a time, across processes and machines: raises
    :class:`RunBusyError` while another one is alive (see :func:`run_alive`; the live run keeps its
    heartbeat fresh with :func:`keep_alive`). Runs of the same connector left "running" by a process that
    died (killed, crashed, machine restarted) become "interrupted", their ``error`` saying so;
    ``finished_at`` stays empty, as when they stopped is unknown. A unique index on running runs settles
    two claims made at the same instant: the second is refused.
    """
    t = SyncRun.__table__
    now = clock.now()
    try:
        with transaction(bind) as conn:
            left = running_run(conn, connector)  # at most one: the unique index on running runs
            if left is not None and run_alive(left, now):
                raise RunBusyError(_busy_message(left, now))
            if left is not None:  # its process died; the index needs it out of "running" before the insert
                conn.execute(t.update().where(t.c.id == left["id"]).values(status="interrupted"))
            run_id = conn.execute(
                insert(SyncRun).values(
                    connector=connector,
                    kind=kind,
                    started_at=now,
                    status="running",
                    host=socket.gethostname(),
                    pid=os.getpid(),
                    heartbeat_at=now,
                )
            ).inserted_primary_key[0]
            if left is not None:
                conn.execute(
                    t.update().where(t.c.id == left["id"]).values(error=INTERRUPTED.format(run=run_id))
                )
            return run_id
    except IntegrityError as exc:  # another process claimed it between our read and our insert
        run = running_run(bind, connector)
        if run is None:
            raise
        raise RunBusyError(_busy_message(run, clock.now())) from exc


def running_run(bind: Engine | Connection, connector: str) -> dict | None:
    """The run of ``connector`` recorded as "running" (alive or not, see :func:`run_alive`), or None."""
    t = SyncRun.__table__
    with transaction(bind) as conn:
        row = conn.execute(select(t).where(t.c.connector == connector, t.c.status == "running")).first()
    return None if row is None else dict(row._mapping)


def beat_run(bind: Engine | Connection, run_id: int, **values) -> None:
    """Say run ``run_id`` is alive (and update ``values``, e.g. its ``kind``), unless it has ended."""
    t = SyncRun.__table__
    with transaction(bind) as conn:
        conn.execute(
            t.update()
            .where(t.c.id == run_id, t.c.status == "running")
            .values(heartbeat_at=clock.now(), **values)
        )


@contextmanager
def keep_alive(bind: Engine | Connection, run_id: int, every: float = HEARTBEAT_SECONDS) -> Iterator[None]:
    """While the block runs, a background thread beats run ``run_id``'s heartbeat every ``every`` seconds.

    A beat that fails (the database busy for a moment) is skipped; the next one tries again. Given a
    connection (one caller's transaction, not for another thread) it does nothing.
    """
    if isinstance(bind, Connection):
        yield
        return
    engine, stop = bind, threading.Event()

    def beat() -> None:
        while not stop.wait(every):
            try:
                beat_run(engine, run_id)
            except (StorageError, DBAPIError):
                continue

    thread = threading.Thread(target=beat, name=f"accord-heartbeat-{run_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def finish_run(
    bind: Engine | Connection, run_id: int, status: str, counts: dict | None = None, error: str | None = None
) -> None:
    """Record how run ``run_id`` ended: status ("ok", "failed", ...), counts and a user-facing error.

    Then the SLA facts of the leads the run's writes touched are refreshed (:mod:`data.fact_upkeep`),
    also after a failed run: what it stored before failing counts.
    """
    with transaction(bind) as conn:
        conn.execute(
            SyncRun.__table__.update()
            .where(SyncRun.__table__.c.id == run_id)
            .values(finished_at=clock.now(), status=status, counts=counts, error=scrubbed(error))
        )
    fact_upkeep.after_run(bind)


def read_sync_runs(bind: Engine | Connection, limit: int = 100) -> pd.DataFrame:
    """The latest runs first: connector, kind, started/finished, status, counts, error."""
    t = SyncRun.__table__
    with transaction(bind) as conn:
        rows = conn.execute(select(t).order_by(t.c.id.desc()).limit(limit)).mappings().all()
    frame = pd.DataFrame([dict(r) for r in rows], columns=[c.name for c in t.columns])
    for column in ("started_at", "finished_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def get_sync_state(bind: Engine | Connection, connector: str, obj: str) -> tuple[str | None, dict | None]:
    """The stored (cursor, checkpoint) of one connector object; (None, None) before the first sync."""
    t = SyncState.__table__
    with transaction(bind) as conn:
        row = conn.execute(
            select(t.c.cursor, t.c.checkpoint).where(t.c.connector == connector, t.c.object == obj)
        ).first()
    return (row.cursor, row.checkpoint) if row else (None, None)


_KEEP = object()


def set_sync_state(
    bind: Engine | Connection, connector: str, obj: str, cursor=_KEEP, checkpoint=_KEEP
) -> None:
    """Store the cursor and/or checkpoint of one connector object (an argument left out is kept)."""
    t = SyncState.__table__
    values = {"updated_at": clock.now()}
    if cursor is not _KEEP:
        values["cursor"] = cursor
    if checkpoint is not _KEEP:
        values["checkpoint"] = checkpoint
    with transaction(bind) as conn:
        dialect_insert = sqlite.insert if conn.dialect.name == "sqlite" else postgresql.insert
        stmt = dialect_insert(t).values(connector=connector, object=obj, **values)
        conn.execute(stmt.on_conflict_do_update(index_elements=["connector", "object"], set_=values))


def read_sync_state(bind: Engine | Connection) -> pd.DataFrame:
    """Every stored cursor: connector, object, cursor, checkpoint, updated_at."""
    t = SyncState.__table__
    with transaction(bind) as conn:
        rows = conn.execute(select(t).order_by(t.c.connector, t.c.object)).mappings().all()
    return pd.DataFrame([dict(r) for r in rows], columns=[c.name for c in t.columns])
