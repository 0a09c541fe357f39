"""Business time: the clock that follow-up commitments run on.

A :class:`BusinessCalendar` says when sales is at work: working weekdays, the working hours of a
day as local wall-clock times, holidays, and the IANA timezone those are read in. The functions
measure and add working time over whole columns at once.

How a day's working window is placed in real time
-------------------------------------------------
Each working local date has one window, from its **opening** to its **closing**, and working time
is counted in real elapsed seconds inside those windows:

* opening = the first instant at which the local clock shows the opening time or later that day;
* closing = the end of the last stretch in which the clock shows a time before the closing time.

So a window is the shortest real interval that holds every instant of its local date whose clock
reading lies within the hours. On an ordinary day that is simply ``[date + start, date + end)``
in local time. On a daylight saving change day the wall clock places the edges and the real
seconds in between are counted:

* 09:00-17:00 is 8 hours of work on every day, including the change days (the jump is at night);
* a window that contains the jump counts the real time that passed: 00:00-12:00 in Berlin is
  11 hours on spring-forward day (02:00-03:00 never happens) and 13 hours on fall-back day
  (02:00-03:00 happens twice, and both passes are worked);
* an opening or closing inside the skipped hour is the instant the clock jumps; an opening
  inside the repeated hour is its first pass, a closing its second pass (a closing at 02:00 on
  Berlin's fall-back day stays at the first 02:00: after it the clock never shows less again).

If a clock change made two dates' windows overlap, the overlap counts once.
The closing time may be ``"24:00"`` (work until midnight), so ``("00:00", "24:00")`` on all
seven days measures plain elapsed time. Timestamps are handled at microsecond resolution.

>>> cal = BusinessCalendar(timezone="Europe/Berlin", hours=("09:00", "17:30"))
>>> cal.day_seconds
30600
>>> friday_evening = pd.Timestamp("2026-03-06 16:30", tz="Europe/Berlin")
>>> monday_morning = pd.Timestamp("2026-03-09 10:00", tz="Europe/Berlin")
>>> business_seconds_between(friday_evening, monday_morning, cal) / 3600
2.0
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from errors import AccordError

__all__ = [
    "BusinessCalendar",
    "CalendarError",
    "WEEKDAY_NAMES",
    "add_business_seconds",
    "business_seconds",
    "business_seconds_between",
]

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKDAY_FULL_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

_US = 1_000_000  # microseconds per second: all instants are int64 microseconds since the epoch
_DAY_US = 86_400 * _US
_HOUR_US = 3_600 * _US
# Every UTC offset in tzdata since 1900 lies within +-14 h, so the instants that can show a given
# wall-clock time lie within 14 h of it; probing 16 h either side sees the offsets before and after.
_PROBE_US = 16 * _HOUR_US
# Local dates the grid may cover: pandas localises through Python's datetime (years 1..9999).
_FIRST_DAY = (datetime.date(1, 1, 3) - datetime.date(1970, 1, 1)).days
_LAST_DAY = (datetime.date(9999, 12, 29) - datetime.date(1970, 1, 1)).days
_TIME = re.compile(r"(\d{1,2}):(\d{2})")
_COLUMN_TYPES = (pd.Series, pd.Index, np.ndarray, list, tuple)


class CalendarError(AccordError, ValueError):
    """A business calendar setting is invalid; the message names the field and what is allowed."""


@dataclass(frozen=True)
class BusinessCalendar:
    """When working time runs: workdays, local working hours, holidays, in one IANA timezone.

    Values are checked and normalised on construction (workdays and holidays become sorted
    tuples without duplicates, holidays may be given as ``"YYYY-MM-DD"``), so two equal calendars
    compare and hash equal. Invalid values raise :class:`CalendarError`.

    >>> BusinessCalendar(workdays=[4, 0, 2], holidays=["2026-12-25"])
    BusinessCalendar(timezone='UTC', workdays=(0, 2, 4), hours=('09:00', '17:00'), holidays=(datetime.date(2026, 12, 25),))
    """

    timezone: str = "UTC"
    workdays: tuple[int, ...] = (0, 1, 2, 3, 4)
    hours: tuple[str, str] = ("09:00", "17:00")
    holidays: tuple[datetime.date, ...] = ()

    def __post_init__(self) -> None:
        _check_timezone(self.timezone)
        object.__setattr__(self, "workdays", _check_workdays(self.workdays))
        object.__setattr__(self, "hours", _check_hours(self.hours))
        object.__setattr__(self, "holidays", _check_holidays(self.holidays))

    @classmethod
    def from_names(
        cls,
        *,
        timezone: str = "UTC",
        workdays: Iterable[str | int] = WEEKDAY_NAMES[:5],
        hours: tuple[str, str] | list[str] = ("09:00", "17:00"),
        holidays: Iterable[datetime.date | str] = (),
    ) -> BusinessCalendar:
        """A calendar from an agreement's spelling: weekday names (``"mon"``, ``"Tuesday"``).

        >>> BusinessCalendar.from_names(workdays=["mon", "Wednesday", "FRI"]).workdays
        (0, 2, 4)
        """
        if isinstance(workdays, str):
            raise CalendarError(f"calendar.workdays: expected a list of weekday names, got {workdays!r}")
        numbers = [_weekday_number(day) for day in workdays]
        return cls(timezone=timezone, workdays=tuple(numbers), hours=hours, holidays=holidays)

    @property
    def zone(self) -> ZoneInfo:
        """The timezone as a :class:`zoneinfo.ZoneInfo`."""
        return ZoneInfo(self.timezone)

    @property
    def opening_seconds(self) -> int:
        """Seconds after local midnight at which the working day opens (``"09:00"`` -> 32400)."""
        return _seconds_of_day(self.hours[0])

    @property
    def closing_seconds(self) -> int:
        """Seconds after local midnight at which the working day closes (``"24:00"`` -> 86400)."""
        return _seconds_of_day(self.hours[1])

    @property
    def day_seconds(self) -> int:
        """Length of one working day by the wall clock, in seconds: one "business day" of time."""
        return self.closing_seconds - self.opening_seconds

    @property
    def week_seconds(self) -> int:
        """Working seconds in a week without holidays (by the wall clock)."""
        return self.day_seconds * len(self.workdays)


def business_seconds(starts: pd.Series, ends, calendar: BusinessCalendar) -> pd.Series:
    """Working seconds between each ``(start, end]`` pair, as a float64 Series on the index of ``starts``.

    ``starts`` and ``ends`` are timestamps aligned by position (``ends`` may also be one scalar,
    e.g. an "as of" instant); tz-aware values of any zone are accepted and naive ones are taken as
    UTC. The result is NaN where either side is missing and 0.0 where ``end <= start``.

    >>> cal = BusinessCalendar(timezone="America/New_York")
    >>> starts = pd.Series(pd.to_datetime(["2026-03-06 20:00", "2026-03-09 15:00", None], utc=True))
    >>> ends = pd.Series(pd.to_datetime(["2026-03-09 15:00", "2026-03-06 20:00", "2026-03-09 12:00"], utc=True))
    >>> business_seconds(starts, ends, cal).tolist()  # Fri 15:00 EST -> Mon 11:00 EDT: 2 h + 2 h
    [14400.0, 0.0, nan]
    """
    index = starts.index if isinstance(starts, pd.Series) else None
    start_us, start_missing = _utc_micros(starts, "starts")
    end_us, end_missing = _utc_micros(ends, "ends", length=len(start_us))
    missing = start_missing | end_missing
    out = np.full(len(start_us), np.nan)
    if not missing.all():
        present = start_us[~missing]
        first = min(present.min(), end_us[~missing].min())
        last = max(present.max(), end_us[~missing].max())
        # Missing slots borrow a present instant so the arithmetic stays vectorised; they are NaN'd below.
        start_us = np.where(missing, first, start_us)
        end_us = np.where(missing, first, end_us)
        grid = _Grid.covering(calendar, first, last)
        elapsed = grid.position(end_us) - grid.position(start_us)
        out = np.maximum(elapsed, 0) / _US
        out[missing] = np.nan
    return pd.Series(out, index=index, dtype="float64")


def add_business_seconds(starts: pd.Series, seconds, calendar: BusinessCalendar) -> pd.Series:
    """The instant at which ``seconds`` of working time have elapsed after each start ("due at").

    Returns a ``datetime64[us, UTC]`` Series on the index of ``starts``. ``seconds`` is a number,
    a timedelta, or a Series/array of them aligned by position; it must not be negative. A start
    outside working time begins counting at the next opening, so the result always lies in a
    working window: an amount that ends a window exactly is due at its closing (not at the next
    opening), and 0 seconds is due at the start itself, or at the next opening if the start is
    outside working time. NaT where the start or the seconds are missing. Inverse of
    :func:`business_seconds`: ``business_seconds(s, add_business_seconds(s, x)) == x``, and for
    ``x > 0`` no earlier instant reaches ``x``.

    >>> cal = BusinessCalendar(timezone="Europe/Berlin", hours=("09:00", "17:30"))
    >>> starts = pd.Series(pd.to_datetime(["2026-03-06 15:00", "2026-03-07 12:00"], utc=True))
    >>> due = add_business_seconds(starts, 4 * 3600, cal)  # Fri 16:00 CET; Sat noon counts from Mon 09:00
    >>> due.dt.tz_convert("Europe/Berlin").dt.strftime("%a %H:%M").tolist()
    ['Mon 11:30', 'Mon 13:00']
    """
    index = starts.index if isinstance(starts, pd.Series) else None
    start_us, start_missing = _utc_micros(starts, "starts")
    amount_us, amount_missing = _micros_of_seconds(seconds, len(start_us))
    missing = start_missing | amount_missing
    out = np.full(len(start_us), np.iinfo(np.int64).min)  # NaT
    if not missing.all():
        present = start_us[~missing]
        first, last = present.min(), present.max()
        start_us = np.where(missing, first, start_us)
        amount_us = np.where(missing, 0, amount_us)
        week_us = calendar.week_seconds * _US
        extra_days = int(amount_us.max() // week_us) * 7 + 8
        while True:
            grid = _Grid.covering(calendar, first, last + extra_days * _DAY_US)
            targets = grid.position(start_us) + amount_us
            if grid.total > targets.max():  # strictly: 0 s outside hours needs the next opening
                break
            if grid.last_day >= _LAST_DAY:
                raise ValueError("seconds: the due time would fall after the year 9999")
            extra_days = extra_days * 2 + len(calendar.holidays) + 8
        out = grid.instant(targets, at_opening=amount_us == 0)
        out[missing] = np.iinfo(np.int64).min
    values = pd.DatetimeIndex(out.view("M8[us]")).tz_localize("UTC")
    return pd.Series(values, index=index, dtype="datetime64[us, UTC]")


def end_of_nth_working_day(starts: pd.Series, n: int, calendar: BusinessCalendar) -> pd.Series:
    """The close of the ``n``-th working day after each start's local date ("by the end of the Nth working day").

    Working days are the calendar's workdays outside its holidays, counted from
    the day after the start's local date (a Friday handover's 1st working day is
    Monday). Returns a ``datetime64[us, UTC]`` Series on the index of ``starts``
    (NaT where the start is missing).

    >>> cal = BusinessCalendar(timezone="Europe/Berlin", hours=("09:00", "17:30"))
    >>> end_of_nth_working_day(pd.Series(pd.to_datetime(["2026-03-06 15:00"], utc=True)), 2, cal).tolist()
    [Timestamp('2026-03-10 16:30:00+0000', tz='UTC')]
    """
    if n < 1:
        raise CalendarError(f"the working day to end by must be 1 or later, got {n}")
    local = pd.to_datetime(starts, utc=True).dt.tz_convert(calendar.timezone)
    known = local.notna().to_numpy()
    days = local.dt.tz_localize(None).dt.normalize().to_numpy(dtype="datetime64[D]")
    mask = [d in calendar.workdays for d in range(7)]
    holidays = np.array(calendar.holidays, dtype="datetime64[D]")
    due = np.full(len(starts), np.datetime64("NaT"), dtype="datetime64[D]")
    if known.any():
        # Roll back to a working day at or before the date, then count n working days forward.
        due[known] = np.busday_offset(days[known], n, roll="backward", weekmask=mask, holidays=holidays)
    walls = pd.Series(due.astype("datetime64[us]")) + pd.Timedelta(seconds=calendar.closing_seconds)
    # A close at an hour the clock passes twice is its later instant; one it skips, the hour after.
    instants = walls.dt.tz_localize(calendar.timezone, ambiguous=np.zeros(len(walls), dtype=bool),
                                    nonexistent="shift_forward")  # fmt: skip
    return pd.Series(instants.dt.tz_convert("UTC").to_numpy(), index=starts.index).astype(
        "datetime64[us, UTC]"
    )


def business_seconds_between(start, end, calendar: BusinessCalendar) -> float:
    """Working seconds between two instants (NaN if either is missing; 0.0 if ``end <= start``).

    >>> cal = BusinessCalendar(timezone="Europe/Berlin")
    >>> business_seconds_between(pd.Timestamp("2026-03-09 07:00Z"), pd.Timestamp("2026-03-09 10:00Z"), cal)
    7200.0
    """
    starts = pd.Series([start], dtype=object)
    return float(business_seconds(starts, pd.Series([end], dtype=object), calendar).iloc[0])


class _Grid:
    """The working windows of a run of local dates, as sorted, disjoint UTC intervals.

    ``position(t)`` is the working time (microseconds) between the first window and ``t``;
    differences of positions are business time, and ``instant`` inverts ``position``.
    """

    def __init__(self, calendar: BusinessCalendar, first_day: int, last_day: int) -> None:
        self.last_day = last_day
        self.opens, self.lengths = _windows(calendar, first_day, last_day)
        self.after = np.cumsum(self.lengths)
        self.before = self.after - self.lengths
        self.total = int(self.after[-1]) if len(self.after) else 0
        for array in (self.opens, self.lengths, self.after, self.before):
            array.flags.writeable = False  # grids are cached and shared between calls

    @classmethod
    def covering(cls, calendar: BusinessCalendar, first_us: int, last_us: int) -> _Grid:
        # Local dates are within +-1 day of UTC dates; the margin also keeps windows that start the
        # evening before (UTC) of a date in the grid.
        # Widened to whole blocks of days so that the many calls of one page (each over its own
        # instants) share a cached grid instead of building one each.
        first_day = max((int(first_us // _DAY_US) - 2) // _GRID_BLOCK * _GRID_BLOCK, _FIRST_DAY)
        last_day = min(
            (int(last_us // _DAY_US) + 2) // _GRID_BLOCK * _GRID_BLOCK + _GRID_BLOCK - 1, _LAST_DAY
        )
        return _cached_grid(calendar, first_day, last_day)

    def position(self, instants: np.ndarray) -> np.ndarray:
        if not len(self.opens):
            return np.zeros(len(instants), dtype=np.int64)
        k = np.searchsorted(self.opens, instants, side="right") - 1
        inside = k >= 0
        kc = np.maximum(k, 0)
        into = np.clip(instants - self.opens[kc], 0, self.lengths[kc])
        return np.where(inside, self.before[kc] + into, 0)

    def instant(self, positions: np.ndarray, at_opening: np.ndarray) -> np.ndarray:
        """The instant at each position; on a boundary between windows, the closing of the earlier
        window, or where ``at_opening`` the opening of the next window that has working time."""
        if not len(self.opens):
            return np.full(len(positions), np.iinfo(np.int64).min)
        k = np.searchsorted(self.after, positions, side="left")
        if at_opening.any():
            k[at_opening] = np.searchsorted(self.after, positions[at_opening], side="right")
        k = np.minimum(k, len(self.after) - 1)
        return self.opens[k] + (positions - self.before[k])


_GRID_BLOCK = 128  # days


@functools.lru_cache(maxsize=16)
def _cached_grid(calendar: BusinessCalendar, first_day: int, last_day: int) -> _Grid:
    return _Grid(calendar, first_day, last_day)


def _windows(calendar: BusinessCalendar, first_day: int, last_day: int) -> tuple[np.ndarray, np.ndarray]:
    """Openings (UTC microseconds) and lengths of the working windows of local dates first..last."""
    days = np.arange(first_day, last_day + 1, dtype=np.int64)
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday
    holidays = np.array([(d - datetime.date(1970, 1, 1)).days for d in calendar.holidays], dtype=np.int64)
    days = days[np.isin(weekday, calendar.workdays) & ~np.isin(days, holidays)]
    midnight = days * _DAY_US
    opens = _first_instant_at_or_after(calendar.zone, midnight + calendar.opening_seconds * _US)
    closes = _last_instant_before(calendar.zone, midnight + calendar.closing_seconds * _US)
    closes = np.maximum(closes, opens)
    # Windows of consecutive dates never overlap unless a zone jumps back across midnight; then
    # the overlap is working time once (clip each window to start after everything before it).
    if len(opens) > 1:
        reached = np.concatenate([[opens[0]], np.maximum.accumulate(closes)[:-1]])
        opens = np.maximum(opens, reached)
        closes = np.maximum(closes, opens)
    return opens, closes - opens


def _utc_offsets(zone: ZoneInfo, instants: np.ndarray) -> np.ndarray:
    """UTC offset (microseconds) in ``zone`` at each UTC instant."""
    utc = pd.DatetimeIndex(instants.view("M8[us]")).tz_localize("UTC")
    return utc.tz_convert(zone).tz_localize(None).as_unit("us").asi8 - instants


def _candidates(zone: ZoneInfo, walls: np.ndarray):
    """The (at most two) instants showing each wall time: the one under the offset in force
    before a nearby transition and the one under the offset after it, each with a validity mask."""
    before = walls - _utc_offsets(zone, walls - _PROBE_US)
    after = walls - _utc_offsets(zone, walls + _PROBE_US)
    before_ok = _utc_offsets(zone, before) == walls - before
    after_ok = _utc_offsets(zone, after) == walls - after
    return before, before_ok, after, after_ok


def _first_instant_at_or_after(zone: ZoneInfo, walls: np.ndarray) -> np.ndarray:
    """First instant at which the local clock shows ``wall`` or later (an opening): the first of
    two readings in a repeated hour, the jump itself when the clock skips ``wall``."""
    before, before_ok, after, after_ok = _candidates(zone, walls)
    big = np.iinfo(np.int64).max
    found = np.minimum(np.where(before_ok, before, big), np.where(after_ok, after, big))
    return _fill_gaps(zone, walls, found, ~(before_ok | after_ok), before, after)


def _last_instant_before(zone: ZoneInfo, walls: np.ndarray) -> np.ndarray:
    """End of the last stretch in which the local clock shows a time before ``wall`` (a closing):
    the second of two readings in a repeated hour, unless the clock jumps back exactly onto
    ``wall`` (then nothing after the first reading is before ``wall``); the jump itself when the
    clock skips ``wall``."""
    before, before_ok, after, after_ok = _candidates(zone, walls)
    small, big = np.iinfo(np.int64).min, np.iinfo(np.int64).max
    found = np.maximum(np.where(before_ok, before, small), np.where(after_ok, after, small))
    twice = before_ok & after_ok & (before != after)
    if twice.any():
        prior = found[twice] - 1  # the microsecond before the second reading
        from_below = prior + _utc_offsets(zone, prior) < walls[twice]
        first = np.minimum(np.where(before_ok, before, big), np.where(after_ok, after, big))[twice]
        found[twice] = np.where(from_below, found[twice], first)
    return _fill_gaps(zone, walls, found, ~(before_ok | after_ok), before, after)


def _fill_gaps(zone, walls, found, gap, before, after) -> np.ndarray:
    """Where the clock skips the wall time, the instant of the jump (bisection to the microsecond)."""
    if not gap.any():
        return found
    wall = walls[gap]
    lo = np.minimum(before[gap], after[gap])  # reads earlier than the wall time
    hi = np.maximum(before[gap], after[gap])  # reads later
    while (hi - lo > 1).any():
        mid = lo + (hi - lo) // 2
        later = mid + _utc_offsets(zone, mid) >= wall
        hi = np.where(later, mid, hi)
        lo = np.where(later, lo, mid)
    found = found.copy()
    found[gap] = hi
    return found


def _utc_micros(values, name: str, length: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """int64 UTC microseconds and a missing mask for a column of instants (or, given the
    column ``length`` to match, one instant for every row)."""
    if length is not None and not isinstance(values, _COLUMN_TYPES):
        micros, missing = _utc_micros(pd.Series([values], dtype=object), name)
        return np.full(length, micros[0]), np.full(length, missing[0])
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    if length is not None and len(series) != length:
        raise ValueError(f"{name}: has {len(series)} values but starts has {length}; pairs align by position")
    dtype = series.dtype
    if isinstance(dtype, pd.DatetimeTZDtype) or dtype.kind == "M":
        array = series.array  # aware values are stored as UTC epoch values; naive ones are read as UTC
    elif pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
        array = pd.to_datetime(series, utc=True, format="ISO8601").array
    else:
        raise TypeError(f"{name}: expected timestamps, got values of dtype {dtype}")
    return array.as_unit("us").asi8, np.asarray(array.isna())


def _micros_of_seconds(seconds, length: int) -> tuple[np.ndarray, np.ndarray]:
    """int64 microseconds and a missing mask for the working time to add (numbers of seconds or
    timedeltas; one value for every row, or a column aligned by position)."""
    if not isinstance(seconds, _COLUMN_TYPES):
        micros, missing = _micros_of_seconds(pd.Series([seconds], dtype=object), 1)
        return np.full(length, micros[0]), np.full(length, missing[0])
    values = pd.Series(seconds).reset_index(drop=True)
    if len(values) != length:
        raise ValueError(f"seconds: has {len(values)} values but starts has {length}; they align by position")
    is_timedelta = values.dtype.kind == "m" or (
        pd.api.types.is_object_dtype(values.dtype)
        and values.dropna().map(lambda v: isinstance(v, datetime.timedelta | np.timedelta64)).all()
        and values.notna().any()
    )
    try:
        if is_timedelta:
            numbers = pd.to_timedelta(values).dt.total_seconds().to_numpy(dtype="float64", na_value=np.nan)
        else:
            numbers = pd.to_numeric(values).to_numpy(dtype="float64", na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"seconds: expected numbers of seconds or timedeltas: {exc}") from exc
    missing = np.isnan(numbers)
    negative = np.flatnonzero(numbers < 0)
    if len(negative):
        raise ValueError(
            f"seconds: working time to add must be >= 0, got {numbers[negative[0]]} at position {negative[0]}"
        )
    if np.isinf(numbers).any():
        raise ValueError("seconds: working time to add must be finite")
    return np.round(np.where(missing, 0.0, numbers) * _US).astype(np.int64), missing


def _check_timezone(name) -> None:
    if not isinstance(name, str) or not name:
        raise CalendarError(
            f"calendar.timezone: expected an IANA timezone name such as 'Europe/Berlin', got {name!r}"
        )
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise CalendarError(
            f"calendar.timezone: unknown timezone {name!r}; use an IANA name such as 'Europe/Berlin' "
            "or 'America/New_York'"
        ) from exc


def _check_workdays(workdays) -> tuple[int, ...]:
    if isinstance(workdays, str) or not isinstance(workdays, Iterable):
        raise CalendarError(
            f"calendar.workdays: expected a list of weekdays 0..6 (Monday=0), got {workdays!r}"
        )
    days = list(workdays)
    for day in days:
        if isinstance(day, bool) or not isinstance(day, int | np.integer) or not 0 <= day <= 6:
            raise CalendarError(
                f"calendar.workdays: {day!r} is not a weekday; use 0..6 (Monday=0 .. Sunday=6)"
            )
    if not days:
        raise CalendarError("calendar.workdays: at least one working weekday is needed")
    return tuple(sorted({int(day) for day in days}))


def _weekday_number(day) -> int:
    if isinstance(day, int | np.integer) and not isinstance(day, bool):
        return int(day)  # range checked by the constructor
    if isinstance(day, str):
        name = day.strip().lower()
        for number, full in enumerate(_WEEKDAY_FULL_NAMES):
            if name in (full, full[:3]):
                return number
    raise CalendarError(f"calendar.workdays: {day!r} is not a weekday; use {', '.join(WEEKDAY_NAMES)}")


def _check_hours(hours) -> tuple[str, str]:
    if isinstance(hours, str) or not isinstance(hours, Iterable):
        raise CalendarError(f'calendar.hours: expected ["HH:MM", "HH:MM"] (opening, closing), got {hours!r}')
    pair = list(hours)
    if len(pair) != 2:
        raise CalendarError(f'calendar.hours: expected two times ["HH:MM", "HH:MM"], got {pair!r}')
    opening, closing = (
        _normal_time(value, edge) for value, edge in zip(pair, ("opening", "closing"), strict=True)
    )
    if opening == "24:00":
        raise CalendarError("calendar.hours: the opening time must be before 24:00")
    if _seconds_of_day(opening) >= _seconds_of_day(closing):
        raise CalendarError(
            f"calendar.hours: the opening time {opening} must be before the closing time {closing} "
            "(working hours cannot run past midnight)"
        )
    return opening, closing


def _normal_time(value, edge: str) -> str:
    if isinstance(value, datetime.time) and not (value.second or value.microsecond or value.tzinfo):
        value = value.strftime("%H:%M")
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 17:30 as the base-60 number 1050.
        raise CalendarError(
            f'calendar.hours: {edge} time {value!r} is a number; write it as "HH:MM" in quotes'
        )
    match = _TIME.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise CalendarError(
            f'calendar.hours: {edge} time {value!r} is not "HH:MM" (00:00 to 23:59, or 24:00)'
        )
    hour, minute = int(match.group(1)), int(match.group(2))
    if not (hour <= 23 and minute <= 59) and (hour, minute) != (24, 0):
        raise CalendarError(
            f'calendar.hours: {edge} time {value!r} is not "HH:MM" (00:00 to 23:59, or 24:00)'
        )
    return f"{hour:02d}:{minute:02d}"


def _seconds_of_day(text: str) -> int:
    hour, minute = text.split(":")
    return int(hour) * 3600 + int(minute) * 60


def _check_holidays(holidays) -> tuple[datetime.date, ...]:
    if isinstance(holidays, str) or not isinstance(holidays, Iterable):
        raise CalendarError(f"calendar.holidays: expected a list of dates (YYYY-MM-DD), got {holidays!r}")
    dates = set()
    for value in holidays:
        if isinstance(value, datetime.datetime):
            value = value.date()
        elif isinstance(value, str):
            try:
                value = datetime.date.fromisoformat(value.strip())
            except ValueError:
                raise CalendarError(f"calendar.holidays: {value!r} is not a date; use YYYY-MM-DD") from None
        if not isinstance(value, datetime.date):
            raise CalendarError(f"calendar.holidays: {value!r} is not a date; use YYYY-MM-DD")
        dates.add(value)
    return tuple(sorted(dates))
