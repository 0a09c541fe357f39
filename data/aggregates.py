"""Figures over many periods answered by the database: GROUP BY queries that return small frames.

The Marketing page's history (its MQL -> SQL trend and the channel mix against earlier periods) needs
only counts per period: reading 15 periods of leads and activities into pandas for them costs seconds at
a million leads. These queries, written once in SQLAlchemy Core for SQLite and PostgreSQL, apply the
rules of the pandas engine (:func:`analytics.metrics.prepare_frames`, :mod:`data.handovers`):

- a row is a handover: a lead with two or more stored handovers counts once per handover (its own
  ``mql_at``; ``sql_at`` the handover's, else the lead's when it falls in the handover's window), any
  other lead is its own row;
- archived leads and deals leave every figure; a lead exists once created (or with no ``created_at``),
  is handed over once its ``mql_at`` is at or before as_of, and is an SQL by as_of when its ``sql_at``
  is known by then or a deal of it (of that handover's window) was created by then (``GLOSSARY["SQL"]``;
  a deal without ``created_at`` is in no window the pages read, so it never counts here either);
- periods are bucketed by boundaries computed in Python in the agreement's timezone and passed as UTC
  instants (a CASE over them): no SQL timezone function, so both databases bucket alike.

Rows are grouped by the lead's (or deal's) source and owner key and channel, so a team or owner slice and a
commitment's filters are applied in pandas on the small result (:func:`owner_keys` resolves owners as
:mod:`data.queries` does) and one query serves every slice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import (
    Connection,
    Engine,
    and_,
    case,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)

from analytics.commitments import as_versions, decided_rate_rows, document_in_force, with_tracked
from analytics.groups import labels
from analytics.history import TREND_METRIC, HistoryFigures, earlier_windows
from analytics.mix import volume_table
from analytics.periods import period_grid
from analytics.schema import UTC_TS
from data import queries
from data.models import CANONICAL_MODELS, Handover, UTCDateTime
from data.transactions import transaction

LEAD_COUNTS = ("mqls", "sqls", "last_mql")
DEAL_GROUPS = ("channel", "source", "owner_external_id")


def _instant(value) -> dt.datetime:
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.to_pydatetime()


def _at(value):
    """An instant as a bound parameter of the stored type (epoch µs on SQLite, timestamptz on PostgreSQL)."""
    return literal(_instant(value), UTCDateTime())


def _bucket(column, bounds: Sequence):
    """The position of ``column``'s period among ``bounds`` (n + 1 instants: n periods), NULL outside."""
    return case(
        *(
            (and_(column >= _at(lo), column < _at(hi)), i)
            for i, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True))
        ),
        else_=null(),
    )


def _multi():
    """(source, lead_external_id) of the leads read per handover (two or more stored), with the first mql_at."""
    h = Handover.__table__
    return (
        select(h.c.source, h.c.lead_external_id, func.min(h.c.mql_at).label("first_mql"))
        .group_by(h.c.source, h.c.lead_external_id)
        .having(func.count() > 1)
        .subquery("multi")
    )


def _handover_windows(multi, lo=None, hi=None):
    """Each handover of a multi-handover lead with its window: rank (1 = first) and the next handover's mql_at.

    With ``lo`` and ``hi``, only the handovers of the leads with one handed over in ``[lo, hi)``, every one
    of theirs (a window needs its neighbours): at ten million leads, numbering every stored handover to keep
    a week's took seconds per query.
    """
    h = Handover.__table__
    order = {"partition_by": (h.c.source, h.c.lead_external_id), "order_by": (h.c.mql_at, h.c.id)}
    query = select(
        h.c.source,
        h.c.lead_external_id,
        h.c.mql_at,
        h.c.sql_at,
        func.lead(h.c.mql_at).over(**order).label("next_mql"),
        func.row_number().over(**order).label("rank"),
    ).join(multi, and_(multi.c.source == h.c.source, multi.c.lead_external_id == h.c.lead_external_id))
    if lo is not None:
        near = Handover.__table__.alias("near")
        query = query.where(
            exists().where(
                near.c.source == h.c.source,
                near.c.lead_external_id == h.c.lead_external_id,
                near.c.mql_at >= _at(lo),
                near.c.mql_at < _at(hi),
            )
        )
    return query.subquery("windows")


def _in_window(when, w):
    """Whether instant ``when`` falls in handover window ``w`` (the first also owns what came before it)."""
    return and_(
        when.isnot(None),
        or_(w.c.rank == 1, when >= w.c.mql_at),
        or_(w.c.next_mql.is_(None), when < w.c.next_mql),
    )


def _live_lead(lead, as_of):
    """Not archived and created by as_of (or undated): an expression no index serves (see lead_counts)."""
    created = func.coalesce(lead.c.created_at, _at(pd.Timestamp(0, tz="UTC")))
    return and_(lead.c.archived.isnot(True), created <= _at(as_of))


def _sql_by(sql_at, as_of, deal_of_row):
    """1 when the row is an SQL by as_of (its sql_at, else a deal of it, looked up only then), else 0."""
    return case((sql_at <= _at(as_of), 1), (exists().where(deal_of_row), 1), else_=0).label("is_sql")


def lead_counts(bind: Engine | Connection, bounds: Sequence, as_of, segments: bool = False) -> pd.DataFrame:
    """Return the handovers of each period of ``bounds`` (n + 1 UTC instants) as known at ``as_of``.

    One row per (``pos``, ``channel``, [``segment``,] ``source``, ``owner_external_id``) with handovers:
    ``pos`` the period's position (0 = the first), ``mqls`` the handovers (``mql_at`` in the period and by
    as_of), ``sqls`` those that are SQLs by as_of, ``last_mql`` the latest handover (UTC). Channel, segment
    (with ``segments`` only: grouping costs time) and owner key are the lead's own, missing as missing.
    """
    lead, deal = CANONICAL_MODELS["leads"].__table__, CANONICAL_MODELS["deals"].__table__
    lo, hi = bounds[0], bounds[-1]
    groups = ["channel", *(["segment"] if segments else []), "source", "owner_external_id"]
    multi = _multi()
    deal_known = and_(
        deal.c.source == lead.c.source,
        deal.c.lead_external_id == lead.c.external_id,
        deal.c.archived.isnot(True),
        deal.c.created_at <= _at(as_of),  # an undated deal is in no window the pages read
    )
    with transaction(bind) as conn:
        mql = lead.c.mql_at
        if conn.dialect.name == "sqlite" and queries._plain_scan(
            conn,
            "leads",
            ("mql_at",),
            queries._storage_instant(lo, "sqlite"),
            queries._storage_instant(hi, "sqlite"),
        ):  # SQLite takes the index for any window; over most of the table a plain scan is faster
            mql = func.coalesce(mql, mql)
        plain = (
            select(
                *(lead.c[g] for g in groups),
                lead.c.mql_at.label("mql"),
                _sql_by(lead.c.sql_at, as_of, deal_known),
            )
            .outerjoin(
                multi, and_(multi.c.source == lead.c.source, multi.c.lead_external_id == lead.c.external_id)
            )
            .where(
                multi.c.source.is_(None),
                mql >= _at(lo),
                mql < _at(hi),
                mql <= _at(as_of),
                _live_lead(lead, as_of),
            )
        )
        w = _handover_windows(multi, lo, hi)
        own_sql = func.coalesce(w.c.sql_at, case((_in_window(lead.c.sql_at, w), lead.c.sql_at), else_=null()))
        deal_of_handover = and_(deal_known, _in_window(deal.c.created_at, w))
        repeat = (
            select(
                *(lead.c[g] for g in groups),
                w.c.mql_at.label("mql"),
                _sql_by(own_sql, as_of, deal_of_handover),
            )
            .join(lead, and_(lead.c.source == w.c.source, lead.c.external_id == w.c.lead_external_id))
            .where(
                w.c.mql_at >= _at(lo), w.c.mql_at < _at(hi), w.c.mql_at <= _at(as_of), _live_lead(lead, as_of)
            )
        )
        rows = union_all(plain, repeat).subquery("handed")
        pos = _bucket(rows.c.mql, bounds).label("pos")
        query = select(
            pos,
            *(rows.c[g] for g in groups),
            func.count().label("mqls"),
            func.sum(rows.c.is_sql).label("sqls"),
            func.max(rows.c.mql).label("last_mql"),
        ).group_by(pos, *(rows.c[g] for g in groups))
        found = conn.execute(query).all()
    frame = pd.DataFrame(found, columns=["pos", *groups, *LEAD_COUNTS])
    frame = frame[frame["pos"].notna()]
    return (
        frame.astype({"pos": "int64", **dict.fromkeys(groups, "str"), "mqls": "int64", "sqls": "int64"})
        .assign(last_mql=pd.to_datetime(frame["last_mql"], utc=True).astype(UTC_TS))
        .reset_index(drop=True)
    )


def sourced_deals(bind: Engine | Connection, start, end, as_of) -> pd.DataFrame:
    """Return the marketing-sourced deals created in [start, end) as known at ``as_of``, grouped.

    One row per (``channel``, ``source``, ``owner_external_id``): ``deals`` and ``pipeline`` (amounts, a
    missing one 0). A deal is sourced when its lead (of its handover window) was handed over by as_of; its
    channel is its lead's when the lead exists by as_of, else its own; its owner key is its own.
    """
    lead, deal = CANONICAL_MODELS["leads"].__table__, CANONICAL_MODELS["deals"].__table__
    multi = _multi()
    known = and_(lead.c.id.isnot(None), _live_lead(lead, as_of))
    # The window holding a deal starts at or before its creation, unless it precedes the first handover.
    handed = case((multi.c.source.isnot(None), multi.c.first_mql), else_=lead.c.mql_at)
    rows = (
        select(
            case((known, lead.c.channel), else_=deal.c.channel).label("channel"),
            deal.c.source,
            deal.c.owner_external_id,
            func.coalesce(deal.c.amount, 0.0).label("amount"),
        )
        .select_from(deal)
        .outerjoin(lead, and_(lead.c.source == deal.c.source, lead.c.external_id == deal.c.lead_external_id))
        .outerjoin(
            multi, and_(multi.c.source == lead.c.source, multi.c.lead_external_id == lead.c.external_id)
        )
        .where(
            deal.c.created_at >= _at(start),
            deal.c.created_at < _at(end),
            deal.c.created_at <= _at(as_of),
            deal.c.archived.isnot(True),
            known,
            handed <= _at(as_of),
        )
        .subquery("sourced")
    )
    query = select(
        rows.c.channel,
        rows.c.source,
        rows.c.owner_external_id,
        func.count().label("deals"),
        func.sum(rows.c.amount).label("pipeline"),
    ).group_by(rows.c.channel, rows.c.source, rows.c.owner_external_id)
    with transaction(bind) as conn:
        found = conn.execute(query).all()
    frame = pd.DataFrame(found, columns=[*DEAL_GROUPS, "deals", "pipeline"])
    return frame.astype(
        {
            "channel": "str",
            "source": "str",
            "owner_external_id": "str",
            "deals": "int64",
            "pipeline": "float64",
        }
    )


def owner_keys(bind: Engine | Connection) -> pd.DataFrame:
    """Every owner record's ``source`` and ``external_id`` with the ``id`` and ``team`` of its person.

    How :mod:`data.queries` resolves a row's owner_id and team from its owner key.
    """
    with transaction(bind) as conn:
        return queries._fetch_owners(conn, conn.dialect.name)


# --- the Marketing page's history ----------------------------------------------------------------------


def _resolved(frame: pd.DataFrame, keys: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with ``owner_id`` and ``team`` of the person its (source, owner_external_id) belongs to."""
    index = pd.MultiIndex.from_arrays([keys["source"], keys["external_id"]])
    at = index.get_indexer(pd.MultiIndex.from_arrays([frame["source"], frame["owner_external_id"]]))
    found = at >= 0
    owner_id = pd.array([pd.NA] * len(frame), dtype="Int64")
    owner_id[found] = keys["id"].to_numpy()[at[found]]
    team = np.full(len(frame), None, dtype=object)
    team[found] = keys["team"].to_numpy(dtype=object, na_value=None)[at[found]]
    return frame.assign(owner_id=owner_id, team=pd.Series(team, index=frame.index, dtype="str"))


def _in_slice(frame: pd.DataFrame, f) -> np.ndarray:
    """Rows of ``frame`` in the slice of ``f`` (its own team, owner and channel; a missing value never matches)."""
    keep = np.ones(len(frame), dtype=bool)
    for chosen, column in ((f.teams, "team"), (f.owners, "owner_id"), (f.channels, "channel")):
        if chosen:
            keep &= frame[column].isin(list(chosen)).to_numpy(dtype=bool, na_value=False)
    return keep


def _passes(frame: pd.DataFrame, filters, owners: pd.DataFrame) -> np.ndarray:
    """Rows of ``frame`` passing a commitment's filters, as :func:`analytics.metrics.filter_mask` reads them."""
    keep = np.ones(len(frame), dtype=bool)
    for name, accepted in filters:
        accepted = list(accepted)
        if name == "owner":
            hit = owners["name"].isin(accepted).to_numpy(bool) | owners["external_id"].isin(
                accepted
            ).to_numpy(bool)
            ids = owners["id"][hit].dropna().to_numpy(dtype="int64")
            external = accepted + owners["external_id"][hit].dropna().tolist()
            ok = frame["owner_id"].isin(ids).to_numpy(bool, na_value=False)
            ok |= frame["owner_external_id"].isin(external).to_numpy(bool, na_value=False)
        else:  # channel, team, segment: the row's own value (the agreement's schema allows no other filter)
            ok = frame[name].isin(accepted).to_numpy(bool, na_value=False)
        keep &= ok
    return keep


@dataclass(frozen=True)
class HistoryCounts:
    """The aggregates behind the history of one period as of one instant, for every slice (small frames).

    ``grid``: the periods counted (from the older of the oldest period offered and the usual periods);
    ``leads``: :func:`lead_counts` with ``owner_id``, ``team`` and ``channel_label``; ``previous_deals``
    and ``usual_deals``: :func:`sourced_deals` of the earlier windows with ``owner_id`` and ``team``;
    ``owners``: every owner (a commitment's owner filter matches names and external ids).
    """

    period_start: pd.Timestamp
    period_end: pd.Timestamp
    as_of: pd.Timestamp
    history_start: pd.Timestamp
    grid: pd.DataFrame
    leads: pd.DataFrame
    previous_deals: pd.DataFrame
    usual_deals: pd.DataFrame
    owners: pd.DataFrame


def history_counts(
    bind: Engine | Connection, versions, period_start, period_end, as_of, history_start
) -> HistoryCounts:
    """Return the :class:`HistoryCounts` of the period [period_start, period_end) as of ``as_of``: three
    GROUP BY queries, the same whichever slice is shown (a page caches them and slices in pandas)."""
    versions = as_versions(versions)
    period_start, period_end, as_of = (
        pd.Timestamp(period_start),
        pd.Timestamp(period_end),
        pd.Timestamp(as_of),
    )
    doc = document_in_force(versions, as_of)
    previous, usual = earlier_windows(doc, period_start)
    grid = period_grid(doc.period, doc.timezone, min(pd.Timestamp(history_start), usual[1]), period_end)
    grid = grid[grid["period_start"] <= as_of].reset_index(drop=True)
    bounds = [*grid["period_start"], grid["period_end"].iloc[-1]]
    keys = owner_keys(bind)
    # Segments only when a conversion commitment filters by them: a wider grouping costs time.
    segments = any(
        "segment" in dict(c.filters.items())
        for v in versions
        for c in v.document.commitments
        if c.metric == TREND_METRIC
    )
    leads = _resolved(lead_counts(bind, bounds, as_of, segments), keys)
    return HistoryCounts(
        period_start, period_end, as_of, pd.Timestamp(history_start), grid,
        leads.assign(channel_label=labels(leads["channel"]).to_numpy()),
        _resolved(sourced_deals(bind, previous[1], previous[2], as_of), keys),
        _resolved(sourced_deals(bind, usual[1], period_start, as_of), keys),
        queries.read_owners(bind),
    )  # fmt: skip


def history_from_counts(counts: HistoryCounts, versions, f) -> HistoryFigures:
    """Return the :class:`~analytics.history.HistoryFigures` of filters ``f`` (a ``views.filters.Filters`` of
    the counts' period and as-of) from ``counts``: the slice and the commitments' filters applied in pandas."""
    if (f.period_start, f.period_end, f.as_of) != (counts.period_start, counts.period_end, counts.as_of):
        raise ValueError(
            f"the counts are of {counts.period_start} as of {counts.as_of}, not of {f.period} as of {f.as_of}"
        )
    versions, grid, history_start = as_versions(versions), counts.grid, counts.history_start
    leads = counts.leads[_in_slice(counts.leads, f)].reset_index(drop=True)

    # The trend: positions from the oldest period offered, as evaluate's grid numbers them.
    skip = int((grid["period_start"] < history_start).sum())
    trend_counts = leads[leads["pos"] >= skip].assign(pos=lambda c: c["pos"] - skip)
    by_filters: dict = {}

    def counted(commitment) -> pd.DataFrame:
        key = tuple((name, tuple(values)) for name, values in commitment.filters.items())
        if key not in by_filters:
            rows = trend_counts[_passes(trend_counts, key, counts.owners)]
            by_filters[key] = rows.groupby("pos").agg(n=("mqls", "sum"), met=("sqls", "sum"))
        return by_filters[key]

    last = trend_counts.groupby(["pos", "team"], dropna=False)["last_mql"].max().rename("last").reset_index()
    tracked = with_tracked(versions, [TREND_METRIC])
    trend = decided_rate_rows(tracked, TREND_METRIC, history_start, f.period_end, f.as_of, counted, last)

    def volume(start, end, deals: pd.DataFrame) -> pd.DataFrame:
        inside = (grid["period_start"] >= start) & (grid["period_end"] <= end)
        rows = leads[leads["pos"].isin(np.flatnonzero(inside.to_numpy()))]
        per_lead = rows.groupby("channel_label").agg(mqls=("mqls", "sum"), sqls=("sqls", "sum"))
        deals = deals[_in_slice(deals, f)]
        per_deal = deals.assign(channel_label=labels(deals["channel"]).to_numpy()).groupby("channel_label")
        per_deal = per_deal.agg(sourced_deals=("deals", "sum"), sourced_pipeline=("pipeline", "sum"))
        by = {"channel_label": "channel"}
        return volume_table(
            per_lead.reset_index().rename(columns=by), per_deal.reset_index().rename(columns=by), "channel"
        )

    previous, usual = earlier_windows(document_in_force(versions, f.as_of), f.period_start)
    return HistoryFigures(
        trend=trend,
        previous=volume(previous[1], previous[2], counts.previous_deals),
        usual=volume(usual[1], f.period_start, counts.usual_deals),
    )


def history_figures(bind: Engine | Connection, versions, f, history_start) -> HistoryFigures:
    """Return the :class:`~analytics.history.HistoryFigures` of filters ``f`` (a ``views.filters.Filters``)
    from aggregate queries: the figures ``views.marketing.history_from_frames`` computes from frames."""
    counts = history_counts(bind, versions, f.period_start, f.period_end, f.as_of, history_start)
    return history_from_counts(counts, versions, f)
