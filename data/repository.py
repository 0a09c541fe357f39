"""The only SQL of the product: ``read_*`` functions that return canonical frames,
and ``upsert_*`` functions that insert-or-update on ``(source, external_id)``.

Every function takes a SQLAlchemy ``Engine`` (runs in its own transaction) or a
``Connection`` (runs inside the caller's transaction, so a connector can write
rows and advance its cursor atomically).

Writes convert whole columns to the storage form at once (epoch microseconds
for timestamps), stage each batch in an index-less temporary table (SQLite:
``executemany``; PostgreSQL: ``COPY``) and merge it with one ``INSERT ...
SELECT ... ON CONFLICT``. Reads select only the table's own columns, resolve
owners in pandas from the small owners table, and turn rows into columns in
native code (SQLite: Arrow from the driver's tuples; PostgreSQL: ``COPY ... TO
STDOUT`` parsed by Arrow's CSV reader), so a million rows move in seconds.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import itertools
import json
import os
import socket
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from sqlalchemy import Connection, Engine, and_, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

import clock
import settings
from analytics.schema import (
    BOOL,
    COLUMNS,
    DERIVED_ON_READ,
    FLOAT,
    INT,
    STR,
    UTC_TS,
    SchemaError,
    coerce_frame,
    input_columns,
)
from data import handovers as handover_rows
from data.models import (
    CANONICAL_MODELS,
    AgreementVersion,
    AuditEntry,
    Handover,
    RejectedRow,
    SyncRun,
    SyncState,
    WeeklySnapshot,
)
from data.people import people, person_ids
from errors import AccordError

BATCH_ROWS = 50_000
BIG_WRITE_CACHE_KB = 64 * 1024  # SQLite page cache of a connection while it writes a big frame
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


class StorageError(AccordError, RuntimeError):
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


@contextmanager
def _driver_errors(conn: Connection, statement: str = "") -> Iterator[None]:
    """Work on the raw DBAPI cursor, its errors raised as SQLAlchemy's (so :func:`transaction` maps faults)."""
    try:
        yield
    except conn.dialect.dbapi.Error as exc:
        raise DBAPIError.instance(statement, None, exc, conn.dialect.dbapi.Error) from exc


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

    Rows go ``batch_rows`` at a time into an index-less temporary table (SQLite:
    ``executemany``; PostgreSQL: ``COPY``), then into ``table`` with one
    ``INSERT ... SELECT ... ON CONFLICT`` per batch, all in one transaction.
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

    t = CANONICAL_MODELS[table].__table__
    sources = sorted(df["source"].unique().tolist())
    with transaction(bind) as conn:
        # New rows get ids above the current maximum: counting those is cheap, counting the table is not.
        top = conn.execute(select(func.coalesce(func.max(t.c.id), 0))).scalar_one()
        if conn.dialect.name == "sqlite":
            _upsert_sqlite(conn, table, df, batch_rows)
        else:
            _upsert_postgresql(conn, table, df, batch_rows)
        inserted = conn.execute(
            select(func.count()).select_from(t).where(t.c.id > top, t.c.source.in_(sources))
        ).scalar_one()
    return UpsertResult(len(df), inserted, len(df) - inserted, duplicates)


_STAGE_NUMBERS = itertools.count(1)


def _conflict_clause(columns: Sequence[str]) -> str:
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in KEY)
    target = f"ON CONFLICT ({', '.join(KEY)})"
    return f"{target} DO UPDATE SET {updates}" if updates else f"{target} DO NOTHING"


def _upsert_sqlite(conn: Connection, table: str, df: pd.DataFrame, batch_rows: int) -> None:
    """Stage ``df`` in a TEMP table (no index to maintain, no conflict to check) and merge it in SQL.

    A column holding one value on every row (typically ``source``) is bound once
    as a parameter of the merge instead of once per row.
    """
    columns = list(df.columns)
    constant = {c: _constant_value(df[c]) for c in columns if c not in KEY or c == "source"}
    constant = {c: v for c, v in constant.items() if v is not _VARYING}
    staged = [c for c in columns if c not in constant]
    stage = f"accord_stage_{next(_STAGE_NUMBERS)}"
    # ? placeholders in select-list order: the constants, bound once.
    select_list = ", ".join("?" if c in constant else c for c in columns)
    merge = (
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT {select_list} FROM temp.{stage} "
        f"WHERE true ORDER BY rowid {_conflict_clause(columns)}"
    )  # "WHERE true" tells SQLite's parser that ON CONFLICT belongs to the INSERT, not to a join
    fill = f"INSERT INTO temp.{stage} VALUES ({', '.join('?' * len(staged))})"
    cursor = conn.connection.dbapi_connection.cursor()
    cache_pages = None
    try:
        with _driver_errors(conn, merge):
            cache_pages = cursor.execute("PRAGMA cache_size").fetchone()[0]
            # A big merge touches index pages all over the file; the default 2 MB cache would thrash.
            # The pages are only taken as needed and given back when the size is restored.
            cursor.execute(f"PRAGMA cache_size = -{BIG_WRITE_CACHE_KB}")
            cursor.execute(f"CREATE TEMP TABLE {stage} ({', '.join(staged)})")
            for start in range(0, len(df), batch_rows):
                cursor.executemany(fill, _rows(df.iloc[start : start + batch_rows][staged]))
                cursor.execute(merge, [constant[c] for c in columns if c in constant])
                cursor.execute(f"DELETE FROM temp.{stage}")
    finally:
        with suppress(Exception):  # the rollback that follows a failure reports the failure itself
            cursor.execute(f"DROP TABLE IF EXISTS temp.{stage}")
        if cache_pages is not None:
            with suppress(Exception):
                cursor.execute(f"PRAGMA cache_size = {int(cache_pages)}")
        cursor.close()


_PG_STAGE_TYPES = {UTC_TS: "bigint", INT: "bigint", BOOL: "boolean", FLOAT: "double precision", STR: "text"}


def _upsert_postgresql(conn: Connection, table: str, df: pd.DataFrame, batch_rows: int) -> None:
    """COPY ``df`` into a TEMP table (dropped at commit at the latest) and merge it in SQL.

    Timestamps travel as epoch microseconds, as on SQLite, and become timestamptz in the merge.
    """
    columns = list(df.columns)
    spec = COLUMNS[table]
    stage = f"accord_stage_{next(_STAGE_NUMBERS)}"
    definition = ", ".join(f"{c} {_PG_STAGE_TYPES[spec[c]]}" for c in columns)
    select_list = ", ".join(
        f"timestamptz 'epoch' + {c} * interval '1 microsecond'" if spec[c] == UTC_TS else c for c in columns
    )
    merge = (
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT {select_list} FROM {stage} "
        f"ORDER BY _row {_conflict_clause(columns)}"
    )
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        with _driver_errors(conn, merge):
            cursor.execute(f"CREATE TEMP TABLE {stage} (_row bigint, {definition}) ON COMMIT DROP")
            for start in range(0, len(df), batch_rows):
                batch = df.iloc[start : start + batch_rows]
                with cursor.copy(f"COPY {stage} (_row, {', '.join(columns)}) FROM STDIN") as copy:
                    for number, row in enumerate(_rows(batch), start):
                        copy.write_row((number, *row))
                cursor.execute(merge)
                cursor.execute(f"TRUNCATE {stage}")
            cursor.execute(f"DROP TABLE {stage}")
    finally:
        cursor.close()


_VARYING = object()


def _constant_value(series: pd.Series):
    """The one storage value every row of ``series`` holds, or ``_VARYING``."""
    if series.isna().any():
        return None if series.isna().all() else _VARYING
    first = series.iloc[0]
    if not (series == first).all():
        return _VARYING
    return _storage_values(series.iloc[:1])[0]


def _rows(batch: pd.DataFrame) -> list[tuple]:
    """The rows of ``batch`` as tuples of storage values, in column order."""
    return list(zip(*(_storage_values(batch[name]) for name in batch.columns), strict=True))


def _storage_values(series: pd.Series) -> list:
    """One column as Python values both DBAPIs take directly, with None for missing.

    Timestamps become epoch microseconds (how SQLite stores them; PostgreSQL's merge converts them).
    """
    missing = series.isna().to_numpy()
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        out = series.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[us]").view("int64")
        out = out.astype(object)
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
        h = Handover.__table__
        deleted["handovers"] = conn.execute(h.delete().where(h.c.source == source)).rowcount
    return deleted


# ----------------------------------------------------------------------------- reads

# What a window may hold of a table's span before SQLite reads it with a plain scan (see _plain_scan).
_SCAN_SHARE = 0.2
_PERIOD_COLUMNS = {
    "leads": {"mql_at", "created_at"},
    "deals": {"created_at", "closed_at"},
    "activities": {"occurred_at"},
    "owners": set(),
}


def read_owners(
    bind: Engine | Connection, source: str | None = None, columns: Sequence[str] | None = None
) -> pd.DataFrame:
    """All owners (active and not), canonical columns (only ``columns``, in canonical order, if given).

    Across sources an owner is a person (:mod:`data.people`): records of one person (same e-mail, or the
    same name where only one person has it) come back as one row. ``source`` reads that source's own
    records, one per record.
    """
    if source is not None:
        return _read(bind, "owners", source=source, columns=columns)
    whole = people(_read(bind, "owners"))
    names = _wanted_columns("owners", columns)
    return whole[names] if list(whole.columns) != names else whole


def read_leads(
    bind: Engine | Connection,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    by: str = "mql_at",
    source: str | None = None,
    with_deal_leads: bool = False,
    columns: Sequence[str] | None = None,
    per_handover: bool = True,
) -> pd.DataFrame:
    """Leads whose ``by`` timestamp lies in [start, end) (either bound optional), with owner id and team.

    ``with_deal_leads`` adds the leads of deals created or closed in [start, end)
    wherever their own timestamp lies, so pipeline from an older MQL is still
    recognised as marketing-sourced. ``columns`` (canonical names) reads only
    those, returned in canonical order: a page that needs ten of the 22
    columns reads them about twice as fast.

    A lead with two or more stored handovers (recycled and re-qualified) comes
    as one row per handover, each with its own ``mql_at``, first touch, touches
    and disposition, keyed as :mod:`data.handovers` says (repeat handovers have
    negative ids); with ``by="mql_at"`` each handover is in the window of its own
    ``mql_at``. Leads with deals in the window bring their handovers those deals
    followed. ``per_handover=False`` reads the stored lead rows as they are.
    """
    with transaction(bind) as conn:
        repeats = _repeat_handovers(conn, source) if per_handover else pd.DataFrame()
        if repeats.empty:
            return _read(conn, "leads", start, end, (by,), source, with_deal_leads, columns)
        names = _wanted_columns("leads", columns)
        wanted = [c for c in COLUMNS["leads"] if c in set(names) | set(handover_rows.NEEDED)]
        ids = sorted(set(repeats["lead_id"].tolist()))
        plain = _read(conn, "leads", start, end, (by,), source, with_deal_leads, wanted)
        plain = plain[~plain["id"].isin(ids)]
        recycled = _read(conn, "leads", source=source, columns=wanted, ids=ids)
        expanded = handover_rows.expand(recycled, repeats, _repeat_activities(conn, repeats))
        keep = pd.Series(True, index=expanded.index)
        when = expanded[by]
        if start is not None:
            keep &= when >= _utc(start)
        if end is not None:
            keep &= when < _utc(end)
        if with_deal_leads and (start is not None or end is not None):
            keep |= expanded["id"].isin(_deal_rows(conn, start, end, repeats))
    out = pd.concat([plain, expanded[keep.to_numpy(bool, na_value=False)]], ignore_index=True)
    out = out.sort_values("id", kind="stable").reset_index(drop=True)
    return out[names]


def read_deals(
    bind: Engine | Connection,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    by: str | Sequence[str] = ("created_at", "closed_at"),
    source: str | None = None,
    columns: Sequence[str] | None = None,
    per_handover: bool = True,
) -> pd.DataFrame:
    """Deals created or closed in [start, end) (``by`` picks which), with owner, team and lead id.

    ``columns`` reads only those canonical columns, as in :func:`read_leads`. The
    ``lead_id`` of a deal of a lead handed over several times is the handover whose
    window holds the deal's ``created_at`` (see :mod:`data.handovers`); with
    ``per_handover=False`` it is the lead's own id.
    """
    by = (by,) if isinstance(by, str) else tuple(by)
    if not per_handover:
        return _read(bind, "deals", start, end, by, source, False, columns)
    return _read_linked(bind, "deals", start, end, by, source, columns, "created_at")


def read_activities(
    bind: Engine | Connection,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    source: str | None = None,
    columns: Sequence[str] | None = None,
    per_handover: bool = True,
) -> pd.DataFrame:
    """Activities that occurred in [start, end), with resolved lead and owner ids.

    ``columns`` reads only those canonical columns, as in :func:`read_leads`. The
    ``lead_id`` of an activity of a lead handed over several times is the handover
    whose window holds it (see :mod:`data.handovers`); with ``per_handover=False``
    it is the lead's own id.
    """
    if not per_handover:
        return _read(bind, "activities", start, end, ("occurred_at",), source, False, columns)
    return _read_linked(bind, "activities", start, end, ("occurred_at",), source, columns, "occurred_at")


def _read_linked(bind, table, start, end, by, source, columns, when: str) -> pd.DataFrame:
    """:func:`_read` of deals or activities, each ``lead_id`` keyed to the handover whose window holds ``when``."""
    names = _wanted_columns(table, columns)
    if "lead_id" not in names:
        return _read(bind, table, start, end, by, source, False, columns)
    with transaction(bind) as conn:
        frame = _read(conn, table, start, end, by, source, False, [*names, when])
        frame = _rekey(conn, frame, source, when)
    return frame[names] if list(frame.columns) != names else frame


# ----------------------------------------------------------------------------- handovers

_HANDOVER_COLUMNS = ("mql_at", "recycled", "sql_at", "first_touch_at", "touches", "disposition",
                     "disposition_at", "rejection_reason")  # fmt: skip
_HANDOVER_TYPES = {"recycled": BOOL, "touches": INT, "disposition": STR, "rejection_reason": STR}


def replace_handovers(
    bind: Engine | Connection, frame: pd.DataFrame, leads: pd.DataFrame | None = None
) -> int:
    """Store the complete handover history of each lead in ``frame``; returns handovers written.

    ``frame``: ``source``, ``lead_external_id``, ``mql_at`` and optionally
    ``external_id`` and the per-handover facts (``recycled``, ``sql_at``,
    ``first_touch_at``, ``touches``, ``disposition``, ``disposition_at``,
    ``rejection_reason``). Every lead in ``frame`` (and in ``leads``, a frame of
    ``source``, ``lead_external_id``: leads whose history is now empty) loses the
    handovers stored before; the same ``mql_at`` twice for a lead is one handover
    (the last row wins). ``seq`` numbers a lead's handovers 1, 2, ... by ``mql_at``.
    Running it again with the same frame leaves the same rows.
    """
    t = Handover.__table__
    missing = [c for c in ("source", "lead_external_id", "mql_at") if c not in frame.columns]
    if missing:
        raise SchemaError(f"handovers: the frame has no {', '.join(missing)} column")
    df = frame.copy()
    df["mql_at"] = pd.to_datetime(df["mql_at"], utc=True)
    if df["mql_at"].isna().any() or df["lead_external_id"].isna().any():
        first = int(np.flatnonzero((df["mql_at"].isna() | df["lead_external_id"].isna()).to_numpy())[0])
        raise SchemaError(f"handovers: row {first} has no lead_external_id or mql_at")
    df = df.drop_duplicates(["source", "lead_external_id", "mql_at"], keep="last")
    df = df.sort_values(["source", "lead_external_id", "mql_at"], kind="stable")
    df["seq"] = df.groupby(["source", "lead_external_id"], sort=False).cumcount() + 1
    keys = df[["source", "lead_external_id"]]
    if leads is not None:
        keys = pd.concat([keys, leads[["source", "lead_external_id"]]])
    keys = keys.drop_duplicates()
    now = _now()
    records = []
    for row in df.to_dict("records"):
        record = {"source": row["source"], "lead_external_id": str(row["lead_external_id"]), "seq": row["seq"],
                  "external_id": _plain(row.get("external_id")), "updated_at": now}  # fmt: skip
        for name in _HANDOVER_COLUMNS:
            record[name] = _plain(row.get(name))
        records.append(record)
    with transaction(bind) as conn:
        for source, group in keys.groupby("source"):
            ids = group["lead_external_id"].astype(str).tolist()
            for begin in range(0, len(ids), 500):
                chunk = ids[begin : begin + 500]
                conn.execute(t.delete().where(t.c.source == source, t.c.lead_external_id.in_(chunk)))
        if records:
            conn.execute(insert(t), records)
    return len(records)


def merge_leads(bind: Engine | Connection, source: str, merged: dict[str, Sequence[str]]) -> int:
    """Fold leads into the lead they were merged into (a CRM merge); returns lead rows removed.

    ``merged``: survivor external id -> external ids merged into it. The merged
    leads' activities and deals move to the survivor; their handovers move too when
    the survivor has none of its own (otherwise the survivor's history, which the
    CRM keeps for the merged record, stands alone: no handover is counted twice);
    then the merged lead rows go. Ids not stored are skipped; running it again
    does nothing more.
    """
    leads, h = CANONICAL_MODELS["leads"].__table__, Handover.__table__
    removed = 0
    with transaction(bind) as conn:
        for survivor, gone in merged.items():
            gone = [str(g) for g in gone if str(g) != str(survivor)]
            if not gone:
                continue
            for name in ("activities", "deals"):
                t = CANONICAL_MODELS[name].__table__
                conn.execute(
                    t.update()
                    .where(t.c.source == source, t.c.lead_external_id.in_(gone))
                    .values(lead_external_id=str(survivor))
                )
            own = conn.execute(
                select(func.count())
                .select_from(h)
                .where(h.c.source == source, h.c.lead_external_id == survivor)
            ).scalar_one()
            moving = (
                conn.execute(
                    select(h.c.id)
                    .where(h.c.source == source, h.c.lead_external_id.in_(gone))
                    .order_by(h.c.mql_at)
                )
                .scalars()
                .all()
            )
            if own or not moving:
                conn.execute(h.delete().where(h.c.source == source, h.c.lead_external_id.in_(gone)))
            else:
                for seq, hid in enumerate(moving, start=1):  # renumbered by mql_at under the survivor
                    conn.execute(
                        h.update().where(h.c.id == hid).values(lead_external_id=str(survivor), seq=-seq)
                    )
                conn.execute(
                    h.update()
                    .where(h.c.source == source, h.c.lead_external_id == str(survivor))
                    .values(seq=-h.c.seq)
                )
            removed += conn.execute(
                leads.delete().where(leads.c.source == source, leads.c.external_id.in_(gone))
            ).rowcount
    return removed


def _plain(value):
    """A frame value as what the DBAPI takes: None for missing, Python datetimes and ints."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, np.generic):
        return value.item()
    return value


def count_handovers(bind: Engine | Connection, source: str | None = None) -> int:
    """How many handovers are stored (of ``source``)."""
    t = Handover.__table__
    query = select(func.count()).select_from(t)
    if source is not None:
        query = query.where(t.c.source == source)
    with transaction(bind) as conn:
        return conn.execute(query).scalar_one()


def read_handovers(bind: Engine | Connection, source: str | None = None) -> pd.DataFrame:
    """Every stored handover, by source, lead and ``seq``: id, source, lead_external_id, seq, external_id, facts."""
    t = Handover.__table__
    query = select(t).order_by(t.c.source, t.c.lead_external_id, t.c.seq)
    if source is not None:
        query = query.where(t.c.source == source)
    with transaction(bind) as conn:
        rows = conn.execute(query).mappings().all()
    frame = pd.DataFrame([dict(r) for r in rows], columns=[c.name for c in t.columns])
    return _typed_handovers(frame)


def _typed_handovers(frame: pd.DataFrame) -> pd.DataFrame:
    for name in frame.columns:
        if name.endswith("_at"):
            frame[name] = pd.to_datetime(frame[name], utc=True).astype(UTC_TS)
        elif name in _HANDOVER_TYPES:
            frame[name] = frame[name].astype(_HANDOVER_TYPES[name])
    return frame


def _repeat_handovers(conn: Connection, source: str | None) -> pd.DataFrame:
    """Handovers of the leads that have two or more, with the lead's surrogate ``lead_id`` and ``handover_id``."""
    h, lead = Handover.__table__, CANONICAL_MODELS["leads"].__table__
    multi = select(h.c.source, h.c.lead_external_id).group_by(h.c.source, h.c.lead_external_id)
    multi = multi.having(func.count() > 1)
    if source is not None:
        multi = multi.where(h.c.source == source)
    multi = multi.subquery()
    query = select(
        lead.c.id.label("lead_id"), h.c.id.label("handover_id"), *(h.c[c] for c in _HANDOVER_COLUMNS)
    ).select_from(
        h.join(
            multi, and_(multi.c.source == h.c.source, multi.c.lead_external_id == h.c.lead_external_id)
        ).join(lead, and_(lead.c.source == h.c.source, lead.c.external_id == h.c.lead_external_id))
    )
    rows = conn.execute(query).mappings().all()
    frame = pd.DataFrame([dict(r) for r in rows], columns=["lead_id", "handover_id", *_HANDOVER_COLUMNS])
    frame = _typed_handovers(frame)
    frame[["lead_id", "handover_id"]] = frame[["lead_id", "handover_id"]].astype("int64")
    return frame


def _repeat_activities(conn: Connection, repeats: pd.DataFrame) -> pd.DataFrame:
    """``lead_id`` and ``occurred_at`` of the not-archived activities of the leads in ``repeats``."""
    a, lead = CANONICAL_MODELS["activities"].__table__, CANONICAL_MODELS["leads"].__table__
    ids = sorted(set(repeats["lead_id"].tolist()))
    parts = []
    for begin in range(0, len(ids), 500):
        query = (
            select(lead.c.id.label("lead_id"), a.c.occurred_at)
            .select_from(
                a.join(lead, and_(lead.c.source == a.c.source, lead.c.external_id == a.c.lead_external_id))
            )
            .where(lead.c.id.in_(ids[begin : begin + 500]), a.c.archived.isnot(True))
        )
        parts.extend(dict(r) for r in conn.execute(query).mappings())
    frame = pd.DataFrame(parts, columns=["lead_id", "occurred_at"])
    frame["lead_id"] = frame["lead_id"].astype(INT)
    frame["occurred_at"] = pd.to_datetime(frame["occurred_at"], utc=True).astype(UTC_TS)
    return frame


def _deal_rows(conn: Connection, start, end, repeats: pd.DataFrame) -> np.ndarray:
    """Handover row ids (see :mod:`data.handovers`) of the repeat-handover leads' deals created or closed in the window."""
    d, lead = CANONICAL_MODELS["deals"].__table__, CANONICAL_MODELS["leads"].__table__
    ids = sorted(set(repeats["lead_id"].tolist()))
    inside = []
    for column in (d.c.created_at, d.c.closed_at):
        bounds = [column >= _utc(start).to_pydatetime()] if start is not None else []
        bounds += [column < _utc(end).to_pydatetime()] if end is not None else []
        inside.append(and_(*bounds))
    parts = []
    for begin in range(0, len(ids), 500):
        query = (
            select(lead.c.id.label("lead_id"), d.c.created_at)
            .select_from(
                d.join(lead, and_(lead.c.source == d.c.source, lead.c.external_id == d.c.lead_external_id))
            )
            .where(lead.c.id.in_(ids[begin : begin + 500]), inside[0] | inside[1])
        )
        parts.extend(dict(r) for r in conn.execute(query).mappings())
    frame = pd.DataFrame(parts, columns=["lead_id", "created_at"])
    keys = handover_rows.row_keys(repeats)
    return handover_rows.assign(
        keys, frame["lead_id"].astype(INT), pd.to_datetime(frame["created_at"], utc=True).astype(UTC_TS)
    )


def _rekey(conn: Connection, frame: pd.DataFrame, source: str | None, when: str) -> pd.DataFrame:
    """``frame`` (deals or activities) with ``lead_id`` moved to the handover whose window holds ``when``."""
    if "lead_id" not in frame.columns or frame.empty:
        return frame
    repeats = _repeat_handovers(conn, source)
    if repeats.empty:
        return frame
    moved = handover_rows.assign(handover_rows.row_keys(repeats), frame["lead_id"], frame[when])
    out = frame.copy(deep=False)
    out["lead_id"] = pd.array(moved, dtype=INT)
    out.loc[frame["lead_id"].isna().to_numpy(), "lead_id"] = pd.NA
    return out


def _utc(value) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _read(
    bind: Engine | Connection,
    table: str,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    by: tuple[str, ...] = (),
    source: str | None = None,
    with_deal_leads: bool = False,
    columns: Sequence[str] | None = None,
    ids: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Rows of ``table`` as a canonical frame, ordered by id (only those of ``ids`` when given).

    Only the table's own columns are fetched (plus ``lead_id`` through the leads'
    unique index when asked for); owner id and team come from the small owners
    table, matched in pandas rather than joined row by row in SQL.
    """
    unknown = [b for b in by if b not in _PERIOD_COLUMNS[table]]
    if unknown:
        raise SchemaError(
            f"{table}: cannot filter by {unknown[0]!r}; use one of {sorted(_PERIOD_COLUMNS[table])}"
        )
    names = _wanted_columns(table, columns)
    with_owner = table != "owners" and bool({"owner_id", "team"} & set(names))
    needed = set(names) | {"id"} | ({"source", "owner_external_id"} if with_owner else set())
    fetched = [c for c in COLUMNS[table] if c in needed and (c == "id" or c not in DERIVED_ON_READ[table])]
    select_list = [f"t.{c}" for c in fetched]
    joins = ""
    if "lead_id" in names:
        select_list.append("l.id")
        fetched.append("lead_id")
        joins = " LEFT JOIN leads l ON l.source = t.source AND l.external_id = t.lead_external_id"
    with transaction(bind) as conn:
        dialect = conn.dialect.name
        params = {}
        if start is not None:
            params["start"] = _storage_instant(start, dialect)
        if end is not None:
            params["end"] = _storage_instant(end, dialect)
        if source is not None:
            params["source"] = source
        struct = _arrow_row_type(table, fetched, dialect)
        if dialect == "sqlite":
            windowed = bool(by) and ("start" in params or "end" in params)
            wide = windowed and _plain_scan(conn, table, by, params.get("start"), params.get("end"))
            sql = f"SELECT {', '.join(select_list)} FROM {table} t{' NOT INDEXED' if wide else ''}{joins}"
            sql += _where(by, {k: f":{k}" for k in params}, with_deal_leads, ids)
            arrow = _fetch_arrow(conn, sql, params, struct)
        else:
            spec = COLUMNS[table]
            epoch = [
                _epoch_us(s) if spec[c] == UTC_TS else s for s, c in zip(select_list, fetched, strict=True)
            ]
            sql = f"SELECT {', '.join(epoch)} FROM {table} t{joins}"
            sql += _where(by, {k: _pg_literal(conn, v) for k, v in params.items()}, with_deal_leads, ids)
            arrow = _copy_arrow(conn, sql, struct)
        owners = _fetch_owners(conn, dialect) if with_owner else None
    ids = arrow.column("id")
    if len(ids) > 1 and not pc.all(pc.greater(ids.slice(1), ids.slice(0, len(ids) - 1))).as_py():
        arrow = arrow.take(pc.sort_indices(ids))
    frame = _frame(arrow, table, fetched, dialect)
    if with_owner:
        frame = _resolve_owners(frame, owners)
    return frame[names] if list(frame.columns) != names else frame


def _wanted_columns(table: str, columns: Sequence[str] | None) -> list[str]:
    """``columns`` checked against the canonical ones of ``table``, in canonical order (all if None)."""
    if columns is None:
        return list(COLUMNS[table])
    if isinstance(columns, str):
        columns = [columns]
    unknown = [c for c in columns if c not in COLUMNS[table]]
    if unknown:
        raise SchemaError(f"{table}: no column {unknown[0]!r}; columns: {', '.join(COLUMNS[table])}")
    return [c for c in COLUMNS[table] if c in set(columns)]


def _plain_scan(
    conn: Connection, table: str, by: tuple[str, ...], start: int | None, end: int | None
) -> bool:
    """Whether a window of epoch µs [start, end) on ``by`` spans so much of ``table`` that a plain scan wins.

    SQLite keeps no statistics on value ranges and takes an index for any window;
    for a window holding a good part of the table, visiting rows in index order
    (a B-tree lookup each) is slower than reading the table front to back.
    The share is estimated from the column's span (min and max: two index seeks).
    """
    share = 0.0
    for column in by:
        lo, hi = conn.exec_driver_sql(
            f"SELECT (SELECT min({column}) FROM {table}), (SELECT max({column}) FROM {table})"
        ).one()
        if lo is None or hi <= lo:
            continue
        inside = min(hi, hi if end is None else end) - max(lo, lo if start is None else start)
        share += max(inside, 0) / (hi - lo)
    return share > _SCAN_SHARE


def _fetch_arrow(conn: Connection, sql: str, params: dict, struct: pa.StructType) -> pa.Table:
    """Run ``sql`` on the raw DBAPI cursor and gather the rows as Arrow columns, a batch at a time.

    Plain tuples from the driver become columns in Arrow's native code: several
    times faster than Row objects and per-value Python conversions.
    """
    batches = []
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        with _driver_errors(conn, sql):
            cursor.execute(sql, params)
            while rows := cursor.fetchmany(READ_BATCH_ROWS):
                batches.append(pa.RecordBatch.from_struct_array(pa.array(rows, type=struct)))
    finally:
        cursor.close()
    return pa.Table.from_batches(batches, schema=pa.schema(list(struct)))


def _copy_arrow(conn: Connection, sql: str, struct: pa.StructType) -> pa.Table:
    """Run ``sql`` on PostgreSQL as ``COPY ... TO STDOUT`` (CSV) and parse it with Arrow's CSV reader.

    No Python object per value: the server writes text, Arrow parses it in native
    code. In PostgreSQL's CSV a NULL is an unquoted empty field and an empty
    string a quoted one, so both survive; flags arrive as t/f.
    """
    buffer = io.BytesIO()
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        with _driver_errors(conn, sql), cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)") as copy:
            for data in copy:
                buffer.write(data)
    finally:
        cursor.close()
    buffer.seek(0)
    schema = pa.schema(list(struct))
    if buffer.getbuffer().nbytes == 0:
        return schema.empty_table()
    return pa_csv.read_csv(
        buffer,
        read_options=pa_csv.ReadOptions(column_names=schema.names),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True),
        convert_options=pa_csv.ConvertOptions(
            column_types=schema,
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            true_values=["t"],
            false_values=["f"],
        ),
    )


def _epoch_us(column: str) -> str:
    """A PostgreSQL timestamptz column as exact epoch microseconds (extract() is numeric, not float)."""
    return f"(extract(epoch FROM {column}) * 1000000)::bigint"


def _pg_literal(conn: Connection, value) -> str:
    """``value`` as a safely quoted PostgreSQL literal (COPY takes no bound parameters)."""
    from psycopg import sql as pg_sql  # only where PostgreSQL is in use

    return pg_sql.Literal(value).as_string(conn.connection.dbapi_connection)


def _fetch_owners(conn: Connection, dialect: str) -> pd.DataFrame:
    """Every owner record's source and external id, with the id and team of the person it belongs to."""
    names = ["id", "source", "external_id", "name", "email", "team"]
    struct = _arrow_row_type("owners", names, dialect)
    sql = f"SELECT {', '.join(names)} FROM owners"
    records = _frame(_fetch_arrow(conn, sql, {}, struct), "owners", names, dialect)
    person = person_ids(records)
    teams = people(records, person).set_index("id")["team"]
    return pd.DataFrame(
        {
            "id": pd.array(person.to_numpy(), dtype=INT),
            "source": records["source"],
            "external_id": records["external_id"],
            "team": pd.array(
                teams.reindex(person.to_numpy()).to_numpy(dtype=object, na_value=None), dtype=STR
            ),
        }
    )


def _resolve_owners(frame: pd.DataFrame, owners: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with ``owner_id`` and ``team`` of the owner with the same source and external id (or missing)."""
    keys = pd.MultiIndex.from_arrays([owners["source"], owners["external_id"]])
    where = keys.get_indexer(pd.MultiIndex.from_arrays([frame["source"], frame["owner_external_id"]]))
    # A sentinel past the last owner stands for "no such owner".
    picked = np.where(where >= 0, where, len(owners))
    ids = np.append(owners["id"].to_numpy(dtype="int64", na_value=0), 0)
    teams = np.append(owners["team"].to_numpy(dtype=object, na_value=None), None)
    owner_id = pd.array(ids[picked], dtype=INT)
    owner_id[where < 0] = pd.NA
    out = frame.copy(deep=False)
    out["owner_id"] = owner_id
    out["team"] = pd.array(teams[picked], dtype=STR)
    return out


def _where(
    by: tuple[str, ...],
    marks: dict[str, str],
    with_deal_leads: bool = False,
    ids: Sequence[int] | None = None,
) -> str:
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
    if ids is not None:  # integers only, so they can be written into the statement
        where.append(f"t.id IN ({', '.join(str(int(i)) for i in ids) or 'NULL'})")
    # No ORDER BY: sorting in SQL materialises every row first; the caller sorts the ids if they come unordered.
    return " WHERE " + " AND ".join(where) if where else ""


def _storage_instant(value: dt.datetime, dialect: str):
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    if dialect == "sqlite":
        return int(stamp.value // 1000)
    return stamp.to_pydatetime()


def _arrow_row_type(table: str, names: list[str], dialect: str) -> pa.StructType:
    """How one fetched row looks to Arrow: timestamps as epoch µs (PostgreSQL: selected so); SQLite flags as 0/1."""
    spec = COLUMNS[table]
    stored = {
        UTC_TS: pa.int64(),
        BOOL: pa.int64() if dialect == "sqlite" else pa.bool_(),
        INT: pa.int64(),
        FLOAT: pa.float64(),
        STR: pa.large_string(),
    }
    return pa.struct([(name, stored[spec[name]]) for name in names])


_PANDAS_TYPES = {
    pa.int64(): pd.Int64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
    pa.large_string(): pd.StringDtype("pyarrow", na_value=np.nan),  # the "str" dtype of analytics.schema
}


def _frame(arrow: pa.Table, table: str, names: list[str], dialect: str) -> pd.DataFrame:
    """Arrow columns as a canonical frame (dtypes from analytics.schema), converted in one native pass."""
    spec = COLUMNS[table]
    columns = []
    for name in names:
        column, dtype = arrow.column(name), spec[name]
        if dtype == UTC_TS and column.type == pa.int64():
            column = column.cast(pa.timestamp("us", tz="UTC"))
        elif dtype == BOOL and dialect == "sqlite":
            column = pc.not_equal(column, 0)
        columns.append(column)
    frame = pa.table(columns, names=names).to_pandas(types_mapper=_PANDAS_TYPES.get)
    wrong = {name: spec[name] for name in names if str(frame[name].dtype) != spec[name]}
    return frame.astype(wrong) if wrong else frame


# ----------------------------------------------------------------------------- summaries


def table_counts(bind: Engine | Connection) -> dict[str, int]:
    """Row count of each canonical table."""
    with transaction(bind) as conn:
        return {
            name: conn.execute(select(func.count()).select_from(model.__table__)).scalar_one()
            for name, model in CANONICAL_MODELS.items()
        }


def first_data_instant(bind: Engine | Connection) -> dt.datetime | None:
    """The earliest handover, lead creation or deal creation stored (UTC), or None without data."""
    firsts = []
    with transaction(bind) as conn:
        for table, column in (("leads", "mql_at"), ("leads", "created_at"), ("deals", "created_at")):
            c = CANONICAL_MODELS[table].__table__.c[column]
            value = conn.execute(select(func.min(c))).scalar_one()
            if value is not None:
                firsts.append(value)
    return min(firsts) if firsts else None


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
    """When something is recorded: Accord's clock (clock.now), the one "as of" is compared with."""
    return clock.now()


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
    now = now or _now()
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
    now = _now()
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
        raise RunBusyError(_busy_message(run, _now())) from exc


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
            t.update().where(t.c.id == run_id, t.c.status == "running").values(heartbeat_at=_now(), **values)
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
    """Record how run ``run_id`` ended: status ("ok", "failed", ...), counts and a user-facing error."""
    with transaction(bind) as conn:
        conn.execute(
            SyncRun.__table__.update()
            .where(SyncRun.__table__.c.id == run_id)
            .values(finished_at=_now(), status=status, counts=counts, error=_scrubbed(error))
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


class SnapshotFrozenError(AccordError, RuntimeError):
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
                detail=None if detail is None else _scrubbed(json.loads(json.dumps(detail, default=str))),
            )
        )


def _scrubbed(value):
    """``value`` (text, or JSON made of lists and mappings) with every secret masked (settings.scrub)."""
    if isinstance(value, str):
        return settings.scrub(value)
    if isinstance(value, list):
        return [_scrubbed(v) for v in value]
    if isinstance(value, dict):
        return {k: _scrubbed(v) for k, v in value.items()}
    return value


def read_audit(bind: Engine | Connection, limit: int | None = 500, action: str | None = None) -> pd.DataFrame:
    """The audit trail, newest first: at, actor, action, target, detail (only ``action``'s entries if given)."""
    t = AuditEntry.__table__
    query = select(t.c.at, t.c.actor, t.c.action, t.c.target, t.c.detail).order_by(t.c.id.desc())
    if action is not None:
        query = query.where(t.c.action == action)
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
