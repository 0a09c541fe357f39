"""The only SQL of the product: ``read_*`` functions that return canonical frames,
and ``upsert_*`` functions that insert-or-update on ``(source, external_id)``.

Every function takes a SQLAlchemy ``Engine`` (runs in its own transaction) or a
``Connection`` (runs inside the caller's transaction, so a connector can write
rows and advance its cursor atomically).

Writes convert whole columns to the storage form at once (epoch microseconds on
SQLite, aware datetimes on PostgreSQL) and send batches through the DBAPI's
``executemany``; reads fetch raw values and convert whole columns back, so a
million rows move in seconds, not minutes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, Engine, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError

from analytics.schema import BOOL, COLUMNS, FLOAT, INT, STR, UTC_TS, SchemaError, coerce_frame, input_columns
from data.models import (
    CANONICAL_MODELS,
    AgreementVersion,
    AuditEntry,
    RejectedRow,
    SyncRun,
    SyncState,
    WeeklySnapshot,
)

BATCH_ROWS = 20_000
READ_BATCH_ROWS = 100_000
KEY = ("source", "external_id")


@dataclass(frozen=True)
class UpsertResult:
    """What an upsert did: rows written, of which new and of which already there."""

    rows: int
    inserted: int
    updated: int
    duplicates_in_input: int = 0

    def __add__(self, other: UpsertResult) -> UpsertResult:
        return UpsertResult(
            self.rows + other.rows,
            self.inserted + other.inserted,
            self.updated + other.updated,
            self.duplicates_in_input + other.duplicates_in_input,
        )


class StorageError(RuntimeError):
    """The database refused a read or write (read-only, full, locked too long); nothing was half-written."""


# What the database says -> what the user is told. Matched on the driver's message.
_STORAGE_FAULTS = (
    ("readonly", "the database is read-only (check the file's permissions or the user's grants)"),
    ("read-only", "the database is read-only (check the file's permissions or the user's grants)"),
    ("disk is full", "the disk holding the database is full; free space and run it again"),
    ("no space left", "the disk holding the database is full; free space and run it again"),
    ("database is locked", "the database stayed locked by another writer for too long; run it again"),
)


@contextmanager
def transaction(bind: Engine | Connection) -> Iterator[Connection]:
    """A connection in a transaction: the caller's, or a new one committed on success and rolled back on error.

    Storage faults (read-only, full disk, lock timeout) become :class:`StorageError`.
    """
    if isinstance(bind, Connection):
        yield bind
        return
    try:
        with bind.begin() as conn:
            yield conn
    except OperationalError as exc:
        text_ = str(exc.orig).lower()
        for needle, message in _STORAGE_FAULTS:
            if needle in text_:
                raise StorageError(f"Nothing was saved: {message}.") from exc
        raise


# ----------------------------------------------------------------------------- writes


def upsert_owners(bind: Engine | Connection, frame: pd.DataFrame) -> UpsertResult:
    """Insert or update owners on (source, external_id); see :func:`upsert`."""
    return upsert(bind, "owners", frame)


def upsert_leads(bind: Engine | Connection, frame: pd.DataFrame) -> UpsertResult:
    """Insert or update leads on (source, external_id); see :func:`upsert`."""
    return upsert(bind, "leads", frame)


def upsert_deals(bind: Engine | Connection, frame: pd.DataFrame) -> UpsertResult:
    """Insert or update deals on (source, external_id); see :func:`upsert`."""
    return upsert(bind, "deals", frame)


def upsert_activities(bind: Engine | Connection, frame: pd.DataFrame) -> UpsertResult:
    """Insert or update activities on (source, external_id); see :func:`upsert`."""
    return upsert(bind, "activities", frame)


def upsert(
    bind: Engine | Connection, table: str, frame: pd.DataFrame, batch_rows: int = BATCH_ROWS
) -> UpsertResult:
    """Write ``frame`` into canonical ``table``, inserting new keys and updating existing ones.

    Only the input columns present in ``frame`` are written, so a partial frame
    (say, a CSV that maps no campaign) leaves the other stored columns as they
    were. Within ``frame`` the last row of a repeated key wins; how many rows
    were dropped that way is reported. Running the same frame twice leaves the
    same rows (the second run counts them all as updated).
    """
    if table not in CANONICAL_MODELS:
        raise SchemaError(f"unknown table {table!r}; canonical tables: {', '.join(CANONICAL_MODELS)}")
    missing_key = [c for c in KEY if c not in frame.columns]
    if missing_key:
        raise SchemaError(f"{table}: the frame has no {', '.join(missing_key)} column")
    columns = [c for c in input_columns(table) if c in frame.columns]
    df = coerce_frame(frame[columns], table, partial=True)
    blank = df["source"].isna() | df["external_id"].isna() | (df["external_id"].astype("str").str.len() == 0)
    if blank.any():
        first = int(np.flatnonzero(blank.to_numpy())[0])
        raise SchemaError(
            f"{table}: row {first} has no source or external_id; quarantine such rows before upserting"
        )
    before_dedup = len(df)
    df = df.drop_duplicates(list(KEY), keep="last")
    duplicates = before_dedup - len(df)
    if df.empty:
        return UpsertResult(0, 0, 0, duplicates)

    model = CANONICAL_MODELS[table]
    sources = sorted(df["source"].unique().tolist())
    result = UpsertResult(0, 0, 0, duplicates)
    with transaction(bind) as conn:
        sql, order = _upsert_sql(conn, model.__table__, columns)
        t = model.__table__
        for start in range(0, len(df), batch_rows):
            batch = df.iloc[start : start + batch_rows]
            # New rows get ids above the current maximum: counting those is cheap, counting the table is not.
            top = conn.execute(select(func.coalesce(func.max(t.c.id), 0))).scalar_one()
            conn.exec_driver_sql(sql, _rows(batch, order, conn.dialect.name))
            inserted = conn.execute(
                select(func.count()).select_from(t).where(t.c.id > top, t.c.source.in_(sources))
            ).scalar_one()
            result = result + UpsertResult(len(batch), inserted, len(batch) - inserted)
    return result


def _upsert_sql(conn: Connection, table, columns: Sequence[str]) -> tuple[str, list[str] | None]:
    dialect_insert = sqlite.insert if conn.dialect.name == "sqlite" else postgresql.insert
    stmt = dialect_insert(table)
    updates = {c: stmt.excluded[c] for c in columns if c not in KEY}
    stmt = (
        stmt.on_conflict_do_update(index_elements=list(KEY), set_=updates)
        if updates
        else stmt.on_conflict_do_nothing(index_elements=list(KEY))
    )
    compiled = stmt.compile(dialect=conn.dialect, column_keys=list(columns))
    order = list(compiled.positiontup) if compiled.positional else None
    return str(compiled), order


def _rows(batch: pd.DataFrame, order: list[str] | None, dialect: str) -> list:
    values = {name: _storage_values(batch[name], dialect) for name in batch.columns}
    if order is not None:
        return list(zip(*(values[name] for name in order), strict=True))
    names = list(values)
    return [dict(zip(names, row, strict=True)) for row in zip(*(values[n] for n in names), strict=True)]


def _storage_values(series: pd.Series, dialect: str) -> list:
    """One column as Python values the DBAPI takes directly, with None for missing."""
    missing = series.isna().to_numpy()
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        if dialect == "sqlite":
            raw = series.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[us]").view("int64")
            out = raw.astype(object)
        else:
            out = np.asarray(series.dt.to_pydatetime(), dtype=object)
    elif str(series.dtype) in (BOOL, INT):
        out = series.to_numpy(dtype=object, na_value=None)
    else:
        out = series.to_numpy(dtype=object)
    if missing.any():
        out = np.where(missing, None, out)
    return out.tolist()


def delete_source(bind: Engine | Connection, source: str) -> dict[str, int]:
    """Delete every canonical row of ``source``; returns rows deleted per table."""
    deleted = {}
    with transaction(bind) as conn:
        for name, model in CANONICAL_MODELS.items():
            deleted[name] = conn.execute(
                model.__table__.delete().where(model.__table__.c.source == source)
            ).rowcount
    return deleted


# ----------------------------------------------------------------------------- reads

# How each canonical column is selected. The alias "t" is the table itself.
_OWNER_JOIN = "LEFT JOIN owners o ON o.source = t.source AND o.external_id = t.owner_external_id"
_LEAD_JOIN = "LEFT JOIN leads l ON l.source = t.source AND l.external_id = t.lead_external_id"
_DERIVED_SQL = {
    "leads": {"owner_id": "o.id", "team": "o.team"},
    "deals": {"owner_id": "o.id", "team": "o.team", "lead_id": "l.id"},
    "activities": {"owner_id": "o.id", "lead_id": "l.id"},
    "owners": {},
}
_JOINS = {
    "leads": [_OWNER_JOIN],
    "deals": [_OWNER_JOIN, _LEAD_JOIN],
    "activities": [_OWNER_JOIN, _LEAD_JOIN],
    "owners": [],
}
_PERIOD_COLUMNS = {
    "leads": {"mql_at", "created_at"},
    "deals": {"created_at", "closed_at"},
    "activities": {"occurred_at"},
    "owners": set(),
}


def read_owners(bind: Engine | Connection, source: str | None = None) -> pd.DataFrame:
    """All owners (active and not), canonical columns."""
    return _read(bind, "owners", source=source)


def read_leads(
    bind: Engine | Connection,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    by: str = "mql_at",
    source: str | None = None,
    with_deal_leads: bool = False,
) -> pd.DataFrame:
    """Leads whose ``by`` timestamp lies in [start, end) (either bound optional), with owner id and team.

    ``with_deal_leads`` adds the leads of deals created or closed in [start, end)
    wherever their own timestamp lies, so pipeline from an older MQL is still
    recognised as marketing-sourced.
    """
    return _read(bind, "leads", start, end, (by,), source, with_deal_leads)


def read_deals(
    bind: Engine | Connection,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    by: str | Sequence[str] = ("created_at", "closed_at"),
    source: str | None = None,
) -> pd.DataFrame:
    """Deals created or closed in [start, end) (``by`` picks which), with owner, team and lead id."""
    return _read(bind, "deals", start, end, (by,) if isinstance(by, str) else tuple(by), source)


def read_activities(
    bind: Engine | Connection,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    source: str | None = None,
) -> pd.DataFrame:
    """Activities that occurred in [start, end), with resolved lead and owner ids."""
    return _read(bind, "activities", start, end, ("occurred_at",), source)


def _read(
    bind: Engine | Connection,
    table: str,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    by: tuple[str, ...] = (),
    source: str | None = None,
    with_deal_leads: bool = False,
) -> pd.DataFrame:
    unknown = [b for b in by if b not in _PERIOD_COLUMNS[table]]
    if unknown:
        raise SchemaError(
            f"{table}: cannot filter by {unknown[0]!r}; use one of {sorted(_PERIOD_COLUMNS[table])}"
        )
    derived = _DERIVED_SQL[table]
    names = list(COLUMNS[table])
    select_list = ", ".join(f"{derived.get(name, 't.' + name)} AS {name}" for name in names)
    sql = f"SELECT {select_list} FROM {table} t {' '.join(_JOINS[table])}"
    with transaction(bind) as conn:
        dialect = conn.dialect.name
        mark = (lambda n: f":{n}") if dialect == "sqlite" else (lambda n: f"%({n})s")
        params = {}
        if start is not None:
            params["start"] = _storage_instant(start, dialect)
        if end is not None:
            params["end"] = _storage_instant(end, dialect)
        if source is not None:
            params["source"] = source
        sql += _where(by, {k: mark(k) for k in params}, with_deal_leads)
        # The raw DBAPI cursor hands back plain tuples, which Arrow turns into columns in native code,
        # a batch at a time: several times faster than Row objects and per-column Python conversions.
        struct = _arrow_row_type(table, names, dialect)
        batches = []
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            cursor.execute(sql, params)
            while rows := cursor.fetchmany(READ_BATCH_ROWS):
                batches.append(pa.RecordBatch.from_struct_array(pa.array(rows, type=struct)))
        finally:
            cursor.close()
    return _frame(pa.Table.from_batches(batches, schema=pa.schema(list(struct))), table, names, dialect)


def _where(by: tuple[str, ...], marks: dict[str, str], with_deal_leads: bool = False) -> str:
    """The WHERE clause for a period on any of the ``by`` columns and a source, with the given placeholders."""

    def window(alias: str, columns) -> str:
        per_column = []
        for column in columns:
            bounds = [f"{alias}.{column} >= {marks['start']}"] if "start" in marks else []
            bounds += [f"{alias}.{column} < {marks['end']}"] if "end" in marks else []
            per_column.append("(" + " AND ".join(bounds) + ")")
        return "(" + " OR ".join(per_column) + ")"

    where = []
    if "start" in marks or "end" in marks:
        clause = window("t", by)
        if with_deal_leads:
            clause = (
                f"({clause} OR t.id IN (SELECT dl.id FROM deals d JOIN leads dl ON dl.source = d.source "
                f"AND dl.external_id = d.lead_external_id WHERE {window('d', ('created_at', 'closed_at'))}))"
            )
        where.append(clause)
    if "source" in marks:
        where.append(f"t.source = {marks['source']}")
    return (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY t.id"


def _storage_instant(value: dt.datetime, dialect: str):
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    if dialect == "sqlite":
        return int(stamp.value // 1000)
    return stamp.to_pydatetime()


def _arrow_row_type(table: str, names: list[str], dialect: str) -> pa.StructType:
    """How one fetched row looks to Arrow: SQLite hands back timestamps as epoch µs and flags as 0/1."""
    spec = COLUMNS[table]
    stored = {
        UTC_TS: pa.int64() if dialect == "sqlite" else pa.timestamp("us", tz="UTC"),
        BOOL: pa.int64() if dialect == "sqlite" else pa.bool_(),
        INT: pa.int64(),
        FLOAT: pa.float64(),
        STR: pa.large_string(),
    }
    return pa.struct([(name, stored[spec[name]]) for name in names])


_PANDAS_TYPES = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}


def _frame(arrow: pa.Table, table: str, names: list[str], dialect: str) -> pd.DataFrame:
    """Arrow columns as a canonical frame (dtypes from analytics.schema)."""
    spec = COLUMNS[table]
    out = {}
    for name in names:
        column, dtype = arrow.column(name), spec[name]
        if dtype == UTC_TS and dialect == "sqlite":
            column = column.cast(pa.timestamp("us", tz="UTC"))
        elif dtype == BOOL and dialect == "sqlite":
            column = pc.not_equal(column, 0)
        series = column.to_pandas(types_mapper=_PANDAS_TYPES.get)
        out[name] = series if str(series.dtype) == dtype else series.astype(dtype)
    return pd.DataFrame(out)


# ----------------------------------------------------------------------------- summaries


def table_counts(bind: Engine | Connection) -> dict[str, int]:
    """Row count of each canonical table."""
    with transaction(bind) as conn:
        return {
            name: conn.execute(select(func.count()).select_from(model.__table__)).scalar_one()
            for name, model in CANONICAL_MODELS.items()
        }


def source_counts(bind: Engine | Connection) -> pd.DataFrame:
    """Rows per (table, source): where the data came from."""
    parts = []
    with transaction(bind) as conn:
        for name, model in CANONICAL_MODELS.items():
            t = model.__table__
            for source, rows in conn.execute(select(t.c.source, func.count()).group_by(t.c.source)):
                parts.append({"table": name, "source": source, "rows": rows})
    return pd.DataFrame(parts, columns=["table", "source", "rows"])


# ----------------------------------------------------------------------------- sync bookkeeping


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


INTERRUPTED = (
    "stopped without recording how it ended (the process was killed or crashed); "
    "noticed when run {run} of the same source started"
)


def start_run(bind: Engine | Connection, connector: str, kind: str) -> int:
    """Record the start of a sync or import run; returns its id.

    Earlier runs of the same ``connector`` still "running" are taken to have
    died (killed, crashed, machine restarted) and become "interrupted", their
    ``error`` saying so; ``finished_at`` stays empty, as when they stopped is
    unknown. Should one in fact still be running, its :func:`finish_run`
    overwrites that.
    """
    t = SyncRun.__table__
    with transaction(bind) as conn:
        run_id = conn.execute(
            insert(SyncRun).values(connector=connector, kind=kind, started_at=_now(), status="running")
        ).inserted_primary_key[0]
        conn.execute(
            t.update()
            .where(t.c.connector == connector, t.c.status == "running", t.c.id < run_id)
            .values(status="interrupted", error=INTERRUPTED.format(run=run_id))
        )
        return run_id


def finish_run(
    bind: Engine | Connection, run_id: int, status: str, counts: dict | None = None, error: str | None = None
) -> None:
    """Record how run ``run_id`` ended: status ("ok", "failed", ...), counts and a user-facing error."""
    with transaction(bind) as conn:
        conn.execute(
            SyncRun.__table__.update()
            .where(SyncRun.__table__.c.id == run_id)
            .values(finished_at=_now(), status=status, counts=counts, error=error)
        )


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
    values = {"updated_at": _now()}
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


# ----------------------------------------------------------------------------- rejected rows


def add_rejected_rows(bind: Engine | Connection, rows: Sequence[dict], run_id: int | None = None) -> int:
    """Keep bad input aside with its reasons; returns how many were new.

    Each row is a dict with ``source``, ``object``, ``reasons`` and optionally
    ``external_id``, ``row_number``, ``column_name``, ``raw`` (any JSON-able
    value). The same bad record seen again (same source, object, id, row and
    raw payload) is recorded once, with its ``seen_at`` refreshed.
    """
    if not rows:
        return 0
    t = RejectedRow.__table__
    now = _now()
    records = {}
    for row in rows:
        raw = row.get("raw")
        raw_text = (
            raw if isinstance(raw, str) or raw is None else json.dumps(raw, default=str, sort_keys=True)
        )
        reasons = row["reasons"] if isinstance(row["reasons"], str) else "; ".join(row["reasons"])
        fingerprint = hashlib.sha256(
            json.dumps(
                [row["source"], row["object"], row.get("external_id"), row.get("row_number"), raw_text],
                default=str,
            ).encode()
        ).hexdigest()
        records[fingerprint] = {
            "source": row["source"],
            "object": row["object"],
            # The column holds 255 characters; an over-long id is itself often why the row was rejected.
            "external_id": None if row.get("external_id") is None else str(row["external_id"])[:255],
            "row_number": row.get("row_number"),
            "column_name": row.get("column_name"),
            "raw": raw_text,
            "reasons": reasons,
            "run_id": run_id,
            "fingerprint": fingerprint,
            "seen_at": now,
        }
    with transaction(bind) as conn:
        existing = set()
        keys = list(records)
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            existing.update(conn.execute(select(t.c.fingerprint).where(t.c.fingerprint.in_(chunk))).scalars())
        dialect_insert = sqlite.insert if conn.dialect.name == "sqlite" else postgresql.insert
        stmt = dialect_insert(t)
        stmt = stmt.on_conflict_do_update(
            index_elements=["fingerprint"],
            set_={
                "seen_at": stmt.excluded.seen_at,
                "reasons": stmt.excluded.reasons,
                "run_id": stmt.excluded.run_id,
            },
        )
        conn.execute(stmt, list(records.values()))
    return len(records) - len(existing)


def read_rejected_rows(
    bind: Engine | Connection, source: str | None = None, obj: str | None = None, limit: int | None = None
) -> pd.DataFrame:
    """Kept-aside rows, newest first: source, object, external_id, row_number, column_name, reasons, raw, seen_at."""
    t = RejectedRow.__table__
    query = select(t).order_by(t.c.seen_at.desc(), t.c.id.desc())
    if source is not None:
        query = query.where(t.c.source == source)
    if obj is not None:
        query = query.where(t.c.object == obj)
    if limit is not None:
        query = query.limit(limit)
    with transaction(bind) as conn:
        rows = conn.execute(query).mappings().all()
    columns = [
        "id",
        "source",
        "object",
        "external_id",
        "row_number",
        "column_name",
        "reasons",
        "raw",
        "run_id",
        "seen_at",
    ]
    frame = pd.DataFrame([{c: r[c] for c in columns} for r in rows], columns=columns)
    frame["seen_at"] = pd.to_datetime(frame["seen_at"], utc=True)
    return frame


# ----------------------------------------------------------------------------- agreement versions


def add_agreement_version(
    bind: Engine | Connection,
    agreement: str,
    document: dict,
    effective_from: dt.datetime,
    author: str | None,
    reason: str | None,
) -> int:
    """Save a new version of ``agreement`` (never an update); returns its version number."""
    t = AgreementVersion.__table__
    with transaction(bind) as conn:
        latest = conn.execute(select(func.max(t.c.version)).where(t.c.agreement == agreement)).scalar_one()
        version = (latest or 0) + 1
        conn.execute(
            insert(t).values(
                agreement=agreement,
                version=version,
                effective_from=effective_from,
                document=document,
                author=author,
                reason=reason,
                created_at=_now(),
            )
        )
    return version


def read_agreement_versions(bind: Engine | Connection, agreement: str | None = None) -> pd.DataFrame:
    """Saved versions, oldest first: agreement, version, effective_from, document (dict), author, reason, created_at."""
    t = AgreementVersion.__table__
    query = select(t).order_by(t.c.agreement, t.c.version)
    if agreement is not None:
        query = query.where(t.c.agreement == agreement)
    with transaction(bind) as conn:
        rows = conn.execute(query).mappings().all()
    columns = ["agreement", "version", "effective_from", "document", "author", "reason", "created_at"]
    frame = pd.DataFrame([{c: r[c] for c in columns} for r in rows], columns=columns)
    for column in ("effective_from", "created_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


# ----------------------------------------------------------------------------- weekly snapshots


class SnapshotFrozenError(RuntimeError):
    """A final weekly snapshot exists and is never replaced."""


def save_snapshot(
    bind: Engine | Connection, agreement: str, week: str, figures: list[dict], final: bool
) -> bool:
    """Freeze the figures of ISO ``week`` ("2026-W48"); returns True if written.

    A provisional snapshot is replaced by a later one; a final snapshot is
    written once and then kept as it was (saving it again returns False).
    """
    t = WeeklySnapshot.__table__
    payload = json.loads(json.dumps(figures, default=str))
    with transaction(bind) as conn:
        existing = conn.execute(
            select(t.c.id, t.c.final).where(t.c.agreement == agreement, t.c.week == week)
        ).first()
        if existing is not None and existing.final:
            return False
        values = {"final": final, "frozen_at": _now(), "figures": payload}
        if existing is None:
            conn.execute(insert(t).values(agreement=agreement, week=week, **values))
        else:
            conn.execute(t.update().where(t.c.id == existing.id).values(**values))
    return True


def read_snapshots(
    bind: Engine | Connection, agreement: str, weeks: Sequence[str] | None = None
) -> pd.DataFrame:
    """Frozen weeks of ``agreement``, oldest first: week, final, frozen_at, figures (list of dicts)."""
    t = WeeklySnapshot.__table__
    query = select(t.c.week, t.c.final, t.c.frozen_at, t.c.figures).where(t.c.agreement == agreement)
    if weeks is not None:
        query = query.where(t.c.week.in_(list(weeks)))
    with transaction(bind) as conn:
        rows = conn.execute(query.order_by(t.c.week)).mappings().all()
    frame = pd.DataFrame([dict(r) for r in rows], columns=["week", "final", "frozen_at", "figures"])
    frame["frozen_at"] = pd.to_datetime(frame["frozen_at"], utc=True)
    return frame


# ----------------------------------------------------------------------------- audit trail


def add_audit(
    bind: Engine | Connection, actor: str, action: str, target: str | None = None, detail: dict | None = None
) -> None:
    """Record that ``actor`` did ``action`` (e.g. "agreement.save", "sync.hubspot", "import.leads") on ``target``."""
    with transaction(bind) as conn:
        conn.execute(
            insert(AuditEntry).values(
                at=_now(),
                actor=actor,
                action=action,
                target=target,
                detail=None if detail is None else json.loads(json.dumps(detail, default=str)),
            )
        )


def read_audit(bind: Engine | Connection, limit: int | None = 500) -> pd.DataFrame:
    """The audit trail, newest first: at, actor, action, target, detail."""
    t = AuditEntry.__table__
    query = select(t.c.at, t.c.actor, t.c.action, t.c.target, t.c.detail).order_by(t.c.id.desc())
    if limit is not None:
        query = query.limit(limit)
    with transaction(bind) as conn:
        rows = conn.execute(query).mappings().all()
    frame = pd.DataFrame([dict(r) for r in rows], columns=["at", "actor", "action", "target", "detail"])
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    return frame


def distinct_values(bind: Engine | Connection, table: str, column: str) -> list:
    """The distinct non-missing values of a canonical column, sorted (for filter pickers)."""
    if table not in CANONICAL_MODELS or column not in CANONICAL_MODELS[table].__table__.c:
        raise SchemaError(f"no column {table}.{column}")
    c = CANONICAL_MODELS[table].__table__.c[column]
    with transaction(bind) as conn:
        return sorted(conn.execute(select(c).where(c.is_not(None)).distinct()).scalars())
