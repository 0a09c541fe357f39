"""The Funnel page as data: the cohort of the period down the funnel, cohorts over time, pipeline and revenue.

:func:`funnel_view` returns every figure, table, sentence and chart the page shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from analytics import breakdown_charts as bc
from analytics import wording
from analytics.charts import STATUS_LABELS, funnel_chart, trend_chart
from analytics.commitments import (
    as_versions,
    document_in_force,
    evaluate,
    find_commitment,
    rows_for,
    stage_targets,
    tracked_commitment,
    with_tracked,
)
from analytics.funnel import STAGE_LABELS, STAGES, funnel, funnel_totals
from analytics.funnel_history import FunnelHistory
from analytics.metrics import reusing_prepared
from views.figures import figure_rows
from views.filters import Filters
from views.sales import TRACKED_METRICS

PAGE = "funnel"
REVENUE = {"sourced_pipeline": "Sourced pipeline", "won_revenue": "Won revenue"}


@dataclass(frozen=True)
class Stage:
    """One stage tile of the period's cohort: how many leads reached it, and a note."""

    stage: str
    label: str
    value: str
    note: str
    leads: int


@dataclass(frozen=True)
class Revenue:
    """Pipeline or won revenue by period: chart (or a sentence), the period's badge and sentence, the CSV."""

    metric: str
    label: str
    chart: go.Figure | None
    no_deals: str
    status_label: str | None
    badge: str | None
    sentence: str | None
    table: pd.DataFrame | None
    rows: pd.DataFrame
    missing_amounts: str = ""  # won deals of the period without an amount, said (they add nothing to revenue)


def won_without_amount(deals: pd.DataFrame, start: Any, end: Any, as_of: Any) -> tuple[int, int]:
    """Return (won deals closed in [start, end) by ``as_of`` with no amount, all won deals closed then).

    A won deal without an amount is still a won deal; it adds nothing to won revenue, so the page says how
    many there are.

    >>> deals = pd.DataFrame({"is_won": [True, True, False], "amount": [None, 10.0, None],
    ...     "closed_at": pd.to_datetime(["2026-03-02", "2026-03-05", "2026-03-06"], utc=True)})
    >>> won_without_amount(deals, "2026-03-01T00:00Z", "2026-04-01T00:00Z", "2026-03-31T00:00Z")
    (1, 2)
    """
    if deals.empty or "closed_at" not in deals:
        return 0, 0
    closed = deals["closed_at"]
    won = (
        deals["is_won"].fillna(False).astype(bool)
        & (closed >= pd.Timestamp(start))
        & (closed < pd.Timestamp(end))
    )
    won &= closed <= pd.Timestamp(as_of)
    if "archived" in deals:
        won &= ~deals["archived"].fillna(False).astype(bool)
    won = won.fillna(False).astype(bool)
    return int((won & deals["amount"].isna()).sum()), int(won.sum())


@dataclass(frozen=True)
class FunnelView:
    """Everything the Funnel page shows for one period, slice and as-of instant."""

    filters: Filters
    selection: str
    no_periods: str  # the sentence when no period has started ("" otherwise)
    cohort_title: str = ""
    empty_cohort: str = ""  # the sentence when the period's cohort is empty ("" otherwise)
    stages: tuple[Stage, ...] = ()
    cohort_chart: go.Figure | None = None
    stage_days: tuple[tuple[str, str], ...] = ()  # (label, "3.2 days")
    cohorts_title: str = ""
    no_cohorts: str = ""
    cohorts: pd.DataFrame | None = None
    conversion_chart: go.Figure | None = None
    days_chart: go.Figure | None = None
    cohort_table: pd.DataFrame | None = None
    revenue_title: str = ""
    revenue: tuple[Revenue, ...] = ()

    def figures(self) -> pd.DataFrame:
        """Every figure of the page as rows: the stages of the period's cohort, pipeline and revenue by period."""
        parts = []
        if self.stages:
            parts.append(figure_rows(pd.DataFrame({
                "commitment": [f"funnel-{s.stage}" for s in self.stages], "period": self.filters.period,
                "actual": [float(s.leads) for s in self.stages], "kind": "count", "unit": "leads",
            }), PAGE, self.selection))  # fmt: skip
        for r in self.revenue:
            if len(r.rows):
                parts.append(figure_rows(r.rows, PAGE, self.selection))
        return (
            pd.concat(parts, ignore_index=True)
            if parts
            else figure_rows(pd.DataFrame(), PAGE, self.selection)
        )


def data_window(f: Filters, history_start: pd.Timestamp) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Return the [start, end) of data :func:`funnel_view` needs: from ``history_start`` to the later of the
    period's end and as_of, so a closed period's cohort counts the deals created since ("all by now")."""
    return pd.Timestamp(history_start), max(f.period_end, f.as_of + pd.Timedelta(microseconds=1))


@reusing_prepared
def history_from_frames(
    versions: Any, history: Mapping[str, pd.DataFrame], f: Filters, history_start: pd.Timestamp
) -> FunnelHistory:
    """Return the :class:`~analytics.funnel_history.FunnelHistory` of ``f`` computed from frames (the pandas
    engine: the oracle of ``data.funnel_aggregates.funnel_history``); ``history`` (unsliced) covers
    :func:`data_window`."""
    versions = as_versions(versions)
    doc = document_in_force(versions, f.as_of)
    data = f.slice(history)
    cohorts = funnel(versions, data, history_start, f.period_end, f.as_of)
    results = evaluate(with_tracked(versions, TRACKED_METRICS), data, history_start, f.period_end, f.as_of)
    revenue = {metric: rows_for(results, doc, metric) for metric in REVENUE}
    missing = won_without_amount(data["deals"], f.period_start, f.period_end, f.as_of)
    return FunnelHistory(history.get("owners", pd.DataFrame()), cohorts, revenue, missing)


def funnel_view(
    versions: Any,
    history: Mapping[str, pd.DataFrame] | FunnelHistory,
    f: Filters,
    history_start: pd.Timestamp,
) -> FunnelView:
    """Return the :class:`FunnelView` of ``f`` from its history: a :class:`~analytics.funnel_history.FunnelHistory`
    (from the database or :func:`history_from_frames`), or frames (unsliced) covering :func:`data_window`."""
    if not isinstance(history, FunnelHistory):
        history = history_from_frames(versions, history, f, history_start)
    versions = as_versions(versions)
    doc = document_in_force(versions, f.as_of)
    period = f.period_name
    selection = f.selection(history.owners)
    said = f.selection(history.owners, markdown=True)  # in sentences
    cohorts = history.cohorts
    if cohorts.empty:
        return FunnelView(
            f, selection, "The agreement's periods have not started yet: there is no funnel to show."
        )
    selected = cohorts[cohorts["period"] == f.period]
    first, last = (
        wording.period_name(cohorts["period"].iloc[0]),
        wording.period_name(cohorts["period"].iloc[-1]),
    )
    span = f"{first} to {last} · {selection}"
    out: dict[str, Any] = {"cohort_title": f"Leads handed over in {period}"}

    targets = stage_targets(doc)
    if selected.empty or int(selected["mql"].iloc[0]) == 0:
        out["empty_cohort"] = f"No lead was handed over in {period} for {said}: the cohort is empty."
    else:
        cohort = selected.iloc[0]
        totals = funnel_totals(selected)
        stages = []
        for stage, (_, total) in zip(STAGES, totals.iterrows(), strict=True):
            label = STAGE_LABELS[stage]
            if stage != "mql":
                note = f"{wording.share_text(total['of_mql'])} of MQLs"
            elif label in targets:
                note = f"{wording.share_text(total['leads'] / targets[label])} of the {targets[label]:,.0f} target"
            else:
                note = "handed over"
            stages.append(Stage(stage, label, f"{int(total['leads']):,}", note, int(total["leads"])))
        out["stages"] = tuple(stages)
        out["cohort_chart"] = funnel_chart(
            totals,
            title=f"Funnel of the leads handed over<br><sup>{period} · {selection}</sup>",
            targets=targets,
        )
        out["stage_days"] = tuple(
            (label, "–" if pd.isna(cohort[column]) else f"{cohort[column]:.1f} days")
            for column, label in bc.STAGE_DAYS.items()
        )

    out["cohorts_title"] = f"Cohorts by handover period, {first} to {last}"
    if int(cohorts["mql"].sum()) == 0:
        out["no_cohorts"] = f"No lead was handed over between {first} and {last} for {said}."
    else:
        mql_to_sql = find_commitment(doc, "mql_to_sql_rate")
        out["cohorts"] = cohorts
        out["conversion_chart"] = bc.conversion_chart(
            cohorts, title=f"Conversion by handover period<br><sup>{span}</sup>",
            target=mql_to_sql.target if mql_to_sql is not None else None,
        )  # fmt: skip
        out["days_chart"] = bc.stage_days_chart(
            cohorts, title=f"Median days between stages<br><sup>{span}</sup>"
        )
        out["cohort_table"] = cohorts.drop(columns=["period_start", "period_end"])

    out["revenue_title"] = f"Pipeline and won revenue against target, {first} to {last}"
    revenue = []
    for metric, label in REVENUE.items():
        missing_amounts = ""
        if metric == "won_revenue":
            blank, won = history.won_missing
            if blank:
                missing_amounts = (
                    f"{blank:,} of {won:,} won deals closed in {period} have no amount: they count as won deals "
                    "and add nothing to won revenue."
                )
        commitment = tracked_commitment(doc, metric)
        rows = history.revenue.get(metric, pd.DataFrame(columns=["period", "n"]))
        this = rows[rows["period"] == f.period] if len(rows) else rows
        row = this.iloc[0] if len(this) else None
        chart = None
        if not (rows.empty or rows["n"].sum() == 0):
            chart = trend_chart(rows, title=f"{label} by period<br><sup>{span}</sup>", currency=doc.currency)
        revenue.append(Revenue(
            metric, label, chart, f"No deal was opened or closed between {first} and {last} for {said}.",
            None if row is None else STATUS_LABELS.get(row["status"], row["status"]),
            None if row is None else wording.badge_color(row["status"]),
            None if row is None else wording.result_sentence(row, noun=wording.metric_noun(commitment),
                                                             currency=doc.currency),
            None if rows.empty else rows[["period", "actual", "target", "gap", "status", "n"]].rename(
                columns={"n": "won deals" if metric == "won_revenue" else "sourced deals"}  # n: the deals summed
            ),
            rows, missing_amounts,
        ))  # fmt: skip
    out["revenue"] = tuple(revenue)
    return FunnelView(f, selection, "", **out)
