"""Business time: hand-computed cases, an oracle, properties, and calendar validation."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.calendar import (
    BusinessCalendar,
    CalendarError,
    add_business_seconds,
    business_seconds,
    business_seconds_between,
)

UTC = dt.UTC
HOUR = 3600.0
EVERY_DAY = (0, 1, 2, 3, 4, 5, 6)


def utc(*texts: str | None) -> pd.Series:
    """A datetime64[us, UTC] Series from UTC wall times ("2026-03-02 10:00"); None is missing."""
    return pd.Series(pd.to_datetime(list(texts), utc=True, format="ISO8601")).astype("datetime64[us, UTC]")


def local(zone: str, *texts: str) -> pd.Series:
    """UTC instants of unambiguous local wall times in ``zone``."""
    walls = pd.Series(pd.to_datetime(list(texts)))
    return walls.dt.tz_localize(zone).dt.tz_convert("UTC").astype("datetime64[us, UTC]")


def bs(start: str, end: str, cal: BusinessCalendar) -> float:
    return business_seconds(utc(start), utc(end), cal).iloc[0]


# ---------------------------------------------------------------------------------------------
# The oracle: walk local dates one by one with zoneinfo and intersect each day's window.
# ---------------------------------------------------------------------------------------------


def _wall_of(instant: dt.datetime, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def _edge(wall: dt.datetime, zone: zoneinfo.ZoneInfo, *, first: bool) -> dt.datetime:
    """The opening (first=True: first instant showing ``wall`` or later) or closing (end of the last
    stretch showing a time before ``wall``) edge of a window, by the rules in analytics.calendar."""
    readings = []
    for fold in (0, 1):
        instant = wall.replace(tzinfo=zone, fold=fold).astimezone(UTC)
        if _wall_of(instant, zone) == wall:
            readings.append(instant)
    if readings and first:
        return min(readings)
    if readings:
        # A closing is where the clock arrives at `wall` from an earlier reading, not where it
        # jumps back onto `wall`: after the latest such arrival it never shows less than `wall`.
        micro = dt.timedelta(microseconds=1)
        return max(r for r in readings if _wall_of(r - micro, zone) < wall)
    # The clock skips `wall`: find the jump, the first whole second whose reading is past `wall`.
    lo, hi = sorted(wall.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1))
    assert _wall_of(lo, zone) < wall < _wall_of(hi, zone)
    while hi - lo > dt.timedelta(seconds=1):
        mid = lo + dt.timedelta(seconds=((hi - lo) // 2).total_seconds() // 1)
        if _wall_of(mid, zone) > wall:
            hi = mid
        else:
            lo = mid
    return hi


def oracle_windows(
    cal: BusinessCalendar, first: dt.date, last: dt.date
) -> list[tuple[dt.datetime, dt.datetime]]:
    """The working windows of local dates first..last as disjoint UTC intervals (their union)."""
    zone = zoneinfo.ZoneInfo(cal.timezone)
    open_h, open_m = map(int, cal.hours[0].split(":"))
    close_h, close_m = map(int, cal.hours[1].split(":"))
    windows = []
    day = first
    while day <= last:
        if day.weekday() in cal.workdays and day not in cal.holidays:
            opening = _edge(dt.datetime(day.year, day.month, day.day, open_h, open_m), zone, first=True)
            if (close_h, close_m) == (24, 0):
                after = day + dt.timedelta(days=1)
                closing_wall = dt.datetime(after.year, after.month, after.day)
            else:
                closing_wall = dt.datetime(day.year, day.month, day.day, close_h, close_m)
            closing = _edge(closing_wall, zone, first=False)
            windows.append((opening, max(opening, closing)))
        day += dt.timedelta(days=1)
    merged: list[tuple[dt.datetime, dt.datetime]] = []
    for opening, closing in sorted(windows):
        if merged and opening <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], closing))
        else:
            merged.append((opening, closing))
    return merged


def oracle_seconds(start: pd.Timestamp | None, end: pd.Timestamp | None, cal: BusinessCalendar) -> float:
    if start is None or end is None or pd.isna(start) or pd.isna(end):
        return float("nan")
    s, e = start.to_pydatetime(), end.to_pydatetime()
    if e <= s:
        return 0.0
    zone = zoneinfo.ZoneInfo(cal.timezone)
    first = s.astimezone(zone).date() - dt.timedelta(days=2)
    last = e.astimezone(zone).date() + dt.timedelta(days=2)
    total = dt.timedelta(0)
    for opening, closing in oracle_windows(cal, first, last):
        overlap = min(closing, e) - max(opening, s)
        if overlap > dt.timedelta(0):
            total += overlap
    return total.total_seconds()


# ---------------------------------------------------------------------------------------------
# Hand-computed cases (Mon-Fri 09:00-17:00 UTC unless said otherwise; 2026-03-02 is a Monday).
# ---------------------------------------------------------------------------------------------

OFFICE = BusinessCalendar()


@pytest.mark.parametrize(
    ("start", "end", "hours"),
    [
        pytest.param("2026-03-02 10:00", "2026-03-02 12:30", 2.5, id="same-day"),
        pytest.param("2026-03-02 16:00", "2026-03-03 10:00", 2.0, id="overnight"),
        pytest.param("2026-03-06 16:00", "2026-03-09 10:00", 2.0, id="friday-evening-to-monday"),
        pytest.param("2026-03-06 18:00", "2026-03-09 08:00", 0.0, id="weekend-only"),
        pytest.param("2026-03-02 06:00", "2026-03-02 10:00", 1.0, id="start-before-opening"),
        pytest.param("2026-03-07 12:00", "2026-03-09 09:30", 0.5, id="start-on-saturday"),
        pytest.param("2026-03-02 10:00", "2026-03-02 20:00", 7.0, id="end-after-closing"),
        pytest.param("2026-03-02 09:00", "2026-03-02 17:00", 8.0, id="exactly-one-day"),
        # Jan 30 (Fri) + the 20 weekdays of February 2026 = 21 days.
        pytest.param("2026-01-30 09:00", "2026-03-02 09:00", 21 * 8.0, id="spanning-months"),
        pytest.param("2026-03-02 12:00", "2026-03-02 11:00", 0.0, id="end-before-start"),
        pytest.param("2026-03-02 12:00", "2026-03-02 12:00", 0.0, id="end-equals-start"),
    ],
)
def test_hand_computed_pairs(start, end, hours):
    assert bs(start, end, OFFICE) == hours * HOUR


def test_a_holiday_has_no_working_time():
    christmas = BusinessCalendar(holidays=(dt.date(2026, 12, 25),))
    # Thu 24th 16:00 -> Mon 28th 10:00: 1 h on Thursday, Friday is a holiday, 1 h on Monday.
    assert bs("2026-12-24 16:00", "2026-12-28 10:00", christmas) == 2 * HOUR
    assert bs("2026-12-24 16:00", "2026-12-28 10:00", OFFICE) == 10 * HOUR


def test_missing_side_gives_nan_and_the_index_of_starts_is_kept():
    starts = utc("2026-03-02 10:00", None, "2026-03-02 10:00")
    starts.index = [10, 20, 30]
    ends = utc("2026-03-02 11:00", "2026-03-02 11:00", None)  # index 0..2: aligned by position
    result = business_seconds(starts, ends, OFFICE)
    assert result.index.tolist() == [10, 20, 30]
    assert result.dtype == "float64"
    assert result.iloc[0] == HOUR
    assert result.iloc[1:].isna().all()


def test_all_missing_and_empty_inputs():
    assert business_seconds(utc(None, None), utc(None, "2026-03-02 10:00"), OFFICE).isna().all()
    empty = business_seconds(utc(), utc(), OFFICE)
    assert empty.empty and empty.dtype == "float64"
    assert add_business_seconds(utc(), 60, OFFICE).dtype == "datetime64[us, UTC]"


def test_inputs_in_other_zones_units_and_naive_are_instants():
    berlin = pd.Series(pd.to_datetime(["2026-03-02 11:00"]).tz_localize("Europe/Berlin"))  # 10:00 UTC, ns
    naive = pd.Series(pd.to_datetime(["2026-03-02 12:00"]).astype("datetime64[s]"))  # taken as UTC
    assert business_seconds(berlin, naive, OFFICE).iloc[0] == 2 * HOUR
    as_text = pd.Series(["2026-03-02T10:00:00+01:00"], dtype=object)  # 09:00 UTC
    assert business_seconds(as_text, naive, OFFICE).iloc[0] == 3 * HOUR


def test_a_scalar_end_is_broadcast():
    starts = utc("2026-03-02 10:00", "2026-03-02 16:00", None)
    as_of = pd.Timestamp("2026-03-03 10:00", tz="UTC")
    np.testing.assert_array_equal(business_seconds(starts, as_of, OFFICE), [8 * HOUR, 2 * HOUR, np.nan])
    assert business_seconds(starts, dt.datetime(2026, 3, 3, 10), OFFICE).iloc[0] == 8 * HOUR  # naive: UTC
    assert business_seconds(starts, pd.NaT, OFFICE).isna().all()


def test_microseconds_are_kept():
    assert bs("2026-03-02 10:00:00.000001", "2026-03-02 10:00:01", OFFICE) == 0.999999


def test_mismatched_lengths_and_non_timestamps_are_refused():
    with pytest.raises(ValueError, match="ends: has 1 values but starts has 2"):
        business_seconds(utc("2026-03-02 10:00", "2026-03-02 11:00"), utc("2026-03-02 12:00"), OFFICE)
    with pytest.raises(TypeError, match="starts: expected timestamps"):
        business_seconds(pd.Series([1, 2]), utc("2026-03-02 12:00", "2026-03-02 12:00"), OFFICE)


def test_scalar_convenience():
    start, end = pd.Timestamp("2026-03-06 16:00Z"), pd.Timestamp("2026-03-09 10:00Z")
    assert business_seconds_between(start, end, OFFICE) == 2 * HOUR
    assert business_seconds_between(end, start, OFFICE) == 0.0
    assert np.isnan(business_seconds_between(start, pd.NaT, OFFICE))
    assert np.isnan(business_seconds_between(None, end, OFFICE))


# ---------------------------------------------------------------------------------------------
# Timezones and daylight saving time (DST changes happen on Sundays: these calendars work daily).
# ---------------------------------------------------------------------------------------------


def test_berlin_working_day_is_eight_hours_on_both_change_days():
    cal = BusinessCalendar(timezone="Europe/Berlin", workdays=EVERY_DAY)
    for day in ("2026-03-29", "2026-10-25"):
        starts = local("Europe/Berlin", f"{day} 00:00")
        ends = local("Europe/Berlin", f"{day} 23:59")
        assert business_seconds(starts, ends, cal).iloc[0] == 8 * HOUR
    # Saturday noon (CET) to Monday noon (CEST): 5 h + 8 h + 3 h.
    starts = local("Europe/Berlin", "2026-03-28 12:00")
    ends = local("Europe/Berlin", "2026-03-30 12:00")
    assert business_seconds(starts, ends, cal).iloc[0] == 16 * HOUR
    assert starts.iloc[0] == pd.Timestamp("2026-03-28 11:00Z") and ends.iloc[0] == pd.Timestamp(
        "2026-03-30 10:00Z"
    )


def test_a_window_that_contains_the_jump_counts_real_elapsed_seconds():
    """The decision documented in analytics.calendar: the wall clock places the edges, and the
    real seconds in between are counted: 00:00-12:00 is 11 h in spring and 13 h in autumn."""
    cal = BusinessCalendar(timezone="Europe/Berlin", workdays=EVERY_DAY, hours=("00:00", "12:00"))
    # Spring forward 2026-03-29: local midnight (CET) = 23:00Z the day before; noon (CEST) = 10:00Z.
    assert bs("2026-03-28 22:00", "2026-03-29 11:00", cal) == 11 * HOUR
    # Fall back 2026-10-25: local midnight (CEST) = 22:00Z the day before; noon (CET) = 11:00Z.
    assert bs("2026-10-24 21:00", "2026-10-25 12:00", cal) == 13 * HOUR
    # Both passes of the repeated hour are working time: 02:30 CEST (00:30Z) and 02:30 CET (01:30Z).
    assert bs("2026-10-25 00:30", "2026-10-25 01:30", cal) == HOUR
    assert bs("2026-10-25 01:30", "2026-10-25 11:00", cal) == 9.5 * HOUR


def test_edges_inside_the_skipped_or_repeated_hour():
    # Opening 02:30 on spring-forward day does not exist: the day opens at the jump, 03:00 CEST (01:00Z).
    cal = BusinessCalendar(timezone="Europe/Berlin", workdays=EVERY_DAY, hours=("02:30", "10:00"))
    assert bs("2026-03-28 20:00", "2026-03-29 12:00", cal) == 7 * HOUR
    assert bs("2026-03-28 20:00", "2026-03-29 01:00", cal) == 0.0
    # Closing 02:30 on fall-back day is its second pass, 02:30 CET (01:30Z): 00:00 CEST (22:00Z) + 3.5 h.
    cal = BusinessCalendar(timezone="Europe/Berlin", workdays=EVERY_DAY, hours=("00:00", "02:30"))
    assert bs("2026-10-24 20:00", "2026-10-25 12:00", cal) == 3.5 * HOUR
    assert bs("2026-10-25 01:29", "2026-10-25 12:00", cal) == 60.0


def test_a_closing_the_clock_jumps_back_onto_stays_at_its_first_pass():
    # Berlin 2026-10-25: at 03:00 CEST (01:00Z) the clock goes back to 02:00. From the first 02:00
    # (00:00Z) on it never shows a time before 02:00 again, so a day closing at 02:00 ends there ...
    cal = BusinessCalendar(timezone="Europe/Berlin", workdays=EVERY_DAY, hours=("00:00", "02:00"))
    assert bs("2026-10-24 20:00", "2026-10-25 12:00", cal) == 2 * HOUR
    # ... and a day opening at 02:00 opens at the first 02:00 and works both passes: 7 h + 1 h.
    cal = BusinessCalendar(timezone="Europe/Berlin", workdays=EVERY_DAY, hours=("02:00", "09:00"))
    assert bs("2026-10-24 20:00", "2026-10-25 12:00", cal) == 8 * HOUR


def test_overlapping_windows_count_once():
    # St. John's 1989-10-29: at 00:01 NDT (02:31Z) the clock goes back to Saturday 23:01 NST, so the
    # local date runs Saturday -> Sunday -> Saturday. Saturday's day is 02:30Z (28th) -> 03:30Z (29th),
    # Sunday's 02:30Z (29th) -> 03:30Z (30th): 25 h each, one hour shared.
    def weekend(workdays):
        return BusinessCalendar(timezone="America/St_Johns", workdays=workdays, hours=("00:00", "24:00"))

    assert bs("1989-10-28 00:00", "1989-10-31 00:00", weekend((5,))) == 25 * HOUR
    assert bs("1989-10-28 00:00", "1989-10-31 00:00", weekend((6,))) == 25 * HOUR
    assert bs("1989-10-28 00:00", "1989-10-31 00:00", weekend((5, 6))) == 49 * HOUR
    assert (
        oracle_seconds(
            pd.Timestamp("1989-10-28", tz="UTC"), pd.Timestamp("1989-10-31", tz="UTC"), weekend((5, 6))
        )
        == 49 * HOUR
    )


def test_new_york_change_days():
    cal = BusinessCalendar(timezone="America/New_York", workdays=EVERY_DAY)
    # Sat 2026-03-07 16:00 EST (21:00Z) -> Mon 03-09 10:00 EDT (14:00Z): 1 h + 8 h (Sunday, DST starts) + 1 h.
    assert bs("2026-03-07 21:00", "2026-03-09 14:00", cal) == 10 * HOUR
    # Sun 2026-11-01 (DST ends): 09:00 EST is 14:00Z, 17:00 EST is 22:00Z.
    assert bs("2026-11-01 13:00", "2026-11-01 23:00", cal) == 8 * HOUR
    assert bs("2026-11-01 13:00", "2026-11-01 15:00", cal) == HOUR
    whole_days = BusinessCalendar(timezone="America/New_York", workdays=EVERY_DAY, hours=("00:00", "24:00"))
    # The whole local day of 2026-11-01 runs 04:00Z .. 05:00Z next day: 25 hours; 2026-03-08 has 23.
    assert bs("2026-11-01 04:00", "2026-11-02 05:00", whole_days) == 25 * HOUR
    assert bs("2026-03-08 05:00", "2026-03-09 04:00", whole_days) == 23 * HOUR


def test_lord_howe_half_hour_dst():
    # Australia/Lord_Howe: +10:30 standard, +11 summer; 2026-10-04 02:00 -> 02:30, 2026-04-05 02:00 -> 01:30.
    whole_days = BusinessCalendar(
        timezone="Australia/Lord_Howe", workdays=EVERY_DAY, hours=("00:00", "24:00")
    )
    spring_day = (
        local("Australia/Lord_Howe", "2026-10-04 00:00"),
        local("Australia/Lord_Howe", "2026-10-05 00:00"),
    )
    autumn_day = (
        local("Australia/Lord_Howe", "2026-04-05 00:00"),
        local("Australia/Lord_Howe", "2026-04-06 00:00"),
    )
    assert business_seconds(*spring_day, whole_days).iloc[0] == 23.5 * HOUR
    assert business_seconds(*autumn_day, whole_days).iloc[0] == 24.5 * HOUR
    # Opening 02:15 is skipped on spring day: work starts at the jump (02:30 LHDT = 15:30Z) until 03:00 (16:00Z).
    cal = BusinessCalendar(timezone="Australia/Lord_Howe", workdays=EVERY_DAY, hours=("02:15", "03:00"))
    assert bs("2026-10-03 12:00", "2026-10-03 20:00", cal) == 1800.0


def test_day_seconds_follows_the_wall_clock():
    assert BusinessCalendar(hours=("09:00", "17:30")).day_seconds == 30600
    assert BusinessCalendar(hours=("00:00", "24:00")).day_seconds == 86400
    assert BusinessCalendar(workdays=(0, 2), hours=("08:00", "12:00")).week_seconds == 8 * 3600


# ---------------------------------------------------------------------------------------------
# add_business_seconds
# ---------------------------------------------------------------------------------------------


def test_due_at_hand_cases():
    starts = utc(
        "2026-03-06 16:00", "2026-03-07 12:00", "2026-03-02 09:00", "2026-03-02 10:00", "2026-03-01 07:00"
    )
    starts.index = list("abcde")
    seconds = pd.Series([2 * HOUR, HOUR, 8 * HOUR, 0.0, 0.0], index=list("vwxyz"))
    due = add_business_seconds(starts, seconds, OFFICE)
    assert due.dtype == "datetime64[us, UTC]"
    assert due.index.tolist() == list("abcde")
    assert (
        due.tolist()
        == utc(
            "2026-03-09 10:00",  # Friday 16:00 + 2 h: 1 h Friday, 1 h Monday
            "2026-03-09 10:00",  # Saturday counts from Monday's opening
            "2026-03-02 17:00",  # a full day lands on the closing, not on the next opening
            "2026-03-02 10:00",  # 0 s: the start itself
            "2026-03-02 09:00",  # 0 s outside hours: the next opening
        ).tolist()
    )


def test_due_at_missing_scalar_and_timedelta_amounts():
    starts = utc("2026-03-02 10:00", None, "2026-03-02 10:00")
    due = add_business_seconds(starts, pd.Series([HOUR, HOUR, np.nan]), OFFICE)
    assert due.iloc[0] == pd.Timestamp("2026-03-02 11:00Z") and due.iloc[1:].isna().all()
    assert add_business_seconds(starts, dt.timedelta(hours=4), OFFICE).iloc[0] == pd.Timestamp(
        "2026-03-02 14:00Z"
    )
    four_days = pd.Series(pd.to_timedelta(["32h", "1h", "1h"]))
    assert add_business_seconds(starts, four_days, OFFICE).iloc[0] == pd.Timestamp("2026-03-06 10:00Z")
    mixed = pd.Series([dt.timedelta(hours=1), None, pd.Timedelta(hours=2)], dtype=object)
    assert add_business_seconds(starts, mixed, OFFICE).iloc[2] == pd.Timestamp("2026-03-02 12:00Z")
    assert add_business_seconds(starts, None, OFFICE).isna().all()
    with pytest.raises(TypeError, match="seconds: expected numbers of seconds or timedeltas"):
        add_business_seconds(starts, "soon", OFFICE)


def test_due_at_far_ahead_extends_over_holidays():
    many_holidays = BusinessCalendar(
        holidays=tuple(dt.date(2026, 3, 1) + dt.timedelta(days=i) for i in range(60))
    )
    due = add_business_seconds(utc("2026-03-02 10:00"), 3 * 8 * HOUR, many_holidays).iloc[0]
    # 60 holidays cover 2026-03-01..04-29; Thu 04-30 is the first working day, then May 1 and May 4.
    assert due == pd.Timestamp("2026-05-04 17:00Z")
    assert bs("2026-03-02 10:00", str(due.tz_localize(None)), many_holidays) == 24 * HOUR


def test_due_at_refuses_negative_seconds():
    with pytest.raises(
        ValueError, match=r"seconds: working time to add must be >= 0, got -1.0 at position 1"
    ):
        add_business_seconds(utc("2026-03-02 10:00", "2026-03-02 10:00"), [5, -1], OFFICE)


# ---------------------------------------------------------------------------------------------
# Oracle and properties with Hypothesis.
# ---------------------------------------------------------------------------------------------

ZONES = sorted(zoneinfo.available_timezones() - {"Factory", "localtime"})
DST_ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Pacific/Apia",
    "Asia/Tehran",
    "Europe/London",
    "Australia/Sydney",
    "America/Havana",
    "Africa/Casablanca",
]
SPECIAL_HOURS = [
    ("00:00", "24:00"),
    ("02:30", "10:00"),
    ("00:00", "02:30"),
    ("01:00", "03:00"),
    ("09:00", "17:30"),
    ("23:00", "24:00"),
    ("00:00", "00:30"),
    ("02:15", "02:45"),
]
LO = int(pd.Timestamp("1975-01-01", tz="UTC").value // 1000)
HI = int(pd.Timestamp("2035-12-31", tz="UTC").value // 1000)
DAY_US = 86_400_000_000


@st.composite
def calendars(draw) -> BusinessCalendar:
    zone = draw(st.one_of(st.sampled_from(DST_ZONES), st.sampled_from(ZONES)))
    workdays = draw(st.sets(st.integers(0, 6), min_size=1))
    if draw(st.booleans()):
        hours = draw(st.sampled_from(SPECIAL_HOURS))
    else:
        opening = draw(st.integers(0, 47)) * 30
        closing = draw(st.integers(opening // 30 + 1, 48)) * 30
        hours = (f"{opening // 60:02d}:{opening % 60:02d}", f"{closing // 60:02d}:{closing % 60:02d}")
    base = draw(st.dates(dt.date(1976, 1, 1), dt.date(2034, 12, 31)))
    holidays = draw(st.lists(st.integers(-40, 40).map(lambda n: base + dt.timedelta(days=n)), max_size=8))
    return BusinessCalendar(timezone=zone, workdays=tuple(workdays), hours=hours, holidays=tuple(holidays))


@st.composite
def instants(draw, centre: int) -> int | None:
    """Microseconds since the epoch near ``centre`` (sometimes exactly on an hour), or None."""
    if draw(st.integers(0, 9)) == 0:
        return None
    value = centre + draw(st.integers(-20 * DAY_US, 20 * DAY_US))
    if draw(st.booleans()):
        value -= value % (1_800_000_000)
    return value


@st.composite
def centres(draw) -> int:
    """A moment in 1976-2034, often in a month when some zone changes its clocks."""
    if draw(st.booleans()):
        return draw(st.integers(LO + 30 * DAY_US, HI - 30 * DAY_US))
    year = draw(st.integers(1976, 2034))
    month = draw(st.sampled_from([3, 4, 9, 10, 11, 12]))
    day = draw(st.integers(1, 28))
    return int(pd.Timestamp(year=year, month=month, day=day, tz="UTC").value // 1000)


def as_series(values: list[int | None]) -> pd.Series:
    return pd.Series(
        [pd.NaT if v is None else pd.Timestamp(v, unit="us", tz="UTC") for v in values],
        dtype="datetime64[us, UTC]",
    )


@st.composite
def pairs(draw, max_size: int = 12):
    centre = draw(centres())
    size = draw(st.integers(0, max_size))
    starts = draw(st.lists(instants(centre), min_size=size, max_size=size))
    ends = draw(st.lists(instants(centre), min_size=size, max_size=size))
    return as_series(starts), as_series(ends)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cal=calendars(), data=pairs())
def test_matches_the_day_by_day_oracle(cal, data):
    starts, ends = data
    fast = business_seconds(starts, ends, cal)
    slow = [oracle_seconds(s, e, cal) for s, e in zip(starts, ends, strict=True)]
    np.testing.assert_allclose(fast.to_numpy(), np.array(slow, dtype=float), rtol=0, atol=1e-6)


@settings(max_examples=75, deadline=None)
@given(cal=calendars(), data=pairs(max_size=8))
def test_due_at_is_the_first_instant_reaching_the_amount(cal, data):
    starts, ends = data
    amounts = business_seconds(starts, ends, cal).fillna(1234.5)
    due = add_business_seconds(starts, amounts, cal)
    present = starts.notna()
    assert due[~present].isna().all()
    starts, due, amounts = starts[present], due[present], amounts[present]
    np.testing.assert_allclose(business_seconds(starts, due, cal).to_numpy(), amounts.to_numpy(), atol=1e-6)
    assert (due >= starts).all()
    # No earlier instant has reached the amount (when there is an amount to reach) ...
    earlier = due - pd.Timedelta(microseconds=1)
    short = business_seconds(starts, earlier, cal)
    positive = amounts > 0
    assert (short[positive] < amounts[positive]).all()
    # ... and 0 s is due at the start if it is working time, else at the next instant that is.
    next_micro = business_seconds(due, due + pd.Timedelta(microseconds=1), cal)
    zero = amounts == 0
    assert ((due[zero] == starts[zero]) | (next_micro[zero] > 0)).all()
    at_work = business_seconds(starts, starts + pd.Timedelta(microseconds=1), cal) > 0
    assert (due[zero & at_work] == starts[zero & at_work]).all()
    # Each row's due time is its own, whatever else is in the batch.
    alone = [
        add_business_seconds(starts.iloc[[i]], amounts.iloc[[i]], cal).iloc[0] for i in range(len(starts))
    ]
    assert due.tolist() == alone


@settings(max_examples=75, deadline=None)
@given(cal=calendars(), data=pairs(max_size=10), split=st.randoms(use_true_random=False))
def test_additivity_order_independence_and_non_negativity(cal, data, split):
    starts, ends = data
    both = starts.notna() & ends.notna()
    a, c = starts[both], ends[both]
    a, c = a.where(a <= c, c), c.where(a <= c, a)  # a <= c
    a_us = a.to_numpy("datetime64[us]").view("int64")  # naive UTC after to_numpy of a UTC column
    c_us = c.to_numpy("datetime64[us]").view("int64")
    fraction = np.array([split.random() for _ in range(len(a))])
    b_us = a_us + np.floor((c_us - a_us) * fraction).astype("int64")
    b = pd.Series(pd.to_datetime(b_us, unit="us", utc=True), index=a.index)
    whole, left, right = (business_seconds(x, y, cal) for x, y in ((a, c), (a, b), (b, c)))
    np.testing.assert_allclose(whole.to_numpy(), (left + right).to_numpy(), atol=1e-6)

    result = business_seconds(starts, ends, cal)
    assert (result.dropna() >= 0).all()
    order = list(range(len(starts)))
    split.shuffle(order)
    shuffled = business_seconds(starts.iloc[order], ends.iloc[order], cal)
    pd.testing.assert_series_equal(shuffled.sort_index(), result)
    one_by_one = [business_seconds(starts.iloc[[i]], ends.iloc[[i]], cal).iloc[0] for i in range(len(starts))]
    np.testing.assert_array_equal(result.to_numpy(), np.array(one_by_one, dtype=float))


# ---------------------------------------------------------------------------------------------
# Calendar validation
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timezone": "Europe/Berln"}, r"calendar.timezone: unknown timezone 'Europe/Berln'"),
        ({"timezone": ""}, r"calendar.timezone: expected an IANA timezone name"),
        ({"timezone": "../etc/passwd"}, r"calendar.timezone: unknown timezone"),
        ({"timezone": "Europe"}, r"calendar.timezone: unknown timezone 'Europe'"),
        ({"timezone": 1}, r"calendar.timezone: expected an IANA timezone name"),
        (
            {"hours": ("09:00", dt.time(17, 0, 30))},
            r"calendar.hours: closing time datetime.time\(17, 0, 30\)",
        ),
        ({"hours": ("9am", "17:00")}, r"calendar.hours: opening time '9am' is not \"HH:MM\""),
        ({"hours": ("09:00", "25:00")}, r"calendar.hours: closing time '25:00' is not \"HH:MM\""),
        ({"hours": ("09:60", "17:00")}, r"calendar.hours: opening time '09:60'"),
        (
            {"hours": ("17:00", "09:00")},
            r"calendar.hours: the opening time 17:00 must be before the closing time 09:00",
        ),
        ({"hours": ("09:00", "09:00")}, r"must be before the closing time"),
        ({"hours": ("24:00", "24:00")}, r"calendar.hours: the opening time must be before 24:00"),
        ({"hours": ("09:00",)}, r"calendar.hours: expected two times"),
        ({"hours": "09:00-17:00"}, r"calendar.hours: expected \[\"HH:MM\", \"HH:MM\"\]"),
        (
            {"hours": ("09:00", 1050)},
            r"calendar.hours: closing time 1050 is a number; write it as \"HH:MM\" in quotes",
        ),
        ({"workdays": (0, 7)}, r"calendar.workdays: 7 is not a weekday; use 0..6"),
        ({"workdays": (-1,)}, r"calendar.workdays: -1 is not a weekday"),
        ({"workdays": (True,)}, r"calendar.workdays: True is not a weekday"),
        ({"workdays": ()}, r"calendar.workdays: at least one working weekday is needed"),
        ({"holidays": ("2026-13-01",)}, r"calendar.holidays: '2026-13-01' is not a date; use YYYY-MM-DD"),
        ({"holidays": (20261225,)}, r"calendar.holidays: 20261225 is not a date"),
    ],
)
def test_invalid_calendar_names_the_field(kwargs, message):
    with pytest.raises(CalendarError, match=message):
        BusinessCalendar(**kwargs)


def test_calendar_error_is_a_value_error_and_calendars_normalise():
    assert issubclass(CalendarError, ValueError)
    cal = BusinessCalendar(
        timezone="Europe/Berlin",
        workdays=[4, 0, 0],
        hours=["9:00", dt.time(17, 30)],
        holidays=["2026-12-25", dt.date(2026, 12, 24), dt.datetime(2026, 12, 25, 8)],
    )
    assert cal == BusinessCalendar(
        "Europe/Berlin", (0, 4), ("09:00", "17:30"), (dt.date(2026, 12, 24), dt.date(2026, 12, 25))
    )
    assert hash(cal) == hash(BusinessCalendar("Europe/Berlin", (0, 4), ("09:00", "17:30"), cal.holidays))


def test_from_names():
    cal = BusinessCalendar.from_names(
        timezone="America/New_York", workdays=["mon", "Tuesday", "WED", 3, "fri"], hours=["09:00", "17:30"]
    )
    assert cal.workdays == (0, 1, 2, 3, 4) and cal.hours == ("09:00", "17:30")
    with pytest.raises(CalendarError, match=r"calendar.workdays: 'funday' is not a weekday; use mon, tue"):
        BusinessCalendar.from_names(workdays=["mon", "funday"])
    with pytest.raises(CalendarError, match=r"calendar.workdays: expected a list of weekday names"):
        BusinessCalendar.from_names(workdays="mon")
