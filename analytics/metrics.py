"""The metric registry: what each commitment measures, computed once per row, then grouped.

A metric is one function registered with :func:`metric`. It receives the
:class:`Facts` of one evaluation (the canonical frames as known at ``as_of``,
with per-lead business-time facts computed once and cached) and its validated
params, and returns one value per row of its table (``leads`` or ``deals``):

- ``count``: 1 if the row counts, else 0; the period's actual is the sum.
- ``amount``: the row's amount, NaN for a row that does not count (a deal not
  won, not marketing-sourced); the actual is the sum, ``n`` the rows that count.
- ``rate``: a status per row, :data:`MET`, :data:`BREACHED` or :data:`PENDING`;
  the actual is met / (met + breached), pending rows are shown, not counted.
- ``duration``: a number of business hours (NaN: not measured); the actual is a
  quantile of the period's values. Lower is better.

Which period a row belongs to is the metric's ``at`` column, in the agreement's
timezone (see ``analytics.periods``). Filters (:func:`filter_mask`) and grouping
(:func:`aggregate`) are here; periods, versions and status live in
``analytics.commitments``. A new metric is one function here and one oracle in
tests/analytics/test_metrics.py.

Everything is "as known at as_of": timestamps after ``as_of`` are treated as not
yet happened (see :func:`prepare_frames`).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, Strict, model_validator

from analytics.calendar import (
    BusinessCalendar,
    add_business_seconds,
    business_seconds,
    end_of_nth_working_day,
)
from analytics.schema import COLUMNS, SchemaError, empty_frame, validate_frame
from errors import AccordError

MET, BREACHED, PENDING = 1, 0, -1
KINDS: tuple[str, ...] = ("count", "amount", "rate", "duration")
HOUR = 3600.0

Kind = Literal["count", "amount", "rate", "duration"]


class MetricError(AccordError, ValueError):
    """A metric cannot be computed from the given frames or params; the message says why."""


# --- params ---------------------------------------------------------------------------------------


class Params(BaseModel):
    """Base of every metric's params: unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoParams(Params):
    """The metric takes no params."""


PositiveNumber = Annotated[float, Strict(), Field(gt=0, allow_inf_nan=False)]
ActivityKind = Literal["call", "email", "meeting", "task", "note"]


class WithinHours(Params):
    """A limit in business hours (> 0)."""

    business_hours: PositiveNumber


Reading = Literal["business_time", "end_of_day"]


class WithinDays(Params):
    """A limit in business days (> 0), read as ``reading`` says (see :func:`day_limits`).

    ``business_time`` (the default): ``business_days`` x the working hours of a
    day, counted from the handover; ``end_of_day``: by the close of the
    ``business_days``-th working day after the handover's date (a whole number).
    """

    business_days: PositiveNumber
    reading: Reading = "business_time"

    @model_validator(mode="after")
    def _whole_days(self) -> WithinDays:
        return _whole_days(self)


class TouchesWithin(Params):
    """At least ``touches`` activities (optionally only of ``kinds``) within ``business_days`` (as ``reading``)."""

    touches: Annotated[int, Strict(), Field(ge=1)]
    business_days: PositiveNumber
    kinds: tuple[ActivityKind, ...] | None = None
    reading: Reading = "business_time"

    @model_validator(mode="after")
    def _whole_days(self) -> TouchesWithin:
        return _whole_days(self)


def _whole_days(params: Any) -> Any:
    """Refuse a fractional ``business_days`` read as end_of_day (it counts whole working days)."""
    if params.reading == "end_of_day" and params.business_days != int(params.business_days):
        raise ValueError(
            f"business_days: read as end_of_day it counts whole working days; got {params.business_days:g}"
        )
    return params


# --- the registry ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    """A registered metric: how rows are valued (``compute``) and how a period's values combine."""

    name: str
    kind: str
    table: str
    at: str
    unit: str
    params: type[Params]
    compute: Callable[[Facts, Any], np.ndarray]
    quantile: float | None = None
    description: str = ""

    @property
    def lower_is_better(self) -> bool:
        """True for durations: a smaller actual is better than a larger one."""
        return self.kind == "duration"

    @property
    def target_range(self) -> tuple[float, float]:
        """The allowed target values: rates in [0, 1], durations > 0, counts and amounts >= 0."""
        if self.kind == "rate":
            return (0.0, 1.0)
        if self.kind == "duration":
            return (1e-9, float("inf"))
        return (0.0, float("inf"))


METRICS: dict[str, Metric] = {}


def metric(
    name: str,
    *,
    kind: Kind,
    unit: str,
    table: Literal["leads", "deals"] = "leads",
    at: str = "mql_at",
    params: type[Params] = NoParams,
    quantile: float | None = None,
) -> Callable:
    """Register the decorated function as metric ``name``; its docstring is the metric's definition."""
    if kind not in KINDS:
        raise MetricError(f"metric {name!r}: unknown kind {kind!r}; kinds: {', '.join(KINDS)}")
    if at not in COLUMNS[table]:
        raise MetricError(f"metric {name!r}: {table} has no column {at!r}")

    def register(fn: Callable[[Facts, Any], np.ndarray]) -> Callable:
        if name in METRICS:
            raise MetricError(f"metric {name!r} is registered twice")
        METRICS[name] = Metric(name, kind, table, at, unit, params, fn, quantile, inspect.getdoc(fn) or "")
        return fn

    return register


# --- frames as known at as_of ----------------------------------------------------------------------

LEAD_COLUMNS = [
    "id", "created_at", "mql_at", "sql_at", "owner_id", "owner_external_id",
    "owner_assigned_at", "team", "channel", "segment", "first_touch_at", "disposition",
    "disposition_at",
]  # fmt: skip
DEAL_COLUMNS = [
    "id", "created_at", "closed_at", "amount", "is_closed", "is_won", "owner_id", "owner_external_id",
    "team", "channel", "lead_id",
]  # fmt: skip
_LEAD_TIMES = ["created_at", "mql_at", "sql_at", "owner_assigned_at", "first_touch_at", "disposition_at"]


@dataclass(frozen=True)
class Frames:
    """Canonical frames cut to what was known at ``as_of`` (see :func:`prepare_frames`).

    ``leads`` holds only handed-over leads (``mql_at`` known), with a positional
    index; ``deals`` carries two extra columns: ``segment`` (of its lead) and
    ``lead_is_mql`` (its lead was handed over).
    """

    leads: pd.DataFrame
    deals: pd.DataFrame
    activities: pd.DataFrame
    owners: pd.DataFrame
    as_of: pd.Timestamp
    all_deals: pd.DataFrame | None = None  # every deal, also outside a slice (None: ``deals`` are all)

    @property
    def linked_deals(self) -> pd.DataFrame:
        """Every deal known at as_of, also those outside a slice: a lead's stages look its deals up here."""
        return self.deals if self.all_deals is None else self.all_deals


# Inside reuse_prepared(): the frames prepared so far, by the identity of the frames read and the instant.
_PREPARED: ContextVar[dict | None] = ContextVar("prepared_frames", default=None)


@contextmanager
def reuse_prepared() -> Iterator[None]:
    """Within this block, :func:`prepare_frames` prepares the same frames at the same instant once.

    A page's view prepares its window for every figure it draws (Marketing: ten times, ~40 % of its time).
    The frames must not change inside the block; each caller still gets its own shallow copies, so a column
    one adds never reaches another.
    """
    token = _PREPARED.set({})
    try:
        yield
    finally:
        _PREPARED.reset(token)


def reusing_prepared(build: Callable) -> Callable:
    """``build`` (a page's view) run inside :func:`reuse_prepared`."""

    @functools.wraps(build)
    def run(*args, **kwargs):
        with reuse_prepared():
            return build(*args, **kwargs)

    return run


def _shallow(known: Frames) -> Frames:
    tables = (known.leads, known.deals, known.activities, known.owners)
    return Frames(*(t.copy(deep=False) for t in tables), known.as_of, known.all_deals)


def prepare_frames(frames: Mapping[str, pd.DataFrame], as_of: pd.Timestamp) -> Frames:
    """Return the canonical ``frames`` as known at ``as_of`` (see :func:`reuse_prepared` for reuse).

    Archived rows are dropped. A timestamp after ``as_of`` is treated as not yet
    happened (missing): a lead exists once ``created_at <= as_of`` (or unknown)
    and is handed over once ``mql_at <= as_of``, a touch
    counts once it happened, a disposition decided later is still ``open``, a deal
    exists once ``created_at <= as_of`` and is won once ``closed_at <= as_of``.
    Activities without a lead are dropped. Missing frames are taken as empty.

    A deal takes its lead's channel (its own only when it has no lead). Frames
    from :func:`analytics.slicing.slice_frames` are resolved on the whole data
    first (a deal's lead, marketing-sourced flag and channel, a lead's
    activities), then narrowed to the slice.
    """
    selection = getattr(frames, "selection", None)
    frames = getattr(frames, "whole", frames)
    as_of = as_instant(as_of)
    memo = _PREPARED.get()
    if memo is None:
        known = _prepare(frames, as_of)
    else:
        tables = tuple(frames.get(t) for t in ("leads", "deals", "activities", "owners"))
        key = (tuple(map(id, tables)), as_of.value)  # the tables are kept in the memo: no id is reused
        if key not in memo:
            memo[key] = (tables, _prepare(frames, as_of))
        known = _shallow(memo[key][1])
    return selection.apply(known) if selection else known


def _prepare(frames: Mapping[str, pd.DataFrame], as_of: pd.Timestamp) -> Frames:
    now = as_of.value // 1000  # microseconds, as the frames hold them
    got = {}
    for table in ("leads", "deals", "activities", "owners"):
        frame = frames.get(table)
        got[table] = empty_frame(table) if frame is None else validate_frame(frame, table)

    leads = _live(got["leads"])[LEAD_COLUMNS]
    leads = _rows(leads, ~(timestamps_us(leads["created_at"]) > now))  # created later: not there yet
    if not leads["id"].is_unique:
        raise SchemaError("leads.id: ids must be unique (a lead appears twice)")
    later = {c: timestamps_us(leads[c]) > now for c in _LEAD_TIMES}
    censored = {c: leads[c].mask(m) for c, m in later.items() if m.any()}
    if later["disposition_at"].any():
        censored["disposition"] = leads["disposition"].mask(later["disposition_at"], "open")
    leads = leads.assign(**censored) if censored else leads
    all_ids = leads["id"].to_numpy(dtype="int64", na_value=_NO_ID)
    all_segments = leads["segment"]
    handed = _rows(leads, leads["mql_at"].notna().to_numpy())
    handed_ids = handed["id"].to_numpy(dtype="int64", na_value=_NO_ID)

    deals = _live(got["deals"])[DEAL_COLUMNS]
    deals = _rows(deals, ~(timestamps_us(deals["created_at"]) > now))
    closes_later = timestamps_us(deals["closed_at"]) > now
    if closes_later.any():
        deals = deals.assign(
            closed_at=deals["closed_at"].mask(closes_later),
            is_closed=deals["is_closed"].mask(closes_later, False),
            is_won=deals["is_won"].mask(closes_later, False),
        )
    lead_ids = deals["lead_id"].to_numpy(dtype="int64", na_value=_NO_ID)
    lead_pos = positions(all_ids, lead_ids)
    if len(all_segments):
        segment = all_segments.take(np.maximum(lead_pos, 0)).to_numpy()
    else:
        segment = np.full(len(deals), None, dtype=object)
    channel = deals["channel"]
    if len(all_segments) and (lead_pos >= 0).any():  # a deal takes its lead's channel
        of_lead = leads["channel"].take(np.maximum(lead_pos, 0)).to_numpy(dtype=object)
        channel = pd.Series(np.where(lead_pos >= 0, of_lead, channel.to_numpy(dtype=object)),
                            index=deals.index, dtype=channel.dtype)  # fmt: skip
    deals = deals.assign(
        channel=channel,
        segment=pd.Series(segment, index=deals.index, dtype="str").mask(lead_pos < 0),
        lead_is_mql=positions(handed_ids, lead_ids) >= 0,
    )

    acts = _live(got["activities"])[["lead_id", "owner_id", "kind", "occurred_at"]]
    when = timestamps_us(acts["occurred_at"])
    acts = _rows(acts, (when != NAT_US) & (when <= now) & acts["lead_id"].notna().to_numpy())
    return Frames(handed, deals, acts, got["owners"], as_of)


_NO_ID = np.iinfo(np.int64).min  # stands for a missing id in int64 arrays
NAT_US = np.iinfo(np.int64).min  # how NaT looks as int64


def _rows(frame: pd.DataFrame, keep: np.ndarray | None) -> pd.DataFrame:
    """``frame[keep]`` with a fresh positional index; no copy when every row is kept."""
    if keep is not None and not keep.all():
        frame = frame[keep]
    if isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0 and frame.index.step == 1:
        return frame
    return frame.reset_index(drop=True)


def _live(frame: pd.DataFrame) -> pd.DataFrame:
    archived = frame["archived"].to_numpy(bool, na_value=False)
    return frame[~archived] if archived.any() else frame


def timestamps_us(series: pd.Series) -> np.ndarray:
    """Return a UTC timestamp Series as int64 microseconds (NaT as the minimum int64)."""
    return np.asarray(series.dt.as_unit("us").array.asi8, dtype=np.int64)


def positions(ids: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Return the position of each ``wanted`` id in the unique ``ids`` (-1 where absent).

    >>> positions(np.array([7, 3, 9]), np.array([9, 4, 7])).tolist()
    [2, -1, 0]
    """
    out = np.full(len(wanted), -1, dtype=np.int64)
    valid = ids != _NO_ID
    if not valid.any() or not len(wanted):
        return out
    lo, hi = int(ids[valid].min()), int(ids[valid].max())
    inside = (wanted >= lo) & (wanted <= hi)
    if hi - lo <= 4 * len(ids) + 1024:  # dense ids (the usual surrogate keys): a lookup table
        table = np.full(hi - lo + 1, -1, dtype=np.int64)
        table[ids[valid] - lo] = np.flatnonzero(valid)
        out[inside] = table[wanted[inside] - lo]
        return out
    order = np.argsort(ids, kind="stable")
    ranked = ids[order]
    at = np.minimum(np.searchsorted(ranked, wanted), len(ranked) - 1)
    found = inside & (ranked[at] == wanted)
    out[found] = order[at[found]]
    return out


def as_instant(value: Any) -> pd.Timestamp:
    """Return ``value`` as a UTC Timestamp; a naive value is refused (an instant needs a timezone)."""
    stamp = pd.Timestamp(value)
    if stamp is pd.NaT or stamp.tzinfo is None:
        raise MetricError(
            f"as_of {value!r} must be a timezone-aware instant, e.g. '2026-03-15T12:00:00+00:00'"
        )
    return stamp.tz_convert("UTC").as_unit("us")


# --- per-row facts, computed once ----------------------------------------------------------------


@dataclass
class Facts:
    """Per-row facts of one evaluation: frames as known at ``as_of`` plus cached business-time facts.

    Business time of a lead runs on the calendar of the lead's team when
    ``team_calendars`` has one, else on ``calendar``.
    """

    frames: Frames
    calendar: BusinessCalendar
    team_calendars: Mapping[str, BusinessCalendar] = field(default_factory=dict)
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def leads(self) -> pd.DataFrame:
        """Handed-over leads (``mql_at <= as_of``), positional index."""
        return self.frames.leads

    @property
    def deals(self) -> pd.DataFrame:
        """Deals created by ``as_of``, positional index."""
        return self.frames.deals

    @property
    def as_of(self) -> pd.Timestamp:
        """The instant the facts are known at (UTC)."""
        return self.frames.as_of

    def lead_ids(self) -> np.ndarray:
        """Lead ids as int64 (positions of :attr:`leads`)."""
        return self._memo("lead_ids", lambda: self.leads["id"].to_numpy(dtype="int64", na_value=_NO_ID))

    def table(self, name: str) -> pd.DataFrame:
        """Return the rows of ``name`` (``leads`` or ``deals``) the metrics value."""
        return self.leads if name == "leads" else self.deals

    def _memo(self, key: Any, make: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def calendar_groups(self) -> list[tuple[BusinessCalendar, np.ndarray]]:
        """Return ``(calendar, lead mask)`` pairs covering every lead exactly once."""

        def make() -> list[tuple[BusinessCalendar, np.ndarray]]:
            rest = np.ones(len(self.leads), dtype=bool)
            groups: dict[BusinessCalendar, np.ndarray] = {}
            team = self.leads["team"]
            for name, cal in self.team_calendars.items():
                if cal == self.calendar:
                    continue  # same clock as the default: one call covers both
                mask = (team == name).to_numpy(bool, na_value=False) & rest
                if mask.any():
                    groups[cal] = groups.get(cal, np.zeros_like(rest)) | mask
                    rest &= ~mask
            groups[self.calendar] = groups.get(self.calendar, np.zeros_like(rest)) | rest
            return list(groups.items())

        return self._memo("calendar_groups", make)

    def lead_seconds_until(self, ends: pd.Series | pd.Timestamp, key: Any = None) -> np.ndarray:
        """Return business seconds from each lead's ``mql_at`` to ``ends`` (NaN where ``ends`` is missing).

        ``ends`` is a Series aligned to :attr:`leads` or one instant; ``key``
        caches the result under that name.
        """
        return self.seconds_between(self.leads["mql_at"], ends, key=key)

    def seconds_between(
        self,
        starts: pd.Series,
        ends: pd.Series | pd.Timestamp,
        key: Any = None,
        where: np.ndarray | None = None,
    ) -> np.ndarray:
        """Return business seconds from ``starts`` to ``ends`` per lead, each on its lead's calendar.

        Both are aligned to :attr:`leads` (``ends`` may be one instant); NaN where
        either is missing, 0 where ``ends <= starts``. With ``where`` (a lead
        mask) only those leads are computed, the rest are NaN.
        """

        def make() -> np.ndarray:
            if isinstance(ends, pd.Series):
                stop = ends
            else:
                stop = pd.Series(pd.Timestamp(ends), index=self.leads.index).astype(
                    self.leads["mql_at"].dtype
                )
            out = np.full(len(self.leads), np.nan)
            known = starts.notna().to_numpy() & stop.notna().to_numpy()
            if where is not None:
                known &= where
            for cal, mask in self.calendar_groups():
                rows = np.flatnonzero(mask & known)
                if len(rows):
                    start = starts.iloc[rows].reset_index(drop=True)
                    end = stop.iloc[rows].reset_index(drop=True)
                    out[rows] = business_seconds(start, end, cal).to_numpy(dtype="float64", na_value=np.nan)
            return out

        return make() if key is None else self._memo(("seconds", key), make)

    def due_at(self, seconds: np.ndarray | float) -> pd.Series:
        """Return, per lead, the instant ``seconds`` of business time after ``mql_at`` (its calendar)."""
        limit = np.broadcast_to(np.asarray(seconds, dtype="float64"), (len(self.leads),))
        out = np.full(len(self.leads), NAT_US, dtype=np.int64)
        for cal, mask in self.calendar_groups():
            rows = np.flatnonzero(mask)
            if len(rows):
                start = self.leads["mql_at"].iloc[rows].reset_index(drop=True)
                out[rows] = timestamps_us(add_business_seconds(start, limit[rows], cal))
        return pd.Series(out.view("datetime64[us]")).dt.tz_localize("UTC")

    def due_by_end_of_day(self, n: int) -> pd.Series:
        """Per lead, the close of the ``n``-th working day after its handover's local date (its calendar)."""
        out = pd.Series(pd.NaT, index=self.leads.index, dtype="datetime64[us, UTC]")
        for cal, mask in self.calendar_groups():
            if mask.any():
                out[mask] = end_of_nth_working_day(self.leads["mql_at"][mask], n, cal).to_numpy()
        return out

    def seconds_to(self, column: str) -> np.ndarray:
        """Business seconds from ``mql_at`` to the lead's ``column`` (NaN if not happened by as_of)."""
        return self.lead_seconds_until(self.leads[column], key=column)

    def elapsed(self, where: np.ndarray | None = None) -> np.ndarray:
        """Business seconds from each lead's ``mql_at`` to ``as_of``.

        With ``where`` (a lead mask), only those leads are sure to be filled (the
        others may be NaN): a deadline needs the elapsed time only of leads whose
        clock has not stopped. Computed parts are kept for later calls.
        """
        done = self._memo("elapsed_done", lambda: np.zeros(len(self.leads), dtype=bool))
        out = self._memo("elapsed", lambda: np.full(len(self.leads), np.nan))
        todo = ~done if where is None else (np.asarray(where, dtype=bool) & ~done)
        if todo.any():
            out[todo] = self.seconds_between(self.leads["mql_at"], self.as_of, where=todo)[todo]
            done |= todo
        return out

    def day_seconds(self) -> np.ndarray:
        """Business seconds of one working day, per lead (its team's calendar)."""

        def make() -> np.ndarray:
            out = np.empty(len(self.leads))
            for cal, mask in self.calendar_groups():
                out[mask] = cal.day_seconds
            return out

        return self._memo("day_seconds", make)

    def nth_activity_at(self, n: int, kinds: Iterable[str] | None = None) -> pd.Series:
        """Return, per lead, when its ``n``-th activity at or after ``mql_at`` happened (NaT if fewer).

        Only activities of ``kinds`` count when given; all kinds otherwise.
        """
        kinds = tuple(sorted(kinds)) if kinds else None

        def make() -> pd.Series:
            acts = self.frames.activities
            if kinds is not None:
                acts = acts[acts["kind"].isin(kinds).to_numpy(bool, na_value=False)]
            pos = positions(self.lead_ids(), acts["lead_id"].to_numpy(dtype="int64", na_value=_NO_ID))
            when = timestamps_us(acts["occurred_at"])
            keep = pos >= 0
            mql = timestamps_us(self.leads["mql_at"])
            keep[keep] = when[keep] >= mql[pos[keep]]
            pos, when = pos[keep], when[keep]
            enough = np.bincount(pos, minlength=len(self.leads)) >= n
            pos, when = pos[enough[pos]], when[enough[pos]]
            pos, when = _sorted_by_lead_then_time(pos, when, mql)
            first = np.r_[0, np.flatnonzero(np.diff(pos)) + 1]
            rank = np.arange(len(pos)) - np.repeat(first, np.diff(np.r_[first, len(pos)]))
            pick = rank == n - 1
            out = np.full(len(self.leads), NAT_US, dtype=np.int64)
            out[pos[pick]] = when[pick]
            return pd.Series(out.view("datetime64[us]")).dt.tz_localize("UTC")

        return self._memo(("nth", n, kinds), make)


def _sorted_by_lead_then_time(
    pos: np.ndarray, when: np.ndarray, mql: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(pos, when)`` grouped by lead position, each lead's times in order (all ``when >= mql[pos]``).

    One int64 sort instead of a lexsort: the position in the high bits, the
    microseconds since the lead's handover in the low ones. Leads with an
    activity too late for the low bits (about 100 days at a million leads) take
    a lexsort; exact either way.
    """
    if not len(pos):
        return pos, when
    low_bits = 63 - int(pos.max()).bit_length()
    since = when - mql[pos]
    far = np.zeros(len(mql), dtype=bool)
    far[pos[since >= (1 << low_bits)]] = True
    slow = far[pos]
    key = np.sort((pos[~slow] << low_bits) | since[~slow])
    fast_pos = key >> low_bits
    fast_when = mql[fast_pos] + (key & ((1 << low_bits) - 1))
    if not slow.any():
        return fast_pos, fast_when
    order = np.lexsort((when[slow], pos[slow]))
    return np.r_[fast_pos, pos[slow][order]], np.r_[fast_when, when[slow][order]]


def deadline_status(taken: np.ndarray, elapsed: np.ndarray, limit: np.ndarray | float) -> np.ndarray:
    """Return MET / BREACHED / PENDING per row for a clock with a limit (all in business seconds).

    Met: it happened (``taken`` known) within the limit. Breached: it happened
    over the limit, or has not happened and ``elapsed`` (to as_of) is already
    over the limit. Pending: not happened, limit not yet passed.

    >>> deadline_status(np.array([10, 50, np.nan, np.nan]), np.array([99, 99, 99, 20]), 30).tolist()
    [1, 0, 0, -1]
    """
    done = ~np.isnan(taken)
    with np.errstate(invalid="ignore"):
        met = done & (taken <= limit)
        breached = (done & ~met) | (~done & (elapsed > limit))
    return np.where(met, MET, np.where(breached, BREACHED, PENDING)).astype(np.int8)


# --- the metrics -----------------------------------------------------------------------------------


def day_limits(facts: Facts, params: WithinDays | TouchesWithin) -> np.ndarray:
    """Return each lead's limit in business seconds for ``params.business_days`` read as ``params.reading``.

    ``business_time``: that many working days of business time from the handover
    (2 days of 09:00-17:00 = 16 business hours). ``end_of_day``: the business
    time from the handover to the close of the Nth working day after its date.
    """
    if params.reading == "business_time":
        return params.business_days * facts.day_seconds()
    days = int(params.business_days)
    return facts._memo(("end_of_day", days), lambda: facts.seconds_between(
        facts.leads["mql_at"], facts.due_by_end_of_day(days)))  # fmt: skip


@metric("mql_count", kind="count", unit="leads")
def mql_count(facts: Facts, params: NoParams) -> np.ndarray:
    """Leads handed over to sales (``mql_at``) in the period."""
    return np.ones(len(facts.leads))


def reached_sql(frames: Frames) -> np.ndarray:
    """Return, per handed-over lead (aligned to ``frames.leads``), whether it is an SQL by as_of.

    The one definition of SQL (``GLOSSARY["SQL"]``), for the metrics, the Marketing
    breakdowns and the cohort funnel: ``sql_at`` is known by as_of, or a deal of
    the lead exists by then (whoever owns it; an opportunity has been qualified).
    """
    ids = frames.leads["id"].to_numpy(dtype="int64", na_value=_NO_ID)
    deals = frames.linked_deals
    with_deal = positions(ids, deals["lead_id"].to_numpy(dtype="int64", na_value=_NO_ID))
    out = frames.leads["sql_at"].notna().to_numpy(dtype=bool).copy()
    out[with_deal[with_deal >= 0]] = True
    return out


@metric("sql_count", kind="count", unit="leads")
def sql_count(facts: Facts, params: NoParams) -> np.ndarray:
    """Leads handed over in the period (by ``mql_at``) that are SQLs by as_of (see SQL).

    A cohort count: a lead handed over in March and qualified in April counts in March.
    """
    return reached_sql(facts.frames).astype("float64")


@metric("sourced_pipeline", kind="amount", unit="currency", table="deals", at="created_at")
def sourced_pipeline(facts: Facts, params: NoParams) -> np.ndarray:
    """Sum of ``amount`` of deals created in the period whose lead is a marketing lead.

    A marketing lead: the deal's ``lead_id`` is set and that lead has an ``mql_at``.
    A missing amount counts as 0. Amounts are summed as given (one currency assumed).
    Its number of deals counts these marketing-sourced deals only.
    """
    amount = facts.deals["amount"].to_numpy(dtype="float64", na_value=np.nan)
    return np.where(facts.deals["lead_is_mql"].to_numpy(bool), np.nan_to_num(amount), np.nan)


@metric("won_revenue", kind="amount", unit="currency", table="deals", at="closed_at")
def won_revenue(facts: Facts, params: NoParams) -> np.ndarray:
    """Sum of ``amount`` of deals won (``is_won``) with ``closed_at`` in the period; missing amounts count as 0.

    Its number of deals counts the won deals only (a won deal without an amount too).
    """
    amount = np.nan_to_num(facts.deals["amount"].to_numpy(dtype="float64", na_value=np.nan))
    return np.where(facts.deals["is_won"].to_numpy(bool, na_value=False), amount, np.nan)


@metric("mql_to_sql_rate", kind="rate", unit="share")
def mql_to_sql_rate(facts: Facts, params: NoParams) -> np.ndarray:
    """Of the leads handed over in the period, the share that are SQLs by as_of (see SQL).

    Every lead is decided (met: qualified, breached: not yet); none is pending.
    """
    return np.where(reached_sql(facts.frames), MET, BREACHED).astype(np.int8)


@metric("acceptance_rate", kind="rate", unit="share")
def acceptance_rate(facts: Facts, params: NoParams) -> np.ndarray:
    """Accepted / (accepted + rejected) among leads handed over in the period; open leads are pending.

    A disposition decided after as_of is still open; a missing disposition is open.
    """
    disposition = facts.leads["disposition"]
    out = np.full(len(facts.leads), PENDING, dtype=np.int8)
    out[(disposition == "accepted").to_numpy(bool, na_value=False)] = MET
    out[(disposition == "rejected").to_numpy(bool, na_value=False)] = BREACHED
    return out


@metric("followed_up_within", kind="rate", unit="share", params=WithinHours)
def followed_up_within(facts: Facts, params: WithinHours) -> np.ndarray:
    """Share of leads handed over in the period whose first touch came within ``business_hours``.

    The clock runs from ``mql_at`` to ``first_touch_at`` in business time of the
    lead's calendar. Met: touched within the limit (a touch before the handover
    counts as immediate). Breached: touched later, or untouched and the limit had
    passed at as_of. Pending: untouched, limit not yet passed.
    """
    taken = facts.seconds_to("first_touch_at")
    return deadline_status(taken, facts.elapsed(where=np.isnan(taken)), params.business_hours * HOUR)


@metric("touches_within", kind="rate", unit="share", params=TouchesWithin)
def touches_within(facts: Facts, params: TouchesWithin) -> np.ndarray:
    """Share of leads handed over in the period with at least ``touches`` activities within ``business_days``.

    Activities at or after ``mql_at`` count (of ``kinds`` when given). The clock
    runs from ``mql_at`` to the ``touches``-th such activity; met / breached /
    pending as for follow-up, with a limit of ``business_days`` read as
    ``reading`` says (see business days limit).
    """
    nth = facts.nth_activity_at(params.touches, params.kinds)
    taken = facts.lead_seconds_until(nth, key=("nth", params.touches, params.kinds))
    return deadline_status(taken, facts.elapsed(where=np.isnan(taken)), day_limits(facts, params))


@metric("dispositioned_within", kind="rate", unit="share", params=WithinDays)
def dispositioned_within(facts: Facts, params: WithinDays) -> np.ndarray:
    """Share of leads handed over in the period accepted or rejected (``disposition_at``) within ``business_days``.

    The clock runs from ``mql_at`` to ``disposition_at``; met / breached / pending
    as for follow-up, with a limit of ``business_days`` read as ``reading`` says
    (see business days limit).
    """
    taken = facts.seconds_to("disposition_at")
    return deadline_status(taken, facts.elapsed(where=np.isnan(taken)), day_limits(facts, params))


@metric("response_time_median", kind="duration", unit="business hours", quantile=0.5)
def response_time_median(facts: Facts, params: NoParams) -> np.ndarray:
    """Median business hours from ``mql_at`` to ``first_touch_at`` of the period's touched leads."""
    return facts.seconds_to("first_touch_at") / HOUR


@metric("response_time_p90", kind="duration", unit="business hours", quantile=0.9)
def response_time_p90(facts: Facts, params: NoParams) -> np.ndarray:
    """90th percentile (linear interpolation) of business hours to first touch of the period's touched leads."""
    return facts.seconds_to("first_touch_at") / HOUR


# --- grouping --------------------------------------------------------------------------------------


def aggregate(metric: Metric, values: np.ndarray, keys: np.ndarray, size: int) -> pd.DataFrame:
    """Return one row per key ``0..size-1``: ``n`` rows, ``actual`` and, for rates, ``met/breached/pending``.

    ``keys`` gives each row's group (``-1``: not counted). Counts and amounts
    sum; rates are met / (met + breached) (NaN when nothing is decided);
    durations take the metric's quantile over non-missing values (NaN if none).

    >>> m = METRICS["acceptance_rate"]
    >>> aggregate(m, np.array([1, 0, -1, 1]), np.array([0, 0, 0, 1]), 2)[["n", "actual", "pending"]].to_dict("list")
    {'n': [3, 1], 'actual': [0.5, 1.0], 'pending': [1.0, 0.0]}
    """
    return pd.DataFrame(aggregate_arrays(metric, values, keys, size))


def aggregate_arrays(
    metric: Metric, values: np.ndarray, keys: np.ndarray, size: int
) -> dict[str, np.ndarray]:
    """:func:`aggregate` as a dict of arrays (no DataFrame: the evaluation calls it once per commitment)."""
    counted = keys >= 0
    k, v = keys[counted], np.asarray(values)[counted]
    nan = np.full(size, np.nan)
    met = breached = pending = nan
    if metric.kind in ("count", "amount"):
        actual = np.bincount(k, weights=np.nan_to_num(v.astype("float64")), minlength=size)
    elif metric.kind == "rate":
        met = np.bincount(k, weights=(v == MET), minlength=size).astype("float64")
        breached = np.bincount(k, weights=(v == BREACHED), minlength=size).astype("float64")
        pending = np.bincount(k, weights=(v == PENDING), minlength=size).astype("float64")
        decided = met + breached
        with np.errstate(invalid="ignore", divide="ignore"):
            actual = np.where(decided > 0, met / decided, np.nan)
    else:
        actual = grouped_quantile(v.astype("float64"), k, size, metric.quantile or 0.5)
    # n: the rows that count (for amounts: the deals won / sourced, not every deal of the period)
    n = np.bincount(k[~np.isnan(v.astype("float64"))] if metric.kind == "amount" else k, minlength=size)
    return {"n": n, "actual": actual, "met": met, "breached": breached, "pending": pending}


def grouped_quantile(values: np.ndarray, keys: np.ndarray, size: int, q: float) -> np.ndarray:
    """Return the ``q`` quantile (linear interpolation, as ``numpy.quantile``) of ``values`` per key.

    NaN values are ignored; a key without values gives NaN.

    >>> grouped_quantile(np.array([1.0, 3.0, 2.0, np.nan, 5.0]), np.array([0, 0, 0, 1, 2]), 3, 0.5).tolist()
    [2.0, nan, 5.0]
    """
    ok = ~np.isnan(values)
    values, keys = values[ok], keys[ok]
    order = np.lexsort((values, keys))
    values, keys = values[order], keys[order]
    counts = np.bincount(keys, minlength=size)
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    out = np.full(size, np.nan)
    has = counts > 0
    rank = q * (counts[has] - 1)
    low = np.floor(rank).astype(np.int64)
    high = np.minimum(low + 1, counts[has] - 1)
    lo_v = values[starts[has] + low]
    hi_v = values[starts[has] + high]
    out[has] = lo_v + (hi_v - lo_v) * (rank - low)
    return out


def filter_mask(facts: Facts, table: str, filters: Iterable[tuple[str, Iterable[str]]]) -> np.ndarray:
    """Return which rows of ``table`` pass every ``(field, values)`` filter (an empty list passes all).

    channel / team / segment compare the row's own value (a deal's segment is
    its lead's). owner matches an owner by name or external id (via ``owners``):
    a row counts when its ``owner_id`` or ``owner_external_id`` is that owner's,
    or its ``owner_external_id`` is one of the values. Comparisons are exact
    (case-sensitive).
    """
    rows = facts.table(table)
    mask = np.ones(len(rows), dtype=bool)
    for name, accepted in filters:
        accepted = list(accepted)
        if name == "owner":
            owners = facts.frames.owners
            hit = owners["name"].isin(accepted).to_numpy(bool) | owners["external_id"].isin(
                accepted
            ).to_numpy(bool)
            ids = owners["id"][hit].dropna().to_numpy(dtype="int64")
            external = accepted + owners["external_id"][hit].dropna().tolist()
            ok = rows["owner_id"].isin(ids).to_numpy(bool, na_value=False)
            ok |= rows["owner_external_id"].isin(external).to_numpy(bool, na_value=False)
        elif name in ("channel", "team", "segment"):
            ok = rows[name].isin(accepted).to_numpy(bool, na_value=False)
        else:
            raise MetricError(f"unknown filter {name!r}; filters: channel, team, owner, segment")
        mask &= ok
    return mask


# --- the words the numbers are made of -------------------------------------------------------------

GLOSSARY: dict[str, str] = {
    "as of": "The instant the numbers are computed for. Anything recorded with a later time is treated as not yet happened.",
    "period": "A week (Monday to Sunday), month or quarter from local midnight in the agreement's timezone; weeks are ISO weeks.",
    "handover": "The moment a lead became marketing-qualified (mql_at). A lead counts in the period of its handover.",
    "pipeline period": "A deal counts in the period of its created_at for pipeline, and of its closed_at for won revenue.",
    "business time": "Time inside the working hours of working days, outside holidays, in the calendar's timezone. A lead's clock uses its team's calendar when the agreement defines one, else the agreement's.",
    "business day": "One working day of the calendar: its working hours (e.g. 09:00-17:30 is 8.5 business hours).",
    "follow-up clock": "Business time from handover (mql_at) to first touch (first_touch_at). A touch before the handover counts as immediate.",
    "met": "For a lead: the clock stopped within the limit. For a closed period: the actual reached the target (at or below it when lower is better).",
    "breached": "A lead touched (or dispositioned) after the limit, or not yet and the limit had already passed at the as-of time.",
    "pending": "A lead whose limit has not passed yet and that is not touched yet. Shown, never counted in a rate.",
    "rate": "met / (met + breached); pending leads are left out. Undefined (blank) when nothing is decided yet.",
    "missed": "A closed period whose actual fell short of the target (above it when lower is better).",
    "closed period": "A period that ended at or before the as-of time. Its status is met or missed; a rate's only once the period is settled.",
    "provisional": "A closed period while the window of one of its leads (follow-up hours, touches or disposition business days of the agreement's commitments) is still open at the as-of time. Its rates have no met / missed yet and say how many leads are pending; its counts and amounts are final at its close.",
    "settled": "A closed period once the last window of its leads has run out at the as-of time; from then on no pending lead is left and its rates are met or missed.",
    "too few decided": "A current period's rate that rests on fewer than 10 decided leads (met + breached): shown, but not called on track, at risk or off track.",
    "current period": "The period containing the as-of time. Its status is on track, at risk or off track, from the projection.",
    "elapsed share": "Business time of the agreement's calendar from period start to the as-of time, over the period's business time.",
    "projection": "Counts and amounts: actual / elapsed share (straight-line pace in business time). Rates and durations: the actual as it stands.",
    "expected to date": "Counts and amounts: target x elapsed share. Rates and durations: the target.",
    "needed per week": "For counts and amounts in the current period: what is still missing to the target divided by the business weeks left (a business week is the calendar's working days).",
    "on track": "Current period: the projection reaches the target (at or below it when lower is better).",
    "at risk": "Current period: the projection is short of the target by at most 10% of the target.",
    "off track": "Current period: the projection is short of the target by more than 10% of the target.",
    "no target": "The commitment has no target for this row: target null, a period before the first agreement version, a period judged by a version with another period length, or a count/amount for a slice (a team, owner or channel filter or breakdown row) that the agreement sets no slice target for: a company target is not a slice's target.",
    "slice target": "A count or amount target the agreement sets for one team, channel or owner (name or external id) under a commitment's slice_targets. It judges that slice, alone or as a breakdown row; several values of one kind take the sum of their targets when each has one. A slice narrowed along two kinds (e.g. a team filter broken down by owner) has no count target. Rate and duration targets hold for every slice as they are.",
    "no data": "A closed period with nothing to measure (e.g. a rate with no decided leads).",
    "gap": "actual - target (positive is better, except for durations where lower is better).",
    "gap share": "gap / target; blank when the target is 0.",
    "version in force": "The agreement version with the latest effective_from at or before an instant (ties: the highest version). Each period is judged by the version in force when it started.",
    "baseline": "From the last closed periods (default 6): the median actual as suggested target and the 25th-75th percentile as range. Provisional with fewer than 3 periods.",
    "routing delay": "Business hours from the handover (mql_at) to owner assignment; 0 if assigned before.",
    "rep delay": "Business hours from the later of handover and owner assignment to the first touch.",
    "cohort funnel": "Leads handed over in a period and how many of them reached SQL, opportunity (a deal with the lead) and won (a won deal), by as-of.",
    "marketing lead": "A lead with an mql_at (handed over by marketing).",
    "re-qualified after recycling": "A lead handed over again: a new MQL entry after the lead left the MQL-or-later stages (its lifecycle stage went back below MQL, or its lead status became one your settings call recycled, HUBSPOT_RECYCLED_LEAD_STATUSES; in a file, another row of the same lead on another MQL day). Each handover counts in the period of its own mql_at with its own follow-up clock, touches and disposition; an activity or deal belongs to the handover whose window (from its mql_at to the next handover's) holds it, so a later handover never changes how an earlier one was judged. The funnel and baselines count handovers.",
    "merged contact": "Two CRM records merged into one are one lead: the merged-away lead's activities, deals and handovers move to the surviving lead and its own row goes, so its MQL is never counted twice.",
    "archived record": "A lead, deal or activity deleted (archived) in the CRM leaves every figure; restored, it counts again.",
    "moved deal": "A deal moved to another lead in the CRM belongs to its new lead: it takes that lead's channel, so its pipeline counts for the new lead's channel, and it counts as that lead's opportunity (the old lead's only if another deal of its own remains).",
    "business days limit": "A limit of N business days is read as the agreement's params say. reading: business_time (the default): N times the working hours of a day of business time, counted from the handover (2 days of 09:00-17:00 are 16 business hours). reading: end_of_day: by the close of the Nth working day after the day of the handover (a Friday handover with 2 days is due at Tuesday's close); N is then a whole number.",
    "SQL": "A handed-over lead is an SQL (sales-qualified) by as-of when its sql_at is known by then, or a deal of the lead exists by then (an opportunity has been qualified, even when the CRM never recorded sql_at). Marketing, the Funnel and every SQL count and rate use this one definition.",
    "slice": "A team, owner or channel filter. It selects rows after every link is resolved on the whole data: a deal keeps its lead (and so its marketing-sourced flag), a lead keeps every activity logged on it by anyone, a deal takes its lead's channel (its own only when it has no lead). Leads are selected by their own team, owner and channel; deals by their own team and owner and that channel. The breakdown rows of an additive figure add up to the whole, and a filtered view equals its breakdown row.",
    # The Monday meeting and Marketing's channel table (issue 16)
    "meeting week": "The ISO week the Overview (and the Sales page's week choice) opens on: the week just closed while the current week has barely started, i.e. until the close of its first working day in the agreement's calendar (Monday 17:30 in Berlin for the default agreement; Tuesday's close when Monday is a holiday), then the week in progress. The week picker offers the current week and the 13 before it.",
    "week view": "A week on the Sales page is judged as the Overview judges it: by the agreement version in force at the week's start, rate targets as they are; a closed week whose windows still run is provisional.",
    "change against the previous period": "Marketing's channel table: this period's MQLs and MQL -> SQL rate minus those of the period before (rates in points), both as known at as-of. A channel without MQLs in the period before changes from 0; a rate over no MQLs reads — (no MQLs).",
    "usual share": "A channel's MQLs over the 3 agreement periods before the one shown, divided by all MQLs of those periods (pooled, so a quiet period weighs less). Share vs usual is this period's share of MQLs minus the usual share, in points. A channel quiet this period but active in those periods is listed with 0 MQLs.",
    "records behind a figure": "The leads (or deals) a count, rate or amount counts, from the same evaluation as the figure: a count lists the rows it counts, a rate every lead it judges (met, breached or pending), an amount the deals it adds up. Shown with name, company, owner, channel, handover, due, first touch, status and business hours taken (the commitment's own clock, else the follow-up clock), and the link to the record in its CRM.",
    "CRM link": "The address of a record in its CRM: HubSpot https://{uiDomain}/contacts/{portalId}/record/0-1/{contact id} (0-3 and the deal id for deals), the portal id and UI domain read at each sync; Salesforce {instance URL}/lightning/r/Lead/{id}/view (Opportunity for deals), the instance URL from the sync's login. Imported and demo records have none.",
    "overdue now": "An untouched lead handed over in the last 30 days whose follow-up limit (the agreement in force now) has passed: the overdue rows of the Sales queue, which the rep table's Overdue now counts. The queue's due within choices stop at the limit, where every untouched lead is listed.",
}
# Each metric's definition is its docstring, as Markdown-ready text.
GLOSSARY.update({name: " ".join(m.description.split()).replace("``", "`") for name, m in METRICS.items()})
