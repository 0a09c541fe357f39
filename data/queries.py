"""Reads of the canonical rows: ``read_*`` functions that return canonical frames, and the table summaries.

Reads select only the table's own columns, resolve owners in pandas from the
small owners table, and turn rows into columns in native code (SQLite: Arrow
from the driver's tuples; PostgreSQL: ``COPY ... TO STDOUT`` parsed by Arrow's
CSV reader), so a million rows move in seconds. A lead handed over more than
once is read as one row per handover (:mod:`data.handovers`).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from sqlalchemy import Connection, Engine, UniqueConstraint, and_, func, literal, select

from analytics.schema import BOOL, COLUMNS, DERIVED_ON_READ, FLOAT, INT, STR, UTC_TS, SchemaError
from data import handovers as handover_rows
from data.models import CANONICAL_MODELS, Handover
from data.people import people, person_ids
from data.transactions import driver_errors, transaction

READ_BATCH_ROWS = 100_000
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
    ids: Sequence[int] | None = None,
    repeats: pd.DataFrame | None = None,
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
    ``ids`` (lead ids, as stored) keeps only those leads, each with all its handover rows: what a sync touched.
    ``repeats`` is :func:`repeat_handovers` when the caller already read it (once for several reads of a
    window); with ``ids`` the leads' own are read instead.
    """
    with transaction(bind) as conn:
        if not per_handover:
            repeats = pd.DataFrame()
        elif repeats is None or ids is not None:
            repeats = _repeat_handovers(conn, source, ids)
        if repeats.empty:
            return _read(conn, "leads", start, end, (by,), source, with_deal_leads, columns, ids)
        names = _wanted_columns("leads", columns)
        wanted = [c for c in COLUMNS["leads"] if c in set(names) | set(handover_rows.NEEDED)]
        recycled_ids = sorted(set(repeats["lead_id"].tolist()))
        plain = _read(conn, "leads", start, end, (by,), source, with_deal_leads, wanted, ids)
        plain = plain[~plain["id"].isin(recycled_ids)]
        windowed = start is not None or end is not None
        deal_rows = _deal_rows(conn, start, end, repeats) if with_deal_leads and windowed else None
        if by == "mql_at" and windowed:
            # Only the recycled leads with a row in the window: a row's mql_at is its handover's.
            repeats = repeats[repeats["lead_id"].isin(_window_repeats(repeats, start, end, deal_rows))]
        chosen = sorted(set(repeats["lead_id"].tolist()))
        recycled = _read(conn, "leads", source=source, columns=wanted, ids=chosen)
        expanded = handover_rows.expand(recycled, repeats, _repeat_activities(conn, repeats))
        keep = pd.Series(True, index=expanded.index)
        when = expanded[by]
        if start is not None:
            keep &= when >= _utc(start)
        if end is not None:
            keep &= when < _utc(end)
        if deal_rows is not None:
            keep |= expanded["id"].isin(deal_rows)
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
    repeats: pd.DataFrame | None = None,
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
    return _read_linked(bind, "deals", start, end, by, source, columns, "created_at", repeats=repeats)


def read_activities(
    bind: Engine | Connection,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    source: str | None = None,
    columns: Sequence[str] | None = None,
    per_handover: bool = True,
    lead_ids: Sequence[int] | None = None,
    repeats: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Activities that occurred in [start, end), with resolved lead and owner ids.

    ``columns`` reads only those canonical columns, as in :func:`read_leads`. The
    ``lead_id`` of an activity of a lead handed over several times is the handover
    whose window holds it (see :mod:`data.handovers`); with ``per_handover=False``
    it is the lead's own id. ``lead_ids`` (lead ids, as stored) keeps only the activities of those leads.
    """
    if not per_handover:
        return _read(bind, "activities", start, end, ("occurred_at",), source, False, columns, lead_ids)
    return _read_linked(
        bind, "activities", start, end, ("occurred_at",), source, columns, "occurred_at", lead_ids, repeats
    )


def _read_linked(
    bind, table, start, end, by, source, columns, when: str, lead_ids=None, repeats=None
) -> pd.DataFrame:
    """:func:`_read` of deals or activities, each ``lead_id`` keyed to the handover whose window holds ``when``."""
    names = _wanted_columns(table, columns)
    if "lead_id" not in names:
        return _read(bind, table, start, end, by, source, False, columns, lead_ids)
    with transaction(bind) as conn:
        frame = _read(conn, table, start, end, by, source, False, [*names, when], lead_ids)
        frame = _rekey(conn, frame, source, when, lead_ids, repeats)
    return frame[names] if list(frame.columns) != names else frame


HANDOVER_COLUMNS = ("mql_at", "recycled", "sql_at", "first_touch_at", "touches", "disposition",
                     "disposition_at", "rejection_reason")  # fmt: skip
_HANDOVER_TYPES = {"recycled": BOOL, "touches": INT, "disposition": STR, "rejection_reason": STR}


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


def repeat_handovers(bind: Engine | Connection, source: str | None = None) -> pd.DataFrame:
    """Every handover of the leads handed over two or more times (of ``source``), with the lead's surrogate
    ``lead_id`` and ``handover_id``: what the per-handover reads key rows by. Read it once and pass it as
    ``repeats=`` to several reads of one window (each would otherwise read it again)."""
    with transaction(bind) as conn:
        return _repeat_handovers(conn, source)


def _repeat_handovers(conn: Connection, source: str | None, ids: Sequence[int] | None = None) -> pd.DataFrame:
    """Handovers of the leads that have two or more (only of lead ``ids`` when given), with the lead's surrogate
    ``lead_id`` and ``handover_id``."""
    if ids is not None:
        return _repeat_handovers_of(conn, source, ids)
    h, lead = Handover.__table__, CANONICAL_MODELS["leads"].__table__
    multi = select(h.c.source, h.c.lead_external_id).group_by(h.c.source, h.c.lead_external_id)
    multi = multi.having(func.count() > 1)
    if source is not None:
        multi = multi.where(h.c.source == source)
    multi = multi.subquery()
    query = select(
        lead.c.id.label("lead_id"), h.c.id.label("handover_id"), *(h.c[c] for c in HANDOVER_COLUMNS)
    ).select_from(
        h.join(
            multi, and_(multi.c.source == h.c.source, multi.c.lead_external_id == h.c.lead_external_id)
        ).join(lead, and_(lead.c.source == h.c.source, lead.c.external_id == h.c.lead_external_id))
    )
    # Plain rows into the frame: a dict per row costs more than the query at a million leads.
    return _handover_frame([tuple(r) for r in conn.execute(query)])


def _repeat_handovers_of(conn: Connection, source: str | None, ids: Sequence[int]) -> pd.DataFrame:
    """:func:`_repeat_handovers` of the leads ``ids``: their keys by id, then their handovers by key.

    Two index lookups per lead; a join of the whole handovers table grouped per lead costs SQLite
    minutes at a million leads when it starts from a list of ids.
    """
    h, lead = Handover.__table__, CANONICAL_MODELS["leads"].__table__
    ids = sorted({int(i) for i in ids})
    keys: dict[tuple[str, str], int] = {}
    for begin in range(0, len(ids), _ID_CHUNK):
        query = select(lead.c.id, lead.c.source, lead.c.external_id).where(
            lead.c.id.in_(ids[begin : begin + _ID_CHUNK])
        )
        if source is not None:
            query = query.where(lead.c.source == source)
        keys.update({(r.source, r.external_id): r.id for r in conn.execute(query)})
    rows = []
    for lead_source in sorted({s for s, _ in keys}):
        external = sorted(e for s, e in keys if s == lead_source)
        for begin in range(0, len(external), _ID_CHUNK):
            query = select(h.c.id, h.c.lead_external_id, *(h.c[c] for c in HANDOVER_COLUMNS)).where(
                h.c.source == lead_source, h.c.lead_external_id.in_(external[begin : begin + _ID_CHUNK])
            )
            for r in conn.execute(query).mappings():
                row = {"lead_id": keys[(lead_source, r["lead_external_id"])], "handover_id": r["id"]}
                rows.append(row | {c: r[c] for c in HANDOVER_COLUMNS})
    frame = _handover_frame(rows)
    return frame[frame["lead_id"].duplicated(keep=False).to_numpy()].reset_index(drop=True)


_ID_CHUNK = 5000


def _handover_frame(rows: list[dict] | list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["lead_id", "handover_id", *HANDOVER_COLUMNS])
    frame = _typed_handovers(frame)
    frame[["lead_id", "handover_id"]] = frame[["lead_id", "handover_id"]].astype("int64")
    return frame


def _window_repeats(repeats: pd.DataFrame, start, end, deal_rows: np.ndarray | None) -> np.ndarray:
    """Lead ids of ``repeats`` with a handover whose ``mql_at`` lies in [start, end) or a row in ``deal_rows``
    (:func:`_deal_rows`): the recycled leads a window read by ``mql_at`` can return rows of."""
    when = repeats["mql_at"]
    inside = when.notna()
    if start is not None:
        inside &= when >= _utc(start)
    if end is not None:
        inside &= when < _utc(end)
    leads = repeats["lead_id"].to_numpy("int64")[inside.to_numpy(bool, na_value=False)]
    if deal_rows is not None and len(deal_rows):
        keys = handover_rows.row_keys(repeats)
        dealt = keys["lead_id"].to_numpy("int64")[keys["row_id"].isin(deal_rows).to_numpy()]
        leads = np.concatenate([leads, dealt])
    return np.unique(leads)


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
        parts.extend(tuple(r) for r in conn.execute(query))
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
        parts.extend(tuple(r) for r in conn.execute(query))
    frame = pd.DataFrame(parts, columns=["lead_id", "created_at"])
    keys = handover_rows.row_keys(repeats)
    return handover_rows.assign(
        keys, frame["lead_id"].astype(INT), pd.to_datetime(frame["created_at"], utc=True).astype(UTC_TS)
    )


def _rekey(
    conn: Connection, frame: pd.DataFrame, source: str | None, when: str, lead_ids=None, repeats=None
) -> pd.DataFrame:
    """``frame`` (deals or activities, only those of ``lead_ids`` when given) with ``lead_id`` moved to the
    handover whose window holds ``when``."""
    if "lead_id" not in frame.columns or frame.empty:
        return frame
    if repeats is None or lead_ids is not None:
        repeats = _repeat_handovers(conn, source, lead_ids)
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

    ``ids`` are the rows' own ids for leads and their leads' ids for activities and deals.

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
    by_lead = ids is not None and table != "leads"
    if "lead_id" in names or by_lead:
        select_list.append("l.id")
        fetched.append("lead_id")
        # By lead ids: an inner join lets the database start from those leads, not scan every row.
        kind = "JOIN" if by_lead else "LEFT JOIN"
        joins = f" {kind} leads l ON l.source = t.source AND l.external_id = t.lead_external_id"
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
            sql += _where(by, {k: f":{k}" for k in params}, with_deal_leads, ids, "l" if by_lead else "t")
            arrow = _fetch_arrow(conn, sql, params, struct)
        else:
            spec = COLUMNS[table]
            epoch = [
                _epoch_us(s) if spec[c] == UTC_TS else s for s, c in zip(select_list, fetched, strict=True)
            ]
            sql = f"SELECT {', '.join(epoch)} FROM {table} t{joins}"
            marks = {k: _pg_literal(conn, v) for k, v in params.items()}
            if with_deal_leads and ("start" in marks or "end" in marks):
                sql = _with_deal_leads_union(sql, by, marks, ids, "l" if by_lead else "t")
            else:
                sql += _where(by, marks, with_deal_leads, ids, "l" if by_lead else "t")
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
        with driver_errors(conn, sql):
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
        with driver_errors(conn, sql), cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)") as copy:
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
    id_alias: str = "t",
) -> str:
    """The WHERE clause for a period on any of the ``by`` columns, a source and ``{id_alias}.id`` in ``ids``."""
    where = []
    if "start" in marks or "end" in marks:
        clause = _window("t", by, marks)
        if with_deal_leads:
            clause = f"({clause} OR t.id IN ({_DEAL_LEADS.format(window=_window('d', _DEAL_TIMES, marks))}))"
        where.append(clause)
    where += _row_filters(marks, ids, id_alias)
    # No ORDER BY: sorting in SQL materialises every row first; the caller sorts the ids if they come unordered.
    return " WHERE " + " AND ".join(where) if where else ""


_DEAL_TIMES = ("created_at", "closed_at")
_DEAL_LEADS = (
    "SELECT dl.id FROM deals d JOIN leads dl ON dl.source = d.source AND dl.external_id = d.lead_external_id "
    "WHERE {window}"
)


def _window(alias: str, columns, marks: dict[str, str]) -> str:
    """``{alias}.<column>`` in [start, end) for any of ``columns`` (either bound optional)."""
    per_column = []
    for column in columns:
        bounds = [f"{alias}.{column} >= {marks['start']}"] if "start" in marks else []
        bounds += [f"{alias}.{column} < {marks['end']}"] if "end" in marks else []
        per_column.append("(" + " AND ".join(bounds) + ")")
    return "(" + " OR ".join(per_column) + ")"


def _row_filters(marks: dict[str, str], ids: Sequence[int] | None, id_alias: str) -> list[str]:
    """The source and ``{id_alias}.id`` in ``ids`` conditions of :func:`_where`."""
    where = [f"t.source = {marks['source']}"] if "source" in marks else []
    if ids is not None:  # integers only, so they can be written into the statement
        where.append(f"{id_alias}.id IN ({', '.join(str(int(i)) for i in ids) or 'NULL'})")
    return where


def _with_deal_leads_union(
    head: str, by: tuple[str, ...], marks: dict[str, str], ids: Sequence[int] | None, id_alias: str
) -> str:
    """``head`` (SELECT ... FROM leads t) for the rows :func:`_where` with ``with_deal_leads`` keeps, as two
    disjoint halves: the window's own rows, UNION ALL the deals' leads outside it.

    PostgreSQL runs ``x OR id IN (subquery)`` as a hashed sub-plan only while the ids fit in ``work_mem``;
    past it (hundreds of thousands of deal leads at 4 MB, the default) it probes the subquery once per
    lead and a 10M-lead window takes hours. ``id IN (subquery)`` under AND is a semi-join, which spills to
    disk instead.
    """
    window, rest = _window("t", by, marks), _row_filters(marks, ids, id_alias)
    deal_leads = _DEAL_LEADS.format(window=_window("d", _DEAL_TIMES, marks))
    inside = f"{head} WHERE {' AND '.join([window, *rest])}"
    outside = f"{head} WHERE {' AND '.join([f't.id IN ({deal_leads})', f'{window} IS NOT TRUE', *rest])}"
    return f"{inside} UNION ALL {outside}"


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


def table_counts(bind: Engine | Connection) -> dict[str, int]:
    """Row count of each canonical table."""
    with transaction(bind) as conn:
        return {
            name: conn.execute(select(func.count()).select_from(model.__table__)).scalar_one()
            for name, model in CANONICAL_MODELS.items()
        }


def has_rows(bind: Engine | Connection) -> dict[str, bool]:
    """Whether each canonical table holds a row: one probe each, where :func:`table_counts` reads them all
    (seconds at ten million leads)."""
    with transaction(bind) as conn:
        return {
            name: conn.execute(select(literal(1)).select_from(model.__table__).limit(1)).first() is not None
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


def distinct_values(bind: Engine | Connection, table: str, column: str) -> list:
    """The distinct non-missing values of a canonical column, sorted (for filter pickers)."""
    if table not in CANONICAL_MODELS or column not in CANONICAL_MODELS[table].__table__.c:
        raise SchemaError(f"no column {table}.{column}")
    t = CANONICAL_MODELS[table].__table__
    c = t.c[column]
    with transaction(bind) as conn:
        if _leads_an_index(t, column):
            return sorted(distinct_by_index(conn, c))
        return sorted(conn.execute(select(c).where(c.is_not(None)).distinct()).scalars())


def source_names(bind: Engine | Connection) -> list[str]:
    """The sources any canonical table holds rows of, sorted: the freshness banner's "whose data" without
    counting a row (every table's key starts with its source)."""
    with transaction(bind) as conn:
        found = {
            name
            for model in CANONICAL_MODELS.values()
            for name in distinct_by_index(conn, model.__table__.c.source)
        }
    return sorted(found)


def _leads_an_index(table, column: str) -> bool:
    """Whether an index or unique key of ``table`` starts with ``column``."""
    keys = [list(i.columns) for i in table.indexes]
    keys += [list(u.columns) for u in table.constraints if isinstance(u, UniqueConstraint)]
    return any(cols and cols[0].name == column for cols in keys)


def distinct_by_index(conn: Connection, column, prefix: Sequence = ()) -> Iterator:
    """Each distinct non-null value of ``column`` among the rows matching ``prefix`` (equalities on the columns
    an index has before ``column``), ascending: one index seek per value (the smallest, then the smallest
    above it, ...), not a read of every row. The same on SQLite and PostgreSQL, neither of which skips
    through an index by itself here."""
    query = select(column).where(*prefix, column.is_not(None)).order_by(column).limit(1)
    found = conn.execute(query).scalar()
    while found is not None:
        yield found
        query = select(column).where(*prefix, column > found).order_by(column).limit(1)
        found = conn.execute(query).scalar()
