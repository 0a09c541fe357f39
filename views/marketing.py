"""The Marketing page as data: MQLs, SQLs and pipeline against target, by channel and campaign, acceptance,
rejection reasons and the MQL -> SQL trend.

:func:`marketing_view` returns every figure, table, sentence and chart the page shows. Its tables by
channel or campaign are built here: volumes (:func:`volume_by`), sales' decisions (:func:`acceptance_by`) and
rejection reasons (:func:`rejection_reasons`, :func:`reasons_table`), on the definitions of
:mod:`analytics.metrics` (a lead in the window of its handover, a deal in that of its creation, all as known
at as_of).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analytics import breakdown_charts as bc
from analytics import commitments as core
from analytics import mix, wording
from analytics.agreement import Agreement, AgreementVersion
from analytics.charts import STATUS_LABELS, pacing_chart, trend_chart
from analytics.commitments import (
    as_versions,
    document_in_force,
    evaluate,
    row_for,
    rows_for,
    tracked_commitment,
    with_tracked,
)
from analytics.funnel import handover_split
from analytics.groups import ALL, BREAKDOWN_FIELDS, NO_REASON, BreakdownError, check_by, labels
from analytics.history import TREND_METRIC, HistoryFigures, earlier_windows
from analytics.metrics import (
    METRICS,
    Frames,
    as_instant,
    positions,
    prepare_frames,
    reached_sql,
    reusing_prepared,
)
from analytics.periods import to_instant
from analytics.schema import validate_frame
from analytics.wording import format_change
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


def _rate(value: Any, mqls: Any) -> str:
    return "— (no MQLs)" if not mqls else wording.format_value(value, "rate")


def volume_cells(table: pd.DataFrame, by: str) -> pd.DataFrame:
    """Return the breakdown's rows as the page shows them: counts and pipeline as numbers, rates and shares
    written by :func:`analytics.wording.format_value`, changes by :func:`analytics.wording.format_change`;
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


@reusing_prepared
def history_from_frames(
    versions: Any, history: Mapping[str, pd.DataFrame], f: Filters, history_start: pd.Timestamp
) -> HistoryFigures:
    """Return the :class:`~analytics.history.HistoryFigures` of ``f`` computed by the pandas engine.

    ``history``: unsliced frames of :func:`analytics.history.history_window` (a narrower window leaves out
    what it does not hold: earlier periods' leads, deals created after it).
    """
    versions = as_versions(versions)
    doc = document_in_force(versions, f.as_of)
    past = f.slice(history)
    results = evaluate(with_tracked(versions, TRACKED_METRICS), past, history_start, f.period_end, f.as_of)
    previous, usual = earlier_windows(doc, f.period_start)
    return HistoryFigures(
        trend=rows_for(results, doc, TREND_METRIC),
        previous=volume_by(versions, past, previous[1], previous[2], f.as_of, by=COMPARED_BY),
        usual=volume_by(versions, past, usual[1], f.period_start, f.as_of, by=COMPARED_BY),
    )


@reusing_prepared
def marketing_view(
    versions: Any,
    frames: Mapping[str, pd.DataFrame],
    history: HistoryFigures | Mapping[str, pd.DataFrame],
    f: Filters,
    history_start: pd.Timestamp,
) -> MarketingView:
    """Return the :class:`MarketingView` of ``f``.

    ``frames`` hold the period's window, unsliced: the view slices them by ``f``. ``history`` is the
    trend and the earlier periods' channel volumes from ``history_start`` (the oldest period offered), or
    unsliced frames of :func:`analytics.history.history_window` to compute them from
    (:func:`history_from_frames`).
    """
    versions = as_versions(versions)
    if not isinstance(history, HistoryFigures):
        history = history_from_frames(versions, history, f, history_start)
    doc = document_in_force(versions, f.as_of)
    currency = doc.currency
    period = f.period_name
    selection = f.selection(frames.get("owners", pd.DataFrame()))
    said = f.selection(frames.get("owners", pd.DataFrame()), markdown=True)  # in sentences
    subtitle = f"{period} · {selection}"
    tracked = with_tracked(versions, TRACKED_METRICS)
    data = f.slice(frames)
    # The period's own rows (headlines, acceptance) need only its frames; the trend comes with the history.
    results = evaluate(tracked, data, f.period_start, f.period_end, f.as_of)

    headlines = []
    for metric, label in HEADLINE.items():
        commitment = tracked_commitment(doc, metric)
        row = row_for(results, doc, metric, f.period)
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
    for by in BREAKDOWNS:
        volume = volume_by(*window, by=by)
        chart = None
        if not volume.empty:
            chart = bc.volume_chart(
                volume, by=by, title=f"MQLs and SQLs by {by} (top 15)<br><sup>{subtitle}</sup>"
            )
        table = volume
        if by == COMPARED_BY and not volume.empty:  # the channel mix; campaigns come and go too fast for it
            table = mix.compare_volume(volume, history.previous, history.usual, by)
        breakdowns[by] = Breakdown(
            by, table, chart, volume_cells(table, by), compared if by == COMPARED_BY else ""
        )

    acceptance_commitment = tracked_commitment(doc, "acceptance_rate")
    acceptance_row = row_for(results, doc, "acceptance_rate", f.period)
    acceptance = acceptance_by(*window, by="channel")
    reasons = rejection_reasons(*window, by="channel")
    acceptance_chart = reasons_chart = matrix = None
    if not acceptance.empty:
        acceptance_chart = bc.acceptance_chart(acceptance, by="channel", target=acceptance_commitment.target,
                                               title=f"Accepted vs rejected leads<br><sup>{subtitle}</sup>")  # fmt: skip
        if not reasons.empty:
            reasons_chart = bc.rejection_reasons_chart(
                reasons, by="channel", title=f"Why sales rejected leads<br><sup>{subtitle}</sup>"
            )
            matrix = reasons_table(reasons, "channel")

    trend = history.trend
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


# ----------------------------------------------------------------------------- by channel, campaign, team, segment

_NO_ID = np.iinfo(np.int64).min


def _window(agreement, frames: Mapping[str, pd.DataFrame], start, end, as_of):
    """(document, frames known at as_of, lead mask, deal mask) of leads handed over / deals created in the window."""
    moment = as_instant(as_of)
    doc = document_in_force(as_versions(agreement), moment)
    lo, hi = to_instant(start, doc.timezone), to_instant(end, doc.timezone)
    if hi <= lo:
        raise BreakdownError(f"the window is empty: end {hi} is not after start {lo}")
    known = prepare_frames(frames, moment)
    handed = known.leads["mql_at"]
    created = known.deals["created_at"]
    leads_in = ((handed >= lo) & (handed < hi)).to_numpy(bool, na_value=False)
    deals_in = ((created >= lo) & (created < hi)).to_numpy(bool, na_value=False)
    return doc, known, leads_in, deals_in


def _lead_column(frames: Mapping[str, pd.DataFrame], known: Frames, column: str) -> pd.Series:
    """``column`` of the raw leads (one prepare_frames drops, e.g. campaign), aligned to ``known.leads``."""
    raw = frames.get("leads")
    if raw is None or not len(raw):
        return pd.Series(np.full(len(known.leads), np.nan), dtype="str")
    raw = validate_frame(raw, "leads")
    at = positions(raw["id"].to_numpy(dtype="int64", na_value=_NO_ID),
                   known.leads["id"].to_numpy(dtype="int64", na_value=_NO_ID))  # fmt: skip
    values = raw[column].take(np.maximum(at, 0)).to_numpy(dtype=object)
    return pd.Series(values, dtype="str").mask(at < 0)


def volume_by(
    agreement: Agreement | AgreementVersion | Iterable[AgreementVersion],
    frames: Mapping[str, pd.DataFrame],
    start: Any,
    end: Any,
    as_of: Any,
    *,
    by: str = "channel",
) -> pd.DataFrame:
    """Return MQLs, SQLs and sourced pipeline per channel (or campaign, team, segment), most MQLs first.

    Columns: ``by``, ``mqls`` (leads handed over in the window), ``sqls`` (of
    those, qualified by as_of), ``mql_to_sql``, ``sourced_deals`` and
    ``sourced_pipeline`` (deals created in the window whose lead is a marketing
    lead; missing amounts count 0), ``share_of_mqls``. A deal is grouped by its
    lead's channel (its own without a lead) and its own team (as ``evaluate(by=...)``
    does) and by its lead's campaign or segment. A missing value is :data:`NO_VALUE`. Groups with neither leads nor
    deals are left out; the columns sum to the ``mql_count``, ``sql_count`` and
    ``sourced_pipeline`` actuals of the window.
    """
    check_by(by, BREAKDOWN_FIELDS)
    _, known, leads_in, deals_in = _window(agreement, frames, start, end, as_of)
    lead_values = _lead_column(frames, known, by) if by == "campaign" else known.leads[by]
    leads = pd.DataFrame({by: labels(lead_values)[leads_in], "sql": reached_sql(known)[leads_in]})
    deals = known.deals
    sourced = deals_in & deals["lead_is_mql"].to_numpy(bool)
    if by == "campaign":
        at = positions(known.leads["id"].to_numpy(dtype="int64", na_value=_NO_ID),
                       deals["lead_id"].to_numpy(dtype="int64", na_value=_NO_ID))  # fmt: skip
        if len(lead_values):
            deal_values = lead_values.take(np.maximum(at, 0)).reset_index(drop=True).mask(at < 0)
        else:  # no lead at all (e.g. an owner with deals only): no deal has a lead's campaign
            deal_values = pd.Series(np.full(len(deals), np.nan), dtype="str")
    else:
        deal_values = deals[by].reset_index(drop=True)
    amounts = np.nan_to_num(deals["amount"].to_numpy(dtype="float64", na_value=np.nan))
    pipeline = pd.DataFrame({by: labels(deal_values)[sourced], "amount": amounts[sourced]})
    per_lead = leads.groupby(by).agg(mqls=("sql", "size"), sqls=("sql", "sum")).reset_index()
    per_deal = pipeline.groupby(by).agg(sourced_deals=("amount", "size"), sourced_pipeline=("amount", "sum"))
    return mix.volume_table(per_lead, per_deal.reset_index(), by)


def _decisions(agreement, frames, start, end, as_of, by: str | None) -> pd.DataFrame:
    """Per lead handed over in the window: group label, disposition (as known at as_of) and rejection reason."""
    _, known, leads_in, _ = _window(agreement, frames, start, end, as_of)
    if by is None:
        group = pd.Series(ALL, index=range(len(known.leads)), dtype="str")
    else:
        group = labels(_lead_column(frames, known, by) if by == "campaign" else known.leads[by])
    reason = _lead_column(frames, known, "rejection_reason")
    disposition = known.leads["disposition"].reset_index(drop=True)
    frame = pd.DataFrame(
        {
            "group": group.to_numpy(dtype=object),
            "accepted": (disposition == "accepted").to_numpy(bool, na_value=False),
            "rejected": (disposition == "rejected").to_numpy(bool, na_value=False),
            "reason": labels(reason, NO_REASON).to_numpy(dtype=object),
        }
    )
    return frame[leads_in].reset_index(drop=True)


def acceptance_by(
    agreement: Agreement | AgreementVersion | Iterable[AgreementVersion],
    frames: Mapping[str, pd.DataFrame],
    start: Any,
    end: Any,
    as_of: Any,
    *,
    by: str = "channel",
) -> pd.DataFrame:
    """Return how sales decided on each channel's (or campaign's, team's, segment's) leads, most leads first.

    Columns: ``by``, ``leads`` (handed over in the window), ``accepted``,
    ``rejected``, ``open`` (not decided by as_of), ``acceptance_rate``
    (accepted / (accepted + rejected), as the ``acceptance_rate`` metric; NaN
    when none is decided) and ``top_reason`` (the most frequent rejection
    reason; ties alphabetical; missing when none was rejected).
    """
    check_by(by, BREAKDOWN_FIELDS)
    decided = _decisions(agreement, frames, start, end, as_of, by)
    grouped = decided.groupby("group")
    out = grouped.agg(leads=("accepted", "size"), accepted=("accepted", "sum"), rejected=("rejected", "sum"))
    out = out.astype("int64")
    out["open"] = out["leads"] - out["accepted"] - out["rejected"]
    decided_n = out["accepted"] + out["rejected"]
    out["acceptance_rate"] = (out["accepted"] / decided_n.where(decided_n > 0)).astype("float64")
    rejected = decided[decided["rejected"]]
    if len(rejected):
        counts = rejected.groupby(["group", "reason"]).size().reset_index(name="n")
        counts = counts.sort_values(["group", "n", "reason"], ascending=[True, False, True], kind="stable")
        out["top_reason"] = counts.drop_duplicates("group").set_index("group")["reason"].reindex(out.index)
    else:
        out["top_reason"] = np.nan
    out = out.reset_index().rename(columns={"group": by})
    out[by] = out[by].astype("str")
    out["top_reason"] = out["top_reason"].astype("str")
    out = out.sort_values(["leads", by], ascending=[False, True], kind="stable")
    return out[[by, "leads", "accepted", "rejected", "open", "acceptance_rate", "top_reason"]].reset_index(
        drop=True
    )


def rejection_reasons(
    agreement: Agreement | AgreementVersion | Iterable[AgreementVersion],
    frames: Mapping[str, pd.DataFrame],
    start: Any,
    end: Any,
    as_of: Any,
    *,
    by: str | None = "channel",
) -> pd.DataFrame:
    """Return why sales rejected leads handed over in the window: one row per group x reason.

    Columns: [``by``], ``reason`` (:data:`NO_REASON` when none was given),
    ``rejected`` (leads) and ``share`` (of the group's rejected leads). Groups
    with most rejections first, then reasons by count. Only leads rejected by
    as_of count. ``by=None``: reasons over all leads.
    """
    check_by(by, (None, *BREAKDOWN_FIELDS))
    decided = _decisions(agreement, frames, start, end, as_of, by)
    rejected = decided[decided["rejected"]]
    counts = rejected.groupby(["group", "reason"]).size().rename("rejected").reset_index()
    totals = counts.groupby("group")["rejected"].transform("sum")
    counts["share"] = (counts["rejected"] / totals).astype("float64")
    counts["_total"] = totals
    counts = counts.sort_values(
        ["_total", "group", "rejected", "reason"], ascending=[False, True, False, True], kind="stable"
    )
    out = counts.rename(columns={"group": by or "group"})
    columns = ([by] if by else []) + ["reason", "rejected", "share"]
    out = out[columns].reset_index(drop=True).astype({"reason": "str", "rejected": "int64"})
    if by:
        out[by] = out[by].astype("str")
    return out


def reasons_table(reasons: pd.DataFrame, by: str) -> pd.DataFrame:
    """Return a :func:`rejection_reasons` frame as one row per group and one column per reason (counts).

    Columns: ``by``, ``rejected`` (the group's total), then the reasons, most
    frequent overall first; groups with most rejections first.

    >>> r = pd.DataFrame({"channel": ["A", "A", "B"], "reason": ["x", "y", "y"], "rejected": [2, 1, 4]})
    >>> reasons_table(r, "channel").to_dict("list")
    {'channel': ['B', 'A'], 'rejected': [4, 3], 'y': [4, 1], 'x': [0, 2]}
    """
    check_by(by, BREAKDOWN_FIELDS)
    wide = reasons.pivot_table(index=by, columns="reason", values="rejected", aggfunc="sum", fill_value=0)
    wide = wide[wide.sum(axis=0).sort_values(ascending=False, kind="stable").index]
    wide.insert(0, "rejected", wide.sum(axis=1))
    wide = wide.sort_values("rejected", ascending=False, kind="stable").reset_index()
    wide.columns.name = None
    return wide.astype({c: "int64" for c in wide.columns if c != by})
