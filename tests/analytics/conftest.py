"""Small hand-made frames for the analytics tests, slow obvious oracles, and Hypothesis scenarios.

Tests import the helpers directly (``from tests.analytics.conftest import make_frames``):
Hypothesis strategies are needed at import time, where fixtures cannot reach.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from hypothesis import strategies as st

from analytics.agreement import Agreement, parse_document
from analytics.calendar import BusinessCalendar
from analytics.schema import coerce_frame

BASE_DOCUMENT: dict[str, Any] = {
    "name": "Test SLA",
    "parties": ["marketing", "sales"],
    "period": "month",
    "timezone": "UTC",
    "calendar": {"workdays": ["mon", "tue", "wed", "thu", "fri"], "hours": ["09:00", "17:00"]},
    "commitments": [{"id": "mql-volume", "owner": "marketing", "metric": "mql_count", "target": 10}],
}


def ts(text: str | None, tz: str = "UTC") -> pd.Timestamp | None:
    """A UTC Timestamp from text; naive text is read in ``tz``."""
    if text is None:
        return None
    stamp = pd.Timestamp(text)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize(tz)
    return stamp.tz_convert("UTC")


def make_frames(leads=(), deals=(), activities=(), owners=()) -> dict[str, pd.DataFrame]:
    """Canonical frames from lists of partial row dicts; ids 1..n, external ids and defaults filled in."""
    out = {}
    for table, rows in (("leads", leads), ("deals", deals), ("activities", activities), ("owners", owners)):
        records = []
        for i, row in enumerate(rows, start=1):
            record = {"id": i, "source": "test", "external_id": f"{table}-{i}"}
            if table != "owners":
                record["archived"] = False
            record.update(row)
            records.append(record)
        frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
        out[table] = coerce_frame(frame, table)
    return out


def agreement(**overrides: Any) -> Agreement:
    """The base test agreement (UTC, Mon-Fri 09:00-17:00, monthly) with top-level fields replaced."""
    return parse_document({**BASE_DOCUMENT, **overrides})


def commitment(
    cid: str, metric: str, target: float | None, owner: str = "sales", **extra: Any
) -> dict[str, Any]:
    return {"id": cid, "owner": owner, "metric": metric, "target": target, **extra}


# --- slow, obvious oracles -----------------------------------------------------------------------


def slow_business_seconds(start: pd.Timestamp, end: pd.Timestamp, calendar: BusinessCalendar) -> float:
    """Working seconds in (start, end]: walk every local day and overlap it with its working window.

    Only for hours away from DST jumps (the test scenarios keep working hours between 06:00 and 21:00).
    """
    if start is None or end is None or pd.isna(start) or pd.isna(end):
        return float("nan")
    if end <= start:
        return 0.0
    return _slow_seconds(start.to_pydatetime(), end.to_pydatetime(), calendar)


@functools.lru_cache(maxsize=100_000)
def _slow_seconds(start: dt.datetime, end: dt.datetime, calendar: BusinessCalendar) -> float:
    zone = ZoneInfo(calendar.timezone)
    opening = dt.time.fromisoformat(calendar.hours[0])
    closing = calendar.hours[1]
    day = start.astimezone(zone).date() - dt.timedelta(days=1)
    last = end.astimezone(zone).date() + dt.timedelta(days=1)
    total = dt.timedelta(0)
    while day <= last:
        if day.weekday() in calendar.workdays and day not in calendar.holidays:
            open_at = dt.datetime.combine(day, opening, tzinfo=zone)
            if closing == "24:00":
                close_at = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
            else:
                close_at = dt.datetime.combine(day, dt.time.fromisoformat(closing), tzinfo=zone)
            lo, hi = max(open_at, start), min(close_at, end)
            if hi > lo:
                total += hi - lo
        day += dt.timedelta(days=1)
    return total.total_seconds()


def slow_period_label(instant: pd.Timestamp, kind: str, tz: str) -> str:
    """The label of the period holding ``instant``, from its local date."""
    local = instant.tz_convert(ZoneInfo(tz))
    if kind == "week":
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    if kind == "month":
        return f"{local.year}-{local.month:02d}"
    return f"{local.year}-Q{(local.month - 1) // 3 + 1}"


# --- Hypothesis scenarios --------------------------------------------------------------------------

# DST zones both hemispheres, half- and quarter-hour offsets; their jumps all happen before 06:00.
TIMEZONES = [
    "UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "America/St_Johns",
    "Pacific/Chatham", "Asia/Kathmandu",
]  # fmt: skip
ORIGIN = pd.Timestamp("2026-01-01", tz="UTC")
WINDOW_DAYS = 150
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


@st.composite
def calendars(draw) -> dict[str, Any]:
    days = draw(st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7, unique=True))
    opening = draw(st.sampled_from(["06:00", "08:30", "09:00", "10:15"]))
    closing = draw(st.sampled_from(["15:00", "17:00", "17:30", "20:45"]))
    holidays = draw(st.lists(st.dates(dt.date(2025, 12, 20), dt.date(2026, 6, 10)), max_size=8, unique=True))
    return {"workdays": sorted(days, key=WEEKDAYS.index), "hours": [opening, closing], "holidays": holidays}


def _moment(draw, low_days: float, high_days: float, base: pd.Timestamp) -> pd.Timestamp:
    seconds = draw(st.integers(int(low_days * 86400), int(high_days * 86400)))
    micros = draw(st.sampled_from([0, 0, 0, 1, 500_000]))
    return base + pd.Timedelta(seconds=seconds, microseconds=micros)


def _maybe(draw, value, missing: float = 0.25):
    return None if draw(st.floats(0, 1)) < missing else value


@st.composite
def scenarios(draw, *, max_leads: int = 14, commitments: list[dict] | None = None, period: str | None = None):
    """(agreement document dict, frames, as_of) with leads, touches, deals around Jan-May 2026."""
    tz = draw(st.sampled_from(TIMEZONES))
    document = {
        **BASE_DOCUMENT,
        "timezone": tz,
        "period": period or draw(st.sampled_from(["week", "month", "quarter"])),
        "calendar": draw(calendars()),
        "commitments": commitments or BASE_DOCUMENT["commitments"],
    }
    if draw(st.booleans()):
        team_b: dict[str, Any] = {"timezone": draw(st.sampled_from(TIMEZONES))}
        if draw(st.booleans()):
            team_b["calendar"] = draw(calendars())
        document["teams"] = {"B": team_b}
    n = draw(st.integers(0, max_leads))
    leads = []
    for _ in range(n):
        mql = _maybe(draw, _moment(draw, 0, WINDOW_DAYS, ORIGIN), 0.15)
        anchor = mql if mql is not None else ORIGIN
        disposition = draw(st.sampled_from([None, "open", "accepted", "rejected", "rejected"]))
        leads.append(
            {
                "created_at": anchor - pd.Timedelta(hours=draw(st.integers(0, 72))),
                "mql_at": mql,
                "sql_at": _maybe(draw, _moment(draw, 0, 30, anchor), 0.5),
                "first_touch_at": _maybe(draw, _moment(draw, -1, 12, anchor), 0.3),
                "owner_assigned_at": _maybe(draw, _moment(draw, -0.5, 3, anchor), 0.3),
                "disposition": disposition,
                "disposition_at": _maybe(draw, _moment(draw, 0, 10, anchor), 0.3) if disposition else None,
                "team": draw(st.sampled_from([None, "A", "B"])),
                "channel": draw(st.sampled_from([None, "Paid Search", "Events"])),
                "segment": draw(st.sampled_from([None, "smb", "enterprise"])),
                "owner_id": draw(st.sampled_from([None, 1, 2])),
                "archived": draw(st.sampled_from([False] * 6 + [True])),
            }
        )
    activities = []
    for _ in range(draw(st.integers(0, 3 * n))):
        lead = draw(st.integers(0, n - 1)) if n else None
        anchor = leads[lead]["mql_at"] if lead is not None and leads[lead]["mql_at"] is not None else ORIGIN
        activities.append(
            {
                "lead_id": lead + 1 if lead is not None else None,
                "owner_id": draw(st.sampled_from([None, 1, 2])),
                "kind": draw(st.sampled_from(["call", "email", "meeting", "task", "note"])),
                "occurred_at": _moment(draw, -1, 9, anchor),
                "archived": draw(st.sampled_from([False] * 8 + [True])),
            }
        )
    deals = []
    for _ in range(draw(st.integers(0, max(n // 2, 1)))):
        lead = draw(st.sampled_from([None, 999, *range(1, n + 1)]))
        anchor = (
            leads[lead - 1]["mql_at"]
            if lead not in (None, 999) and leads[lead - 1]["mql_at"] is not None
            else ORIGIN
        )
        created = _moment(draw, 0, 20, anchor)
        deals.append(
            {
                "lead_id": lead,
                "created_at": created,
                "closed_at": _maybe(draw, _moment(draw, 0, 40, created), 0.4),
                "amount": _maybe(draw, float(draw(st.integers(0, 50)) * 1000), 0.2),
                "is_won": draw(st.booleans()),
                "is_closed": True,
                "owner_id": draw(st.sampled_from([None, 1, 2])),
                "team": draw(st.sampled_from([None, "A", "B"])),
                "channel": draw(st.sampled_from([None, "Paid Search", "Events"])),
                "archived": draw(st.sampled_from([False] * 8 + [True])),
            }
        )
    owners = [{"id": 1, "name": "Ann", "external_id": "o-1"}, {"id": 2, "name": "Bo", "external_id": "o-2"}]
    as_of = _moment(draw, 0, WINDOW_DAYS + 10, ORIGIN)
    frames = make_frames(leads=leads, deals=deals, activities=activities, owners=owners)
    return document, frames, as_of


@pytest.fixture
def default_agreement_text() -> str:
    """The shipped default agreement."""
    from pathlib import Path

    return (Path(__file__).resolve().parents[2] / "agreements" / "sales-marketing.yaml").read_text()
