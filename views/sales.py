"""The Sales page as data: the sales commitments' tiles, follow-up per rep and team, the queue, response times.

:func:`sales_view` returns every figure, table, sentence and chart the page
shows. The per-rep follow-up rate is computed once (:func:`rep_followup`), with
the agreement version in force when the period started, and both the chart and
the table are drawn from that one frame. The overdue queue's window and table
(:func:`queue_window`, :func:`queue_table`) are the page's own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analytics import breakdown_charts as bc
from analytics import wording
from analytics.charts import STATUS_LABELS, rep_compliance_chart, response_time_histogram
from analytics.commitments import (
    as_versions,
    document_for_period,
    document_in_force,
    evaluate,
    find_commitment,
    row_for,
    rows_for,
    with_tracked,
)
from analytics.followup import FollowupError, delays_by, followup_by, followup_detail, followup_queue
from analytics.groups import UNASSIGNED, BreakdownError, labels
from analytics.metrics import as_instant, positions, reusing_prepared
from analytics.periods import week_row
from analytics.schema import validate_frame
from analytics.snapshots import week_version
from views.figures import figure_rows
from views.filters import Filters

PAGE = "sales"
_WEEK_LABEL = re.compile(r"\d{4}-W\d{2}")
SALES_METRICS = {
    "followed_up_within": "Follow-up",
    "touches_within": "Touches",
    "dispositioned_within": "Disposition",
}
QUEUE_HOURS = (
    1,
    2,
    4,
    8,
    24,
    48,
)  # the "due within" choices below the follow-up limit, plus the limit itself
# Metrics the Marketing, Sales and Funnel pages show even where no commitment measures them.
TRACKED_METRICS = (
    "mql_count",
    "sql_count",
    "sourced_pipeline",
    "won_revenue",
    "mql_to_sql_rate",
    "acceptance_rate",
)


@dataclass(frozen=True)
class Tile:
    """One commitment's tile: its value, change, status badge and sentence (or why it is missing)."""

    label: str
    metric: str
    value: str
    delta: str | None = None
    status: str | None = None
    status_label: str | None = None
    badge: str | None = None
    sentence: str = ""
    help: str | None = None
    row: Mapping[str, Any] | None = None  # the evaluation row the tile shows (None: no such commitment)


def queue_choices(limit_hours: float) -> tuple[float, ...]:
    """Return the "due within" choices (business hours) under a ``limit_hours`` follow-up limit.

    An untouched lead is never due later than the limit, so a choice at or over it lists every untouched
    lead: the choices are the :data:`QUEUE_HOURS` below the limit, then the limit itself, no two alike.

    >>> queue_choices(4), queue_choices(24), queue_choices(0.5)
    ((1, 2, 4.0), (1, 2, 4, 8, 24.0), (0.5,))
    """
    return (*(h for h in QUEUE_HOURS if h < limit_hours), float(limit_hours))


def default_queue_choice(choices: tuple[float, ...]) -> float:
    """Return the choice the page opens on: 4 business hours, or the largest choice below it, else the first.

    >>> default_queue_choice((1, 2, 4.0)), default_queue_choice((0.5,)), default_queue_choice((1, 2, 3.0))
    (4.0, 0.5, 3.0)
    """
    below = [h for h in choices if h <= 4]
    return below[-1] if below else choices[0]


def overdue_by_rep(queue: pd.DataFrame) -> pd.Series:
    """Return the overdue leads of a queue (any "due within" choice) per owner id, -1 for unassigned ones.

    The one count behind the rep table's "Overdue now": the leads the queue lists as overdue.
    """
    overdue = queue[queue["hours_left"] < 0]
    return overdue["owner_id"].astype("float64").fillna(-1.0).value_counts()


def with_overdue(per_rep: pd.DataFrame, overdue: pd.Series, queue_detail: pd.DataFrame) -> pd.DataFrame:
    """Return the per-rep table with ``overdue_untouched`` from ``overdue`` (:func:`overdue_by_rep`).

    A rep with overdue leads in the queue but none handed over in the period gets a row of their own
    (no leads, no rate), so the column adds up to the queue's overdue leads.
    """
    keys = per_rep["owner_id"].astype("float64").fillna(-1.0)
    out = per_rep.assign(
        overdue_untouched=overdue.reindex(keys.to_numpy()).fillna(0).astype("int64").to_numpy()
    )
    missing = overdue.index.difference(keys)
    if not len(missing):
        return out
    detail = queue_detail.assign(_key=queue_detail["owner_id"].astype("float64").fillna(-1.0))
    first = detail.drop_duplicates("_key").set_index("_key")
    extra = pd.DataFrame({
        "owner_id": pd.array([None if k < 0 else int(k) for k in missing], dtype="Int64"),
        "owner": [UNASSIGNED if k < 0 else first.loc[k, "owner"] for k in missing],
        "team": pd.Series([first.loc[k, "team"] for k in missing], dtype="str"),
        "leads": 0, "met": 0, "breached": 0, "pending": 0, "rate": np.nan, "median_hours": np.nan,
        "p90_hours": np.nan, "overdue_untouched": overdue.reindex(missing).astype("int64").to_numpy(),
    })  # fmt: skip
    return pd.concat([out, extra[out.columns]], ignore_index=True)


@dataclass(frozen=True)
class Queue:
    """The overdue queue for one "due within" choice: the table and its headline."""

    hours: int
    table: pd.DataFrame
    overdue: int
    headline: str  # markdown; "" when the queue is empty
    empty_sentence: str


@dataclass(frozen=True)
class RepRows:
    """Per-rep rows of a touches or disposition commitment: chart and CSV table, or a sentence instead."""

    metric: str
    commitment: str | None
    chart: go.Figure | None
    table: pd.DataFrame | None
    message: str = ""


@dataclass(frozen=True)
class SalesView:
    """Everything the Sales page shows for one period, slice and as-of instant."""

    filters: Filters
    period_name: str
    selection: str  # the slice in words
    subtitle: str
    closed_note: str
    tiles: tuple[Tile, ...]
    overall: (
        Mapping[str, Any] | None
    )  # follow-up of every lead of the period (analytics.followup.followup_by)
    median_text: str
    p90_text: str
    touch_sentence: str
    no_limit: str  # why there is no follow-up section ("" when there is)
    limit_hours: float | None
    followup_title: str
    no_leads: str
    detail: pd.DataFrame | None  # one row per lead handed over in the period (analytics.followup)
    per_rep: pd.DataFrame | None  # the one per-rep follow-up frame: the table, and the chart's rows
    per_team: pd.DataFrame | None
    rep_chart: go.Figure | None
    delays: pd.DataFrame | None
    delay_chart: go.Figure | None
    histogram: go.Figure | None
    queue_caption: str
    queues: Mapping[float, Queue] = field(default_factory=dict)
    queue_file: str = ""  # the queue CSV's name, with the local date (agreement timezone)
    response_title: str = ""
    reps_title: str = ""
    rep_rows: tuple[RepRows, ...] = ()
    evaluation: pd.DataFrame | None = None  # the period's rows of every commitment and tracked metric

    def figures(self) -> pd.DataFrame:
        """Every figure of the page as rows (see :func:`views.figures.figure_rows`)."""
        rows = [t.row for t in self.tiles if t.row is not None]
        parts = [figure_rows(pd.DataFrame(rows), PAGE, self.selection)]
        if self.overall is not None:  # the median and p90 tiles: business hours, no target
            hours = pd.DataFrame({"commitment": ["first-touch-median-hours", "first-touch-p90-hours"],
                                  "period": self.filters.period,
                                  "actual": [self.overall["median_hours"], self.overall["p90_hours"]],
                                  "kind": "duration", "unit": "business hours"})  # fmt: skip
            parts.append(figure_rows(hours, PAGE, self.selection))
        if self.per_rep is not None and len(self.per_rep):
            parts.append(per_rep_figures(self.per_rep, self.tiles[0].row, self.filters))
        return pd.concat(parts, ignore_index=True)


def rep_followup(versions: Any, frames: Mapping[str, pd.DataFrame], f: Filters) -> pd.DataFrame:
    """Return the per-lead follow-up detail of the period, judged by the version in force at its start.

    The one computation behind the per-rep chart and table: a past period keeps the limit it was agreed
    under, as :func:`analytics.commitments.evaluate` judges it. FollowupError without a follow-up limit.
    """
    doc = document_for_period(as_versions(versions), f.period_start, f.as_of)
    return followup_detail(doc, frames, f.as_of, start=f.period_start, end=f.period_end)


def rep_chart_rows(per_rep: pd.DataFrame, target: float | None) -> pd.DataFrame:
    """Return the per-rep table as the rows ``rep_compliance_chart`` draws (the table plus the target)."""
    return per_rep.assign(target=float("nan") if target is None else float(target))


def per_rep_figures(per_rep: pd.DataFrame, row: Mapping[str, Any] | None, f: Filters) -> pd.DataFrame:
    """Return the per-rep follow-up rates as figure rows (slice "rep: <name>"), target from the tile's row."""
    target = float("nan") if row is None or row.get("target") is None else float(row["target"])
    out = pd.DataFrame(
        {
            "page": PAGE,
            "commitment": row["commitment"] if row is not None else "followed_up_within",
            "period": f.period,
            "slice": "rep: " + per_rep["owner"].astype(str),
            "actual": per_rep["rate"].astype("float64"),
            "target": target,
            "met": per_rep["met"].astype("float64"),
            "breached": per_rep["breached"].astype("float64"),
            "pending": per_rep["pending"].astype("float64"),
            "kind": "rate",
        }
    )
    out["gap"] = out["actual"] - out["target"]
    out["status"] = ""
    return figure_rows(out, PAGE, None)


def week_filters(versions: Any, f: Filters, week: str) -> Filters:
    """Return ``f`` for ISO ``week`` instead of its period (the Sales page's week choice); same slice, as of."""
    row = week_row(week, document_in_force(as_versions(versions), f.as_of).timezone)
    return replace(f, period=week, period_start=row["period_start"], period_end=row["period_end"])


def judging_versions(versions: Any, f: Filters) -> list:
    """Return the versions that judge ``f``'s period: ``versions`` themselves, or for an ISO week of an agreement
    whose period is longer, the one in force at the week's start as a weekly agreement
    (:func:`analytics.snapshots.week_version`, as the Overview judges weeks). Rates keep their targets."""
    versions = as_versions(versions)
    is_week = bool(_WEEK_LABEL.fullmatch(f.period))
    if not is_week or document_in_force(versions, f.as_of).period == "week":
        return versions
    return [week_version(versions, f.period_start, f.period_end)]


@reusing_prepared
def sales_view(
    versions: Any,
    frames: Mapping[str, pd.DataFrame],
    queue_frames: Mapping[str, pd.DataFrame],
    f: Filters,
    clock: Any = None,
) -> SalesView:
    """Return the :class:`SalesView` of ``f``.

    ``frames`` hold the period's window and ``queue_frames`` the queue's
    (:func:`queue_window` of ``f.as_of``), both unsliced:
    the view slices them by ``f``. ``clock`` (a :class:`data.fact_views.SalesClock` of ``f``, read from
    the stored SLA facts) gives the tiles, the touches and disposition per rep and the per-rep and
    per-team follow-up table instead of computing them from the frames (then ``evaluation`` holds only
    the clock commitments' rows); the frames still give the per-lead detail (histogram, routing and rep
    delays) and the queue. A week judged by a stand-in version (:func:`judging_versions`) ignores it.
    """
    versions = as_versions(versions)
    now_versions = versions  # the queue is about now, whichever period is shown
    judging = judging_versions(versions, f)
    if judging is not versions or clock is None or clock.evaluation is None:
        clock = None  # a stand-in version, or a period the facts cannot judge: the frames answer
    versions = judging
    doc = document_in_force(versions, f.as_of)
    period = f.period_name
    selection = f.selection(frames.get("owners", pd.DataFrame()))
    said = f.selection(frames.get("owners", pd.DataFrame()), markdown=True)  # in sentences
    subtitle = f"{period} · {selection}"
    data = f.slice(frames)
    if clock is None:
        tracked = with_tracked(versions, TRACKED_METRICS)
        results = evaluate(tracked, data, f.period_start, f.period_end, f.as_of)
        by_owner = evaluate(versions, data, f.period_start, f.period_end, f.as_of, by="owner")
    else:
        results, by_owner = clock.evaluation, clock.evaluation_by_owner
    found = {m: find_commitment(doc, m) for m in SALES_METRICS}
    no_leads = f"No lead was handed over in {period} for {said}."

    tiles = []
    for metric, label in SALES_METRICS.items():
        commitment = found[metric]
        row = row_for(results, doc, metric, f.period) if commitment is not None else None
        if row is None:
            tiles.append(
                Tile(
                    label,
                    metric,
                    "–",
                    sentence=f"The agreement has no {label.lower()} commitment ({metric}).",
                )
            )
            continue
        tiles.append(Tile(
            label, metric, wording.format_value(row["actual"], "rate", beside=row["target"]), delta=wording.delta_text(row),
            status=row["status"], status_label=STATUS_LABELS.get(row["status"], row["status"]),
            badge=wording.badge_color(row["status"]), sentence=wording.result_sentence(row, noun=wording.metric_noun(commitment)),
            help=commitment.description, row=row.to_dict(),
        ))  # fmt: skip

    try:
        detail = rep_followup(versions, data, f)
        no_limit = ""
    except FollowupError as exc:  # the agreement sets no follow-up limit
        detail, no_limit = None, str(exc)
    if detail is None:
        overall = None
    elif clock is not None and clock.overall is not None:
        overall = pd.Series(clock.overall)
    else:
        overall = followup_by(detail, by=None).iloc[0]
    median = wording.format_value(
        None if overall is None else overall["median_hours"], "duration", short=True
    )
    p90 = wording.format_value(None if overall is None else overall["p90_hours"], "duration", short=True)
    if overall is None:
        touch_sentence = no_limit
    elif overall["leads"] == 0:
        touch_sentence = no_leads
    else:
        touch_sentence = (
            f"Business hours from handover to first touch, over the touched leads of the "
            f"{int(overall['leads']):,} handed over in {period}."
        )
    common = dict(
        filters=f, period_name=period, selection=selection, subtitle=subtitle, tiles=tuple(tiles),
        overall=None if overall is None else overall.to_dict(), median_text=median, p90_text=p90,
        touch_sentence=touch_sentence, no_limit=no_limit, no_leads=no_leads, evaluation=results,
        closed_note="" if f.is_current_period else f"{period} is closed: its status is final (met or missed).",
    )  # fmt: skip
    if detail is None:
        return SalesView(**common, limit_hours=None, followup_title="", detail=None, per_rep=None, per_team=None,
                         rep_chart=None, delays=None, delay_chart=None, histogram=None, queue_caption="")  # fmt: skip

    speed = found["followed_up_within"]
    limit = (
        float(detail["limit_hours"].iloc[0]) if len(detail) else float(speed.metric_params().business_hours)
    )
    if clock is not None and clock.per_rep is not None:
        per_rep, per_team = clock.per_rep, clock.per_team
    else:
        per_rep = followup_by(detail, by="owner")
        per_team = followup_by(detail, by="team")
    delays = delays_by(detail, by="team")
    speed_row = tiles[0].row
    rep_chart = rep_compliance_chart(
        rep_chart_rows(per_rep, None if speed_row is None else speed_row["target"]),
        title=f"First touch within {limit:g} business hours, by rep<br><sup>{subtitle}</sup>",
    )
    histogram = None
    if detail["business_hours_taken"].notna().any():
        histogram = response_time_histogram(
            detail, sla_hours=limit, title=f"Time to first touch<br><sup>{subtitle}</sup>"
        )
    delay_chart = bc.delay_chart(
        delays, by="team", title=f"Routing delay vs rep delay<br><sup>{subtitle}</sup>", limit_hours=limit
    )

    zone = doc.timezone
    queue_data = f.slice(queue_frames)
    start, _ = queue_window(f.as_of)
    queue_detail = followup_detail(now_versions, queue_data, f.as_of, start=start)
    queue_limit = float(queue_detail["limit_hours"].iloc[0]) if len(queue_detail) else limit
    queues = {}
    for hours in queue_choices(queue_limit):
        due = followup_queue(queue_detail, float(hours))
        table = queue_table(due, queue_data["leads"], zone)
        overdue = int(due["overdue"].sum())
        table["hours_left"] = table["hours_left"].round(1)  # as the table and the CSV show them
        queues[hours] = Queue(
            hours, table, overdue,
            f"**{overdue} overdue** and **{len(table) - overdue} due within {hours:g} business hours**." if len(table) else "",
            f"No lead is overdue or due within the next {hours:g} business hours for {said}.",
        )  # fmt: skip
    # "Overdue now" per rep counts what the queue lists as overdue (handed over in the last 30 days).
    overdue = overdue_by_rep(followup_queue(queue_detail, 0.0))
    per_rep = with_overdue(per_rep, overdue, queue_detail)
    queue_caption = (
        f"Untouched leads handed over in the last {QUEUE_DAYS} days whose {queue_limit:g}-business-hour limit "
        f"has passed or runs out within {{hours}} business hours, most urgent first; as of "
        f'{f.as_of.tz_convert(zone):%Y-%m-%d %H:%M}, times in {zone}. "Overdue now" in the rep table counts '
        f"the overdue leads of this queue."
    )
    queue_file = f"followup-queue-{f.as_of.tz_convert(zone):%Y-%m-%d-%H%M}.csv"  # the local date and time

    rep_rows = []
    for metric in ("touches_within", "dispositioned_within"):
        commitment = found[metric]
        if commitment is None:
            message = f"The agreement has no {SALES_METRICS[metric].lower()} commitment ({metric})."
            rep_rows.append(RepRows(metric, None, None, None, message))
            continue
        reps = rows_for(by_owner, doc, metric)
        reps = reps[reps["period"] == f.period]
        if reps.empty:
            rep_rows.append(RepRows(metric, commitment.id, None, None, no_leads))
            continue
        noun = wording.metric_noun(commitment).removeprefix("of ")
        chart = rep_compliance_chart(reps, title=f"{noun[0].upper()}{noun[1:]}<br><sup>{subtitle}</sup>")
        table = reps[["owner", "n", "met", "breached", "pending", "actual", "target", "status"]]
        rep_rows.append(RepRows(metric, commitment.id, chart, table))

    return SalesView(
        **common,
        limit_hours=limit,
        followup_title=f"Follow-up within {limit:g} business hours, per rep and team — {period}",
        detail=detail,
        per_rep=per_rep,
        per_team=per_team,
        rep_chart=rep_chart,
        delays=delays,
        delay_chart=delay_chart,
        histogram=histogram,
        queue_caption=queue_caption,
        queues=queues,
        queue_file=queue_file,
        response_title=f"How long first touches take — {period}",
        reps_title=f"Touches and disposition per rep — {period}",
        rep_rows=tuple(rep_rows),
    )


# ----------------------------------------------------------------------------- the overdue queue

QUEUE_DAYS = 30  # the overdue queue looks at leads handed over in the last 30 days
_NO_ID = np.iinfo(np.int64).min


def queue_window(as_of: Any, days: int = QUEUE_DAYS) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Return the UTC window whose leads the overdue queue looks at: ``days`` before as_of's day to its end.

    Whole UTC days, so a cached load keyed on the window changes once a day.

    >>> queue_window(pd.Timestamp("2026-11-27T16:14Z"), 30)
    (Timestamp('2026-10-28 00:00:00+0000', tz='UTC'), Timestamp('2026-11-28 00:00:00+0000', tz='UTC'))
    """
    moment = as_instant(as_of)
    if days < 1:
        raise BreakdownError(f"the queue needs at least 1 day to look back, got {days}")
    day = moment.floor("D")
    return day - pd.Timedelta(days=days), day + pd.Timedelta(days=1)


QUEUE_COLUMNS = ["lead", "lead_id", "owner", "team", "channel", "handed_over", "due", "hours_left", "state"]


def queue_table(queue: pd.DataFrame, leads: pd.DataFrame, timezone: str) -> pd.DataFrame:
    """Return a ``followup_queue`` frame as the table a sales manager works from, most urgent first.

    Columns :data:`QUEUE_COLUMNS`: ``lead`` (the CRM's external id, from the
    canonical ``leads``), ``lead_id``, ``owner`` (:data:`UNASSIGNED` if none),
    ``team``, ``channel``, ``handed_over`` and ``due`` (in ``timezone``),
    ``hours_left`` (business hours; negative: overdue by) and ``state`` in words,
    e.g. 'overdue by 2.5 business hours'.
    """
    leads = validate_frame(leads, "leads") if len(leads) else leads
    ids = queue["lead_id"].to_numpy(dtype="int64", na_value=_NO_ID)
    if len(leads):
        at = positions(leads["id"].to_numpy(dtype="int64", na_value=_NO_ID), ids)
        external = pd.Series(leads["external_id"].take(np.maximum(at, 0)).to_numpy(dtype=object), dtype="str")
        external = external.mask(at < 0)
    else:
        external = pd.Series(np.full(len(queue), np.nan), dtype="str")
    left = queue["hours_left"].to_numpy(dtype="float64")
    state = [
        f"overdue by {-h:.1f} business hours" if h < 0 else f"due in {h:.1f} business hours" for h in left
    ]
    out = pd.DataFrame(
        {
            "lead": external,
            "lead_id": queue["lead_id"].reset_index(drop=True),
            "owner": labels(queue["owner"], UNASSIGNED),
            "team": queue["team"].reset_index(drop=True),
            "channel": queue["channel"].reset_index(drop=True),
            "handed_over": queue["mql_at"].dt.tz_convert(timezone).reset_index(drop=True),
            "due": queue["due_at"].dt.tz_convert(timezone).reset_index(drop=True),
            "hours_left": left,
            "state": pd.Series(state, dtype="str"),
        }
    )
    return out[QUEUE_COLUMNS]
