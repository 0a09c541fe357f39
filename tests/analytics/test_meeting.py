"""The Monday meeting's week: the week just closed until the close of the current week's first working day."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from analytics.agreement import parse_agreement
from analytics.meeting import (
    MEETING_WEEKS,
    first_working_day_close,
    has_barely_started,
    meeting_weeks,
    opening_week,
)
from bootstrap import DEFAULT_AGREEMENT

DOC = parse_agreement(DEFAULT_AGREEMENT.read_text())  # Berlin, Mon-Fri 09:00-17:30, German holidays
BERLIN = ZoneInfo("Europe/Berlin")


def berlin(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz=BERLIN).tz_convert("UTC")


@pytest.mark.parametrize(
    ("local", "week"),
    [
        ("2026-11-16 00:00", "2026-W46"),  # Monday 00:00 in the agreement's timezone: the week just closed
        ("2026-11-15 23:59:59", "2026-W46"),  # Sunday night: the week that is ending
        ("2026-11-16 09:00", "2026-W46"),  # the first working day has opened, not closed
        ("2026-11-16 17:29:59", "2026-W46"),
        ("2026-11-16 17:30", "2026-W47"),  # its close: the week in progress from now on
        ("2026-11-18 11:00", "2026-W47"),
        ("2026-04-07 09:00", "2026-W14"),  # Easter Monday is a holiday: Tuesday is the first working day
        ("2026-04-07 17:30", "2026-W15"),
        ("2026-03-30 00:00", "2026-W13"),  # the first Monday after the change to summer time
        ("2026-03-30 17:30", "2026-W14"),
        ("2026-12-28 12:00", "2026-W52"),  # 2026 has a week 53
        ("2026-12-29 12:00", "2026-W53"),
        ("2027-01-04 00:00", "2026-W53"),  # across the year: New Year's Day was in the week before
        ("2027-01-04 17:30", "2027-W01"),
    ],
)
def test_the_meeting_opens_on_the_week_just_closed_until_the_first_working_day_closes(local, week):
    assert opening_week(berlin(local), DOC) == week


def test_monday_midnight_in_berlin_is_still_sunday_in_utc_and_the_week_is_read_in_berlin():
    as_of = pd.Timestamp("2026-11-15T23:00:00Z")  # Monday 00:00 Berlin
    assert has_barely_started(as_of, DOC)
    assert opening_week(as_of, DOC) == "2026-W46"
    utc = DOC.model_copy(update={"timezone": "UTC"})  # the same instant in a UTC agreement: Sunday 23:00
    assert opening_week(as_of, utc) == "2026-W46" and not has_barely_started(as_of, utc)


def slow_first_close(monday: dt.date) -> pd.Timestamp:
    """Day by day from the Monday: the first workday that is not a holiday, at 17:30 Berlin time."""
    holidays = set(DOC.calendar.holidays)
    day = monday
    while day.weekday() >= 5 or day in holidays:
        day += dt.timedelta(days=1)
    return pd.Timestamp(dt.datetime.combine(day, dt.time(17, 30)), tz=BERLIN).tz_convert("UTC")


def test_the_first_working_day_of_every_week_of_three_years_is_found_day_by_day():
    monday = dt.date(2024, 12, 30)
    while monday.year < 2028:
        year, number, _ = monday.isocalendar()
        assert first_working_day_close(f"{year}-W{number:02d}", DOC) == slow_first_close(monday), monday
        monday += dt.timedelta(weeks=1)


def test_the_picker_offers_the_current_week_and_the_thirteen_before_it():
    weeks = meeting_weeks(berlin("2027-01-05 10:00"), DOC)
    assert len(weeks) == MEETING_WEEKS + 1 == 14
    assert weeks[0] == "2027-W01" and weeks[1] == "2026-W53" and weeks[-1] == "2026-W41"
    assert opening_week(berlin("2027-01-04 08:00"), DOC) in weeks
