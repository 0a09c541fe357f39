"""SLA facts: each handover row's clock, stored once per clock commitment of each agreement version.

A lead's follow-up, touches and disposition clocks change only when the lead, its activities, its owner
or the agreement change. :func:`compute_facts` computes them with the analytics core (business time on
the lead's team calendar, as :mod:`analytics.metrics` does) and :func:`refresh_facts` stores them, for
every lead (after an agreement change) or only for the leads a sync or import touched.

Rows are what the analytics count: one per handover row of the frames :mod:`data.queries` reads (see
:mod:`data.handovers`). ``row_id`` is that row's id (the lead's id for its first handover,
``-handovers.id`` for a repeat one); ``lead_id`` is the stored lead it belongs to, which a refresh
deletes by (a lead's repeat handovers get new ids when its history is stored again).

Each row keeps the instants, so the status at any ``as_of`` is a comparison, not a recomputation
(:func:`status_at`; :func:`figures` is the GROUP BY over it):

- the clock stopped by ``as_of`` (``stop_us <= as_of``): met if ``stop_us <= in_time_us``, else breached;
- not stopped by ``as_of``: breached if ``as_of > in_time_us``, else pending.

``in_time_us`` is the last instant whose business time since the handover is still within the limit
(the end of the non-working gap after the due time when the due time closes a working window), so
"stopped at or before it" is exactly "business time taken <= limit", and "as_of after it" exactly
"elapsed business time > limit".
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from analytics.agreement import Agreement, AgreementVersion
from analytics.commitments import as_versions
from analytics.metrics import (
    HOUR,
    NAT_US,
    Facts,
    as_instant,
    day_limits,
    filter_mask,
    positions,
    prepare_frames,
    timestamps_us,
)
from analytics.periods import assign_periods, period_grid
from data import queries
from data.frames import all_columns
from data.models import CANONICAL_MODELS, SlaFact
from data.transactions import transaction

CLOCK_METRICS = (
    "followed_up_within",
    "touches_within",
    "dispositioned_within",
    "response_time_median",
    "response_time_p90",
)
RATE_METRICS = CLOCK_METRICS[:3]
QUANTILES = {"response_time_median": 0.5, "response_time_p90": 0.9}
FACTS = SlaFact.__table__
FACT_COLUMNS = [c.name for c in FACTS.columns]
SLICES = ("team", "owner_id", "channel")
PERIODS = ("week", "month", "quarter")
# The lead columns a refresh reads: what prepare_frames and the handover rows need, and the lead's key.
READ_COLUMNS = ("id", "source", "external_id", "created_at", "mql_at", "sql_at", "owner_id",
                "owner_external_id", "team", "channel", "segment", "first_touch_at",
                "touches", "disposition", "disposition_at", "rejection_reason", "archived")  # fmt: skip
# An activity's owner is not read: resolving it would fetch two strings per activity for nothing.
ACTIVITY_COLUMNS = ("lead_id", "kind", "occurred_at", "archived")
_KEY = ["agreement", "version", "commitment", "lead_id", "row_id"]
_PERIOD_INDEX = next(i for i in FACTS.indexes if i.name == "ix_sla_facts_period")
_REINDEX_ROWS = 200_000
_LONGEST_PERIOD_US = 93 * 86_400 * 1_000_000  # a quarter, with a summer-time hour to spare
_END_OF_TIME = pd.Timestamp("2200-01-01", tz="UTC")  # "known at": everything recorded counts
_BATCH = 50_000
_LEADS_PER_READ = 250_000  # a full refresh past this many leads reads and computes them in runs of this size
_WRITE_CACHE_KIB = 512 * 1024  # SQLite's page cache while facts are written


# --- computing ---------------------------------------------------------------------------------


def compute_facts(
    versions: Agreement | AgreementVersion | Iterable[AgreementVersion],
    frames: Mapping[str, pd.DataFrame],
    lead_ids: Iterable[int] | None = None,
) -> pd.DataFrame:
    """Return the fact rows (columns :data:`FACT_COLUMNS`) of every clock commitment of every version.

    One row per handed-over row of ``frames["leads"]`` (one per handover) that passes the commitment's
    filters, for each commitment whose metric is in :data:`CLOCK_METRICS`. ``lead_ids`` keeps only the
    rows of those stored leads (an incremental refresh); ``frames`` must then still hold all their
    activities.
    """
    frames = dict(frames)
    leads = frames.get("leads")
    if leads is not None:
        owner = lead_of_rows(leads)
        if lead_ids is not None:
            # Cut the raw frames first: preparing a million leads to keep ten thousand would dominate.
            keep = np.isin(owner, np.fromiter((int(i) for i in lead_ids), dtype=np.int64))
            leads, owner = leads[keep], owner[keep]
            frames["leads"] = leads
            acts = frames.get("activities")
            if acts is not None:
                row_ids = leads["id"].to_numpy(dtype="int64", na_value=NAT_US)
                frames["activities"] = acts[acts["lead_id"].isin(row_ids).to_numpy(bool, na_value=False)]
        row_lead = (leads["id"].to_numpy(dtype="int64", na_value=NAT_US), owner)
    else:
        row_lead = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    known = prepare_frames(frames, _END_OF_TIME)
    pieces = [_version_facts(v, known, row_lead) for v in as_versions(versions)]
    pieces = [p for p in pieces if len(p)]
    if not pieces:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in FACT_COLUMNS})
    return pieces[0] if len(pieces) == 1 else pd.concat(pieces, ignore_index=True)


def lead_of_rows(leads: pd.DataFrame) -> np.ndarray:
    """The stored lead id of each handover row of ``leads`` (int64, aligned to it).

    A first handover (and every lead handed over once) carries its lead's id; a repeat handover (a
    negative id) belongs to the row of the same ``source`` and ``external_id`` with a positive id,
    which reads of whole leads always include. A repeat row without it keeps its own id.
    """
    ids = leads["id"].to_numpy(dtype="int64", na_value=NAT_US)
    out = ids.copy()
    repeat = ids < 0
    if not repeat.any() or not {"source", "external_id"} <= set(leads.columns):
        return out
    # Keys only of the rows that share an external id with a repeat: a few percent of a million.
    external = leads["external_id"]
    near = external.isin(external[repeat].unique()).to_numpy(bool, na_value=False) | repeat
    rows = leads[near]
    key = rows["source"].astype(object).astype(str) + "\x1f" + rows["external_id"].astype(object).astype(str)
    first = ~repeat[near]
    firsts = pd.Series(ids[near][first], index=key[first].to_numpy())
    firsts = firsts[~firsts.index.duplicated()]
    found = firsts.reindex(key[repeat[near]].to_numpy()).to_numpy(dtype="float64")
    out[repeat] = np.where(np.isnan(found), ids[repeat], np.nan_to_num(found)).astype(np.int64)
    return out


def _version_facts(version: AgreementVersion, known, row_lead) -> pd.DataFrame:
    doc = version.document
    facts = Facts(known, doc.calendar_for(None), doc.team_calendars())
    leads = facts.leads
    n = len(leads)
    row_ids = facts.lead_ids()
    at = positions(row_lead[0], row_ids)
    lead_id = np.where(at >= 0, row_lead[1][np.maximum(at, 0)] if len(row_lead[1]) else row_ids, row_ids)
    common = {
        "lead_id": lead_id.astype(np.int64),
        "row_id": row_ids,
        "mql_us": timestamps_us(leads["mql_at"]),
        "created_us": _nullable_us(leads["created_at"]),
        **_period_starts(leads["mql_at"], doc.timezone),
        "first_touch_us": _nullable_us(leads["first_touch_at"]),
        "disposition": leads["disposition"].to_numpy(dtype=object, na_value=None),
        "disposition_us": _nullable_us(leads["disposition_at"]),
        "channel": leads["channel"].to_numpy(dtype=object, na_value=None),
        "team": leads["team"].to_numpy(dtype=object, na_value=None),
        "segment": leads["segment"].to_numpy(dtype=object, na_value=None),
        "owner_id": leads["owner_id"].astype("Int64").to_numpy(dtype=object, na_value=None),
    }
    out = []
    for commitment in doc.commitments:
        if commitment.metric not in CLOCK_METRICS or n == 0:
            continue
        keep = np.asarray(filter_mask(facts, "leads", tuple(commitment.filters.items())), dtype=bool)
        kept = {name: values[keep] for name, values in {**common, **_clock(facts, commitment)}.items()}
        size = int(keep.sum())
        kept |= {
            "agreement": np.full(size, version.agreement, dtype=object),
            "version": np.full(size, int(version.version), dtype=np.int64),
            "commitment": np.full(size, commitment.id, dtype=object),
            "metric": np.full(size, commitment.metric, dtype=object),
        }
        # Object columns stay Python objects: inferring Arrow strings here and back at the write costs
        # more than the clocks of a million leads.
        out.append(pd.DataFrame({c: pd.Series(kept[c], dtype=object) if kept[c].dtype == object else kept[c]
                                 for c in FACT_COLUMNS}))  # fmt: skip
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=FACT_COLUMNS)


def _clock(facts: Facts, commitment) -> dict[str, Any]:
    """Stop instant, last in-time instant, business seconds taken and touches in the window."""
    metric, params = commitment.metric, commitment.metric_params()
    leads = facts.leads
    touches = np.full(len(leads), None, dtype=object)
    if metric in ("followed_up_within", "response_time_median", "response_time_p90"):
        stop = leads["first_touch_at"]
        taken = facts.seconds_to("first_touch_at")
        limit = params.business_hours * HOUR if metric == "followed_up_within" else None
    elif metric == "touches_within":
        stop = facts.nth_activity_at(params.touches, params.kinds)
        taken = facts.lead_seconds_until(stop, key=("nth", params.touches, params.kinds))
        limit = day_limits(facts, params)
    else:  # dispositioned_within
        stop = leads["disposition_at"]
        taken = facts.seconds_to("disposition_at")
        limit = day_limits(facts, params)
    in_time = np.full(len(leads), None, dtype=object)
    if limit is not None:
        # One microsecond past the limit is due inside a working window; the instant before it is the
        # last one still within the limit (the due time itself may close a window: a touch later that
        # evening took no more business time).
        past = timestamps_us(facts.due_at(np.asarray(limit, dtype="float64") + 1e-6)) - 1
        in_time = past.astype(object)
        if metric == "touches_within":
            touches = _touches_in_window(facts, params.kinds, past).astype(object)
    return {
        "stop_us": _nullable_us(stop),
        "in_time_us": in_time,
        "taken_seconds": np.where(np.isnan(taken), None, taken).astype(object),
        "touches": touches,
    }


def _touches_in_window(facts: Facts, kinds, until_us: np.ndarray) -> np.ndarray:
    """Activities (of ``kinds``) per row from its handover up to ``until_us`` inclusive."""
    acts = facts.frames.activities
    if kinds:
        acts = acts[acts["kind"].isin(kinds).to_numpy(bool, na_value=False)]
    pos = positions(facts.lead_ids(), acts["lead_id"].to_numpy(dtype="int64"))
    when = timestamps_us(acts["occurred_at"])
    mql = timestamps_us(facts.leads["mql_at"])
    ok = pos >= 0
    ok[ok] = (when[ok] >= mql[pos[ok]]) & (when[ok] <= until_us[pos[ok]])
    return np.bincount(pos[ok], minlength=len(facts.leads)).astype(np.int64)


def _period_starts(instants: pd.Series, tz: str) -> dict[str, np.ndarray]:
    """Start (epoch µs) of each instant's week, month and quarter in ``tz``."""
    if not len(instants):
        return {f"{k}_us": np.zeros(0, dtype=np.int64) for k in PERIODS}
    out = {}
    first, last = instants.min(), instants.max() + pd.Timedelta(microseconds=1)
    for kind in PERIODS:
        grid = period_grid(kind, tz, first, last)
        out[f"{kind}_us"] = timestamps_us(grid["period_start"])[assign_periods(instants, grid)]
    return out


def _nullable_us(series: pd.Series) -> np.ndarray:
    values = timestamps_us(series)
    return np.where(values == NAT_US, None, values).astype(object)


# --- storing -----------------------------------------------------------------------------------


def read_frames(bind: Engine | Connection, lead_ids: Iterable[int] | None = None) -> dict[str, pd.DataFrame]:
    """Return the frames a refresh needs: the leads (one row per handover), their activities, every owner.

    With ``lead_ids`` (stored lead ids) only those leads, each with all of its handovers and activities.
    """
    ids = None if lead_ids is None else sorted({int(i) for i in lead_ids})
    acts = ACTIVITY_COLUMNS
    return {
        "leads": all_columns(queries.read_leads(bind, columns=READ_COLUMNS, ids=ids), "leads"),
        "activities": all_columns(queries.read_activities(bind, columns=acts, lead_ids=ids), "activities"),
        "owners": queries.read_owners(bind),
    }


def refresh_facts(
    bind: Engine | Connection,
    versions: Agreement | AgreementVersion | Iterable[AgreementVersion],
    frames: Mapping[str, pd.DataFrame] | None = None,
    lead_ids: Iterable[int] | None = None,
) -> int:
    """Recompute and store the facts of ``versions``; returns the rows written.

    Without ``lead_ids`` every fact of those agreement versions is replaced (after an agreement
    change). With ``lead_ids`` (stored lead ids) only the rows of those leads are replaced (after a
    sync or import touched them): a lead deleted, archived, no longer handed over or filtered out
    loses its rows. ``frames`` default to :func:`read_frames` of those leads; every lead's, when more than
    :data:`_LEADS_PER_READ` are stored, are read and computed that many leads at a time (ten million
    leads and their activities do not fit in one machine's memory at once). One transaction.
    """
    versions = as_versions(versions)
    ids = None if lead_ids is None else sorted({int(i) for i in lead_ids})
    chunks = _lead_chunks(bind) if frames is None and ids is None else None
    batches: Iterable[pd.DataFrame]
    if chunks is None or len(chunks) == 1:
        rows = compute_facts(versions, read_frames(bind, ids) if frames is None else frames, ids)
        batches, big = [rows], len(rows) > _REINDEX_ROWS
    else:
        batches, big = (), True
    wanted = {(v.agreement, int(v.version)) for v in versions}
    written = 0
    with transaction(bind) as conn, _write_cache(conn):
        if not batches:  # read through the writing connection: SQLite keeps one writer, readers wait on it
            batches = (compute_facts(versions, read_frames(conn, chunk), chunk) for chunk in chunks)
        stored = stored_commitments(conn)
        # A big write into a table holding no other version's facts goes without the period index, built
        # again after it from these rows alone: a third less time at 1M leads. Beside other versions,
        # rebuilding would sort their rows too, and the new rows land at the end of the index anyway.
        rebuild = big and all(t[:2] in wanted for t in stored)
        if rebuild:
            conn.execute(sa.schema.DropIndex(_PERIOD_INDEX))
        if ids is None:
            for v in versions:
                mine = (FACTS.c.agreement == v.agreement) & (FACTS.c.version == int(v.version))
                conn.execute(FACTS.delete().where(mine))
        else:
            delete_leads(conn, ids, [t for t in stored if t[:2] in wanted])
        for rows in batches:
            _insert(conn, rows)
            written += len(rows)
        if rebuild:
            conn.execute(sa.schema.CreateIndex(_PERIOD_INDEX))
        _analyze(conn, written)
    return written


def read_in_runs(bind: Engine | Connection) -> bool:
    """Whether a full refresh reads the leads in runs (more than :data:`_LEADS_PER_READ` are stored)."""
    leads = CANONICAL_MODELS["leads"].__table__
    with transaction(bind) as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(leads)).scalar_one() > _LEADS_PER_READ


def _lead_chunks(bind: Engine | Connection) -> list[list[int] | None]:
    """Every stored lead id in runs of at most :data:`_LEADS_PER_READ` ids, in id order; ``[None]`` (all at
    once) when that many or fewer leads are stored."""
    if not read_in_runs(bind):
        return [None]
    leads = CANONICAL_MODELS["leads"].__table__
    with transaction(bind) as conn:
        ids = np.fromiter(conn.execute(sa.select(leads.c.id).order_by(leads.c.id)).scalars(), dtype=np.int64)
    return [ids[i : i + _LEADS_PER_READ].tolist() for i in range(0, len(ids), _LEADS_PER_READ)]


def stored_commitments(conn: Connection) -> list[tuple[str, int, str]]:
    """Return the (agreement, version, commitment) triples that have facts stored, in key order.

    A loose index scan: one seek in the key per value (the first one past the previous value, under
    the same prefix), not a walk over every row; there are a few triples per version, millions of rows.
    Column by column, since SQLite does not seek by a row value comparison.
    """
    c = FACTS.c
    return [
        (agreement, int(version), commitment)
        for agreement in queries.distinct_by_index(conn, c.agreement, [])
        for version in queries.distinct_by_index(conn, c.version, [c.agreement == agreement])
        for commitment in queries.distinct_by_index(
            conn, c.commitment, [c.agreement == agreement, c.version == version]
        )
    ]


def delete_leads(conn: Connection, lead_ids: list[int] | sa.Select, commitments: Iterable[tuple]) -> None:
    """Delete the facts of ``lead_ids`` (stored lead ids, or a SELECT of them) of each of ``commitments``.

    ``commitments`` are (agreement, version, commitment) triples (:func:`stored_commitments`): with the
    lead after them in the key, each triple's delete is a key lookup per lead, where one delete by lead
    alone would read every row.
    """
    c = FACTS.c
    chunks = [lead_ids] if isinstance(lead_ids, sa.Select) else [
        lead_ids[start : start + _BATCH] for start in range(0, len(lead_ids), _BATCH)
    ]  # fmt: skip
    for agreement, version, commitment in commitments:
        mine = (c.agreement == agreement) & (c.version == int(version)) & (c.commitment == commitment)
        for chunk in chunks:
            conn.execute(FACTS.delete().where(mine & c.lead_id.in_(chunk)))


def refresh_version(
    bind: Engine | Connection, version: AgreementVersion, earlier: Iterable[AgreementVersion]
) -> int:
    """Store the facts of a newly saved ``version``; returns the rows written.

    Each clock commitment whose clock is defined as in the latest of ``earlier`` (stored versions of the
    same agreement) that has facts stored gets that version's rows, copied in SQL: same timezone and
    calendars (:func:`_basis`), same id, metric, params and filters (:func:`_definition`). A target,
    slice target, description, party or consequence does not change a clock (judging compares the rates
    with targets after the figures are counted). The other clock commitments are computed from every
    lead, as :func:`refresh_facts` does; a change that leaves every clock alone reads no lead at all.
    """
    doc = version.document
    clocks = [c for c in doc.commitments if c.metric in CLOCK_METRICS]
    source = _copy_source(bind, version, earlier)
    copied: list[str] = []
    if source is not None:
        theirs = {c.id: _definition(c) for c in source.document.commitments if c.metric in CLOCK_METRICS}
        copied = [c.id for c in clocks if theirs.get(c.id) == _definition(c)]
    rest = tuple(c for c in clocks if c.id not in copied)
    if not copied:
        return refresh_facts(bind, version)
    c = FACTS.c
    written = 0
    with transaction(bind) as conn, _write_cache(conn):
        if rest:  # replaces every row of the version with the computed ones
            written += refresh_facts(conn, _with_commitments(version, rest))
        else:
            mine = (c.agreement == version.agreement) & (c.version == int(version.version))
            conn.execute(FACTS.delete().where(mine))
        theirs = (c.agreement == source.agreement) & (c.version == int(source.version))
        picked = [sa.literal(int(version.version)).label(n) if n == "version" else c[n] for n in FACT_COLUMNS]
        # One statement for every copied clock; read in key order, so the new rows go in key order too.
        query = sa.select(*picked).where(theirs & c.commitment.in_(copied)).order_by(*(c[k] for k in _KEY))
        copied_rows = conn.execute(FACTS.insert().from_select(FACT_COLUMNS, query)).rowcount
        written += copied_rows
        _analyze(conn, copied_rows)
    return written


def _basis(doc: Agreement) -> tuple:
    """What every clock of a version depends on besides its commitment: timezone (periods) and calendars."""
    return (doc.timezone, doc.calendar, doc.teams)


def _definition(commitment) -> tuple:
    """What one commitment's clock depends on: its id, metric, params (defaults filled in) and filters."""
    return (commitment.id, commitment.metric, commitment.metric_params(), commitment.filters)


def _copy_source(bind, version: AgreementVersion, earlier: Iterable[AgreementVersion]):
    """The latest of ``earlier`` before ``version`` with the same :func:`_basis` and facts stored, or None.

    Facts depend only on their version's document and the stored rows, which every refresh keeps current
    for every stored version alike, so any such version's rows are the new version's."""
    c = FACTS.c
    for other in sorted(earlier, key=lambda v: int(v.version), reverse=True):
        if other.agreement != version.agreement or int(other.version) >= int(version.version):
            continue
        if _basis(other.document) != _basis(version.document):
            continue
        mine = (c.agreement == other.agreement) & (c.version == int(other.version))
        with transaction(bind) as conn:
            if conn.execute(sa.select(c.version).where(mine).limit(1)).first() is not None:
                return other
    return None


def _with_commitments(version: AgreementVersion, commitments: tuple) -> AgreementVersion:
    """``version`` with only ``commitments`` (the ones to compute), its calendars and timezone unchanged."""
    return version.model_copy(
        update={"document": version.document.model_copy(update={"commitments": commitments})}
    )


@contextmanager
def _write_cache(conn: Connection) -> Iterator[None]:
    """On SQLite, a page cache of :data:`_WRITE_CACHE_KIB` for the block, then the connection's own again.

    A refresh by lead deletes and inserts rows all over the key index (and a big write rebuilds the
    period index): with the default 2 MB cache, SQLite writes and reads those pages back over and over.
    Only memory: durability (journal, synchronous) is unchanged.
    """
    if conn.dialect.name != "sqlite":
        yield
        return
    before = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql(f"PRAGMA cache_size=-{_WRITE_CACHE_KIB}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size={int(before)}")


def _analyze(conn: Connection, written: int) -> None:
    """On PostgreSQL, after a big write, fresh planner statistics of sla_facts (a sample: under a second).

    Without them the planner takes a version's (agreement, version, commitment) for a handful of rows
    and deletes a sync's leads by walking the period index through every row of the commitment (a
    minute at 1M leads) instead of looking each lead up in the key. SQLite plans by the index's shape.
    """
    if conn.dialect.name == "postgresql" and written > _REINDEX_ROWS:
        conn.exec_driver_sql("ANALYZE sla_facts")


def _insert(conn: Connection, rows: pd.DataFrame) -> None:
    """Write ``rows`` through the driver: COPY on PostgreSQL, executemany of plain tuples on SQLite.

    Rows as dicts through SQLAlchemy cost more than computing the clocks at a million leads. Rows go in
    key order, so the key index grows at its end; the tuples stream to the driver without a list of them.
    """
    if not len(rows):
        return
    order = _key_order(rows)
    columns = [_python_values(rows[c], order) for c in FACT_COLUMNS]
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        if conn.dialect.name == "postgresql":
            with cursor.copy(f"COPY sla_facts ({', '.join(FACT_COLUMNS)}) FROM STDIN") as copy:
                for row in zip(*columns, strict=True):
                    copy.write_row(row)
        else:
            marks = ", ".join("?" * len(FACT_COLUMNS))
            sql = f"INSERT INTO sla_facts ({', '.join(FACT_COLUMNS)}) VALUES ({marks})"
            cursor.executemany(sql, zip(*columns, strict=True))
    finally:
        cursor.close()


def _key_order(rows: pd.DataFrame) -> np.ndarray:
    """Positions of ``rows`` in key order (:data:`_KEY`; strings by their sorted codes)."""
    keys = []
    for name in reversed(_KEY):  # lexsort sorts by its last key first
        column = rows[name]
        keys.append(column.to_numpy() if column.dtype.kind in "iu" else pd.factorize(column, sort=True)[0])
    return np.lexsort(keys)


def _python_values(column: pd.Series, order: np.ndarray) -> list:
    """The values at ``order`` as plain Python values (drivers refuse numpy scalars); None for missing.

    Strings (few distinct ones: teams, channels, commitments) become one Python string per distinct value,
    picked by code, instead of one per row.
    """
    if column.dtype.kind in "iu":
        return column.to_numpy()[order].tolist()
    if column.dtype != object and pd.api.types.is_string_dtype(column.dtype):
        codes, uniques = pd.factorize(column, use_na_sentinel=True)
        names = np.empty(len(uniques) + 1, dtype=object)
        names[:-1] = [None if pd.isna(u) else u for u in uniques.tolist()]
        return names[codes[order]].tolist()  # code -1 (missing) picks the trailing None
    values = column.to_numpy(dtype=object)[order]
    missing = pd.isna(values)
    if missing.any():
        values[missing] = None
    return values.tolist()


# --- the figures, in SQL -----------------------------------------------------------------------


def status_at(as_of_us: int) -> tuple[sa.ColumnElement, sa.ColumnElement, sa.ColumnElement]:
    """SQL conditions (met, breached, pending) of a fact row at ``as_of_us`` (epoch µs), by comparison."""
    c = FACTS.c
    stopped = c.stop_us.is_not(None) & (c.stop_us <= as_of_us)
    met = stopped & (c.stop_us <= c.in_time_us)
    breached = (stopped & (c.stop_us > c.in_time_us)) | (~stopped & (c.in_time_us < as_of_us))
    pending = ~stopped & (c.in_time_us >= as_of_us)
    return met, breached, pending


def figures(
    bind: Engine | Connection,
    agreement: str,
    version: int,
    commitment: str,
    period: str,
    start: Any,
    end: Any,
    as_of: Any,
    by: str | None = None,
    **where: Any,
) -> pd.DataFrame:
    """Return a clock commitment's figures per period (x ``by``) from the stored facts, in SQL.

    One row per ``period`` ("week", "month", "quarter" in the version's timezone) starting in
    ``[start, end)`` (instants) x value of ``by`` (one of :data:`SLICES`, or None) that has leads
    handed over by ``as_of``: ``period_start`` (UTC), the ``by`` column, ``n`` (leads), ``met``,
    ``breached``, ``pending`` and ``actual``. ``where`` keeps one value of a slice (``team="EMEA"``).
    Rates: ``actual`` = met / (met + breached), NaN when nothing is decided. Durations
    (response_time_median / _p90): ``actual`` is the median / 90th percentile (linear interpolation)
    of business hours to first touch of the leads touched by ``as_of``; met/breached/pending are NaN.
    PostgreSQL runs ``percentile_cont``; SQLite has no percentile, so window functions rank each
    group's hours and only the one or two values around the rank come back, interpolated in Python.
    """
    if period not in PERIODS:
        raise ValueError(f"period {period!r}: use one of {', '.join(PERIODS)}")
    slices = [] if by is None else [by]
    for name in [*slices, *where]:
        if name not in SLICES:
            raise ValueError(f"unknown slice {name!r}; slices: {', '.join(SLICES)}")
    start_us, end_us, as_of_us = (int(as_instant(x).value // 1000) for x in (start, end, as_of))
    c = FACTS.c
    key = c[f"{period}_us"]
    cond = (
        (c.agreement == agreement)
        & (c.version == int(version))
        & (c.commitment == commitment)
        & (key >= start_us)
        & (key < end_us)
        # Implied by the period key, but on the indexed column: the index narrows to the range.
        & (c.mql_us >= start_us)
        & (c.mql_us < end_us + _LONGEST_PERIOD_US)
        & (c.mql_us <= as_of_us)
        & (c.created_us.is_(None) | (c.created_us <= as_of_us))
    )
    for name, value in where.items():
        cond &= c[name].is_(None) if value is None else (c[name] == value)
    groups = [key.label("period_us"), *(c[s] for s in slices)]
    met, breached, pending = status_at(as_of_us)

    def count(condition):
        return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)

    query = (
        sa.select(
            *groups,
            sa.func.count().label("n"),
            count(met).label("met"),
            count(breached).label("breached"),
            count(pending).label("pending"),
            sa.func.max(c.metric).label("metric"),
        )
        .where(cond)
        .group_by(*groups)
    )
    names = ["period_us", *slices]
    with transaction(bind) as conn:
        out = pd.DataFrame(conn.execute(query).mappings().all(), columns=[*names, "n", "met", "breached",
                                                                          "pending", "metric"])  # fmt: skip
        metric = out["metric"].iloc[0] if len(out) else None
        for column in ("n", "met", "breached", "pending"):
            out[column] = out[column].astype("float64")
        decided = out["met"] + out["breached"]
        out["actual"] = (out["met"] / decided).where(decided > 0)
        if metric in QUANTILES:
            touched = cond & c.stop_us.is_not(None) & (c.stop_us <= as_of_us)
            values = _quantiles(conn, touched, names, groups, QUANTILES[metric])
            out["actual"] = [values.get(_key(row), np.nan) for row in out[names].itertuples(index=False)]
            out[["met", "breached", "pending"]] = np.nan
    out["actual"] = out["actual"].astype("float64")
    out.insert(0, "period_start", pd.to_datetime(out.pop("period_us"), unit="us", utc=True))
    out = out.drop(columns="metric").sort_values(["period_start", *slices], kind="stable", na_position="last")
    return out.reset_index(drop=True)


def _key(values) -> tuple:
    return tuple(None if pd.isna(v) else v for v in values)


def _quantiles(conn: Connection, where, names: list[str], groups: list, q: float) -> dict[tuple, float]:
    """The ``q`` quantile (linear interpolation) of business hours per group (the ``names`` values)."""
    hours = FACTS.c.taken_seconds / HOUR
    if conn.dialect.name == "postgresql":
        query = sa.select(*groups, sa.func.percentile_cont(q).within_group(hours).label("actual"))
        rows = conn.execute(query.where(where).group_by(*groups)).all()
        # No group: an aggregate over no rows is one row of NULL, where SQLite's way returns nothing.
        return {_key(row[:-1]): float(row[-1]) for row in rows if row[-1] is not None}
    partition = groups
    ranked = (
        sa.select(
            *groups,
            hours.label("hours"),
            sa.func.row_number().over(partition_by=partition, order_by=hours).label("rn"),
            sa.func.count().over(partition_by=partition).label("size"),
        )
        .where(where)
        .subquery()
    )
    low = sa.cast(q * (ranked.c.size - 1), sa.Integer) + 1  # 1-based rank of the value at or below
    query = sa.select(ranked).where((ranked.c.rn == low) | (ranked.c.rn == low + 1))
    picked: dict[tuple, list] = {}
    for row in conn.execute(query):
        *key, value, rn, size = row
        picked.setdefault(_key(key), []).append((rn, float(value), size))
    out = {}
    for key, pair in picked.items():
        pair.sort()
        rank = q * (pair[0][2] - 1)
        lo = pair[0][1]
        hi = pair[1][1] if len(pair) > 1 else lo
        out[key] = lo + (hi - lo) * (rank - int(rank))
    return out
