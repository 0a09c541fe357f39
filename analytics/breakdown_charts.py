"""Charts of the breakdowns: a breakdown frame in, a plotly Figure out (no Streamlit here).

Like :mod:`analytics.charts`: titles, axis titles with units, targets drawn in,
status colours for met / breached / pending, data aggregated before plotting.
Laid out by :func:`analytics.charts.tidy` for a narrow dashboard column.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative

from analytics.charts import GREY, STATUS_COLORS, TARGET_COLOR, layout, tidy
from analytics.wording import format_value

BLUE, DARK_BLUE = "#3b82f6", "#1e3a8a"


class ChartError(ValueError):
    """The frame given to a chart builder lacks what the chart needs; the message names it."""


def _layout(fig: go.Figure, title: str, x: str, y: str) -> go.Figure:
    return tidy(layout(fig, title, x, y))


def _require(frame: pd.DataFrame, columns: list[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ChartError(f"{what}: the frame lacks column(s) {', '.join(missing)}")


def _bar_height(rows: int, per_row: int = 28) -> int:
    return max(300, per_row * rows + 150)


def volume_chart(table: pd.DataFrame, *, by: str, title: str, top: int = 15) -> go.Figure:
    """Return MQLs and SQLs per group as horizontal bars, the ``top`` groups by MQLs (most on top).

    ``table`` is a :func:`volume_by` frame; the SQL bar carries the MQL -> SQL rate.
    """
    _require(table, [by, "mqls", "sqls", "mql_to_sql"], "volume chart")
    rows = table.sort_values("mqls", ascending=False, kind="stable").head(top)
    names = rows[by].astype("str").tolist()
    rates = [f"{r:.0%}" if not pd.isna(r) else "" for r in rows["mql_to_sql"]]
    fig = go.Figure()
    fig.add_trace(go.Bar(y=names, x=rows["mqls"], orientation="h", name="MQLs", marker={"color": BLUE},
                         hovertemplate="%{y}: %{x:,} MQLs<extra></extra>"))  # fmt: skip
    fig.add_trace(go.Bar(y=names, x=rows["sqls"], orientation="h", name="SQLs (label: share of MQLs)",
                         marker={"color": DARK_BLUE}, text=rates, textposition="outside",
                         hovertemplate="%{y}: %{x:,} SQLs (%{text} of MQLs)<extra></extra>"))  # fmt: skip
    fig.update_layout(barmode="group", height=_bar_height(len(names), 40))
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, title, "Leads (count)", by.capitalize())


def acceptance_chart(table: pd.DataFrame, *, by: str, title: str, target: float | None = None) -> go.Figure:
    """Return accepted / rejected / open leads per group as stacked bars, lowest acceptance rate on top.

    ``table`` is an :func:`acceptance_by` frame. Labels give the acceptance
    rate; with ``target`` (a share) a black tick marks how many accepted leads
    the target needs (target x decided leads).
    """
    _require(table, [by, "accepted", "rejected", "open", "acceptance_rate"], "acceptance chart")
    rows = table.sort_values(["acceptance_rate", "leads"], ascending=[True, False], na_position="last")
    names = rows[by].astype("str").tolist()
    fig = go.Figure()
    for column, label, status in (("accepted", "Accepted", "met"), ("rejected", "Rejected", "breached"),
                                  ("open", "Open (not decided)", "pending")):  # fmt: skip
        fig.add_trace(go.Bar(y=names, x=rows[column], orientation="h", name=label,
                             marker={"color": STATUS_COLORS[status]},
                             hovertemplate=f"%{{y}}: %{{x:,}} {label.lower()}<extra></extra>"))  # fmt: skip
    if target is not None and not pd.isna(target):
        fig.add_trace(
            go.Scatter(y=names, x=float(target) * (rows["accepted"] + rows["rejected"]), mode="markers",
                       name=f"Accepted needed for the {format_value(target, 'rate', exact=True)} target",
                       marker={"symbol": "line-ns-open", "size": 18, "color": TARGET_COLOR, "line": {"width": 3}})
        )  # fmt: skip
    labels = [f"{r:.0%} accepted" if not pd.isna(r) else "none decided" for r in rows["acceptance_rate"]]
    fig.add_trace(go.Scatter(y=names, x=rows[["accepted", "rejected", "open"]].sum(axis=1), mode="text", text=labels,
                             textposition="middle right", showlegend=False, hoverinfo="skip"))  # fmt: skip
    fig.update_layout(barmode="stack", height=_bar_height(len(names)))
    fig.update_xaxes(range=[0, float(rows["leads"].max() if len(rows) else 1) * 1.3])
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, title, "Leads handed over (count)", by.capitalize())


def rejection_reasons_chart(reasons: pd.DataFrame, *, by: str, title: str) -> go.Figure:
    """Return rejected leads per group as bars stacked by reason, most rejections on top.

    ``reasons`` is a :func:`rejection_reasons` frame with a breakdown. Each
    reason keeps its colour across groups.
    """
    _require(reasons, [by, "reason", "rejected"], "rejection reasons chart")
    table = reasons.pivot_table(index=by, columns="reason", values="rejected", aggfunc="sum", fill_value=0)
    table = table.loc[table.sum(axis=1).sort_values(ascending=False, kind="stable").index]
    order = table.sum(axis=0).sort_values(ascending=False, kind="stable").index
    palette = qualitative.Safe + qualitative.Pastel
    fig = go.Figure()
    for i, reason in enumerate(order):
        fig.add_trace(go.Bar(y=table.index.astype("str"), x=table[reason], orientation="h",
                             name=str(reason).replace("_", " "), marker={"color": palette[i % len(palette)]},
                             hovertemplate=f"%{{y}}: %{{x:,}} rejected as {reason}<extra></extra>"))  # fmt: skip
    fig.update_layout(barmode="stack", height=_bar_height(len(table)))
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, title, "Rejected leads (count)", by.capitalize())


def delay_chart(delays: pd.DataFrame, *, by: str, title: str, limit_hours: float | None = None) -> go.Figure:
    """Return the median routing delay vs the median rep delay per group as grouped horizontal bars.

    ``delays`` is a :func:`delays_by` frame; the 90th percentiles are in the
    hover text (they can be a hundred times the medians, which would flatten the
    bars). ``limit_hours`` (the follow-up SLA, handover -> first touch) is drawn
    as a dashed line for reference.
    """
    _require(delays, [by, "routing_median", "routing_p90", "rep_median", "rep_p90"], "delay chart")
    names = delays[by].astype("str").tolist()
    fig = go.Figure()
    for side, label, color in (("routing", "Routing (created → assigned)", GREY),
                               ("rep", "Rep (assigned → first touch)", BLUE)):  # fmt: skip
        median = delays[f"{side}_median"].to_numpy(dtype="float64")
        fig.add_trace(
            go.Bar(y=names, x=median, orientation="h", name=label, marker={"color": color},
                   text=[f"{m:.1f} h" if not np.isnan(m) else "" for m in median], textposition="outside",
                   customdata=delays[f"{side}_p90"].to_numpy(dtype="float64"),
                   hovertemplate="%{y}: median %{x:.1f} h, 90th percentile %{customdata:.1f} h<extra></extra>")
        )  # fmt: skip
    if limit_hours is not None:
        fig.add_vline(x=float(limit_hours), line={"color": TARGET_COLOR, "width": 2, "dash": "dash"},
                      annotation_text=f"SLA {float(limit_hours):g} h", annotation_position="top right")  # fmt: skip
    fig.update_layout(barmode="group", height=_bar_height(len(names), 60))
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, title, "Business hours (median)", by.capitalize())


CONVERSIONS = {
    "mql_to_sql": "MQL → SQL",
    "sql_to_opportunity": "SQL → opportunity",
    "opportunity_to_won": "Opportunity → won",
}
STAGE_DAYS = {
    "days_mql_to_sql": "MQL → SQL",
    "days_sql_to_opportunity": "SQL → opportunity",
    "days_opportunity_to_won": "Opportunity → won",
}
_LINE_COLORS = (BLUE, "#8b5cf6", "#0d9488")


def conversion_chart(cohorts: pd.DataFrame, *, title: str, target: float | None = None) -> go.Figure:
    """Return each stage's conversion per handover cohort as lines (in %), with an MQL -> SQL target if given.

    ``cohorts`` is an ``analytics.funnel.funnel`` frame without breakdown.
    """
    _require(cohorts, ["period", *CONVERSIONS], "conversion chart")
    fig = go.Figure()
    for (column, label), color in zip(CONVERSIONS.items(), _LINE_COLORS, strict=True):
        fig.add_trace(go.Scatter(x=cohorts["period"], y=cohorts[column] * 100, name=label, mode="lines+markers",
                                 line={"color": color, "width": 2},
                                 hovertemplate=f"%{{x}}: %{{y:.0f}}% {label}<extra></extra>"))  # fmt: skip
    if target is not None and not pd.isna(target):
        fig.add_hline(y=float(target) * 100, line={"color": TARGET_COLOR, "width": 2, "dash": "dash"},
                      annotation_text=f"MQL → SQL target {format_value(target, 'rate', exact=True)}", annotation_position="top left")  # fmt: skip
    fig.update_yaxes(rangemode="tozero")
    return _layout(fig, title, "Handover cohort (period)", "Conversion of the previous stage (%)")


def stage_days_chart(cohorts: pd.DataFrame, *, title: str) -> go.Figure:
    """Return the median calendar days between stages per handover cohort, as lines.

    ``cohorts`` is an ``analytics.funnel.funnel`` frame without breakdown.
    """
    _require(cohorts, ["period", *STAGE_DAYS], "stage time chart")
    fig = go.Figure()
    for (column, label), color in zip(STAGE_DAYS.items(), _LINE_COLORS, strict=True):
        fig.add_trace(go.Scatter(x=cohorts["period"], y=cohorts[column], name=label, mode="lines+markers",
                                 line={"color": color, "width": 2},
                                 hovertemplate=f"%{{x}}: %{{y:.1f}} days {label}<extra></extra>"))  # fmt: skip
    fig.update_yaxes(rangemode="tozero")
    return _layout(fig, title, "Handover cohort (period)", "Median days between stages (calendar days)")
