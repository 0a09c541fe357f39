"""Writes of the canonical rows (owners, leads, deals, activities, handovers): ``upsert_*`` insert-or-update
on ``(source, external_id)``, so re-running a sync or an import never duplicates.

Writes convert whole columns to the storage form at once (epoch microseconds
for timestamps), stage each batch in an index-less temporary table (SQLite:
``executemany``; PostgreSQL: ``COPY``) and merge it with one ``INSERT ...
SELECT ... ON CONFLICT``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, func, insert, select

import clock
from analytics.schema import BOOL, COLUMNS, FLOAT, INT, STR, UTC_TS, SchemaError, coerce_frame, input_columns
from data import fact_upkeep
from data.models import CANONICAL_MODELS, Handover
from data.queries import HANDOVER_COLUMNS
from data.transactions import driver_errors, transaction

BATCH_ROWS = 50_000
BIG_WRITE_CACHE_KB = 64 * 1024  # SQLite page cache of a connection while it writes a big frame
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
        fact_upkeep.touched(conn, table, df)  # before the write: an activity's lead as stored
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
        with driver_errors(conn, merge):
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
        with driver_errors(conn, merge):
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
        fact_upkeep.forget(conn, source)
        for name, model in CANONICAL_MODELS.items():
            deleted[name] = conn.execute(
                model.__table__.delete().where(model.__table__.c.source == source)
            ).rowcount
        h = Handover.__table__
        deleted["handovers"] = conn.execute(h.delete().where(h.c.source == source)).rowcount
    return deleted


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
    now = clock.now()
    records = []
    for row in df.to_dict("records"):
        record = {"source": row["source"], "lead_external_id": str(row["lead_external_id"]), "seq": row["seq"],
                  "external_id": _plain(row.get("external_id")), "updated_at": now}  # fmt: skip
        for name in HANDOVER_COLUMNS:
            record[name] = _plain(row.get(name))
        records.append(record)
    with transaction(bind) as conn:
        fact_upkeep.touched(conn, "handovers", keys)
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
    survivors = pd.DataFrame({"source": source, "external_id": [str(s) for s in merged]}, dtype=object)
    with transaction(bind) as conn:
        fact_upkeep.touched(conn, "leads", survivors)
        for survivor, gone in merged.items():
            gone = [str(g) for g in gone if str(g) != str(survivor)]
            if not gone:
                continue
            fact_upkeep.forget(conn, source, gone)
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
