"""The Overview page as data: every commitment of both sides, this week and this period, week over week.

:func:`overview_view` returns every figure, table, sentence and chart the
Overview shows; the meeting pack (``reports.meeting_pack``) and ``cli.py report``
draw the same view. Freezing a week writes to the database and stays with the
page and ``reports.weeks``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from analytics import meeting, wording
from analytics.charts import STATUS_COLORS, STATUS_LABELS, trend_chart
from analytics.commitments import as_versions, document_in_force
from analytics.meeting import meeting_weeks
from analytics.metrics import reusing_prepared
from analytics.snapshots import (
    TREND_WEEKS,
    WeekOverview,
    as_figures,
    biggest_gaps,
    evaluation_source,
    figures_frame,
    overview_window,
    week_overview,
)
from analytics.wording import commitment_title, format_change, week_dates
from analytics.wording import period_name as period_title
from views.figures import figure_rows
from views.filters import Filters

PAGE = "overview"


def _value(value: Any, kind: str, unit: str = "", currency: str | None = None, beside: Any = None) -> str:
    """A figure as the cards show it; ``beside``: the target next to it (never rounded onto it)."""
    return wording.format_value(value, kind, unit, currency, compact=True, beside=beside)


@dataclass(frozen=True)
class Gap:
    """One of the biggest gaps: its sentence and how loud to say it."""

    commitment: str
    status: str
    status_label: str
    sentence: str
    severe: bool  # missed or off track (an error box), else a warning


@dataclass(frozen=True)
class Card:
    """One commitment's card: the week's figure and change, the period's figure, and a caption."""

    commitment: str
    party: str
    label: str
    value: str
    delta: str | None
    delta_color: str
    help: str | None
    status: str
    status_label: str
    badge: str
    period_label: str | None  # None: not in the agreement for the period
    period_value: str | None
    period_status: str | None
    period_status_label: str | None
    period_badge: str | None
    missing_period: str
    caption: str


@dataclass(frozen=True)
class OverviewView:
    """Everything the Overview shows for one ISO week, period, slice and as-of instant."""

    filters: Filters
    week: str
    selection: str  # the slice in words
    overview: WeekOverview  # the week's figures (frozen where frozen), the week before, the trend
    period_rows: pd.DataFrame  # the evaluation of the chosen period
    about: str
    notes: str
    nothing: str  # the sentence when the week has no figures at all ("" otherwise)
    no_rows: str  # the sentence when the week has no leads or deals ("" otherwise)
    gaps: tuple[Gap, ...]
    all_met: str
    corrections: str
    parties: tuple[str, ...]
    cards: tuple[Card, ...]
    grid_values: pd.DataFrame
    grid_tints: pd.DataFrame
    chart_ids: tuple[str, ...]
    default_chart: str | None
    charts: Mapping[str, go.Figure]  # commitment -> its week-by-week chart
    chart_labels: Mapping[str, str]  # commitment -> its title in the chart picker
    table: pd.DataFrame
    figures_csv: pd.DataFrame

    def figures(self) -> pd.DataFrame:
        """Every figure of the page as rows: the week, the week before, the period (views.figures)."""
        return figure_rows(self.figures_csv, PAGE, self.selection)


def week_choices(versions: Any, f: Filters) -> list[str]:
    """Return the ISO weeks the week picker offers at ``f.as_of``: the current one and the
    :data:`analytics.meeting.MEETING_WEEKS` before it, latest first (any period's weeks)."""
    return meeting_weeks(f.as_of, document_in_force(as_versions(versions), f.as_of))


def opening_week(versions: Any, f: Filters) -> str:
    """Return the week the Overview opens on at ``f.as_of`` (the week just closed while the current one has
    barely started: :func:`analytics.meeting.opening_week`)."""
    return meeting.opening_week(f.as_of, document_in_force(as_versions(versions), f.as_of))


def data_window(
    versions: Any, f: Filters, week: str, trend_weeks: int = TREND_WEEKS
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Return the [start, end) of data :func:`overview_view` needs: the week, its trend and the period."""
    need_start, need_end = overview_window(as_versions(versions), week, f.as_of, trend_weeks)
    return min(f.period_start, need_start), max(f.period_end, need_end)


@reusing_prepared
def overview_view(
    versions: Any,
    frames: Mapping[str, pd.DataFrame],
    snapshots: pd.DataFrame | None,
    f: Filters,
    week: str,
    *,
    trend_weeks: int = TREND_WEEKS,
) -> OverviewView:
    """Return the :class:`OverviewView` of ISO ``week`` and ``f``'s period.

    ``frames`` (unsliced) cover :func:`data_window`, or are an evaluation source
    (:func:`analytics.snapshots.evaluation_source`: the database answers); ``snapshots`` are the
    agreement's frozen weeks (``data.journal.read_snapshots``), used only
    without a slice (they are for the whole agreement).
    """
    versions = as_versions(versions)
    doc = document_in_force(versions, f.as_of)
    tz, currency = doc.timezone, doc.currency
    whole = evaluation_source(frames)
    data = whole.sliced(teams=f.teams, owners=f.owners, channels=f.channels)
    overview = week_overview(versions, data, None if f.sliced else snapshots, week, f.as_of,
                             use_frozen=not f.sliced, currency=currency, trend_weeks=trend_weeks)  # fmt: skip
    period_rows = data.evaluate(versions, f.period_start, f.period_end, f.as_of)
    week_rows = overview.week_rows()
    period_name = period_title(f.period)

    state = "in progress" if not overview.is_closed else "closed"
    selection = f.selection(whole.owners)
    about = (  # a caption: the names in it are escaped
        f"{week} ({week_dates(week)}, {state}) and {period_name} · "
        f"{f.selection(whole.owners, markdown=True)} · "
        f"as of {f.as_of.tz_convert(tz):%Y-%m-%d %H:%M} ({tz})"
    )
    notes = [
        f"{label} shows the figures frozen on {frozen_at:%d %b %Y %H:%M} UTC, as shown in that week's meeting."
        for label, frozen_at in sorted(overview.frozen.items())
    ]
    if f.sliced:
        notes.append(
            "Filtered by team, owner or channel: weeks are recomputed (frozen figures are for the whole agreement)."
        )
    nothing = f"Nothing to show for {week} yet." if week_rows.empty else ""
    no_rows = ""
    if not week_rows.empty and int(week_rows["n"].fillna(0).sum()) == 0:
        no_rows = (
            f"No leads or deals in {week} ({week_dates(week)}) yet: counts are 0 and rates have no data."
        )

    ranked = biggest_gaps(
        pd.concat([week_rows, as_figures(period_rows, "period", f.as_of)]), currency=currency
    )
    gaps = tuple(
        Gap(
            g["commitment"],
            g["status"],
            STATUS_LABELS.get(g["status"], g["status"]),
            g["sentence"],
            g["status"] in ("missed", "off track"),
        )  # fmt: skip
        for g in ranked.to_dict("records")
    )
    corrections = " ".join(overview.corrections["message"].tolist()) if len(overview.corrections) else ""

    changes = overview.changes.set_index("commitment")
    by_period = period_rows.set_index("commitment")
    descriptions = {c.id: c.description for c in doc.commitments}
    cards = []
    for row in week_rows.to_dict("records"):
        cards.append(_card(row, changes, by_period, descriptions, overview, week, period_name, currency))
    parties = tuple(p for p in doc.parties if (week_rows["party"] == p).any()) if len(week_rows) else ()

    charts: dict[str, go.Figure] = {}
    ids: list[str] = []
    values = tints = pd.DataFrame()
    if not overview.trend.empty:
        values, statuses = week_grid(overview.trend, currency)
        tints = statuses.map(
            lambda s: f"background-color: {STATUS_COLORS[s]}33" if s in STATUS_COLORS else ""
        )
        ids = list(dict.fromkeys(overview.trend["commitment"]))
        for cid in ids:
            rows = overview.trend[overview.trend["commitment"] == cid]
            fig = trend_chart(rows, title=f"{commitment_title(cid)} per week, against the week's target",
                              currency=currency)  # fmt: skip
            shown = rows["period"].tolist()
            fig.update_layout(height=360, xaxis={"type": "category", "title": {"text": "ISO week"},
                                                 "tickvals": shown, "ticktext": [w[-3:] for w in shown]})  # fmt: skip
            charts[cid] = fig
    first = gaps[0].commitment if gaps else (ids[0] if ids else None)
    default_chart = first if first in ids else (ids[0] if ids else None)

    table = scoreboard(week_rows, overview.changes, period_rows, previous_week=overview.previous_week,
                       currency=currency)  # fmt: skip
    figures_csv = pd.concat(
        [week_rows, overview.previous, as_figures(period_rows, "period", f.as_of)], ignore_index=True
    )
    return OverviewView(
        filters=f, week=week, selection=selection, overview=overview, period_rows=period_rows, about=about, notes=" ".join(notes),
        nothing=nothing, no_rows=no_rows, gaps=gaps,
        all_met=f"Every commitment with a target is met or on track in {week} and {period_name}.",
        corrections=corrections, parties=parties, cards=tuple(cards), grid_values=values, grid_tints=tints,
        chart_ids=tuple(ids), default_chart=default_chart, charts=charts,
        chart_labels={cid: commitment_title(cid) for cid in ids}, table=table, figures_csv=figures_csv,
    )  # fmt: skip


def _card(row, changes, by_period, descriptions, overview: WeekOverview, week, period_name, currency) -> Card:
    cid, kind, unit = row["commitment"], row["kind"], row["unit"]
    title = commitment_title(cid)
    change = changes.loc[cid] if cid in changes.index else None
    p_row = by_period.loc[cid] if cid in by_period.index else None
    delta, direction = None, "normal"
    if change is not None and pd.notna(change["change"]):
        delta = f"{format_change(change['change'], kind, unit, currency)} vs {overview.previous_week[-3:]}"
        direction = "off" if change["change"] == 0 else ("inverse" if row["lower_is_better"] else "normal")
    week_target = _value(row["target"], kind, unit, currency)
    lines = [f"**{week}**: " + ("no target" if pd.isna(row["target"]) else f"target {week_target}")]
    if gap := wording.gap_text(row, unit=unit, currency=currency):  # say the gap, never only the status
        lines[0] += f", {gap}"
    if change is not None and change["projected"] and pd.notna(change["value"]):
        lines.append(
            f"on pace for {_value(change['value'], kind, unit, currency)} (the change compares this pace)"
        )
    if kind == "rate" and row["pending"] and row["pending"] > 0:
        lines.append(f"{row['pending']:,.0f} leads pending")
    if change is not None and pd.notna(change["previous"]):
        lines.append(
            f"{overview.previous_week} at its close: {_value(change['previous'], kind, unit, currency)}"
        )
    if p_row is not None:
        p_target = (
            "no target"
            if pd.isna(p_row["target"])
            else f"target {_value(p_row['target'], kind, unit, currency)}"
        )
        p_line = f"**{period_name}**: {p_target}"
        if gap := wording.gap_text(p_row, unit=unit, currency=currency):
            p_line += f", {gap}"
        if (
            kind in ("count", "amount")
            and p_row["period_state"] == "current"
            and pd.notna(p_row["projection"])
        ):
            p_line += f", on pace for {_value(p_row['projection'], kind, unit, currency)}"
        lines.append(p_line)
    status = row["status"]
    return Card(
        commitment=cid, party=row["party"], label=f"**{title}** · {week}", value=_value(row["actual"], kind, unit, currency, beside=row["target"]),
        delta=delta, delta_color=direction, help=descriptions.get(cid), status=status,
        status_label=STATUS_LABELS.get(status, status), badge=wording.badge_color(status),
        period_label=None if p_row is None else f"{title} · {period_name}",
        period_value=None if p_row is None else _value(p_row["actual"], kind, unit, currency, beside=p_row["target"]),
        period_status=None if p_row is None else p_row["status"],
        period_status_label=None if p_row is None else STATUS_LABELS.get(p_row["status"], p_row["status"]),
        period_badge=None if p_row is None else wording.badge_color(p_row["status"]),
        missing_period=f"Not in the agreement for {period_name}.", caption=" · ".join(lines),
    )  # fmt: skip


# ----------------------------------------------------------------------------- the week as tables of words


def week_grid(trend: pd.DataFrame, currency: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return the weeks of ``trend`` as a table to read across: (values, statuses), the same shape.

    One row per commitment (columns ``Side`` and ``Commitment``, in the order of
    ``trend``), one column per week (short labels, ``W47``), oldest first;
    ``values`` holds the formatted figures (counts without their unit), and
    ``statuses`` each cell's status ("" where a week has no row).

    >>> rows = figures_frame([{"period": "2026-W47", "commitment": "mql-volume", "party": "marketing",
    ...     "kind": "count", "unit": "leads", "actual": 42.0, "status": "missed"}])
    >>> values, statuses = week_grid(rows)
    >>> values.to_dict("records"), statuses["W47"].tolist()
    ([{'Side': 'Marketing', 'Commitment': 'MQL volume', 'W47': '42'}], ['missed'])
    """
    trend = figures_frame(trend)
    weeks = list(dict.fromkeys(trend.sort_values("period_start", kind="stable")["period"]))
    commitments = list(dict.fromkeys(trend["commitment"]))
    columns = [w.split("-")[-1] for w in weeks]
    values = pd.DataFrame("–", index=range(len(commitments)), columns=["Side", "Commitment", *columns])
    statuses = pd.DataFrame("", index=values.index, columns=values.columns)
    cells = trend.drop_duplicates(["commitment", "period"], keep="last").set_index(["commitment", "period"])
    for i, cid in enumerate(commitments):
        for week, column in zip(weeks, columns, strict=True):
            if (cid, week) not in cells.index:
                continue
            cell = cells.loc[(cid, week)]
            unit = "" if cell["kind"] == "count" else cell["unit"]
            values.loc[i, column] = wording.format_value(
                cell["actual"], cell["kind"], unit, currency, compact=True
            )
            statuses.loc[i, column] = cell["status"]
            values.loc[i, ["Side", "Commitment"]] = [str(cell["party"]).capitalize(), commitment_title(cid)]
    return values, statuses


def scoreboard(
    week_rows: pd.DataFrame,
    changes: pd.DataFrame,
    period_rows: pd.DataFrame,
    *,
    previous_week: str,
    currency: str | None = None,
) -> pd.DataFrame:
    """Return every commitment of a week as a table of words: the week, the change, the period.

    ``week_rows`` are figure rows of one week, ``changes`` its
    :func:`week_over_week`, ``period_rows`` evaluation rows of one period.
    Columns: Side, Commitment, <week>, Week target, Week status, vs
    <previous_week>, <period in words>, Period target, Period status.
    """
    week_rows = figures_frame(week_rows)
    change = changes.set_index("commitment") if len(changes) else pd.DataFrame()
    period = period_rows.set_index("commitment") if len(period_rows) else pd.DataFrame()
    week = str(week_rows["period"].iloc[0]) if len(week_rows) else "Week"
    period_name = period_title(str(period_rows["period"].iloc[0])) if len(period_rows) else "Period"
    out = []
    for row in week_rows.to_dict("records"):
        cid, kind, unit = row["commitment"], row["kind"], row["unit"]
        p = period.loc[cid] if cid in period.index else None
        c = change.loc[cid] if cid in change.index else None
        out.append({
            "Side": str(row["party"]).capitalize(),
            "Commitment": commitment_title(cid),
            week: wording.format_value(row["actual"], kind, unit, currency, compact=True),
            "Week target": wording.format_value(row["target"], kind, unit, currency, compact=True),
            "Week status": STATUS_LABELS.get(row["status"], row["status"]),
            f"vs {previous_week}": "" if c is None else format_change(c["change"], kind, unit, currency),
            period_name: "–" if p is None else wording.format_value(p["actual"], kind, unit, currency, compact=True),
            "Period target": "–" if p is None else wording.format_value(p["target"], kind, unit, currency, compact=True),
            "Period status": "–" if p is None else STATUS_LABELS.get(p["status"], p["status"]),
        })  # fmt: skip
    columns = ["Side", "Commitment", week, "Week target", "Week status", f"vs {previous_week}", period_name,
               "Period target", "Period status"]  # fmt: skip
    return pd.DataFrame(out, columns=columns)
