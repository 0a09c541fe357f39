"""The records behind a figure: the leads (or deals) a count, rate or amount of a page counts, as a table.

:func:`drill_choices` lists the figures of a page that open their records; :func:`records_view` returns
the rows of one, from :func:`analytics.commitments.counted_rows` (the evaluation the figure comes from,
not a second set of rules): who, owner, channel, handover, due, first touch, status, business hours and
the link to the record in its CRM (:mod:`analytics.links`; imported and demo rows have none).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analytics.agreement import version_in_force
from analytics.commitments import as_versions, counted_rows, document_in_force, with_tracked
from analytics.funnel import STAGE_LABELS, STAGES, cohort_leads
from analytics.groups import UNASSIGNED
from analytics.links import record_links
from analytics.metrics import METRICS
from analytics.periods import week_row
from analytics.snapshots import week_version
from analytics.windows import cut_window
from analytics.wording import format_value
from views.filters import Filters
from views.sales import TRACKED_METRICS

LEAD_COLUMNS = ["name", "company", "owner", "team", "channel", "handed_over", "due", "first_touch", "status",
                "hours", "link", "record"]  # fmt: skip
STAGE_COLUMNS = ["name", "company", "owner", "team", "channel", "handed_over", "sql", "opportunity", "won",
                 "link", "record"]  # fmt: skip
DEAL_COLUMNS = ["name", "owner", "team", "channel", "created", "closed", "amount", "status", "link", "record"]
# A function that reads who the rows are: (table, row ids) -> row_id, source, external_id, name, company.
People = Callable[[str, np.ndarray], pd.DataFrame]


@dataclass(frozen=True)
class DrillChoice:
    """One figure of a page whose records can be opened."""

    commitment: str  # a commitment's id, or "funnel-<stage>" for a Funnel stage count
    period: str  # the agreement period, or the ISO week for scope "week"
    label: str  # e.g. "speed-to-lead — 81%"
    scope: str = "period"  # "period", or "week": the Overview's figure of its chosen week

    @property
    def key(self) -> str:
        """The choice's value in a selector: the commitment for a period's figure, ``week:<id>`` for a week's."""
        return f"week:{self.commitment}" if self.scope == "week" else self.commitment


@dataclass(frozen=True)
class Records:
    """The rows behind one figure and how to show them."""

    choice: DrillChoice
    kind: str  # "lead", "deal" or "stage" (a Funnel stage's leads)
    table: pd.DataFrame  # LEAD_COLUMNS, DEAL_COLUMNS or STAGE_COLUMNS, times in the agreement's timezone
    count: int
    sentence: str
    file_name: str


def drill_choices(
    figures: pd.DataFrame, versions: Any, f: Filters, week: str | None = None
) -> list[DrillChoice]:
    """Return the figures of ``figures`` (a view's :meth:`figures` rows) whose records can be opened.

    Those of the page's period and slice that a commitment or tracked metric measures, in the page's order,
    once each; then the Funnel's stage counts of the period (``funnel-<stage>`` rows); with ``week`` (the
    Overview), the week's figures after the period's, each label saying "this week" or "this period".
    """
    doc = document_in_force(with_tracked(versions, TRACKED_METRICS), f.as_of)
    known = {c.id for c in doc.commitments}
    rows = figures[(figures["period"] == f.period) & figures["commitment"].isin(known)]
    if "scope" in rows:
        rows = rows[rows["scope"].isin(["period", ""]) | rows["scope"].isna()]
    if "slice" in rows and len(rows):
        rows = rows[~rows["slice"].astype(str).str.startswith("rep: ")]
    out, seen = [], set()
    for row in rows.itertuples(index=False):
        if row.commitment in seen:
            continue
        seen.add(row.commitment)
        value = format_value(row.actual, row.kind or "count", row.unit or "")
        said = f" (this period, {f.period_name})" if week else ""
        out.append(DrillChoice(row.commitment, f.period, f"{row.commitment} — {value}{said}"))
    stages = figures[
        (figures["period"] == f.period) & figures["commitment"].isin([f"funnel-{s}" for s in STAGES])
    ]
    for row in stages.drop_duplicates("commitment").itertuples(index=False):
        label = STAGE_LABELS[row.commitment.removeprefix("funnel-")]
        out.append(
            DrillChoice(
                row.commitment,
                f.period,
                f"{label} — {row.actual:,.0f} of the leads handed over in {f.period_name}",
            )
        )
    if week and "scope" in figures:
        of_week = figures[
            (figures["scope"] == "week") & (figures["period"] == week) & figures["commitment"].isin(known)
        ]
        for row in of_week.drop_duplicates("commitment").itertuples(index=False):
            value = format_value(row.actual, row.kind or "count", row.unit or "")
            out.append(
                DrillChoice(row.commitment, week, f"{row.commitment} — {value} (this week, {week})", "week")
            )
    return out


def records_view(
    versions: Any,
    frames: Mapping[str, pd.DataFrame],
    f: Filters,
    commitment: str,
    people: People,
    bases: Mapping[str, Mapping],
) -> Records:
    """Return the :class:`Records` behind ``commitment``'s figure for ``f`` (period, slice, as of).

    ``frames`` are the page's unsliced frames of the period; ``people`` reads names and CRM ids by row id;
    ``bases`` are the stored link bases (``data.record_links``).
    """
    versions = with_tracked(as_versions(versions), TRACKED_METRICS)
    doc = document_in_force(versions, f.as_of)
    data = f.slice(frames)
    rows = counted_rows(versions, data, commitment, f.period_start, f.as_of)
    choice = DrillChoice(commitment, f.period, commitment)
    return _records(choice, rows, data, doc.timezone, f, people, bases, f.period_name)


def stage_records(
    versions: Any,
    frames: Mapping[str, pd.DataFrame],
    f: Filters,
    stage: str,
    people: People,
    bases: Mapping[str, Mapping],
) -> Records:
    """Return the :class:`Records` behind the Funnel's ``stage`` count of ``f``'s period: the leads handed over
    in it that reached the stage (:func:`analytics.funnel.cohort_leads`, what the stage tile counts).

    ``frames`` are the Funnel's unsliced frames (from its history start to the period's end).
    """
    versions = as_versions(versions)
    data = f.slice(frames)
    rows = cohort_leads(versions, data, f.period_start, f.as_of, stage)
    choice = DrillChoice(f"funnel-{stage}", f.period, f"{STAGE_LABELS[stage]} of the leads handed over")
    zone = document_in_force(versions, f.as_of).timezone
    return _records(choice, rows, data, zone, f, people, bases, f.period_name)


def week_records(
    versions: Any,
    frames: Mapping[str, pd.DataFrame],
    f: Filters,
    week: str,
    commitment: str,
    people: People,
    bases: Mapping[str, Mapping],
) -> Records:
    """Return the :class:`Records` behind ``commitment``'s figure of ISO ``week``, judged as the Overview judges
    it (:func:`analytics.snapshots.evaluate_weeks`): by the version in force at the week's start as a weekly
    agreement; counts and amounts as of ``min(as_of, week end)``, rates and durations as known at as_of.
    """
    versions = as_versions(versions)
    zone = document_in_force(versions, f.as_of).timezone
    row = week_row(week, zone)
    start, end = row["period_start"], row["period_end"]
    derived = (week_version(versions, start, end) if version_in_force(versions, start) is not None
               else week_version(versions, end, end + pd.Timedelta(weeks=1)))  # fmt: skip
    data = f.slice(frames)
    window = cut_window(data, start, end)
    judged = next((c for c in derived.document.commitments if c.id == commitment), None)
    closes = judged is not None and METRICS[judged.metric].kind in ("count", "amount")
    at = min(f.as_of, end) if closes else f.as_of
    rows = counted_rows([derived], window, commitment, start, at)
    choice = DrillChoice(commitment, week, commitment, "week")
    return _records(choice, rows, data, zone, f, people, bases, week, at=at)


def _records(
    choice: DrillChoice,
    rows: pd.DataFrame,
    data: Mapping[str, pd.DataFrame],
    zone: str,
    f: Filters,
    people: People,
    bases: Mapping[str, Mapping],
    when: str,
    at: pd.Timestamp | None = None,
) -> Records:
    """The :class:`Records` of ``rows`` (counted leads or deals, or a stage's leads): who, owner, link, times."""
    table_name = "deals" if "closed_at" in rows.columns else "leads"
    kind = "deal" if table_name == "deals" else "stage" if "won_at" in rows.columns else "lead"
    ids = rows["id"].to_numpy(dtype="int64", na_value=0)
    who = people(table_name, ids).drop_duplicates("row_id").set_index("row_id")
    found = who.reindex(ids)
    owners = data["owners"].dropna(subset=["id"]).drop_duplicates("id").set_index("id")["name"]
    owner = pd.Series(owners.reindex(rows["owner_id"].to_numpy(dtype="float64", na_value=np.nan)).to_numpy(),
                      dtype="str").fillna(UNASSIGNED)  # fmt: skip
    link = record_links(
        found["source"].reset_index(drop=True), found["external_id"].reset_index(drop=True),
        "deal" if kind == "deal" else "lead", bases,
    )  # fmt: skip
    record = found["external_id"].reset_index(drop=True)

    def local(column: str) -> pd.Series:
        return rows[column].dt.tz_convert(zone).reset_index(drop=True)

    if kind == "lead":
        table = pd.DataFrame({
            "name": found["name"].reset_index(drop=True), "company": found["company"].reset_index(drop=True),
            "owner": owner, "team": rows["team"].reset_index(drop=True), "channel": rows["channel"].reset_index(drop=True),
            "handed_over": local("mql_at"), "due": local("due"), "first_touch": local("first_touch_at"),
            "status": rows["status"].astype("str").reset_index(drop=True), "hours": rows["hours"].round(1).reset_index(drop=True),
            "link": link, "record": record,
        })[LEAD_COLUMNS]  # fmt: skip
    elif kind == "stage":
        table = pd.DataFrame({
            "name": found["name"].reset_index(drop=True), "company": found["company"].reset_index(drop=True),
            "owner": owner, "team": rows["team"].reset_index(drop=True), "channel": rows["channel"].reset_index(drop=True),
            "handed_over": local("mql_at"), "sql": local("sql_at"), "opportunity": local("opportunity_at"),
            "won": local("won_at"), "link": link, "record": record,
        })[STAGE_COLUMNS]  # fmt: skip
    else:
        table = pd.DataFrame({
            "name": found["name"].reset_index(drop=True), "owner": owner, "team": rows["team"].reset_index(drop=True),
            "channel": rows["channel"].reset_index(drop=True), "created": local("created_at"), "closed": local("closed_at"),
            "amount": rows["amount"].reset_index(drop=True),
            "status": np.where(rows["is_won"].fillna(False), "won", np.where(rows["is_closed"].fillna(False), "lost", "open")),
            "link": link, "record": record,
        })[DEAL_COLUMNS]  # fmt: skip
    noun = "deal" if kind == "deal" else "lead"
    count = len(table)
    at = f.as_of if at is None else at
    sentence = (
        f"The {count:,} {noun}{'s' if count != 1 else ''} behind {choice.label} in {when}"
        f" ({f.selection(data['owners'])}), as of {at.tz_convert(zone):%Y-%m-%d %H:%M} ({zone})."
    )
    as_of_day = f.as_of.tz_convert(zone)
    return Records(
        choice, kind, table, count, sentence,
        f"{choice.commitment}-{choice.period}-records-{as_of_day:%Y-%m-%d}.csv",
    )  # fmt: skip


def with_people(table: pd.DataFrame, people: People, bases: Mapping[str, Mapping]) -> pd.DataFrame:
    """Return a table of leads (a ``lead_id`` column, e.g. the overdue queue) with ``name``, ``company`` and
    ``link`` (to the record in its CRM; missing for imported and demo leads) added after ``lead``."""
    ids = table["lead_id"].to_numpy(dtype="int64", na_value=0)
    found = (
        people("leads", ids).drop_duplicates("row_id").set_index("row_id").reindex(ids).reset_index(drop=True)
    )
    out = table.reset_index(drop=True).copy()
    at = list(out.columns).index("lead") + 1 if "lead" in out.columns else 0
    out.insert(at, "link", record_links(found["source"], found["external_id"], "lead", bases))
    out.insert(at, "company", found["company"])
    out.insert(at, "name", found["name"])
    return out
