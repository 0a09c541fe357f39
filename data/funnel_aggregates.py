"""The Funnel page's history answered by the database: cohorts, pipeline and won revenue per period.

Reading 15 periods of leads, deals and activities into pandas for the Funnel page costs ~16 s at a million
leads; these aggregate queries (SQLAlchemy Core, the same on SQLite and PostgreSQL) return a row per period
instead. They follow the pandas engine's rules as :mod:`data.aggregates` does (whose building blocks they
reuse: handover windows of recycled leads, archived rows left out, everything known by as_of, periods
bucketed by boundaries computed in Python in the agreement's timezone):

- a cohort row is a handover (:func:`analytics.funnel.lead_stages`): opportunity once a deal of it (of its
  handover's window) exists by as_of, at the first one's ``created_at``; won once one of them was won by
  as_of, at the first such ``closed_at``; SQL when its ``sql_at`` is known by as_of or it has a deal;
- median days between stages: over the handovers where both stage times are known, negative as 0. SQLite
  has no percentile function, so both databases use the same workaround: the values of each period are
  numbered in order (``row_number``) and only the one or two middle ones are averaged (what
  ``percentile_cont(0.5)`` and ``pandas.median`` return);
- deals: sourced pipeline sums the deals created in a period whose lead (of that window) was handed over by
  as_of, won revenue the deals won and closed in a period by as_of (a missing amount counts 0).

The slice (team, owner, channel) of the cohorts is applied in the query (a median cannot be combined from
groups); the deal sums are grouped by channel, segment and owner key so the slice and a commitment's
filters are applied in pandas on the small result, as :mod:`data.aggregates` does.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    null,
    or_,
    select,
    type_coerce,
    union_all,
)

from analytics.commitments import as_versions, document_in_force, with_tracked
from analytics.funnel import STAGES
from analytics.funnel_history import DAYS, FunnelHistory, cohort_frame, slice_target, summed_rows
from analytics.periods import period_grid
from analytics.slicing import Slice
from data import queries
from data.aggregates import (
    _at,
    _handover_windows,
    _in_slice,
    _in_window,
    _multi,
    _passes,
    _resolved,
    owner_keys,
)
from data.models import CANONICAL_MODELS, UTCDateTime
from data.transactions import transaction

REVENUE_METRICS = ("sourced_pipeline", "won_revenue")
DEAL_GROUPS = ("metric", "pos", "channel", "segment", "source", "owner_external_id")
EVERYONE = Slice()  # no slice
_PAIRS = (("mql", "sql"), ("sql", "opp"), ("opp", "won"))  # the stage times each of DAYS is between


def _days(later, earlier, dialect: str):
    """Calendar days from ``earlier`` to ``later`` (epoch µs on SQLite, timestamptz on PostgreSQL)."""
    if dialect == "sqlite":
        return (type_coerce(later, BigInteger) - type_coerce(earlier, BigInteger)) / 86_400_000_000.0
    return func.extract("epoch", later - earlier) / 86_400.0


def _scanned(column, dialect: str):
    """``column`` for a range condition that SQLite answers with a scan, not the column's index.

    SQLite has no statistics to tell it that 15 periods hold most rows: reading them through the index
    costs 2.5x a scan at a million leads; ``+ 0`` keeps it to the scan (PostgreSQL's planner chooses).
    """
    return type_coerce(column, BigInteger) + 0 if dialect == "sqlite" else column


def _existing(table, as_of, dialect: str):
    """Rows of ``table`` (leads or deals) not archived and created by as_of (or undated), as
    :func:`data.aggregates._live_lead` says, with :func:`_scanned` instants: ``created_at IS NULL OR ...``
    otherwise sends SQLite through the created_at index twice (a MULTI-INDEX OR over most of the table)."""
    created = _scanned(table.c.created_at, dialect)
    return and_(table.c.archived.isnot(True), or_(table.c.created_at.is_(None), created <= _at(as_of)))


def _position(column, bounds, first: int = 0):
    """The position of ``column``'s period among ``bounds`` (n + 1 instants), for a value known to lie in
    [bounds[0], bounds[-1]): nested CASEs halving the periods, about log2(n) comparisons a row where
    :func:`data.aggregates._bucket` makes up to 2n (a million rows, 15 periods)."""
    if len(bounds) == 2:
        return literal(first)
    mid = len(bounds) // 2
    return case(
        (column < _at(bounds[mid]), _position(column, bounds[: mid + 1], first)),
        else_=_position(column, bounds[mid:], first + mid),
    )


def _slice_condition(selection: Slice, keys: pd.DataFrame, channel, source, owner_key):
    """Whether a row (its ``channel``, ``source`` and ``owner_key`` columns) is in ``selection``, or None (all).

    Team and owner are those of the person the owner key belongs to (``keys``: :func:`owner_keys`); a
    missing value never matches.
    """
    conditions = []
    for chosen, column in ((selection.teams, "team"), (selection.owners, "id")):
        if chosen:
            mine = keys[keys[column].isin(list(chosen)).to_numpy(bool, na_value=False)]
            per_source = mine.groupby("source")["external_id"].agg(list)
            conditions.append(
                or_(*(and_(source == s, owner_key.in_(ids)) for s, ids in per_source.items()))
                if len(per_source)
                else false()
            )
    if selection.channels:
        conditions.append(channel.in_(list(selection.channels)))
    return and_(*conditions) if conditions else None


def _handover_stages(bounds, as_of, dialect: str):
    """The handovers in [bounds[0], bounds[-1]) known by as_of, as rows to sum and to take medians of.

    Columns: the lead's ``channel``, ``source`` and ``owner_external_id``; ``handed`` (the handover, for its
    period); the stage times ``mql``, ``sql`` (by as_of), ``opp`` and ``won`` (the first deal created / won)
    where a row holds them; and what it adds to the counts: ``m`` (handovers), ``s`` (SQLs), ``o``
    (opportunities), ``w`` (won). Most leads have no deal, so a lead handed over once is a row of its own
    (``m``, and ``s`` when its sql_at is known) plus, when it has deals, a row found from its deals (``o``,
    ``w``, and ``s`` when only its deal makes it an SQL): a scan of the leads and a lookup per lead with
    deals, not a join of every lead. A repeat handover (:mod:`data.handovers`) is one row with everything.
    """
    lead, deal = CANONICAL_MODELS["leads"].__table__, CANONICAL_MODELS["deals"].__table__
    lo, hi = bounds[0], bounds[-1]
    deal_live = _existing(deal, as_of, dialect)
    won_by = and_(deal.c.is_won.is_(True), deal.c.closed_at.isnot(None), deal.c.closed_at <= _at(as_of))
    per_lead = (
        select(
            deal.c.source,
            deal.c.lead_external_id,
            func.min(deal.c.created_at).label("opp"),
            func.min(case((won_by, deal.c.closed_at), else_=null())).label("won"),
        )
        .where(deal_live, deal.c.lead_external_id.isnot(None))
        .group_by(deal.c.source, deal.c.lead_external_id)
        .subquery("per_lead")
    )
    multi = _multi()
    no_time = cast(null(), UTCDateTime())
    sql_at = case((lead.c.sql_at <= _at(as_of), lead.c.sql_at), else_=null())
    mql_at = _scanned(lead.c.mql_at, dialect)
    handed_once = (
        multi.c.source.is_(None),
        mql_at >= _at(lo),
        mql_at < _at(hi),
        mql_at <= _at(as_of),
        _existing(lead, as_of, dialect),
    )
    of_multi = and_(multi.c.source == lead.c.source, multi.c.lead_external_id == lead.c.external_id)
    keys = (lead.c.channel, lead.c.source, lead.c.owner_external_id)
    plain = (
        select(
            *keys,
            lead.c.mql_at.label("handed"),
            lead.c.mql_at.label("mql"),
            sql_at.label("sql"),
            no_time.label("opp"),
            no_time.label("won"),
            literal(1).label("m"),
            case((sql_at.isnot(None), 1), else_=0).label("s"),
            literal(0).label("o"),
            literal(0).label("w"),
        )
        .outerjoin(multi, of_multi)
        .where(*handed_once)
    )
    with_deals = (
        select(
            *keys,
            lead.c.mql_at.label("handed"),
            no_time.label("mql"),
            sql_at.label("sql"),
            per_lead.c.opp,
            per_lead.c.won,
            literal(0).label("m"),
            case((sql_at.is_(None), 1), else_=0).label("s"),
            literal(1).label("o"),
            case((per_lead.c.won.isnot(None), 1), else_=0).label("w"),
        )
        .select_from(per_lead)
        .join(
            lead, and_(lead.c.source == per_lead.c.source, lead.c.external_id == per_lead.c.lead_external_id)
        )
        .outerjoin(multi, of_multi)
        .where(*handed_once)
    )
    w = _handover_windows(multi)
    own_sql = func.coalesce(w.c.sql_at, case((_in_window(lead.c.sql_at, w), lead.c.sql_at), else_=null()))
    own_sql = case((own_sql <= _at(as_of), own_sql), else_=null())
    # A deal without created_at belongs to the first handover, as data.handovers.assign gives it.
    of_handover = and_(
        deal.c.source == lead.c.source,
        deal.c.lead_external_id == lead.c.external_id,
        deal_live,
        or_(_in_window(deal.c.created_at, w), and_(deal.c.created_at.is_(None), w.c.rank == 1)),
    )
    has_deal = exists().where(of_handover)
    won_at = select(func.min(deal.c.closed_at)).where(of_handover, won_by).scalar_subquery()
    repeat = (
        select(
            *keys,
            w.c.mql_at.label("handed"),
            w.c.mql_at.label("mql"),
            own_sql.label("sql"),
            select(func.min(deal.c.created_at)).where(of_handover).scalar_subquery().label("opp"),
            won_at.label("won"),
            literal(1).label("m"),
            case((or_(own_sql.isnot(None), has_deal), 1), else_=0).label("s"),
            case((has_deal, 1), else_=0).label("o"),
            case((won_at.isnot(None), 1), else_=0).label("w"),
        )
        .join(lead, and_(lead.c.source == w.c.source, lead.c.external_id == w.c.lead_external_id))
        .where(
            w.c.mql_at >= _at(lo),
            w.c.mql_at < _at(hi),
            w.c.mql_at <= _at(as_of),
            _existing(lead, as_of, dialect),
        )
    )
    return union_all(plain, with_deals, repeat)


def cohort_figures(
    bind: Engine | Connection, bounds, as_of, selection: Slice = EVERYONE, keys: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (counts, medians) of the handover cohorts of each period of ``bounds`` (n + 1 UTC instants).

    counts: one row per period with handovers: ``pos`` (0 = the first period), ``mql``, ``sql``,
    ``opportunity``, ``won`` (handovers that reached each stage by as_of); medians: ``pos`` and the
    :data:`analytics.funnel_history.DAYS` columns (NaN: no handover with both times). ``selection``: the
    slice, resolved with ``keys`` (:func:`owner_keys`, read when not given).
    """
    with transaction(bind) as conn:
        dialect = conn.dialect.name
        handed = _handover_stages(bounds, as_of, dialect).subquery("handed")
        needed = [handed.c[c] for c in ("mql", "sql", "opp", "won", "m", "s", "o", "w")]
        query = select(_position(handed.c.handed, bounds).label("pos"), *needed)
        if selection:
            keys = owner_keys(conn) if keys is None else keys
            query = query.where(
                _slice_condition(
                    selection, keys, handed.c.channel, handed.c.source, handed.c.owner_external_id
                )
            )
        # Computed once for the counts and the three medians (a CTE is otherwise evaluated where it is used).
        rows = query.cte("stages").prefix_with("MATERIALIZED")
        counts = select(
            literal(-1).label("pair"),
            rows.c.pos,
            func.sum(rows.c.m).label("a"),
            func.sum(rows.c.s).label("b"),
            func.sum(rows.c.o).label("c"),
            func.sum(rows.c.w).label("d"),
        ).group_by(rows.c.pos)
        spans = []
        for i, (a, b) in enumerate(_PAIRS):
            later, earlier = getattr(rows.c, b), getattr(rows.c, a)
            days = _days(later, earlier, dialect)
            spans.append(
                select(
                    literal(i).label("pair"), rows.c.pos, case((days < 0, 0.0), else_=days).label("days")
                ).where(later.isnot(None), earlier.isnot(None))
            )
        values = union_all(*spans).subquery("spans")
        part = {"partition_by": (values.c.pair, values.c.pos), "order_by": values.c.days}
        ranked = select(
            values.c.pair,
            values.c.pos,
            values.c.days,
            func.row_number().over(**part).label("rn"),
            func.count().over(partition_by=(values.c.pair, values.c.pos)).label("cnt"),
        ).subquery("ranked")
        # The middle value (odd count) or the two middle ones (even count): (cnt + 1) / 2 and (cnt + 2) / 2.
        middle = (
            select(ranked.c.pair, ranked.c.pos, func.avg(ranked.c.days), null(), null(), null())
            .where(ranked.c.rn.in_([(ranked.c.cnt + 1) // 2, (ranked.c.cnt + 2) // 2]))
            .group_by(ranked.c.pair, ranked.c.pos)
        )
        found = pd.DataFrame(
            conn.execute(union_all(counts, middle)).all(), columns=["pair", "pos", "a", "b", "c", "d"]
        )
    found = found[found["pos"].notna()]
    is_count = found["pair"] == -1
    counts = found[is_count].drop(columns="pair").astype("int64")
    counts.columns = ["pos", "mql", "sql", "opportunity", "won"]
    medians = found[~is_count][["pair", "pos", "a"]].astype({"pair": "int64", "pos": "int64", "a": "float64"})
    wide = medians.pivot(index="pos", columns="pair", values="a").reindex(columns=range(len(DAYS)))
    wide.columns = list(DAYS)
    return counts.reset_index(drop=True), wide.reset_index()


def deal_sums(bind: Engine | Connection, bounds, as_of) -> pd.DataFrame:
    """Return the sourced and won deals of each period of ``bounds`` (n + 1 UTC instants) known at ``as_of``.

    One row per (``metric``, ``pos``, ``channel``, ``segment``, ``source``, ``owner_external_id``):
    ``deals`` and ``amount`` (their sum, a missing amount 0). ``sourced_pipeline``: deals created in the
    period whose lead (of its handover window) was handed over by as_of; ``won_revenue``: deals won and
    closed in the period by as_of. Channel and segment are the lead's when it exists by as_of (the
    channel then the deal's own), the owner key the deal's own.
    """
    lead, deal = CANONICAL_MODELS["leads"].__table__, CANONICAL_MODELS["deals"].__table__
    dialect = bind.dialect.name
    multi = _multi()
    known = and_(lead.c.id.isnot(None), _existing(lead, as_of, dialect))
    # The window holding a deal starts at or before its creation, unless it precedes the first handover.
    handed = case((multi.c.source.isnot(None), multi.c.first_mql), else_=lead.c.mql_at)

    def rows(metric: str, at, *conditions):
        return (
            select(
                literal(metric).label("metric"),
                _position(at, bounds).label("pos"),
                case((known, lead.c.channel), else_=deal.c.channel).label("channel"),
                case((known, lead.c.segment), else_=null()).label("segment"),
                deal.c.source,
                deal.c.owner_external_id,
                func.coalesce(deal.c.amount, 0.0).label("amount"),
            )
            .select_from(deal)
            .outerjoin(
                lead, and_(lead.c.source == deal.c.source, lead.c.external_id == deal.c.lead_external_id)
            )
            .outerjoin(
                multi, and_(multi.c.source == lead.c.source, multi.c.lead_external_id == lead.c.external_id)
            )
            .where(
                _scanned(at, dialect) >= _at(bounds[0]),
                _scanned(at, dialect) < _at(bounds[-1]),
                _scanned(at, dialect) <= _at(as_of),
                _existing(deal, as_of, dialect),
                *conditions,
            )
        )

    both = union_all(
        rows("sourced_pipeline", deal.c.created_at, known, handed <= _at(as_of)),
        rows("won_revenue", deal.c.closed_at, deal.c.is_won.is_(True)),
    ).subquery("deals")
    group = [getattr(both.c, c) for c in DEAL_GROUPS]
    query = select(*group, func.count().label("deals"), func.sum(both.c.amount).label("amount")).group_by(
        *group
    )
    with transaction(bind) as conn:
        found = conn.execute(query).all()
    frame = pd.DataFrame(found, columns=[*DEAL_GROUPS, "deals", "amount"])
    frame = frame[frame["pos"].notna()]
    return frame.astype(
        {"metric": "str", "pos": "int64", "channel": "str", "segment": "str", "source": "str",
         "owner_external_id": "str", "deals": "int64", "amount": "float64"}
    ).reset_index(drop=True)  # fmt: skip


def won_missing(
    bind: Engine | Connection,
    start,
    end,
    as_of,
    selection: Slice = EVERYONE,
    keys: pd.DataFrame | None = None,
) -> tuple[int, int]:
    """Return (won deals closed in [start, end) by as_of without an amount, all those won deals) of the slice:
    ``views.funnel.won_without_amount`` of the sliced deals (a deal's channel its lead's when it has one)."""
    lead, deal = CANONICAL_MODELS["leads"].__table__, CANONICAL_MODELS["deals"].__table__
    channel = case((lead.c.id.isnot(None), lead.c.channel), else_=deal.c.channel)
    query = (
        select(func.count(), func.sum(case((deal.c.amount.is_(None), 1), else_=0)))
        .select_from(deal)
        .outerjoin(lead, and_(lead.c.source == deal.c.source, lead.c.external_id == deal.c.lead_external_id))
        .where(
            deal.c.is_won.is_(True),
            deal.c.closed_at >= _at(start),
            deal.c.closed_at < _at(end),
            deal.c.closed_at <= _at(as_of),
            deal.c.archived.isnot(True),
        )
    )
    with transaction(bind) as conn:
        if selection:
            keys = owner_keys(conn) if keys is None else keys
            query = query.where(
                _slice_condition(selection, keys, channel, deal.c.source, deal.c.owner_external_id)
            )
        won, blank = conn.execute(query).one()
    return int(blank or 0), int(won or 0)


def funnel_history(bind: Engine | Connection, versions, f, history_start) -> FunnelHistory:
    """Return the :class:`~analytics.funnel_history.FunnelHistory` of filters ``f`` (a ``views.filters.Filters``)
    from aggregate queries: what ``views.funnel.history_from_frames`` computes from frames."""
    versions = as_versions(versions)
    doc = document_in_force(versions, f.as_of)
    grid = period_grid(doc.period, doc.timezone, history_start, f.period_end)
    grid = grid[grid["period_start"] <= f.as_of].reset_index(drop=True)
    owners = queries.read_owners(bind)
    if grid.empty:
        none = pd.DataFrame({c: pd.Series(dtype="int64") for c in ("pos", *STAGES)})
        return FunnelHistory(owners, cohort_frame(grid, none, pd.DataFrame()), {}, (0, 0))
    bounds = [*grid["period_start"], grid["period_end"].iloc[-1]]
    selection = Slice(tuple(f.teams), tuple(int(o) for o in f.owners), tuple(f.channels))
    keys = owner_keys(bind)
    counts, medians = cohort_figures(bind, bounds, f.as_of, selection, keys)
    cohorts = cohort_frame(grid, counts, medians)

    sums = _resolved(deal_sums(bind, bounds, f.as_of), keys)
    sums = sums[_in_slice(sums, f)].reset_index(drop=True)
    tracked = with_tracked(versions, REVENUE_METRICS)
    revenue = {}
    for metric in REVENUE_METRICS:
        mine = sums[sums["metric"] == metric]
        by_filters: dict = {}

        def summed(commitment, mine=mine, by_filters=by_filters) -> pd.DataFrame:
            key = tuple((name, tuple(values)) for name, values in commitment.filters.items())
            if key not in by_filters:
                rows = mine[_passes(mine, key, owners)]
                by_filters[key] = rows.groupby("pos").agg(n=("deals", "sum"), actual=("amount", "sum"))
            return by_filters[key]

        revenue[metric] = summed_rows(
            tracked, metric, history_start, f.period_end, f.as_of, summed,
            lambda c: slice_target(c, selection, owners),
        )  # fmt: skip
    missing = won_missing(bind, f.period_start, f.period_end, f.as_of, selection, keys)
    return FunnelHistory(owners, cohorts, revenue, missing)
