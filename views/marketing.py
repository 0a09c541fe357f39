"""The Marketing page as data: MQLs, SQLs and pipeline against target, by channel and campaign, acceptance,
rejection reasons and the MQL -> SQL trend.

:func:`marketing_view` returns every figure, table, sentence and chart the page shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from analytics import breakdown_charts as bc
from analytics import breakdowns as bd
from analytics import commitments as core
from analytics import mix, wording
from analytics.charts import STATUS_LABELS, pacing_chart, trend_chart
from analytics.commitments import as_versions, document_in_force, evaluate
from analytics.funnel import handover_split
from analytics.metrics import METRICS
from analytics.periods import period_of
from analytics.snapshots import format_change, window_frames
from views.figures import figure_rows
from views.filters import Filters
from views.sales import TRACKED_METRICS

PAGE = "marketing"
HEADLINE = {"mql_count": "MQLs", "sql_count": "SQLs", "sourced_pipeline": "Sourced pipeline"}
BREAKDOWNS = {"channel": "Channel", "campaign": "Campaign"}
COMPARED_BY = "channel"  # the breakdown shown against the previous period and its usual share


@dataclass(frozen=True)
class Headline:
    """One headline figure: tile, badge, sentence and its pacing chart (or why it is missing)."""

    metric: str
    label: str
    value: str = ""
    delta: str | None = None
    status_label: str = ""
    badge: str = "gray"
    sentence: str = ""
    help: str | None = None
    pacing: go.Figure | None = None
    missing: str = ""  # the sentence instead, when there is no row for the period
    row: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Breakdown:
    """MQLs, SQLs and pipeline per channel or campaign against the previous period and the usual share.

    ``table`` holds the numbers (the CSV: :func:`analytics.mix.compare_volume`), ``cells`` the same rows as
    the page shows them (:func:`volume_cells`), ``chart`` the period's volume; ``compared`` names the periods.
    """

    by: str
    table: pd.DataFrame
    chart: go.Figure | None
    cells: pd.DataFrame | None = None
    compared: str = ""


@dataclass(frozen=True)
class MarketingView:
    """Everything the Marketing page shows for one period, slice and as-of instant."""

    filters: Filters
    selection: str
    period_name: str
    closed_note: str
    headlines: tuple[Headline, ...]
    breakdowns: Mapping[str, Breakdown]
    no_volume: str
    acceptance_row: Mapping[str, Any] | None
    acceptance_status_label: str
    acceptance_badge: str
    acceptance_sentence: str
    acceptance: pd.DataFrame
    acceptance_chart: go.Figure | None
    no_acceptance: str
    reasons_chart: go.Figure | None
    reasons_table: pd.DataFrame | None
    no_reasons: str
    trend: pd.DataFrame
    trend_title: str = ""
    trend_chart: go.Figure | None = None
    trend_caption: str = ""
    trend_table: pd.DataFrame | None = None
    no_trend: str = ""  # the sentence when the trend has no period or no lead
    trend_empty: bool = False
    handovers_sentence: str = ""  # first-time and re-qualified handovers of the period (lifecycle)

    def figures(self) -> pd.DataFrame:
        """Every figure of the page as rows: the headlines, acceptance, and MQL -> SQL per period."""
        rows = [h.row for h in self.headlines if h.row is not None]
        if self.acceptance_row is not None:
            rows.append(self.acceptance_row)
        parts = [figure_rows(pd.DataFrame(rows), PAGE, self.selection)]
        if len(self.trend):
            parts.append(figure_rows(self.trend, PAGE, self.selection))
        return pd.concat(parts, ignore_index=True).drop_duplicates(
            ["commitment", "period"], ignore_index=True
        )


def earlier_windows(doc: Any, period_start: pd.Timestamp) -> tuple[tuple, tuple]:
    """Return (label, start, end) of the period before the one starting at ``period_start``, and (first label,
    start, last label) of the :data:`analytics.mix.USUAL_PERIODS` before it, in ``doc``'s periods."""
    rows = []
    start = period_start
    for _ in range(mix.USUAL_PERIODS):
        row = period_of(start - pd.Timedelta(microseconds=1), doc.period, doc.timezone)
        rows.append((str(row["period"]), row["period_start"], row["period_end"]))
        start = row["period_start"]
    return rows[0], (rows[-1][0], rows[-1][1], rows[0][0])


def _rate(value: Any, mqls: Any) -> str:
    return "— (no MQLs)" if not mqls else wording.format_value(value, "rate")


def volume_cells(table: pd.DataFrame, by: str) -> pd.DataFrame:
    """Return the breakdown's rows as the page shows them: counts and pipeline as numbers, rates and shares
    written by :func:`analytics.wording.format_value`, changes by :func:`analytics.snapshots.format_change`;
    a rate over zero MQLs reads "— (no MQLs)", a change without a previous figure "—".

    Columns: ``by``, mqls, mqls_change, sqls, mql_to_sql, mql_to_sql_change, sourced_deals, sourced_pipeline,
    share_of_mqls, usual_share, share_change (the four of the comparison only when ``table`` has them).
    """
    if table.empty:
        return table
    compared = "mqls_change" in table
    if not compared:  # not compared (campaigns): the period's own columns
        table = table.assign(**{c: float("nan") for c in mix.COMPARED})
    rows = table.to_dict("records")

    def change(value: Any, kind: str) -> str:
        return format_change(value, kind) or "—"

    out = pd.DataFrame(
        {
            by: table[by],
            "mqls": table["mqls"],
            "mqls_change": [change(r["mqls_change"], "count") for r in rows],
            "sqls": table["sqls"],
            "mql_to_sql": [_rate(r["mql_to_sql"], r["mqls"]) for r in rows],
            "mql_to_sql_change": [change(r["mql_to_sql_change"], "rate") for r in rows],
            "sourced_deals": table["sourced_deals"],
            "sourced_pipeline": table["sourced_pipeline"],
            "share_of_mqls": [wording.format_value(r["share_of_mqls"], "rate", missing="—") for r in rows],
            "usual_share": [wording.format_value(r["usual_share"], "rate", missing="—") for r in rows],
            "share_change": [change(r["share_change"], "rate") for r in rows],
        }
    )
    return (
        out
        if compared
        else out.drop(columns=["mqls_change", "mql_to_sql_change", "usual_share", "share_change"])
    )


def marketing_view(
    versions: Any,
    frames: Mapping[str, pd.DataFrame],
    history: Mapping[str, pd.DataFrame],
    f: Filters,
    history_start: pd.Timestamp,
) -> MarketingView:
    """Return the :class:`MarketingView` of ``f``.

    ``frames`` hold the period's window, ``history`` the window from ``history_start`` (the oldest period
    offered) to the period's end, both unsliced: the view slices them by ``f``.
    """
    versions = as_versions(versions)
    doc = document_in_force(versions, f.as_of)
    currency = doc.currency
    period = f.period_name
    selection = f.selection(frames.get("owners", pd.DataFrame()))
    said = f.selection(frames.get("owners", pd.DataFrame()), markdown=True)  # in sentences
    subtitle = f"{period} · {selection}"
    tracked = bd.with_tracked(versions, TRACKED_METRICS)
    data, past = f.slice(frames), f.slice(history)
    results = evaluate(tracked, past, history_start, f.period_end, f.as_of)

    headlines = []
    for metric, label in HEADLINE.items():
        commitment = bd.tracked_commitment(doc, metric)
        row = bd.row_for(results, doc, metric, f.period)
        if row is None:
            headlines.append(Headline(metric, label, missing=f"No {label} to show for {period}."))
            continue
        kind, unit = METRICS[metric].kind, METRICS[metric].unit
        progress = core.daily_progress(tracked, data, commitment.id, f.period_start, f.as_of)
        headlines.append(Headline(
            metric, label, wording.format_value(row["actual"], kind, currency=currency, beside=row["target"]),
            wording.delta_text(row, currency=currency), STATUS_LABELS.get(row["status"], row["status"]),
            wording.badge_color(row["status"]),
            wording.result_sentence(row, noun=wording.metric_noun(commitment), currency=currency),
            commitment.description,
            pacing_chart(progress, title=f"{label} by day, cumulative<br><sup>{subtitle}</sup>", kind=kind,
                         unit=unit, currency=currency, status=row["status"]),
            row=row.to_dict(),
        ))  # fmt: skip

    window = (versions, data, f.period_start, f.period_end, f.as_of)
    split = handover_split(data["leads"], f.period_start, f.period_end, f.as_of)
    handovers_sentence = (
        f"Handovers: {split['first_time']:,} first-time, {split['recycled']:,} re-qualified after recycling "
        "(each counted in the period of its own MQL)."
    )
    breakdowns = {}
    previous, usual = earlier_windows(doc, f.period_start)
    compared = (
        f"Change: against {wording.period_name(previous[0])}. Usual share: the share of MQLs over "
        f"{wording.period_name(usual[0])} to {wording.period_name(usual[-1])} (the {mix.USUAL_PERIODS} "
        "periods before), pooled."
    )
    # Only the rows of each earlier window: the history's months would be prepared again for each of them.
    earlier = [window_frames(past, previous[1], previous[2]), window_frames(past, usual[1], f.period_start)]
    for by in BREAKDOWNS:
        volume = bd.volume_by(*window, by=by)
        chart = None
        if not volume.empty:
            chart = bc.volume_chart(
                volume, by=by, title=f"MQLs and SQLs by {by} (top 15)<br><sup>{subtitle}</sup>"
            )
        table = volume
        if by == COMPARED_BY and not volume.empty:  # the channel mix; campaigns come and go too fast for it
            before = bd.volume_by(versions, earlier[0], previous[1], previous[2], f.as_of, by=by)
            pooled = bd.volume_by(versions, earlier[1], usual[1], f.period_start, f.as_of, by=by)
            table = mix.compare_volume(volume, before, pooled, by)
        breakdowns[by] = Breakdown(
            by, table, chart, volume_cells(table, by), compared if by == COMPARED_BY else ""
        )

    acceptance_commitment = bd.tracked_commitment(doc, "acceptance_rate")
    acceptance_row = bd.row_for(results, doc, "acceptance_rate", f.period)
    acceptance = bd.acceptance_by(*window, by="channel")
    reasons = bd.rejection_reasons(*window, by="channel")
    acceptance_chart = reasons_chart = matrix = None
    if not acceptance.empty:
        acceptance_chart = bc.acceptance_chart(acceptance, by="channel", target=acceptance_commitment.target,
                                               title=f"Accepted vs rejected leads<br><sup>{subtitle}</sup>")  # fmt: skip
        if not reasons.empty:
            reasons_chart = bc.rejection_reasons_chart(
                reasons, by="channel", title=f"Why sales rejected leads<br><sup>{subtitle}</sup>"
            )
            matrix = bd.reasons_table(reasons, "channel")

    trend = bd.rows_for(results, doc, "mql_to_sql_rate")
    trend_parts: dict[str, Any] = {}
    if trend.empty:
        trend_parts["no_trend"] = (
            "The agreement's periods have not started yet: there is no conversion to show."
        )
        trend_parts["trend_empty"] = True
    else:
        first, last = (
            wording.period_name(trend["period"].iloc[0]),
            wording.period_name(trend["period"].iloc[-1]),
        )
        trend_parts["trend_title"] = f"MQL → SQL conversion, {first} to {last}"
        if trend["n"].sum() == 0:
            trend_parts["no_trend"] = f"No lead was handed over between {first} and {last} for {said}."
        else:
            no_target = trend["target"].isna().all()
            table = trend[["period", "n", "met", "actual", "target", "status"]].rename(
                columns={"n": "mqls", "met": "sqls", "actual": "mql_to_sql"}
            )
            trend_parts.update(
                trend_chart=trend_chart(trend, title=f"MQL → SQL conversion by handover period<br><sup>{first} to "
                                                     f"{last} · {selection}</sup>"),
                trend_caption="A lead counts in the period it was handed over and converts when it reaches SQL "
                "(by now): the most recent periods are still converting."
                + (" The agreement sets no conversion target." if no_target else ""),
                trend_table=table.drop(columns="target") if no_target else table,
            )  # fmt: skip

    return MarketingView(
        handovers_sentence=handovers_sentence,
        filters=f, selection=selection, period_name=period,
        closed_note="" if f.is_current_period else f"{period} is closed: its status is final (met or missed).",
        headlines=tuple(headlines), breakdowns=breakdowns,
        no_volume=f"No lead was handed over and no marketing-sourced deal was opened in {period} for {said}.",
        acceptance_row=None if acceptance_row is None else acceptance_row.to_dict(),
        acceptance_status_label="" if acceptance_row is None else STATUS_LABELS.get(acceptance_row["status"], acceptance_row["status"]),
        acceptance_badge="gray" if acceptance_row is None else wording.badge_color(acceptance_row["status"]),
        acceptance_sentence="" if acceptance_row is None else wording.result_sentence(
            acceptance_row, noun=wording.metric_noun(acceptance_commitment)),
        acceptance=acceptance, acceptance_chart=acceptance_chart,
        no_acceptance=f"No lead was handed over in {period} for {said}: nothing to accept or reject.",
        reasons_chart=reasons_chart, reasons_table=matrix,
        no_reasons=f"Sales has rejected none of the leads handed over in {period} (so far).",
        trend=trend, **trend_parts,
    )  # fmt: skip
