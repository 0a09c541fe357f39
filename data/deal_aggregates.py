"""The deal metrics of many periods answered by the database: one GROUP BY query, a small frame, pandas after.

The Overview evaluates every commitment over 12 ISO weeks and the agreement's period. For the two deal
metrics (:func:`analytics.metrics.sourced_pipeline`, :func:`analytics.metrics.won_revenue`) it needs only,
per period, how many deals count and their summed amounts. :func:`deal_counts` asks the database for those,
grouped finely enough that any slice and any commitment filter is applied afterwards in pandas
(:func:`deal_figures`), so one query serves every commitment and slice of a metric. The rules are the pandas
engine's (:func:`analytics.metrics.prepare_frames`):

- archived deals leave every figure; a deal exists once created by as_of (an undated ``created_at`` stays);
  a close after as_of has not happened (neither ``closed_at`` nor ``is_won``);
- a deal has its lead when that lead exists at as_of (not archived, created by as_of or undated): it then
  takes the lead's channel and segment, else keeps its own channel and has no segment;
- it is marketing-sourced when that lead's handover, of the window holding the deal's creation, happened by
  as_of (:mod:`data.handovers`): for a deal counted by its ``created_at`` (by as_of) that is the lead's
  ``mql_at``, or for a lead handed over two or more times its first handover's;
- the deal's own team and owner come from its owner key (:func:`data.aggregates.owner_keys`), as
  :mod:`data.queries` resolves them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd
from sqlalchemy import Connection, Engine, and_, case, func, null, or_, select

from analytics.metrics import MetricError
from analytics.slicing import Slice
from data.aggregates import _at, _bucket, _in_slice, _live_lead, _multi, _passes, _resolved, owner_keys
from data.models import CANONICAL_MODELS
from data.transactions import transaction

DEAL_METRICS = ("sourced_pipeline", "won_revenue")
GROUPS = ("channel", "segment", "source", "owner_external_id")
FILTERS = ("channel", "team", "owner", "segment")


def deal_counts(
    bind: Engine | Connection,
    bounds: Sequence[pd.Timestamp],
    as_of,
    metric: str,
    keys: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Return the deals that count for ``metric`` in each period of ``bounds`` (n + 1 UTC instants), at ``as_of``.

    ``metric``: ``sourced_pipeline`` (marketing-sourced deals, by ``created_at``) or ``won_revenue`` (won
    deals, by ``closed_at``). One row per (``pos``, ``channel``, ``segment``, ``source``,
    ``owner_external_id``) with such deals: ``pos`` the period's position (0 = the first), ``channel`` as
    the engine resolves it (the lead's, else the deal's own), ``segment`` the lead's (missing without a
    lead), the deal's ``source`` and owner key, then ``owner_id`` (Int64) and ``team`` of that owner (missing
    when unknown), ``n`` (int64) the deals and ``amount`` (float64) their amounts, a missing one 0.
    ``keys``: :func:`data.aggregates.owner_keys`, when the caller has read them already.
    """
    if metric not in DEAL_METRICS:
        raise MetricError(
            f"deal_counts: unknown deal metric {metric!r}; use one of {', '.join(DEAL_METRICS)}"
        )
    if len(bounds) < 2:
        raise ValueError(f"deal_counts: bounds must hold n + 1 >= 2 instants, got {len(bounds)}")
    lead, deal = CANONICAL_MODELS["leads"].__table__, CANONICAL_MODELS["deals"].__table__
    lo, hi, now = _at(bounds[0]), _at(bounds[-1]), _at(as_of)
    known = and_(lead.c.id.isnot(None), _live_lead(lead, as_of))
    exists = and_(deal.c.archived.isnot(True), or_(deal.c.created_at.is_(None), deal.c.created_at <= now))
    joined = deal.outerjoin(
        lead, and_(lead.c.source == deal.c.source, lead.c.external_id == deal.c.lead_external_id)
    )
    if metric == "sourced_pipeline":
        when = deal.c.created_at
        multi = _multi()
        joined = joined.outerjoin(
            multi, and_(multi.c.source == lead.c.source, multi.c.lead_external_id == lead.c.external_id)
        )
        # The handover window holding a deal starts at or before its creation, unless it precedes the first.
        handed = case((multi.c.source.isnot(None), multi.c.first_mql), else_=lead.c.mql_at)
        counts = and_(known, handed <= now)
    else:  # a won deal counts whether or not its lead was handed over: no handover is looked up
        when = deal.c.closed_at
        counts = and_(deal.c.is_won.is_(True), when <= now)
    rows = (
        select(
            when.label("at"),
            case((known, lead.c.channel), else_=deal.c.channel).label("channel"),
            case((known, lead.c.segment), else_=null()).label("segment"),
            deal.c.source,
            deal.c.owner_external_id,
            func.coalesce(deal.c.amount, 0.0).label("amount"),
        )
        .select_from(joined)
        .where(when >= lo, when < hi, exists, counts)
        .subquery("counted")
    )
    pos = _bucket(rows.c.at, list(bounds)).label("pos")
    groups = [rows.c[g] for g in GROUPS]
    query = select(pos, *groups, func.count().label("n"), func.sum(rows.c.amount).label("amount")).group_by(
        pos, *groups
    )
    with transaction(bind) as conn:
        found = conn.execute(query).all()
        keys = owner_keys(conn) if keys is None else keys
    frame = pd.DataFrame(found, columns=["pos", *GROUPS, "n", "amount"])
    frame = frame.astype({"pos": "int64", **dict.fromkeys(GROUPS, "str"), "n": "int64", "amount": "float64"})
    return _resolved(frame, keys)[["pos", *GROUPS, "owner_id", "team", "n", "amount"]]


def deal_figures(
    counts: pd.DataFrame,
    filters: Iterable[tuple[str, Iterable[str]]],
    selection: Slice,
    owners: pd.DataFrame,
    periods: int,
) -> pd.DataFrame:
    """Return ``n`` (int64) and ``actual`` (float64) per period position 0..periods-1 from :func:`deal_counts`.

    ``filters``: a commitment's ``tuple(commitment.filters.items())``; ``selection``: the slice shown (its
    teams, owner ids and channels; empty: all); ``owners``: ``data.queries.read_owners`` (an owner filter
    matches names and external ids). The figures of a commitment of the counted metric with those filters
    on frames sliced by ``selection``, as :func:`analytics.commitments.evaluate` gives them: a period
    without deals has 0 and 0.0. The index is ``pos``.
    """
    filters = tuple((name, tuple(values)) for name, values in filters)
    unknown = [name for name, _ in filters if name not in FILTERS]
    if unknown:
        raise MetricError(f"unknown filter {unknown[0]!r}; filters: {', '.join(FILTERS)}")
    if periods < 0:
        raise ValueError(f"deal_figures: periods must be >= 0, got {periods}")
    if len(counts) and int(counts["pos"].max()) >= periods:
        raise ValueError(f"deal_figures: the counts reach period {int(counts['pos'].max())}, not < {periods}")
    keep = _in_slice(counts, selection) & _passes(counts, filters, owners)
    sums = counts[keep].groupby("pos")[["n", "amount"]].sum()
    sums = sums.reindex(pd.RangeIndex(periods, name="pos"), fill_value=0)
    return pd.DataFrame(
        {"n": sums["n"].to_numpy(dtype="int64"), "actual": sums["amount"].to_numpy(dtype="float64")},
        index=pd.RangeIndex(periods, name="pos"),
    )
