"""Targets from history: a baseline per commitment, and the reverse funnel from a revenue goal.

Baseline: from the last closed periods (default :data:`DEFAULT_PERIODS`) the
median actual is the suggested target and the 25th-75th percentile the range;
with fewer than :data:`MIN_PERIODS` periods the suggestion is provisional.

Reverse funnel (HubSpot's SLA calculator): revenue goal x marketing's share ->
won deals (/ average deal size) -> opportunities (/ win rate) -> SQLs (/ SQL to
opportunity rate) -> MQLs (/ MQL to SQL rate), each rounded up to whole items.

>>> b = baseline_of([380, 420, 400, 450, 390, 410])
>>> b.suggested, b.low, b.high, b.provisional
(405.0, 392.5, 417.5, False)
>>> reverse_funnel(100_000, FunnelAssumptions(average_deal_size=10_000, win_rate=0.25,
...     sql_to_opportunity=0.5, mql_to_sql=0.4))["needed"].tolist()
[100000.0, 10.0, 40.0, 80.0, 200.0]
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
import pandas as pd

from analytics.agreement import Agreement, AgreementVersion
from analytics.commitments import as_versions, document_in_force
from analytics.funnel import lead_stages
from analytics.metrics import Facts, as_instant, prepare_frames
from analytics.periods import assign_periods, period_grid, period_of
from errors import AccordError

DEFAULT_PERIODS = 6
MIN_PERIODS = 3


class BaselineError(AccordError, ValueError):
    """A baseline or reverse funnel cannot be computed; the message says which input is missing."""


@dataclass(frozen=True)
class Baseline:
    """A suggested target from history: median (``suggested``), p25-p75 range, how many periods it rests on."""

    suggested: float
    low: float
    high: float
    periods: int
    provisional: bool
    note: str


def baseline_of(values: Sequence[float], *, periods: int = DEFAULT_PERIODS) -> Baseline:
    """Return the baseline of the last ``periods`` values (oldest first; NaN values are skipped).

    >>> baseline_of([0.8, 0.9]).provisional
    True
    >>> baseline_of([]).note
    'no closed period with data yet'
    """
    if periods < 1:
        raise BaselineError(f"periods must be at least 1, got {periods}")
    clean = [float(v) for v in values if v is not None and not math.isnan(float(v))][-periods:]
    if not clean:
        return Baseline(math.nan, math.nan, math.nan, 0, True, "no closed period with data yet")
    low, mid, high = np.quantile(np.array(clean), [0.25, 0.5, 0.75])
    provisional = len(clean) < MIN_PERIODS
    note = f"median of the last {len(clean)} closed period{'s' if len(clean) > 1 else ''}"
    if provisional:
        note += f"; provisional: fewer than {MIN_PERIODS} periods of history"
    return Baseline(float(mid), float(low), float(high), len(clean), provisional, note)


def suggest_targets(evaluation: pd.DataFrame, *, periods: int = DEFAULT_PERIODS) -> pd.DataFrame:
    """Return one row per commitment of an ``evaluate`` frame with its baseline from closed periods.

    Columns: ``commitment``, ``metric``, ``kind``, ``target`` (the latest row's
    target), ``suggested``, ``low``, ``high``, ``periods``, ``first_period``,
    ``last_period``, ``provisional``, ``note``. Needs an evaluation without a
    breakdown (``by=None``); give it enough history (``start`` far enough back).
    """
    if any(c in evaluation.columns for c in ("owner_id", "team", "channel")):
        raise BaselineError("suggest_targets needs an evaluation without breakdown (by=None)")
    rows = []
    for commitment, group in evaluation.groupby("commitment", sort=False):
        group = group.sort_values("period_start")
        closed = group[(group["period_state"] == "closed") & group["actual"].notna()].tail(periods)
        base = baseline_of(closed["actual"].tolist(), periods=periods)
        rows.append(
            {
                "commitment": commitment,
                "metric": group["metric"].iloc[-1],
                "kind": group["kind"].iloc[-1],
                "target": group["target"].iloc[-1],
                "suggested": base.suggested,
                "low": base.low,
                "high": base.high,
                "periods": base.periods,
                "first_period": closed["period"].iloc[0] if base.periods else None,
                "last_period": closed["period"].iloc[-1] if base.periods else None,
                "provisional": base.provisional,
                "note": base.note,
            }
        )
    return pd.DataFrame(rows, columns=["commitment", "metric", "kind", "target", "suggested", "low", "high",
                                       "periods", "first_period", "last_period", "provisional", "note"])  # fmt: skip


# --- the reverse funnel --------------------------------------------------------------------------


@dataclass(frozen=True)
class FunnelAssumptions:
    """What the reverse funnel divides by. Rates are shares in (0, 1]; ``marketing_share`` of revenue in [0, 1]."""

    average_deal_size: float
    win_rate: float
    sql_to_opportunity: float
    mql_to_sql: float
    marketing_share: float = 1.0

    def with_overrides(self, **overrides: float | None) -> FunnelAssumptions:
        """Return a copy with the given assumptions replaced (None leaves one as is)."""
        known = {f.name for f in fields(self)}
        unknown = set(overrides) - known
        if unknown:
            raise BaselineError(
                f"unknown assumption {sorted(unknown)[0]!r}; assumptions: {', '.join(sorted(known))}"
            )
        return replace(self, **{k: float(v) for k, v in overrides.items() if v is not None})


def trailing_assumptions(
    agreement: Agreement | AgreementVersion | Iterable[AgreementVersion],
    frames: Mapping[str, pd.DataFrame],
    as_of: Any,
    *,
    periods: int = DEFAULT_PERIODS,
) -> FunnelAssumptions:
    """Return funnel assumptions from the last ``periods`` closed periods before ``as_of``.

    ``average_deal_size`` and ``win_rate`` (won / closed) come from deals closed
    in the window; ``marketing_share`` is the share of that won amount whose
    lead is a marketing lead; ``mql_to_sql`` and ``sql_to_opportunity`` from the
    cohort funnel of leads handed over in the window. A value without data is NaN
    (override it before :func:`reverse_funnel`).
    """
    moment = as_instant(as_of)
    doc = document_in_force(as_versions(agreement), moment)
    if periods < 1:
        raise BaselineError(f"periods must be at least 1, got {periods}")
    current = period_of(moment, doc.period, doc.timezone)["period_start"]
    span = pd.Timedelta(days=93 * periods + 7)  # more than `periods` quarters
    window = (
        period_grid(doc.period, doc.timezone, current - span, current).tail(periods).reset_index(drop=True)
    )
    facts = Facts(prepare_frames(frames, moment), doc.calendar_for(None), doc.team_calendars())

    deals = facts.deals
    in_window = assign_periods(deals["closed_at"], window) >= 0
    closed = in_window & deals["is_closed"].to_numpy(bool, na_value=False)
    won = in_window & deals["is_won"].to_numpy(bool, na_value=False)
    amount = deals["amount"].to_numpy(dtype="float64", na_value=np.nan)
    won_amount = np.nansum(amount[won])
    marketing = deals["lead_is_mql"].to_numpy(bool)

    stages = lead_stages(facts)[assign_periods(facts.leads["mql_at"], window) >= 0]
    mql, sql, opp = len(stages), int(stages["sql"].sum()), int(stages["opportunity"].sum())
    return FunnelAssumptions(
        average_deal_size=float(np.nanmean(amount[won]))
        if won.any() and not np.isnan(amount[won]).all()
        else math.nan,
        win_rate=float(won.sum() / closed.sum()) if closed.any() else math.nan,
        sql_to_opportunity=opp / sql if sql else math.nan,
        mql_to_sql=sql / mql if mql else math.nan,
        marketing_share=float(np.nansum(amount[won & marketing]) / won_amount)
        if won_amount > 0
        else math.nan,
    )


def reverse_funnel(
    revenue_goal: float, assumptions: FunnelAssumptions, **overrides: float | None
) -> pd.DataFrame:
    """Return what it takes to reach ``revenue_goal``: one row per step, ``needed`` and the ``assumption`` used.

    Steps: revenue from marketing (goal x marketing share), won deals,
    opportunities, SQLs, MQLs; counts are rounded up. ``overrides`` replace
    assumptions by name (e.g. ``win_rate=0.3``).
    """
    a = assumptions.with_overrides(**overrides)
    if not revenue_goal >= 0:
        raise BaselineError(f"revenue_goal must be 0 or more, got {revenue_goal}")
    if not a.average_deal_size > 0:
        raise BaselineError(
            f"average_deal_size must be more than 0, got {a.average_deal_size}: set it by hand"
        )
    for name in ("win_rate", "sql_to_opportunity", "mql_to_sql"):
        value = getattr(a, name)
        if not 0 < value <= 1:
            raise BaselineError(f"{name} must be a share in (0, 1], got {value}: set it by hand")
    if not 0 <= a.marketing_share <= 1:
        raise BaselineError(
            f"marketing_share must be a share in [0, 1], got {a.marketing_share}: set it by hand"
        )
    revenue = revenue_goal * a.marketing_share
    deals = math.ceil(_tidy(revenue / a.average_deal_size))
    opportunities = math.ceil(_tidy(deals / a.win_rate))
    sqls = math.ceil(_tidy(opportunities / a.sql_to_opportunity))
    mqls = math.ceil(_tidy(sqls / a.mql_to_sql))
    return pd.DataFrame(
        {
            "step": ["revenue from marketing", "won deals", "opportunities", "SQLs", "MQLs"],
            "needed": [revenue, deals, opportunities, sqls, mqls],
            "assumption": [
                "marketing_share",
                "average_deal_size",
                "win_rate",
                "sql_to_opportunity",
                "mql_to_sql",
            ],
            "value": [a.marketing_share, a.average_deal_size, a.win_rate, a.sql_to_opportunity, a.mql_to_sql],
        }
    ).astype({"needed": "float64", "value": "float64"})


def _tidy(x: float) -> float:
    # 0.1 * 3 / 0.3 is 1.0000000000000002; do not round that up to 2.
    return round(x, 9)


# --- the reverse funnel's starting point ----------------------------------------------------------------------


def default_revenue_goal(agreement: Agreement, average_deal_size: float, win_rate: float) -> float:
    """Return a revenue goal to start the reverse funnel from, rounded to two significant digits.

    The agreement's own ``won_revenue`` target if it has one (without filters);
    else its ``sourced_pipeline`` target x ``win_rate``; else ten average deals;
    else 100,000.

    >>> from analytics.agreement import parse_agreement
    >>> doc = parse_agreement("{name: A, parties: [m], "
    ...     "commitments: [{id: p, owner: m, metric: sourced_pipeline, target: 5000000}]}")
    >>> default_revenue_goal(doc, 31_000.0, 0.2437)
    1200000.0
    """

    def target_of(metric: str) -> float | None:
        for c in agreement.commitments:
            if c.metric == metric and c.target is not None and not c.filters.items():
                return float(c.target)
        return None

    goal = target_of("won_revenue")
    pipeline = target_of("sourced_pipeline")
    if goal is None and pipeline is not None and _finite(win_rate):
        goal = pipeline * win_rate
    if goal is None and _finite(average_deal_size):
        goal = 10 * average_deal_size
    if not goal or not _finite(goal):
        return 100_000.0
    digits = 1 - int(math.floor(math.log10(abs(goal))))
    return float(round(goal, digits))


def rounded_target(value: float, kind: str) -> float:
    """Return a suggested target rounded the way targets are written.

    Rates to two decimals (0.874 -> 0.87), counts to whole items, amounts to
    three significant digits, durations to a tenth of an hour.

    >>> rounded_target(0.8749, "rate"), rounded_target(163.4, "count"), rounded_target(1413550, "amount")
    (0.87, 163.0, 1410000.0)
    >>> rounded_target(3.14159, "duration")
    3.1
    """
    if not _finite(value):
        raise ValueError(f"cannot round {value!r} to a target")
    if kind == "rate":
        return round(value, 2)
    if kind == "count":
        return float(round(value))
    if kind == "amount":
        if value == 0:
            return 0.0
        digits = 2 - int(math.floor(math.log10(abs(value))))
        return float(round(value, digits))
    return round(value, 1)


def mql_target(agreement: Agreement) -> float | None:
    """Return the agreement's MQL volume target per period (an ``mql_count`` commitment without filters)."""
    for c in agreement.commitments:
        if c.metric == "mql_count" and c.target is not None and not c.filters.items():
            return float(c.target)
    return None


def _finite(value: float | None) -> bool:
    return value is not None and not math.isnan(value) and not math.isinf(value)
