"""Chart builders: an analytics frame in, a plotly Figure out (no Streamlit here).

Every chart has a title, axis titles with units, the target drawn in, and the
status colours of :data:`STATUS_COLORS`. Data is aggregated before plotting,
so a figure holds at most a few hundred marks whatever the number of leads.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

GREEN, AMBER, RED, GREY = "#1a9850", "#f59e0b", "#d73027", "#9e9e9e"
STATUS_COLORS: dict[str, str] = {
    "met": GREEN,
    "on track": GREEN,
    "at risk": AMBER,
    "missed": RED,
    "off track": RED,
    "breached": RED,
    "pending": GREY,
    "no target": GREY,
    "no data": GREY,
    "provisional": GREY,
    "too few decided": GREY,
}
STATUS_LABELS: dict[str, str] = {
    "met": "Met",
    "on track": "On track",
    "at risk": "At risk",
    "missed": "Missed",
    "off track": "Off track",
    "breached": "Breached",
    "pending": "Pending",
    "no target": "No target",
    "no data": "No data",
    "provisional": "Provisional",
    "too few decided": "Too few decided",
}
TARGET_COLOR = "#333333"
EXPECTED_COLOR = "#6b7280"
MAX_BINS = 60


class ChartError(ValueError):
    """The frame given to a chart builder lacks what the chart needs; the message names it."""


def value_axis_title(kind: str, unit: str = "", currency: str | None = None) -> str:
    """Return the axis title for values of a metric ``kind`` with its unit.

    >>> value_axis_title("amount", "currency", "EUR"), value_axis_title("rate")
    ('Amount (EUR)', 'Share of leads (%)')
    """
    if kind == "count":
        return f"{(unit or 'items').capitalize()} (count)"
    if kind == "amount":
        return f"Amount ({currency})" if currency else "Amount"
    if kind == "rate":
        return "Share of leads (%)"
    if kind == "duration":
        return "Business hours"
    raise ChartError(f"unknown metric kind {kind!r}; kinds: count, amount, rate, duration")


def _require(frame: pd.DataFrame, columns: list[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ChartError(f"{what}: the frame lacks column(s) {', '.join(missing)}")


# Looked up once: naming the template on every figure makes plotly rebuild it.
_TEMPLATE = pio.templates["plotly_white"]


def _with_template(fig: go.Figure) -> None:
    """Give ``fig`` Accord's template without plotly validating a deep copy of it (~45 ms a chart).

    The template is plotly's own, already valid; plotly sets its default template the same way.
    """
    layout_obj = getattr(fig, "_layout_obj", None)
    if layout_obj is None or not hasattr(layout_obj, "_validate"):  # another plotly: the documented way
        fig.update_layout(template=_TEMPLATE)
        return
    validate, layout_obj._validate = layout_obj._validate, False
    try:
        fig.layout.template = _TEMPLATE
    finally:
        layout_obj._validate = validate


def layout(fig: go.Figure, title: str, x: str, y: str) -> go.Figure:
    """Return ``fig`` with its title, axis titles, Accord's template and a legend above the plot."""
    _with_template(fig)
    fig.update_layout(
        title={"text": title},
        xaxis_title={"text": x},
        yaxis_title={"text": y},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
        margin={"l": 60, "r": 20, "t": 80, "b": 50},
    )
    return fig


def pacing_chart(
    progress: pd.DataFrame, *, title: str, kind: str = "count", unit: str = "leads",
    currency: str | None = None, status: str | None = None,
) -> go.Figure:  # fmt: skip
    """Return target vs actual over a period: cumulative actual by day, the expected pace and the target.

    ``progress`` is a ``commitments.daily_progress`` frame (``day``,
    ``cumulative``, ``expected``, ``target``). The actual line takes the colour
    of ``status`` when given.
    """
    _require(progress, ["day", "cumulative", "expected", "target"], "pacing chart")
    days = pd.to_datetime(progress["day"])
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(x=days, y=progress["expected"], name="Expected pace", mode="lines",
                   line={"color": EXPECTED_COLOR, "dash": "dash"})
    )  # fmt: skip
    done = progress["cumulative"].notna()
    fig.add_trace(
        go.Scatter(x=days[done], y=progress["cumulative"][done], name="Actual (cumulative)", mode="lines+markers",
                   line={"color": STATUS_COLORS.get(status or "", "#1f77b4"), "width": 3}, marker={"size": 4})
    )  # fmt: skip
    target = progress["target"].dropna()
    if len(target):
        fig.add_hline(y=float(target.iloc[0]), line={"color": TARGET_COLOR, "width": 2},
                      annotation_text=f"Target {float(target.iloc[0]):,.0f}", annotation_position="top left")  # fmt: skip
    return layout(fig, title, "Day", value_axis_title(kind, unit, currency))


def response_time_histogram(
    detail: pd.DataFrame,
    *,
    sla_hours: float,
    title: str = "Time to first touch",
    bin_hours: float | None = None,
) -> go.Figure:
    """Return the distribution of business hours to first touch, in bins, with the SLA limit drawn in.

    ``detail`` is a ``followup.followup_detail`` frame; untouched leads are left
    out. Bins within the limit are green, over it red; the last bin collects
    everything beyond the 99th percentile (so at most :data:`MAX_BINS` bars).
    """
    _require(detail, ["business_hours_taken"], "response-time histogram")
    hours = detail["business_hours_taken"].to_numpy(dtype="float64", na_value=np.nan)
    hours = hours[~np.isnan(hours)]
    top = max(float(np.quantile(hours, 0.99)) if len(hours) else 0.0, sla_hours * 1.5, 1.0)
    width = bin_hours or _nice_width(top / 40)
    edges = np.arange(0.0, top + width, width)[: MAX_BINS + 1]
    counts, _ = np.histogram(np.minimum(hours, edges[-1] - width / 2), bins=edges)
    centers = (edges[:-1] + edges[1:]) / 2
    colors = [GREEN if right <= sla_hours + 1e-9 else RED for right in edges[1:]]
    fig = go.Figure(
        go.Bar(x=centers, y=counts, width=width * 0.95, marker={"color": colors}, name="Leads",
               customdata=np.c_[edges[:-1], edges[1:]],
               hovertemplate="%{customdata[0]:.1f}-%{customdata[1]:.1f} h: %{y} leads<extra></extra>")
    )  # fmt: skip
    fig.add_vline(x=sla_hours, line={"color": TARGET_COLOR, "width": 2, "dash": "dash"},
                  annotation_text=f"SLA {sla_hours:g} h", annotation_position="top right")  # fmt: skip
    fig.update_layout(bargap=0.02, showlegend=False)
    return layout(fig, title, "Business hours to first touch (h)", "Leads (count)")


def rep_compliance_chart(rows: pd.DataFrame, *, title: str) -> go.Figure:
    """Return per-rep met / breached / pending as stacked horizontal bars, worst rate on top.

    ``rows`` are ``evaluate(..., by="owner")`` rows of one rate commitment (one
    or more periods: counts are summed per owner). A black tick on each bar marks
    how many met leads the target needs (target x decided leads).
    """
    _require(rows, ["owner", "met", "breached", "pending", "target"], "rep compliance chart")
    per = rows.groupby("owner", dropna=False)[["met", "breached", "pending"]].sum()
    per["target"] = rows.groupby("owner", dropna=False)["target"].max()
    decided = per["met"] + per["breached"]
    per["rate"] = np.where(decided > 0, per["met"] / decided.where(decided > 0, 1), np.nan)
    per = per.sort_values(["rate", "met"], na_position="last")
    names = [str(n) for n in per.index]
    fig = go.Figure()
    for status in ("met", "breached", "pending"):
        fig.add_trace(go.Bar(y=names, x=per[status], orientation="h", name=STATUS_LABELS[status],
                             marker={"color": STATUS_COLORS[status]}))  # fmt: skip
    needed = per["target"] * decided
    fig.add_trace(
        go.Scatter(y=names, x=needed, mode="markers", name="Met needed for target",
                   marker={"symbol": "line-ns-open", "size": 18, "color": TARGET_COLOR, "line": {"width": 3}})
    )  # fmt: skip
    labels = [f"{r:.0%}" if not np.isnan(r) else "n/a" for r in per["rate"]]
    fig.add_trace(go.Scatter(y=names, x=per[["met", "breached", "pending"]].sum(axis=1), mode="text", text=labels,
                             textposition="middle right", showlegend=False, hoverinfo="skip"))  # fmt: skip
    fig.update_layout(barmode="stack", height=max(300, 28 * len(names) + 140))
    fig.update_yaxes(autorange="reversed")
    return layout(fig, title, "Leads handed over (count)", "Rep")


def funnel_chart(
    totals: pd.DataFrame, *, title: str = "Lead funnel", targets: Mapping[str, float] | None = None
) -> go.Figure:
    """Return the funnel as horizontal bars (MQL on top) with conversion labels and optional stage targets.

    ``totals`` is a ``funnel.funnel_totals`` frame; ``targets`` maps a stage
    label ("MQL", "SQL", "Opportunity", "Won") to the count needed (e.g. from the
    reverse funnel), drawn as diamonds.
    """
    _require(totals, ["stage", "leads", "of_previous"], "funnel chart")
    labels = [f"{int(n):,} ({p:.0%} of previous)" if i and not np.isnan(p) else f"{int(n):,}"
              for i, (n, p) in enumerate(zip(totals["leads"], totals["of_previous"], strict=True))]  # fmt: skip
    fig = go.Figure(go.Bar(y=totals["stage"], x=totals["leads"], orientation="h", name="Leads", text=labels,
                           textposition="auto", marker={"color": "#3b82f6"}))  # fmt: skip
    if targets:
        stages = [s for s in totals["stage"] if s in targets]
        fig.add_trace(go.Scatter(y=stages, x=[targets[s] for s in stages], mode="markers", name="Target",
                                 marker={"symbol": "diamond", "size": 14, "color": TARGET_COLOR}))  # fmt: skip
    fig.update_yaxes(autorange="reversed")
    return layout(fig, title, "Leads (count)", "Stage")


def trend_chart(rows: pd.DataFrame, *, title: str, currency: str | None = None) -> go.Figure:
    """Return one commitment's actual per period as bars coloured by status, with the target per period.

    ``rows`` are ``evaluate`` rows of one commitment without breakdown, one per period: a later version may
    measure the same metric under another id (:func:`analytics.commitments.rows_for` gives each period the
    row of its own version). The target is drawn as a step line, so a target changed by a new version shows
    where it changed. Rates are shown in percent.
    """
    _require(rows, ["period", "actual", "target", "status", "kind", "unit"], "trend chart")
    if rows["period"].duplicated().any() or ("metric" in rows and rows["metric"].nunique() > 1):
        raise ChartError("trend chart: give the rows of one commitment, one per period")
    rows = rows.sort_values("period_start") if "period_start" in rows else rows
    kind = str(rows["kind"].iloc[0]) if len(rows) else "count"
    scale = 100.0 if kind == "rate" else 1.0
    colors = [STATUS_COLORS.get(s, GREY) for s in rows["status"]]
    fig = go.Figure(
        go.Bar(x=rows["period"], y=rows["actual"] * scale, name="Actual", marker={"color": colors},
               customdata=[STATUS_LABELS.get(s, s) for s in rows["status"]],
               hovertemplate="%{x}: %{y:,.1f} (%{customdata})<extra></extra>")
    )  # fmt: skip
    fig.add_trace(go.Scatter(x=rows["period"], y=rows["target"] * scale, name="Target", mode="lines+markers",
                             line={"color": TARGET_COLOR, "shape": "hvh", "width": 2}))  # fmt: skip
    unit = str(rows["unit"].iloc[0]) if len(rows) else ""
    return layout(fig, title, "Period", value_axis_title(kind, unit, currency))


def _nice_width(raw: float) -> float:
    """Round a bin width up to 1, 2 or 5 times a power of ten (at least 0.1 h)."""
    raw = max(raw, 0.1)
    power = 10 ** np.floor(np.log10(raw))
    for step in (1, 2, 5, 10):
        if raw <= step * power:
            return float(step * power)
    return float(10 * power)


def tidy(fig: go.Figure) -> go.Figure:
    """Return ``fig`` laid out for a narrow dashboard column; any plotly figure.

    The title (a second, smaller line after ``<br>`` is fine) at the top left,
    then the legend, one entry per line, then the plot: however narrow the
    column, the legend never runs into the title or the plot (a horizontal
    legend wraps unpredictably). The figure grows by the room the legend takes.
    Text labels may run past the axes instead of being cut off. A trace with no
    value at all (e.g. a target line where there is no target) is left out of
    the legend.
    """
    height = fig.layout.height or 450
    old_top = fig.layout.margin.t if fig.layout.margin.t is not None else 100  # plotly's default
    for trace in fig.data:
        if trace.type in ("bar", "scatter"):
            trace.cliponaxis = False
        if any(_all_missing(values) for values in (trace.x, trace.y)):
            trace.showlegend = False
    entries = sum(1 for t in fig.data if t.showlegend is not False and t.name)
    shown = fig.layout.showlegend if fig.layout.showlegend is not None else entries > 1
    rows = entries if shown else 0
    title_px = 34 + (20 if "<br>" in (fig.layout.title.text or "") else 0)
    top = title_px + 19 * rows + (10 if rows else 0)
    height = max(250, height - old_top + top)
    fig.update_layout(
        height=height,
        title={"x": 0.01, "xref": "container", "xanchor": "left", "y": 1 - 10 / height, "yref": "container",
               "yanchor": "top"},
        legend={"orientation": "v", "x": 0, "xref": "paper", "xanchor": "left", "y": 1 - title_px / height,
                "yref": "container", "yanchor": "top", "font": {"size": 11}, "tracegroupgap": 0},
        margin={"t": top, "r": max(fig.layout.margin.r or 0, 50)},
    )  # fmt: skip
    return fig


def _all_missing(values) -> bool:
    """True for a non-empty sequence of numbers that are all NaN (text is never missing).

    A figure that went through pickle (a cached page view) holds its arrays as plotly's typed arrays.

    >>> _all_missing([np.nan, np.nan]), _all_missing({"dtype": "f8", "bdata": "AAAAAAAA+H8="}), _all_missing(["a"])
    (True, True, False)
    """
    if isinstance(values, Mapping) and "bdata" in values:
        values = np.frombuffer(base64.b64decode(values["bdata"]), dtype=values.get("dtype", "f8"))
    if values is None or not len(values):
        return False
    try:
        return bool(np.isnan(np.asarray(values, dtype="float64")).all())
    except (TypeError, ValueError):
        return False
