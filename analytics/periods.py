"""Reporting periods: weeks, months and quarters in an agreement's timezone.

A period starts at local midnight of its first day (Monday for weeks, the 1st for
months and quarters) in the agreement's timezone and ends where the next one
starts; both bounds are held as UTC instants. An instant belongs to the period
with ``start <= instant < end``.

>>> grid = period_grid("month", "Europe/Berlin", "2026-03-01", "2026-05-01")
>>> list(grid["period"])
['2026-03', '2026-04']
>>> str(grid["period_start"].iloc[1])  # Berlin midnight, summer time
'2026-03-31 22:00:00+00:00'
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from analytics.schema import UTC_TS
from errors import AccordError

PeriodKind = Literal["week", "month", "quarter"]
PERIOD_KINDS: tuple[str, ...] = ("week", "month", "quarter")

# Frequency of period starts, as local calendar dates.
_FREQ = {"week": "W-MON", "month": "MS", "quarter": "QS-JAN"}

NAT_INT = np.iinfo(np.int64).min  # how pandas stores NaT in int64 views


class PeriodError(AccordError, ValueError):
    """A period kind, timezone or range cannot be used; the message says which."""


def local_midnight(days: pd.DatetimeIndex | list, tz: str) -> pd.DatetimeIndex:
    """Return the UTC instants of local midnight of each naive date in ``days`` in ``tz``.

    Midnight that does not exist (a DST jump at 00:00) moves forward to the first
    existing instant; midnight that happens twice is the first occurrence.

    >>> local_midnight(pd.DatetimeIndex(["2026-01-01"]), "America/New_York")[0]
    Timestamp('2026-01-01 05:00:00+0000', tz='UTC')
    """
    naive = pd.DatetimeIndex(days).as_unit("us")
    first = np.ones(len(naive), dtype=bool)  # the first of two ambiguous midnights is still DST
    local = naive.tz_localize(_zone(tz), ambiguous=first, nonexistent="shift_forward")
    return local.tz_convert("UTC").as_unit("us")


def to_instant(value: dt.date | dt.datetime | pd.Timestamp | str, tz: str) -> pd.Timestamp:
    """Return ``value`` as a UTC Timestamp; dates and naive times are read in ``tz``.

    >>> to_instant(dt.date(2026, 7, 1), "Europe/Berlin")
    Timestamp('2026-06-30 22:00:00+0000', tz='UTC')
    >>> to_instant("2026-07-01T12:00:00+00:00", "Europe/Berlin")
    Timestamp('2026-07-01 12:00:00+0000', tz='UTC')
    """
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return local_midnight(pd.DatetimeIndex([pd.Timestamp(value)]), tz)[0]
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise PeriodError(f"cannot read {value!r} as a date or time: {exc}") from exc
    if stamp is pd.NaT:
        raise PeriodError("a date or time is required, got a missing value")
    if stamp.tzinfo is None:
        if stamp == stamp.normalize():
            return local_midnight(pd.DatetimeIndex([stamp]), tz)[0]
        stamp = stamp.tz_localize(_zone(tz), ambiguous=True, nonexistent="shift_forward")
    return stamp.tz_convert("UTC").as_unit("us")


def period_label(local_start: pd.Timestamp, kind: str) -> str:
    """Return the label of the period starting at the local date ``local_start``.

    Weeks are ISO weeks (``2026-W10``), months ``2026-03``, quarters ``2026-Q1``.

    >>> period_label(pd.Timestamp("2026-03-02"), "week")
    '2026-W10'
    >>> period_label(pd.Timestamp("2026-04-01"), "quarter")
    '2026-Q2'
    """
    if kind == "week":
        year, week, _ = local_start.isocalendar()
        return f"{year}-W{week:02d}"
    if kind == "month":
        return f"{local_start.year}-{local_start.month:02d}"
    if kind == "quarter":
        return f"{local_start.year}-Q{(local_start.month - 1) // 3 + 1}"
    raise PeriodError(_kind_message(kind))


def period_grid(kind: str, tz: str, start, end) -> pd.DataFrame:
    """Return the periods of ``kind`` that overlap ``[start, end)``, oldest first.

    Columns: ``period`` (label), ``period_start``, ``period_end`` (UTC, end
    exclusive). ``start`` and ``end`` are dates (read in ``tz``) or instants.
    The first row is the period containing ``start``; the last the period
    containing the last instant before ``end``.

    >>> g = period_grid("week", "UTC", "2026-03-04", "2026-03-10")
    >>> [str(d.date()) for d in g["period_start"]]
    ['2026-03-02', '2026-03-09']
    """
    if kind not in PERIOD_KINDS:
        raise PeriodError(_kind_message(kind))
    first = to_instant(start, tz)
    last = to_instant(end, tz)
    if last <= first:
        raise PeriodError(f"the range is empty: end {last} is not after start {first}")
    zone = _zone(tz)
    local_first = first.tz_convert(zone).tz_localize(None).normalize()
    local_last = last.tz_convert(zone).tz_localize(None)
    anchor = _period_floor(local_first, kind)
    starts = pd.date_range(anchor, local_last + pd.Timedelta(days=1), freq=_FREQ[kind])
    bounds = local_midnight(starts.append(pd.DatetimeIndex([_next_start(starts[-1], kind)])), tz)
    keep = (bounds[1:] > first) & (bounds[:-1] < last)
    labels = [period_label(s, kind) for s in starts]
    grid = pd.DataFrame(
        {
            "period": pd.array(labels, dtype="str"),
            "period_start": pd.Series(bounds[:-1]).astype(UTC_TS),
            "period_end": pd.Series(bounds[1:]).astype(UTC_TS),
        }
    )
    return grid[keep].reset_index(drop=True)


def period_of(instant, kind: str, tz: str) -> pd.Series:
    """Return the period (label, start, end) that contains ``instant`` as one row.

    >>> period_of("2026-03-31T23:30:00+00:00", "month", "Europe/Berlin")["period"]
    '2026-04'
    """
    moment = to_instant(instant, tz)
    return period_grid(kind, tz, moment, moment + pd.Timedelta(microseconds=1)).iloc[0]


def assign_periods(instants: pd.Series, grid: pd.DataFrame) -> np.ndarray:
    """Return, for each instant, the position of its period in ``grid`` (-1 outside or missing).

    >>> grid = period_grid("month", "UTC", "2026-01-01", "2026-03-01")
    >>> ts = pd.Series(pd.to_datetime(["2026-01-31T23:59:00Z", "2026-02-01T00:00:00Z", None], utc=True))
    >>> assign_periods(ts, grid).tolist()
    [0, 1, -1]
    """
    values = timestamps_as_int(instants)
    edges = np.append(timestamps_as_int(grid["period_start"]), timestamps_as_int(grid["period_end"])[-1:])
    pos = np.searchsorted(edges, values, side="right") - 1
    pos[(pos >= len(grid)) | (values == NAT_INT)] = -1
    return pos.astype(np.int64)


def timestamps_as_int(series: pd.Series) -> np.ndarray:
    """Return UTC microseconds since the epoch as int64 (NaT as the minimum int64)."""
    if len(series) == 0:
        return np.empty(0, dtype=np.int64)
    values = pd.Series(series)
    if not isinstance(values.dtype, pd.DatetimeTZDtype):
        values = pd.to_datetime(values, utc=True)
    return np.asarray(values.dt.tz_convert("UTC").dt.as_unit("us").array.asi8, dtype=np.int64)


# --- ISO weeks (the Overview's weeks: Monday to Sunday in the agreement's timezone) ------------------------

_WEEK = re.compile(r"(\d{4})-W(\d{2})")


class WeekError(PeriodError):
    """An ISO week label cannot be read; the message says why and how to write it."""


def parse_week(week: str) -> dt.date:
    """Return the Monday of the ISO week ``week`` ("2026-W48"); raise :class:`WeekError` otherwise.

    >>> parse_week("2026-W48")
    datetime.date(2026, 11, 23)
    """
    match = _WEEK.fullmatch(str(week).strip())
    if not match:
        raise WeekError(f"{week!r} is not an ISO week; write it like 2026-W48 (year, W, two-digit week)")
    year, number = int(match.group(1)), int(match.group(2))
    try:
        return dt.date.fromisocalendar(year, number, 1)
    except ValueError:
        raise WeekError(f"{week!r} is not an ISO week: {year} has no week {number}") from None


def week_row(week: str, tz: str) -> pd.Series:
    """Return the ISO week ``week`` in timezone ``tz`` as one row: period, period_start, period_end (UTC).

    >>> row = week_row("2026-W48", "Europe/Berlin")
    >>> str(row["period_start"]), str(row["period_end"])
    ('2026-11-22 23:00:00+00:00', '2026-11-29 23:00:00+00:00')
    """
    return period_of(parse_week(week), "week", tz)


def week_of(instant: Any, tz: str) -> str:
    """Return the label of the ISO week holding ``instant`` in ``tz``.

    >>> week_of(pd.Timestamp("2026-11-29T23:30:00Z"), "Europe/Berlin")  # Monday 00:30 in Berlin
    '2026-W49'
    """
    return str(period_of(instant, "week", tz)["period"])


def shift_week(week: str, weeks: int) -> str:
    """Return the label of the ISO week ``weeks`` weeks after ``week`` (before, when negative)."""
    year, number, _ = (parse_week(week) + dt.timedelta(weeks=weeks)).isocalendar()
    return f"{year}-W{number:02d}"


def last_closed_week(as_of: Any, tz: str) -> str:
    """Return the label of the last ISO week that had ended by ``as_of`` in ``tz``.

    >>> last_closed_week(pd.Timestamp("2026-11-27T12:00:00Z"), "UTC")
    '2026-W47'
    """
    return shift_week(week_of(as_of, tz), -1)


def weeks_between(start: Any, end: Any, tz: str) -> list[str]:
    """Return the labels of the ISO weeks overlapping ``[start, end)`` in ``tz``, oldest first.

    >>> weeks_between("2026-11-01", "2026-12-01", "UTC")
    ['2026-W44', '2026-W45', '2026-W46', '2026-W47', '2026-W48', '2026-W49']
    """
    return period_grid("week", tz, start, end)["period"].tolist()


def _period_floor(local_day: pd.Timestamp, kind: str) -> pd.Timestamp:
    if kind == "week":
        return local_day - pd.Timedelta(days=local_day.weekday())
    if kind == "month":
        return local_day.replace(day=1)
    return local_day.replace(month=(local_day.month - 1) // 3 * 3 + 1, day=1)


def _next_start(local_start: pd.Timestamp, kind: str) -> pd.Timestamp:
    if kind == "week":
        return local_start + pd.Timedelta(days=7)
    months = 1 if kind == "month" else 3
    return local_start + pd.DateOffset(months=months)


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise PeriodError(f"unknown timezone {tz!r}; use an IANA name such as 'Europe/Berlin'") from exc


def _kind_message(kind: object) -> str:
    return f"unknown period {kind!r}; known periods: {', '.join(PERIOD_KINDS)}"
