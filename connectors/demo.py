"""Demo data: a seeded, believable B2B company in the canonical tables.

"Lumen Analytics" sells software from Berlin and New York. Two sales teams
(EMEA on Europe/Berlin, Americas on America/New_York) of six reps each, plus
a manager, work the leads that ten marketing channels bring in over the last
~15 months: seasonality (September peak, summer and December dips, growth),
weekday pattern, form fills at night and on weekends, German and US holidays,
reps with habits (fast, slow, weekend-blind, breach-prone, one who left),
accept/reject with reasons, touches, and the deals that follow.

Everything is drawn from one ``numpy`` Generator with vectorised arrays, so the
same ``(leads, seed, today)`` gives identical frames and a million leads take
seconds. Every event is simulated to its natural end and then cut at the start
of ``today`` (00:00 UTC, as if synced overnight): recent leads are still open,
untouched or not yet qualified, exactly as a live CRM would show them.

>>> frames = generate(leads=300, seed=1, today=dt.date(2026, 3, 16))
>>> sorted(frames)
['activities', 'deals', 'leads', 'owners']
>>> len(frames["leads"]), len(frames["owners"])
(300, 13)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analytics.schema import input_columns, validate_frame
from clock import today as clock_today
from errors import AccordError

SOURCE = "demo"
DEFAULT_LEADS = 12_000
DEFAULT_SEED = 7
MONTHS_BACK = 15
LOAD_CHUNK_ROWS = 200_000

DAY = 86_400.0
HOUR = 3_600.0
OPEN_AT, CLOSE_AT = 9 * HOUR, 17.5 * HOUR  # reps' working hours, local time
BUSINESS_DAY = CLOSE_AT - OPEN_AT


class DemoError(AccordError, ValueError):
    """An argument of the demo generator is out of range; the message says which and why."""


# ----------------------------------------------------------------------------- the company


@dataclass(frozen=True)
class Team:
    name: str
    timezone: str
    country: str  # whose public holidays the team takes off
    share: float  # of leads, routed by the lead's region


TEAMS = (
    Team("EMEA", "Europe/Berlin", "DE", 0.56),
    Team("Americas", "America/New_York", "US", 0.44),
)


@dataclass(frozen=True)
class Rep:
    """An owner and the habits that shape their follow-up."""

    name: str
    email: str
    team: str
    habit: str
    median_hours: float = 1.0  # business hours from assignment to first touch
    spread: float = 1.0  # sigma of the log-normal response time
    never: float = 0.004  # share of leads never touched
    after_hours: float = 0.0  # share of evening leads answered the same evening
    weekend_blind: bool = False  # Friday-afternoon and weekend leads wait until Monday noon
    disposition_pace: float = 1.0  # multiplies the time to accept or reject
    leaves_at: float | None = None  # fraction of the period after which the rep is gone


REPS = (
    Rep("Anna Becker", "anna.becker", "EMEA", "fast", 0.3, 0.9, 0.002, 0.5),
    Rep("Lukas Schmidt", "lukas.schmidt", "EMEA", "average", 0.6, 0.9),
    Rep("Sophie Müller", "sophie.mueller", "EMEA", "fast", 0.4, 0.8, 0.002, 0.2),
    Rep("Jonas Weber", "jonas.weber", "EMEA", "weekend-blind", 0.5, 0.9, weekend_blind=True),
    Rep("Marie Fischer", "marie.fischer", "EMEA", "breach-prone", 2.0, 1.1, 0.03, disposition_pace=2.0),
    Rep("Felix Wagner", "felix.wagner", "EMEA", "left the company", 0.7, 0.9, 0.005, leaves_at=0.55),
    Rep("Emily Johnson", "emily.johnson", "Americas", "fast", 0.3, 0.9, 0.002, 0.4),
    Rep("Michael Brown", "michael.brown", "Americas", "slow", 1.5, 0.8, 0.008, disposition_pace=1.5),
    Rep("Jessica Davis", "jessica.davis", "Americas", "average", 0.6, 0.9),
    Rep("David Miller", "david.miller", "Americas", "breach-prone", 2.5, 1.2, 0.04, disposition_pace=2.2),
    Rep("Sarah Wilson", "sarah.wilson", "Americas", "average", 0.7, 0.9),
    Rep("Chris Taylor", "chris.taylor", "Americas", "fast", 0.4, 0.9, 0.003, 0.1),
)
MANAGER = Rep("Katharina Hoffmann", "katharina.hoffmann", "EMEA", "manager")
EMAIL_DOMAIN = "lumen-analytics.example"

SEGMENTS = ("SMB", "Mid-Market", "Enterprise")
LIFECYCLE_STAGES = ("lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer")
LEAD_STATUSES = ("OPEN_DEAL", "CONNECTED", "UNQUALIFIED", "IN_PROGRESS", "ATTEMPTED_TO_CONTACT", "NEW")
# The touches reps log (analytics.schema also allows "note", which the demo does not use).
TOUCH_KINDS = ("call", "email", "meeting", "task")
REJECTION_REASONS = (
    "not_icp",
    "no_budget",
    "duplicate",
    "student_or_job_seeker",
    "unreachable",
    "competitor",
)


@dataclass(frozen=True)
class Channel:
    name: str
    share: float  # of leads in an average month
    mql: float  # share of leads that become MQL
    accept: float  # share of dispositioned MQLs sales accepts
    segments: tuple[float, float, float]  # SMB, Mid-Market, Enterprise
    reasons: tuple[float, ...]  # weights of REJECTION_REASONS
    deal_size: float  # multiplies the segment's deal amount
    win: float  # share of closed deals won
    trend: tuple[float, float] = (1.0, 1.0)  # share multiplier at the start and at the end of the period
    months: dict[int, float] | None = None  # calendar-month multipliers of the share
    campaigns: tuple[tuple[str, float, tuple[int, ...]], ...] = ()  # (name, weight, months or () for all)


# fmt: off
# name, share, mql, accept, segments (SMB, Mid-Market, Enterprise),
# reasons (not_icp, no_budget, duplicate, student_or_job_seeker, unreachable, competitor), deal_size, win, ...
CHANNELS = (
    Channel(
        "Organic Search", 0.23, 0.88, 0.40, (0.55, 0.33, 0.12), (30, 15, 8, 25, 17, 5), 1.0, 0.27,
        campaigns=(("Blog Content", 5, ()), ("Product Pages", 3, ()), ("Comparison Pages", 2, ())),
    ),
    Channel(
        "Paid Search", 0.19, 0.90, 0.34, (0.58, 0.31, 0.11), (32, 18, 10, 15, 20, 5), 0.95, 0.24, (0.8, 1.25),
        campaigns=(("Brand Search", 4, ()), ("Competitor Search", 2, ()), ("Generic Keywords", 4, ())),
    ),
    Channel(
        "Paid Social", 0.11, 0.80, 0.20, (0.68, 0.26, 0.06), (40, 20, 8, 20, 10, 2), 0.8, 0.18, (1.3, 0.8),
        campaigns=(("LinkedIn Lead Gen Forms", 5, ()), ("LinkedIn Retargeting", 3, ()), ("Meta Retargeting", 2, ())),
    ),
    Channel(
        "Social", 0.10, 0.85, 0.26, (0.62, 0.29, 0.09), (33, 16, 6, 30, 12, 3), 0.85, 0.21,
        campaigns=(("LinkedIn Organic", 6, ()), ("Customer Stories Series", 4, ())),
    ),
    Channel(
        "Email Marketing", 0.09, 0.92, 0.30, (0.50, 0.35, 0.15), (25, 30, 15, 5, 22, 3), 1.0, 0.25,
        campaigns=(("Monthly Newsletter", 4, ()), ("Nurture Track", 5, ()), ("Product Launch Email", 6, (3, 9))),
    ),
    Channel("Direct Traffic", 0.08, 0.93, 0.45, (0.50, 0.34, 0.16), (28, 17, 12, 13, 20, 10), 1.05, 0.28),
    Channel(
        "Webinars", 0.06, 0.90, 0.38, (0.45, 0.38, 0.17), (30, 22, 8, 15, 22, 3), 1.0, 0.26,
        months={7: 1.8, 8: 1.6, 9: 1.8, 12: 0.5},
        campaigns=(
            ("Q3 Webinar Series", 12, (7, 8, 9)),
            ("Product Demo Webinar", 5, ()),
            ("Customer Panel Webinar", 3, ()),
        ),
    ),
    Channel(
        "Events", 0.05, 0.94, 0.44, (0.30, 0.42, 0.28), (35, 15, 10, 5, 30, 5), 1.2, 0.30,
        months={1: 0.4, 3: 2.0, 6: 2.4, 7: 0.4, 8: 0.3, 9: 2.2, 11: 2.0, 12: 0.3},
        campaigns=(
            ("Field Roadshow", 2, ()),
            ("SaaStr Europa", 10, (6,)),
            ("Dreamforce Booth", 10, (9,)),
            ("Web Summit", 10, (11,)),
            ("Spring Partner Summit", 8, (3,)),
        ),
    ),
    Channel(
        "Referrals", 0.05, 0.95, 0.60, (0.40, 0.40, 0.20), (20, 20, 35, 3, 17, 5), 1.15, 0.38,
        campaigns=(("Customer Referral Program", 1, ()),),
    ),
    Channel(
        "Partners", 0.04, 0.95, 0.55, (0.30, 0.42, 0.28), (22, 18, 30, 2, 13, 15), 1.25, 0.34, (0.6, 1.4),
        campaigns=(("Reseller Program", 6, ()), ("Technology Partners", 4, ())),
    ),
)
# fmt: on

# Lead volume by calendar month (September peak, summer and December dips) and weekday.
MONTH_VOLUME = dict(enumerate((1.0, 1.02, 1.06, 1.0, 0.97, 0.95, 0.86, 0.8, 1.12, 1.05, 1.03, 0.8), start=1))
WEEKDAY_VOLUME = (1.15, 1.2, 1.15, 1.05, 0.85, 0.28, 0.3)
GROWTH = (0.92, 1.08)  # volume multiplier at the start and at the end of the period
# Reps answer slower when they are busy or on holiday (August, December) and in the autumn peak.
MONTH_LOAD = {8: 1.35, 9: 1.15, 10: 1.2, 12: 1.3}

DEAL_MEDIAN_EUR = {"SMB": 9_000.0, "Mid-Market": 32_000.0, "Enterprise": 110_000.0}
DEAL_CYCLE_DAYS = {"SMB": 15.0, "Mid-Market": 32.0, "Enterprise": 65.0}  # business days, median
DEAL_SHARE = {"SMB": 0.36, "Mid-Market": 0.42, "Enterprise": 0.48}  # of SQLs that become a deal
WIN_BY_SEGMENT = {"SMB": 1.08, "Mid-Market": 1.0, "Enterprise": 0.85}
ACCEPT_BY_SEGMENT = {"SMB": 0.9, "Mid-Market": 1.05, "Enterprise": 1.15}
OPEN_STAGES = (
    "appointmentscheduled",
    "qualifiedtobuy",
    "presentationscheduled",
    "decisionmakerboughtin",
    "contractsent",
)
SALES_SOURCED_SHARE = 0.07  # deals without a lead, per lead-sourced deal
PLANS = {"SMB": "Starter plan", "Mid-Market": "Growth plan", "Enterprise": "Enterprise plan"}

# fmt: off
COMPANY_STEMS = (
    "Nordwind", "Bluepeak", "Kestrel", "Alpenglow", "Harborline", "Ironleaf", "Lumio", "Quantra",
    "Riverton", "Solvex", "Tandem", "Vireo", "Wexford", "Zenith", "Brightline", "Cobalt", "Deltaforge",
    "Evergreen", "Falkenrot", "Granite", "Helios", "Isarwerk", "Juniper", "Kaltenbach", "Larkspur",
    "Meridian", "Northgate", "Oakridge", "Polaris", "Quillon", "Redwood", "Seabright", "Tessaract", "Umbra",
    "Vantage", "Waldhaus",
)
# fmt: on
COMPANY_KINDS = ("Logistics", "Health", "Software", "Manufacturing", "Energy", "Retail", "Finance", "Labs")
COMPANY_FORMS = {"EMEA": ("GmbH", "AG", "B.V.", "Ltd"), "Americas": ("Inc.", "LLC", "Corp.", "Inc.")}
# The people behind the demo's leads: fictitious names at reserved ".example" domains (RFC 2606), made from
# each lead's number, not drawn from the random stream (the demo's figures stay what they were).
# fmt: off
FIRST_NAMES = (
    "Anna", "Ben", "Clara", "Daniel", "Elena", "Felix", "Greta", "Hugo", "Ines", "Jonas", "Kira", "Lukas",
    "Maya", "Noah", "Olivia", "Paul", "Rosa", "Samuel", "Tara", "Victor", "Wanda", "Yusuf", "Zoe", "Aaron",
    "Bianca", "Carlos", "Diana", "Emil", "Fiona", "Gavin", "Hanna", "Ivan", "Julia", "Karl", "Lena", "Marco",
    "Nina", "Oscar", "Priya", "Quentin",
)
LAST_NAMES = (
    "Adler", "Baker", "Castillo", "Dorn", "Ellis", "Fischer", "Garcia", "Hartmann", "Ivers", "Jansen",
    "Keller", "Lindqvist", "Moreau", "Novak", "Ortega", "Peters", "Quinn", "Reyes", "Schulz", "Turner",
    "Ueda", "Vogel", "Walsh", "Xavier", "Young", "Ziegler", "Brandt", "Carter", "Diaz", "Engel", "Foster",
    "Graf", "Hughes", "Jung", "Kowalski", "Lang", "Meyer", "Nolan", "Olsen", "Price",
)
# fmt: on


# ----------------------------------------------------------------------------- holidays


def easter_sunday(year: int) -> dt.date:
    """Easter Sunday of ``year`` (Gregorian calendar, anonymous algorithm).

    >>> easter_sunday(2026)
    datetime.date(2026, 4, 5)
    """
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = (a + 11 * h + 22 * m) // 451
    month, day = divmod(h + m - 7 * n + 114, 31)
    return dt.date(year, month, day + 1)


def german_holidays(year: int) -> list[dt.date]:
    """Germany's nationwide public holidays in ``year``, in date order.

    >>> [d.isoformat() for d in german_holidays(2026)][:4]
    ['2026-01-01', '2026-04-03', '2026-04-06', '2026-05-01']
    """
    easter = easter_sunday(year)
    movable = [easter + dt.timedelta(days=n) for n in (-2, 1, 39, 50)]
    fixed = [dt.date(year, m, d) for m, d in ((1, 1), (5, 1), (10, 3), (12, 25), (12, 26))]
    return sorted(fixed + movable)


def us_holidays(year: int) -> list[dt.date]:
    """US federal holidays most companies close on in ``year`` (observed dates), plus the day after Thanksgiving.

    >>> [d.isoformat() for d in us_holidays(2026)][-3:]
    ['2026-11-26', '2026-11-27', '2026-12-25']
    """

    def nth_weekday(month: int, weekday: int, n: int) -> dt.date:
        first = dt.date(year, month, 1)
        return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))

    def last_weekday(month: int, weekday: int) -> dt.date:
        last = dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)
        return last - dt.timedelta(days=(last.weekday() - weekday) % 7)

    def observed(day: dt.date) -> dt.date:
        shift = {5: -1, 6: 1}.get(day.weekday(), 0)
        return day + dt.timedelta(days=shift)

    thanksgiving = nth_weekday(11, 3, 4)
    days = [
        observed(dt.date(year, 1, 1)),
        nth_weekday(1, 0, 3),  # Martin Luther King Jr. Day
        nth_weekday(2, 0, 3),  # Presidents' Day
        last_weekday(5, 0),  # Memorial Day
        observed(dt.date(year, 6, 19)),
        observed(dt.date(year, 7, 4)),
        nth_weekday(9, 0, 1),  # Labor Day
        thanksgiving,
        thanksgiving + dt.timedelta(days=1),
        observed(dt.date(year, 12, 25)),
    ]
    return sorted(days)


def team_holidays(team: str, years: range | list[int]) -> list[dt.date]:
    """The public holidays the demo ``team`` ("EMEA" or "Americas") takes off in ``years``."""
    country = {t.name: t.country for t in TEAMS}.get(team)
    if country is None:
        raise DemoError(f"unknown demo team {team!r}; teams are {', '.join(t.name for t in TEAMS)}")
    per_year = german_holidays if country == "DE" else us_holidays
    return [day for year in years for day in per_year(year)]


# ----------------------------------------------------------------------------- business time


class _Clock:
    """One team's working time (Mon-Fri, 09:00-17:30 local, no holidays) as a cumulative scale.

    Instants are float seconds since the epoch (UTC; NaN = none). ``to_business``
    maps an instant to the business seconds elapsed since the first working day;
    ``from_business`` maps back (to the opening of the next working day when it
    falls on a day boundary). The scale runs 60 days past the cut-off; beyond
    that ``from_business`` extrapolates and ``to_business`` saturates, which
    only ever concerns instants the generator then drops as "not yet happened".
    """

    def __init__(self, team: Team, first: dt.date, last: dt.date):
        days = pd.date_range(first, last, freq="D")
        noon = (days + pd.Timedelta(hours=12)).tz_localize(team.timezone)
        offsets = (noon.tz_localize(None) - noon.tz_convert("UTC").tz_localize(None)).total_seconds()
        self.base = float(pd.Timestamp(first, tz="UTC").timestamp())
        self.offsets = np.asarray(offsets, dtype=float)  # local minus UTC, per day (taken at noon)
        holidays = pd.DatetimeIndex(team_holidays(team.name, range(first.year, last.year + 1)))
        self.workday = np.asarray((days.day_of_week < 5) & ~days.isin(holidays))
        midnight = self.base + DAY * np.arange(len(days)) - self.offsets
        self.opens = (midnight + OPEN_AT)[self.workday]
        self.cum = BUSINESS_DAY * np.arange(len(self.opens), dtype=float)

    def to_business(self, t: np.ndarray) -> np.ndarray:
        k = np.searchsorted(self.opens, np.nan_to_num(t, nan=0.0), side="right") - 1
        inside = np.clip(t - self.opens[np.maximum(k, 0)], 0.0, BUSINESS_DAY)
        return np.where(np.isnan(t), np.nan, np.where(k < 0, 0.0, self.cum[np.maximum(k, 0)] + inside))

    def from_business(self, b: np.ndarray) -> np.ndarray:
        k = np.maximum(np.searchsorted(self.cum, np.nan_to_num(b, nan=0.0), side="right") - 1, 0)
        return np.where(np.isnan(b), np.nan, self.opens[k] + (b - self.cum[k]))

    def next_open(self, t: np.ndarray) -> np.ndarray:
        k = np.searchsorted(self.opens, np.nan_to_num(t, nan=0.0), side="right")
        return np.where(np.isnan(t), np.nan, self.opens[np.minimum(k, len(self.opens) - 1)])

    def local(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(weekday Mon=0, hour of day, is working day) of each instant in the team's timezone."""
        day = np.clip(((t - self.base) // DAY), 0, len(self.offsets) - 1).astype(np.int64)
        local = t + self.offsets[day]
        local_day = np.clip(((local - self.base) // DAY), 0, len(self.offsets) - 1).astype(np.int64)
        weekday = ((local // DAY).astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
        return weekday, (local % DAY) / HOUR, self.workday[local_day]


# ----------------------------------------------------------------------------- generation


def resolve_today(today: dt.date | None) -> dt.date:
    """``today``, or the clock's date when None: the one place the demo reads the clock."""
    return clock_today() if today is None else today


def period(today: dt.date) -> tuple[dt.date, dt.datetime]:
    """The demo's first day (the 1st of the month ``MONTHS_BACK`` months before ``today``'s) and its cut-off.

    >>> period(dt.date(2026, 3, 16))
    (datetime.date(2024, 12, 1), datetime.datetime(2026, 3, 16, 0, 0, tzinfo=datetime.timezone.utc))
    """
    months = today.year * 12 + today.month - 1 - MONTHS_BACK
    first = dt.date(months // 12, months % 12 + 1, 1)
    return first, dt.datetime.combine(today, dt.time(0, 0), tzinfo=dt.UTC)


def generate(
    leads: int = DEFAULT_LEADS, seed: int = DEFAULT_SEED, today: dt.date | None = None
) -> dict[str, pd.DataFrame]:
    """Canonical frames "owners", "leads", "deals", "activities" of the demo company.

    Frames carry every column of :data:`analytics.schema.COLUMNS` with its dtype,
    surrogate ids 1..n, ``owner_id``/``lead_id``/``team`` resolved, ``source``
    "demo" and external ids unique per table. ``leads`` is the number of lead
    rows; there are 13 owners and, by default, about 3 activities per MQL and a
    deal for ~40% of SQLs. The same ``(leads, seed, today)`` gives identical
    frames; data ends at 00:00 UTC of ``today`` (default: the clock's date).
    """
    if isinstance(leads, bool) or not isinstance(leads, int | np.integer) or leads < 1:
        raise DemoError(f"demo: leads must be a whole number of at least 1, got {leads!r}")
    today = resolve_today(today)
    if not isinstance(today, dt.date) or isinstance(today, dt.datetime):
        raise DemoError(f"demo: today must be a datetime.date, got {today!r}")
    return _Company(int(leads), np.random.default_rng(seed), today).frames()


class _Company:
    """The simulation: per-lead arrays built in steps, then turned into frames."""

    def __init__(self, n: int, rng: np.random.Generator, today: dt.date):
        self.n, self.rng = n, rng
        self.first, cutoff = period(today)
        self.cutoff = cutoff.timestamp()
        self.start = pd.Timestamp(self.first, tz="UTC").timestamp()
        self.clocks = [
            _Clock(team, self.first - dt.timedelta(days=120), today + dt.timedelta(days=60)) for team in TEAMS
        ]
        self.days = pd.date_range(self.first, today - dt.timedelta(days=1), freq="D")
        self.month_index = np.asarray(
            (self.days.year - self.first.year) * 12 + self.days.month - self.first.month
        )
        self.months = int(self.month_index[-1]) + 1
        self.owners = (*REPS, MANAGER)
        self.leave_at = {i: self._leave_time(rep) for i, rep in enumerate(REPS) if rep.leaves_at is not None}

    def _leave_time(self, rep: Rep) -> float:
        clock = self.clocks[_team_index(rep.team)]
        moment = self.start + rep.leaves_at * (self.cutoff - self.start)
        return float(clock.next_open(np.array([moment]))[0] + 8 * HOUR)  # the last working day, 17:00

    # -- arrival -------------------------------------------------------------------------

    def arrivals(self) -> None:
        """Region (team), day and time of each lead's arrival: mql_at for MQLs, created_at otherwise."""
        n, rng = self.n, self.rng
        team = (rng.random(n) >= TEAMS[0].share).astype(np.int64)
        span = np.linspace(0.0, 1.0, len(self.days))
        base = (
            (GROWTH[0] + (GROWTH[1] - GROWTH[0]) * span)
            * np.array([MONTH_VOLUME[m] for m in self.days.month])
            * np.array(WEEKDAY_VOLUME)[self.days.day_of_week]
            * rng.lognormal(0.0, 0.04, self.months)[self.month_index]  # months differ, not only by season
            * rng.lognormal(0.0, 0.12, len(self.days))
        )
        day = np.empty(n, dtype=np.int64)
        for t, clock in enumerate(self.clocks):
            holiday = (self.days.day_of_week < 5) & ~_day_flags(clock, self.first, len(self.days))
            weights = base * np.where(holiday, 0.4, 1.0)
            members = np.flatnonzero(team == t)
            day[members] = rng.choice(len(self.days), size=len(members), p=weights / weights.sum())
        weekend = np.asarray(self.days.day_of_week >= 5)[day]
        hour = _time_of_day(rng, n, weekend)
        offsets = np.where(team == 0, self.clocks[0].offsets[self._clock_day(0, day)], 0.0)
        offsets = np.where(team == 1, self.clocks[1].offsets[self._clock_day(1, day)], offsets)
        at = np.floor(self.start + day * DAY + hour * HOUR - offsets)
        at = np.where(at >= self.cutoff, at - DAY, at)  # a late-evening lead of the last day, west of UTC
        self.team, self.day, self.arrival = team, day, at

    def _clock_day(self, t: int, day: np.ndarray) -> np.ndarray:
        return day + int(round((self.start - self.clocks[t].base) / DAY))

    def marketing(self) -> None:
        """Channel, campaign, segment, whether and when each lead became an MQL, and created_at."""
        n, rng = self.n, self.rng
        month = self.month_index[self.day]
        calendar_month = np.asarray(self.days.month)[self.day]
        progress = np.linspace(0.0, 1.0, self.months)
        shares = np.array(
            [
                [
                    c.share
                    * (c.trend[0] + (c.trend[1] - c.trend[0]) * p)
                    * (c.months or {}).get((self.first.month - 1 + m) % 12 + 1, 1.0)
                    for c in CHANNELS
                ]
                for m, p in enumerate(progress)
            ]
        )
        channel = _choose(rng, shares, month)
        segment = _choose(rng, np.array([c.segments for c in CHANNELS]), channel)
        campaign = np.full(n, -1, dtype=np.int64)
        names: list[str] = []
        for c, spec in enumerate(CHANNELS):
            if not spec.campaigns:
                continue
            members = np.flatnonzero(channel == c)
            table = np.array(
                [
                    [w if not months or cm in months else 0.0 for _, w, months in spec.campaigns]
                    for cm in range(1, 13)
                ]
            )
            picked = _choose(rng, table, calendar_month[members] - 1)
            campaign[members] = picked + len(names)
            names.extend(name for name, _, _ in spec.campaigns)
        is_mql = rng.random(n) < np.array([c.mql for c in CHANNELS])[channel]
        kind = _choose(rng, [0.45, 0.35, 0.20], n=n)
        lag = np.select(
            [kind == 0, kind == 1],
            [rng.uniform(0, 90, n), rng.lognormal(np.log(DAY), 1.0, n)],
            rng.lognormal(np.log(25 * DAY), 0.7, n),
        )
        self.channel, self.segment, self.campaign, self.campaign_names = channel, segment, campaign, names
        self.mql_at = np.where(is_mql, self.arrival, np.nan)
        self.created_at = np.where(is_mql, np.floor(self.arrival - lag), self.arrival)

    def order_by_creation(self) -> None:
        """Renumber leads by created_at, so lead ids (and the activities that follow them) are chronological."""
        order = np.argsort(self.created_at, kind="stable")
        for name in ("team", "day", "arrival", "channel", "segment", "campaign", "mql_at", "created_at"):
            setattr(self, name, getattr(self, name)[order])

    # -- sales ---------------------------------------------------------------------------

    def routing(self) -> None:
        """owner_assigned_at (routing delay) and the owner: round-robin within the team, a few reassigned."""
        n, rng = self.n, self.rng
        kind = _choose(rng, [0.82, 0.15, 0.03], n=n)
        delay = np.select(
            [kind == 0, kind == 1],
            [rng.lognormal(np.log(240), 0.8, n), rng.lognormal(np.log(2400), 0.6, n)],
            rng.lognormal(np.log(3 * HOUR), 0.7, n),
        )
        assigned = np.floor(self.mql_at + delay)
        owner = np.full(n, -1, dtype=np.int64)
        for t, team in enumerate(TEAMS):
            members = [i for i, rep in enumerate(REPS) if rep.team == team.name]
            idx = np.flatnonzero((self.team == t) & ~np.isnan(assigned))
            idx = idx[np.argsort(assigned[idx], kind="stable")]
            leavers = [i for i in members if i in self.leave_at]
            cut = min((self.leave_at[i] for i in leavers), default=np.inf)
            for group, reps in (
                (idx[assigned[idx] < cut], members),
                (idx[assigned[idx] >= cut], [i for i in members if i not in leavers]),
            ):
                pool = np.array(reps)
                turn = pool[np.arange(len(group)) % len(pool)]
                moved = rng.random(len(group)) < 0.04  # manual reassignments break the rotation
                owner[group] = np.where(moved, pool[rng.integers(0, len(pool), len(group))], turn)
        self.assigned_at, self.owner = assigned, owner
        leave = np.full(len(REPS) + 1, self.cutoff)
        for i, at in self.leave_at.items():
            leave[i] = min(at, self.cutoff)
        self.lead_cut = np.where(owner >= 0, leave[owner], self.cutoff)  # nothing happens after the rep left

    def follow_up(self) -> None:
        """first_touch_at by each rep's habit, in their team's business time."""
        n, rng = self.n, self.rng
        owner = np.maximum(self.owner, 0)
        median = np.array([r.median_hours for r in REPS] + [1.0])[owner]
        spread = np.array([r.spread for r in REPS] + [1.0])[owner]
        month = np.clip(self.month_index[self.day], 0, self.months - 1)
        load = self.rng.lognormal(0.0, 0.22, (len(TEAMS), self.months))
        calendar_month = (self.first.month - 1 + np.arange(self.months)) % 12 + 1
        load = load * np.array([MONTH_LOAD.get(int(m), 1.0) for m in calendar_month])
        self.load = load[self.team, month]  # per lead: how busy its team was that month
        response = rng.lognormal(np.log(median * HOUR * self.load), spread)
        at = self.assigned_at
        touch = self._add_business(at, response)
        # Same-evening replies by reps who answer after hours, and Monday-noon replies by the weekend-blind.
        weekday, hour, workday = self._local(at)
        after = np.array([r.after_hours for r in REPS] + [0.0])[owner]
        evening = workday & (hour >= CLOSE_AT / HOUR) & (hour < 21) & (rng.random(n) < after)
        touch = np.where(evening, at + np.minimum(rng.exponential(1200, n), 3000), touch)
        blind = np.array([r.weekend_blind for r in REPS] + [False])[owner]
        friday_on = blind & (((weekday == 4) & (hour >= 13)) | (weekday >= 5))
        monday_noon = self._next_open(at) + 3 * HOUR + rng.exponential(2400, n)
        touch = np.where(friday_on, monday_noon, touch)
        never = rng.random(n) < np.array([r.never for r in REPS] + [0.0])[owner]
        self.planned_touch = np.where((self.owner >= 0) & ~never, np.floor(touch), np.nan)

    def disposition(self) -> None:
        """Accept or reject after the first touch (1-3 business days, some late), with reasons."""
        n, rng = self.n, self.rng
        owner = np.maximum(self.owner, 0)
        pace = np.array([r.disposition_pace for r in REPS] + [1.0])[owner]
        delay = rng.lognormal(np.log(0.6 * BUSINESS_DAY * pace * self.load), 0.7)
        delay = np.where(rng.random(n) < 0.07, delay * rng.uniform(3, 8, n), delay)
        when = self._add_business(self.planned_touch, np.maximum(delay, 600))
        accept = np.array([c.accept for c in CHANNELS])[self.channel]
        accept = accept * np.array([ACCEPT_BY_SEGMENT[s] for s in SEGMENTS])[self.segment]
        accepted = rng.random(n) < accept
        reason = _choose(rng, np.array([c.reasons for c in CHANNELS], dtype=float), self.channel)
        sloppy = np.isin(self.owner, [i for i, r in enumerate(REPS) if r.habit == "breach-prone"])
        reason = np.where(sloppy & (rng.random(n) < 0.35), REJECTION_REASONS.index("unreachable"), reason)
        self.planned_disposition = np.floor(when)
        self.planned_accept = accepted
        self.reason = reason

    def activities(self) -> None:
        """Touches per lead (the first at first_touch_at), cut at rejection and at the data's end."""
        rng = self.rng
        touched = np.flatnonzero(~np.isnan(self.planned_touch))
        accepted = self.planned_accept[touched]
        count = np.where(accepted, 2 + rng.poisson(2.5, len(touched)), 1 + rng.poisson(1.1, len(touched)))
        lead = np.repeat(touched, count)
        total = len(lead)
        starts = np.repeat(np.cumsum(count) - count, count)
        order = np.arange(total) - starts
        gap = np.where(
            order == 0, 0.0, np.maximum(rng.lognormal(np.log(0.6 * BUSINESS_DAY), 1.0, total), 300)
        )
        cum = np.cumsum(gap)
        offset = cum - np.repeat(cum[np.cumsum(count) - count], count)
        first = self.planned_touch[lead]
        occurred = np.where(order == 0, first, np.floor(self._add_business(first, offset, self.team[lead])))
        rejected_early = ~self.planned_accept[lead] & (occurred > self.planned_disposition[lead])
        keep = (occurred < self.lead_cut[lead]) & ~rejected_early
        # first touch: call or email; later ones: meetings mostly for accepted leads
        kinds = np.array([[0.55, 0.45, 0.0, 0.0], [0.43, 0.37, 0.05, 0.15], [0.34, 0.29, 0.22, 0.15]])
        kind = _choose(rng, kinds, np.where(order == 0, 0, np.where(self.planned_accept[lead], 2, 1)))
        self.act_lead, self.act_at, self.act_kind = lead[keep], occurred[keep], kind[keep]
        self.touches = np.bincount(self.act_lead, minlength=self.n)

    def outcome(self) -> None:
        """The lead's state at the cut-off: first touch, disposition, SQL."""
        cut = self.lead_cut
        self.first_touch = np.where(self.planned_touch < cut, self.planned_touch, np.nan)
        done = self.planned_disposition < cut
        self.disposition_at = np.where(done, self.planned_disposition, np.nan)
        self.accepted = done & self.planned_accept
        self.rejected = done & ~self.planned_accept
        self.sql_at = np.where(self.accepted, self.disposition_at, np.nan)
        self.owner_known = self.assigned_at < self.cutoff

    def deals(self) -> None:
        """Deals from ~40% of SQLs plus a few sales-sourced ones; stage by progress at the cut-off."""
        rng = self.rng
        sqls = np.flatnonzero(self.accepted)
        share = np.array([DEAL_SHARE[s] for s in SEGMENTS])[self.segment[sqls]]
        lead = sqls[rng.random(len(sqls)) < share]
        m = len(lead)
        lag = rng.lognormal(np.log(1.5 * BUSINESS_DAY), 0.9, m)
        created = np.floor(self._add_business(self.sql_at[lead], lag, self.team[lead]))
        kept = created < self.lead_cut[lead]
        lead, created = lead[kept], created[kept]
        extra = int(round(SALES_SOURCED_SHARE * len(lead)))
        regular = np.array([i for i, r in enumerate(REPS) if r.leaves_at is None] + [len(REPS)])
        extra_owner = np.where(
            rng.random(extra) < 0.3, len(REPS), regular[rng.integers(0, len(regular), extra)]
        )
        extra_team = np.array([_team_index(o.team) for o in self.owners])[extra_owner]
        extra_created = np.full(extra, np.nan)
        for t, clock in enumerate(self.clocks):
            lo, hi = clock.to_business(np.array([self.start, self.cutoff]))
            at = clock.from_business(rng.uniform(lo, hi, extra))
            extra_created = np.where(extra_team == t, np.floor(at), extra_created)

        owner = np.concatenate([self.owner[lead], extra_owner])
        team = np.concatenate([self.team[lead], extra_team])
        segment = np.concatenate([self.segment[lead], _choose(rng, [0.4, 0.4, 0.2], n=extra)])
        channel = np.concatenate([self.channel[lead], np.full(extra, -1)])
        created = np.concatenate([created, extra_created])
        k = len(owner)
        seg_names = np.array(SEGMENTS)[segment]
        win = np.concatenate([np.array([c.win for c in CHANNELS])[self.channel[lead]], np.full(extra, 0.27)])
        won = rng.random(k) < win * np.array([WIN_BY_SEGMENT[s] for s in seg_names])
        cycle = rng.lognormal(np.log([DEAL_CYCLE_DAYS[s] for s in seg_names]), 0.55) * BUSINESS_DAY
        cycle = np.where(won, cycle, cycle * rng.uniform(0.3, 1.0, k))
        closes = np.floor(self._add_business(created, cycle, team))
        elapsed = self._add_business(created, np.zeros(k), team, until=np.full(k, self.cutoff))
        progress = elapsed / cycle
        cut = np.concatenate([self.lead_cut[lead], np.full(extra, self.cutoff)])
        closed = closes < cut
        stage_open = np.clip((progress * len(OPEN_STAGES)).astype(np.int64), 0, len(OPEN_STAGES) - 1)
        stage = np.where(closed, np.where(won, len(OPEN_STAGES), len(OPEN_STAGES) + 1), stage_open)
        mult = np.concatenate([np.array([c.deal_size for c in CHANNELS])[self.channel[lead]], np.ones(extra)])
        amount = rng.lognormal(np.log([DEAL_MEDIAN_EUR[s] for s in seg_names]), 0.55) * mult
        self.deal = {
            "lead": np.concatenate([lead, np.full(extra, -1)]),
            "owner": owner,
            "team": team,
            "segment": segment,
            "channel": channel,
            "created": created,
            "closed": np.where(closed, closes, np.nan),
            "is_closed": closed,
            "is_won": closed & won,
            "stage": stage,
            "amount": np.maximum(np.round(amount, -2), 500.0),
            "company": rng.integers(0, len(COMPANY_STEMS) * len(COMPANY_KINDS) * 4, k),
        }

    # -- business time -------------------------------------------------------------------

    def _add_business(
        self,
        start: np.ndarray,
        seconds: np.ndarray,
        team: np.ndarray | None = None,
        until: np.ndarray | None = None,
    ) -> np.ndarray:
        """``start`` plus ``seconds`` of each row's team's business time (NaN stays NaN).

        With ``until``: instead the business seconds from ``start`` to ``until``.
        """
        team = self.team if team is None else team
        out = np.full(len(start), np.nan)
        for t, clock in enumerate(self.clocks):
            rows = np.flatnonzero(team == t)
            begin = clock.to_business(start[rows])
            if until is None:
                out[rows] = clock.from_business(begin + seconds[rows])
            else:
                out[rows] = clock.to_business(until[rows]) - begin
        return out

    def _local(self, at: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(weekday, hour, is working day) of each lead's instant in its team's timezone."""
        weekday, hour = np.zeros(len(at), dtype=np.int64), np.zeros(len(at))
        workday = np.zeros(len(at), dtype=bool)
        for t, clock in enumerate(self.clocks):
            rows = np.flatnonzero(self.team == t)
            weekday[rows], hour[rows], workday[rows] = clock.local(np.nan_to_num(at[rows], nan=self.start))
        return weekday, hour, workday

    def _next_open(self, at: np.ndarray) -> np.ndarray:
        out = np.full(len(at), np.nan)
        for t, clock in enumerate(self.clocks):
            rows = np.flatnonzero(self.team == t)
            out[rows] = clock.next_open(at[rows])
        return out

    # -- frames --------------------------------------------------------------------------

    def frames(self) -> dict[str, pd.DataFrame]:
        """Run the simulation steps in order and return the four canonical frames."""
        self.arrivals()
        self.marketing()
        self.order_by_creation()
        self.routing()
        self.follow_up()
        self.disposition()
        self.activities()
        self.outcome()
        self.deals()
        return {
            "owners": self._owners_frame(),
            "leads": self._leads_frame(),
            "deals": self._deals_frame(),
            "activities": self._activities_frame(),
        }

    def _owners_frame(self) -> pd.DataFrame:
        n = len(self.owners)
        updated = np.array([self.leave_at.get(i, self.start) for i in range(n)])
        frame = pd.DataFrame(
            {
                "id": pd.array(np.arange(1, n + 1), dtype="Int64"),
                "source": _const(SOURCE, n),
                "external_id": pd.Series([f"owner-{i:02d}" for i in range(1, n + 1)], dtype="str"),
                "name": pd.Series([o.name for o in self.owners], dtype="str"),
                "email": pd.Series([f"{o.email}@{EMAIL_DOMAIN}" for o in self.owners], dtype="str"),
                "team": pd.Series([o.team for o in self.owners], dtype="str"),
                "active": pd.array([i not in self.leave_at for i in range(n)], dtype="boolean"),
                "updated_at": _timestamps(updated),
            }
        )
        return validate_frame(frame, "owners")

    def _leads_frame(self) -> pd.DataFrame:
        n = self.n
        self.lead_width = _id_width(n)

        owner = np.where(self.owner_known, self.owner, -1)
        has_deal = np.zeros(n, dtype=bool)
        won = np.zeros(n, dtype=bool)
        deal_lead = self.deal["lead"]
        linked = deal_lead >= 0
        has_deal[deal_lead[linked]] = True
        won[deal_lead[linked & self.deal["is_won"]]] = True
        is_mql = ~np.isnan(self.mql_at)
        stage = np.select([won, has_deal, self.accepted, is_mql], [4, 3, 2, 1], 0)  # LIFECYCLE_STAGES
        touched = ~np.isnan(self.first_touch)
        status = np.select(
            [has_deal, self.accepted, self.rejected, touched & (self.touches > 2), touched, is_mql],
            [0, 1, 2, 3, 4, 5],
            -1,
        )
        disposition = np.select([self.accepted, self.rejected], [1, 2], 0)
        reason = np.where(self.rejected, self.reason, -1)
        deal_at = np.full(n, np.nan)  # a lead has at most one deal
        deal_at[deal_lead[linked]] = np.fmax(self.deal["created"], self.deal["closed"])[linked]
        last_touch = np.full(n, np.nan)
        lead = self.act_lead
        ends = (
            np.flatnonzero(np.r_[lead[1:] != lead[:-1], True]) if len(lead) else np.array([], dtype=np.int64)
        )
        last_touch[lead[ends]] = self.act_at[ends]  # activities run by lead, in time order
        updated = self.created_at
        for moment in (self.mql_at, np.where(self.owner_known, self.assigned_at, np.nan), last_touch):
            updated = np.fmax(updated, moment)
        updated = np.fmax(np.fmax(updated, self.disposition_at), deal_at)
        team_names = [t.name for t in TEAMS]
        owner_team = np.array([_team_index(o.team) for o in self.owners] + [-1])[owner]
        columns = {
            "id": pd.array(np.arange(1, n + 1), dtype="Int64"),
            "source": _const(SOURCE, n),
            "external_id": _ids("lead-", np.arange(1, n + 1), self.lead_width),
            "created_at": _timestamps(self.created_at),
            "mql_at": _timestamps(self.mql_at),
            "sql_at": _timestamps(self.sql_at),
            "owner_id": _nullable_int(owner + 1, owner < 0),
            "owner_external_id": _labels(owner, [f"owner-{i:02d}" for i in range(1, len(self.owners) + 1)]),
            "owner_assigned_at": _timestamps(np.where(self.owner_known, self.assigned_at, np.nan)),
            "team": _labels(owner_team, team_names),
            "channel": _labels(self.channel, [c.name for c in CHANNELS]),
            "campaign": _labels(self.campaign, self.campaign_names),
            "lifecycle_stage": _labels(stage, LIFECYCLE_STAGES),
            "lead_status": _labels(status, LEAD_STATUSES),
            "first_touch_at": _timestamps(self.first_touch),
            "touches": pd.array(self.touches, dtype="Int64"),
            "disposition": _labels(disposition, ["open", "accepted", "rejected"]),
            "disposition_at": _timestamps(self.disposition_at),
            "rejection_reason": _labels(reason, REJECTION_REASONS),
            "segment": _labels(self.segment, SEGMENTS),
            "archived": pd.array(np.zeros(n, dtype=bool), dtype="boolean"),
            "updated_at": _timestamps(updated),
            **self._people(n, owner_team),
        }
        return validate_frame(pd.DataFrame(columns), "leads")

    def _people(self, n: int, owner_team: np.ndarray) -> dict[str, pd.Series]:
        """Fictitious name, company and e-mail of each lead, from its number (no draw from the random stream).

        A lead with a deal works at the deal's company.
        """
        number = np.arange(n, dtype=np.int64)
        first = (number * 7) % len(FIRST_NAMES)
        last = (number * 13 + number // len(FIRST_NAMES)) % len(LAST_NAMES)
        stems, kinds = len(COMPANY_STEMS), len(COMPANY_KINDS)
        company = (number * 31 + number // 97) % (stems * kinds * 4)
        linked = self.deal["lead"] >= 0
        company[self.deal["lead"][linked]] = self.deal["company"][linked]
        team = np.where(owner_team < 0, self.team, owner_team)
        forms = np.array([COMPANY_FORMS[t.name] for t in TEAMS])  # team x form
        form = company // (stems * kinds)
        companies = [
            f"{COMPANY_STEMS[s]} {COMPANY_KINDS[k]} {forms[t, f]}"
            for t in range(len(TEAMS)) for f in range(4) for k in range(kinds) for s in range(stems)
        ]  # fmt: skip
        code = ((team * 4 + form) * kinds + (company // stems) % kinds) * stems + company % stems
        people = [f"{a} {b}" for a in FIRST_NAMES for b in LAST_NAMES]
        mails = [
            f"{a.lower()}.{b.lower()}@{s.lower()}.example"
            for s in COMPANY_STEMS
            for a in FIRST_NAMES
            for b in LAST_NAMES
        ]
        person = first * len(LAST_NAMES) + last
        return {
            "name": _labels(person, people),
            "company": _labels(code, companies),
            "email": _labels((company % stems) * len(people) + person, mails),
        }

    def _deals_frame(self) -> pd.DataFrame:
        d = self.deal
        order = np.argsort(d["created"], kind="stable")
        k = len(order)
        lead = d["lead"][order]  # -1: a sales-sourced deal
        owner = d["owner"][order]
        team_of = np.array([_team_index(o.team) for o in self.owners])
        forms = np.array([COMPANY_FORMS[t.name] for t in TEAMS])  # team x form
        company = d["company"][order]
        stem = company % len(COMPANY_STEMS)
        kind = (company // len(COMPANY_STEMS)) % len(COMPANY_KINDS)
        form = forms[d["team"][order], company // (len(COMPANY_STEMS) * len(COMPANY_KINDS))]
        plans = np.array([PLANS[s] for s in SEGMENTS])[d["segment"][order]]
        what = np.where(lead >= 0, plans, "Expansion")
        names = [
            f"{COMPANY_STEMS[s]} {COMPANY_KINDS[c]} {f} – {w}"
            for s, c, f, w in zip(stem.tolist(), kind.tolist(), form.tolist(), what.tolist(), strict=True)
        ]
        stages = (*OPEN_STAGES, "closedwon", "closedlost")
        updated = np.fmax(d["created"][order], d["closed"][order])
        frame = pd.DataFrame(
            {
                "id": pd.array(np.arange(1, k + 1), dtype="Int64"),
                "source": _const(SOURCE, k),
                "external_id": _ids("deal-", np.arange(1, k + 1), _id_width(k)),
                "name": pd.Series(names, dtype="str"),
                "created_at": _timestamps(d["created"][order]),
                "closed_at": _timestamps(d["closed"][order]),
                "amount": d["amount"][order].astype("float64"),
                "currency": _const("EUR", k),
                "stage": _labels(d["stage"][order], stages),
                "pipeline": _const("default", k),
                "is_closed": pd.array(d["is_closed"][order], dtype="boolean"),
                "is_won": pd.array(d["is_won"][order], dtype="boolean"),
                "owner_id": pd.array(owner + 1, dtype="Int64"),
                "owner_external_id": _labels(
                    owner, [f"owner-{i:02d}" for i in range(1, len(self.owners) + 1)]
                ),
                "team": _labels(team_of[owner], [t.name for t in TEAMS]),
                "channel": _labels(d["channel"][order], [c.name for c in CHANNELS]),
                "lead_id": _nullable_int(lead + 1, lead < 0),
                "lead_external_id": _ids("lead-", lead + 1, self.lead_width),
                "archived": pd.array(np.zeros(k, dtype=bool), dtype="boolean"),
                "updated_at": _timestamps(updated),
            }
        )
        return validate_frame(frame, "deals")

    def _activities_frame(self) -> pd.DataFrame:
        lead, owner = self.act_lead, self.owner[self.act_lead]  # by lead, in time order within a lead
        k = len(lead)
        frame = pd.DataFrame(
            {
                "id": pd.array(np.arange(1, k + 1), dtype="Int64"),
                "source": _const(SOURCE, k),
                "external_id": _ids("activity-", np.arange(1, k + 1), _id_width(k)),
                "lead_id": pd.array(lead + 1, dtype="Int64"),
                "lead_external_id": _ids("lead-", lead + 1, self.lead_width),
                "owner_id": pd.array(owner + 1, dtype="Int64"),
                "owner_external_id": _labels(
                    owner, [f"owner-{i:02d}" for i in range(1, len(self.owners) + 1)]
                ),
                "kind": _labels(self.act_kind, TOUCH_KINDS),
                "occurred_at": _timestamps(self.act_at),
                "archived": pd.array(np.zeros(k, dtype=bool), dtype="boolean"),
            }
        )
        return validate_frame(frame, "activities")


# ----------------------------------------------------------------------------- loading


def load_demo(
    engine,
    leads: int = DEFAULT_LEADS,
    seed: int = DEFAULT_SEED,
    today: dt.date | None = None,
    reset: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, int]:
    """Generate the demo company and upsert it through :mod:`data.upserts`; returns rows written per table.

    ``reset`` first deletes every ``source="demo"`` row. Without it, loading
    again upserts the same rows (no duplicates) -- but a load with another
    ``today``, ``leads`` or ``seed`` leaves behind the earlier rows whose ids the
    new one does not reuse, so refresh the demo with ``reset=True``. See
    :func:`write_frames` for ``progress``.
    """
    from data import upserts  # connectors -> data; imported here so generate() needs no database

    frames = generate(leads=leads, seed=seed, today=resolve_today(today))
    if reset:
        upserts.delete_source(engine, SOURCE)
    cases = lifecycle_cases(frames, seed)
    counts = write_frames(engine, cases.frames, progress)
    recycled = recycled_handovers(frames, seed)
    counts["handovers"] = upserts.replace_handovers(engine, recycled)
    # The CRM's later changes, through the paths a sync takes: merges fold the duplicates into their
    # survivors (activities and all), moved deals take their new lead and its channel.
    counts["leads"] -= upserts.merge_leads(engine, SOURCE, cases.merges)
    if not cases.moves.empty:
        upserts.upsert_deals(engine, cases.moves)
    return counts


RECYCLED_SHARE = 0.03  # of rejected leads old enough, marketing re-qualifies this many later


def recycled_handovers(frames: dict[str, pd.DataFrame], seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """Handovers of the demo's recycled leads: both handovers of each, for ``replace_handovers``.

    About :data:`RECYCLED_SHARE` of the leads sales rejected at least 60 days before the data ends come
    back 30 to 90 days after their rejection as a new MQL (same lead, a second handover that nobody
    has touched yet, so its own clock runs). Deterministic for the same frames and ``seed``; the
    frames themselves are not changed.
    """
    leads = frames["leads"]
    rng = np.random.default_rng([seed, 19])  # its own stream: generate()'s draws stay as they were
    end = leads["updated_at"].max()
    decided = leads["disposition_at"]
    old_enough = (leads["disposition"] == "rejected").to_numpy(bool, na_value=False) & (
        decided < end - pd.Timedelta(days=60)
    ).to_numpy(bool, na_value=False)
    rows = np.flatnonzero(old_enough & (rng.random(len(leads)) < RECYCLED_SHARE))
    back = decided.iloc[rows] + pd.to_timedelta(rng.uniform(30, 90, len(rows)).round(3), unit="D")
    back = back.dt.floor("min")
    keep = (back < end).to_numpy()
    chosen, back = leads.iloc[rows[keep]], back[keep]
    first = pd.DataFrame(
        {
            "source": chosen["source"].to_numpy(),
            "lead_external_id": chosen["external_id"].to_numpy(),
            "mql_at": chosen["mql_at"].to_numpy(),
            "recycled": False,
        }
    )
    second = first.assign(mql_at=back.to_numpy(), recycled=True)
    return pd.concat([first, second], ignore_index=True)


MERGED_SHARE = 0.004  # of leads, a second contact of the same person that the CRM later merges
MOVED_SHARE = 0.02  # of marketing-sourced deals, moved to another lead of another channel
MOVED_MAX = 500  # a few hundred show every path; more would only slow a big demo down
ARCHIVED_SHARE = 0.01  # of open deals, deleted (archived) in the CRM


@dataclass(frozen=True)
class LifecycleCases:
    """The demo's merges, moved deals and archived deals (see :func:`lifecycle_cases`)."""

    frames: dict[str, pd.DataFrame]  # as written: duplicates included, deals before their move
    merges: dict[str, list[str]]  # survivor lead external id -> the duplicate merged into it
    moves: pd.DataFrame  # source, external_id, lead_external_id, channel: each moved deal's new link


def lifecycle_cases(frames: dict[str, pd.DataFrame], seed: int = DEFAULT_SEED) -> LifecycleCases:
    """The frames to write before the CRM's later changes, and those changes; ``frames`` is not changed.

    - **Merges.** About :data:`MERGED_SHARE` of the leads get a duplicate contact (same person, a
      second form fill an hour later, id ``<lead>-dup``) that took the lead's activities from that
      hour on; merging it into the lead gives the lead back every activity, and one MQL.
    - **Moved deals.** About :data:`MOVED_SHARE` of the deals with a lead (at most :data:`MOVED_MAX`) are written on their lead,
      then moved to another lead of the same owner and another channel, handed over before the deal
      was opened and without a deal of its own; the deal takes that lead's channel.
    - **Archived deals.** About :data:`ARCHIVED_SHARE` of the open deals (at least one) are archived: they leave
      every figure.

    Deterministic for the same frames and ``seed`` (its own random stream).
    """
    rng = np.random.default_rng([seed, 1919])
    leads, deals, activities = frames["leads"], frames["deals"], frames["activities"]

    pick = np.flatnonzero(leads["mql_at"].notna().to_numpy() & (rng.random(len(leads)) < MERGED_SHARE))
    survivors = leads.iloc[pick]
    hour = pd.Timedelta(hours=1)
    dups = survivors.assign(
        external_id=survivors["external_id"] + "-dup",
        created_at=survivors["created_at"] + hour,
        mql_at=survivors["mql_at"] + hour,
    )
    dups["id"] = pd.array(np.arange(len(leads) + 1, len(leads) + len(dups) + 1), dtype="Int64")
    merges = dict(zip(survivors["external_id"].tolist(), ([d] for d in dups["external_id"]), strict=True))
    later = dict(zip(survivors["external_id"], survivors["mql_at"] + hour, strict=True))
    theirs = np.flatnonzero(activities["lead_external_id"].isin(list(later)).to_numpy(bool, na_value=False))
    since = activities["lead_external_id"].iloc[theirs].map(later)
    taken = theirs[(activities["occurred_at"].iloc[theirs] >= since).to_numpy(bool, na_value=False)]
    activities = activities.copy()
    at = activities.index[taken]
    activities.loc[at, "lead_external_id"] = activities.loc[at, "lead_external_id"] + "-dup"

    mql = leads.set_index("external_id")
    with_lead = np.flatnonzero(deals["lead_external_id"].notna().to_numpy())
    chosen = with_lead[rng.random(len(with_lead)) < MOVED_SHARE][:MOVED_MAX]
    free = mql[mql["mql_at"].notna() & ~mql.index.isin(deals["lead_external_id"].dropna())]
    # Plain arrays per owner (a frame filtered per deal costs seconds for a big demo); taken marks used leads.
    by_owner = {
        owner: (g.index.to_numpy(), g["channel"].to_numpy(str), g["mql_at"].to_numpy("datetime64[us]"),
                np.zeros(len(g), dtype=bool))
        for owner, g in free.groupby("owner_external_id", sort=False)
    }  # fmt: skip
    moves = []
    picked = deals.iloc[chosen]
    created_at = picked["created_at"].dt.tz_convert(None).to_numpy("datetime64[us]")
    for deal, owner, channel, created in zip(picked["external_id"].tolist(), picked["owner_external_id"].tolist(),
                                             picked["channel"].tolist(), created_at, strict=True):  # fmt: skip
        if owner not in by_owner:
            continue
        ids, channels, mql_at, used = by_owner[owner]
        fits = np.flatnonzero(~used & (channels != channel) & (mql_at < created))
        if not len(fits):
            continue
        best = fits[np.argmax(mql_at[fits])]  # the latest such lead: the one sales would plausibly confuse
        used[best] = True
        moves.append((SOURCE, deal, ids[best], channels[best]))
    moves = pd.DataFrame(moves, columns=["source", "external_id", "lead_external_id", "channel"]).astype(
        "str"
    )

    open_deals = np.flatnonzero(~deals["is_closed"].to_numpy(bool, na_value=False))
    archived = rng.choice(open_deals, size=min(len(open_deals), max(1, round(ARCHIVED_SHARE * len(open_deals)))),
                          replace=False)  # fmt: skip
    deals = deals.copy()
    deals.loc[deals.index[archived], "archived"] = True

    written = {**frames, "leads": pd.concat([leads, dups], ignore_index=True), "deals": deals,
               "activities": activities}  # fmt: skip
    return LifecycleCases(written, merges, moves)


def write_frames(
    engine, frames: dict[str, pd.DataFrame], progress: Callable[[str, int, int], None] | None = None
) -> dict[str, int]:
    """Upsert canonical ``frames`` (as :func:`generate` returns them) table by table; returns rows per table.

    Big tables go in chunks of ``LOAD_CHUNK_ROWS`` rows, each its own transaction,
    and ``progress(table, rows_done, rows_total)`` is called after each chunk.
    """
    from data import upserts

    writers = {
        "owners": upserts.upsert_owners,
        "leads": upserts.upsert_leads,
        "deals": upserts.upsert_deals,
        "activities": upserts.upsert_activities,
    }
    counts = {}
    for table, write in writers.items():
        frame = frames[table]
        columns = input_columns(table)
        total = len(frame)
        for start in range(0, total, LOAD_CHUNK_ROWS):
            write(engine, frame.iloc[start : start + LOAD_CHUNK_ROWS][columns])
            if progress is not None:
                progress(table, min(start + LOAD_CHUNK_ROWS, total), total)
        if total == 0 and progress is not None:
            progress(table, 0, 0)
        counts[table] = total
    return counts


# ----------------------------------------------------------------------------- array helpers


def _team_index(name: str) -> int:
    return [t.name for t in TEAMS].index(name)


def _day_flags(clock: _Clock, first: dt.date, days: int) -> np.ndarray:
    """Whether each of ``days`` days from ``first`` is a working day of ``clock``'s team."""
    offset = (first - (dt.date(1970, 1, 1) + dt.timedelta(seconds=clock.base))).days
    return clock.workday[offset : offset + days]


def _time_of_day(rng: np.random.Generator, n: int, weekend: np.ndarray) -> np.ndarray:
    """Local hour of arrival: office-hours peaks, evening form fills, a few at night."""
    part = _choose(rng, [0.42, 0.36, 0.15, 0.07], n=n)
    weekday_hour = np.select(
        [part == 0, part == 1, part == 2],
        [rng.normal(10.5, 1.2, n), rng.normal(14.5, 1.4, n), rng.normal(20.0, 1.6, n)],
        rng.uniform(0, 24, n),
    )
    weekend_hour = np.where(rng.random(n) < 0.8, rng.uniform(8, 23, n), rng.uniform(0, 24, n))
    return np.mod(np.where(weekend, weekend_hour, weekday_hour), 24)


def _choose(
    rng: np.random.Generator, weights, group: np.ndarray | None = None, n: int | None = None
) -> np.ndarray:
    """For each row, an index drawn with ``weights[group[row]]`` (or the one weight vector, ``n`` times).

    Rows of ``weights`` need not sum to 1. All rows are drawn in one pass: each
    group's cumulative shares are shifted by the group number, so a single
    ``searchsorted`` over the flattened table serves every group.
    """
    table = np.atleast_2d(np.asarray(weights, dtype=float))
    if group is None:
        group = np.zeros(n, dtype=np.int64)
    cum = np.cumsum(table, axis=1)
    cum = cum / np.where(cum[:, -1:] > 0, cum[:, -1:], 1.0)
    width = table.shape[1]
    flat = (cum + np.arange(len(table))[:, None]).ravel()
    picked = np.searchsorted(flat, group + rng.random(len(group)), side="right") - group * width
    return np.clip(picked, 0, width - 1)


def _timestamps(seconds: np.ndarray) -> pd.Series:
    """Whole epoch seconds as floats (NaN = missing) as a ``datetime64[us, UTC]`` series."""
    return pd.Series(np.asarray(seconds, dtype=float).astype("M8[s]").astype("M8[us]")).dt.tz_localize("UTC")


def _labels(codes: np.ndarray, labels) -> pd.Series:
    """Codes into ``labels`` (-1 = missing) as a "str" series, decoded by Arrow (fast at millions of rows)."""
    codes = np.asarray(codes, dtype=np.int32)
    dictionary = pa.array(list(labels), pa.large_string())
    decoded = pa.DictionaryArray.from_arrays(pa.array(codes, mask=codes < 0), dictionary).dictionary_decode()
    return pd.Series(pd.array(decoded, dtype="str"))


def _const(value: str, n: int) -> pd.Series:
    return _labels(np.zeros(n, dtype=np.int32), [value])


def _id_width(n: int) -> int:
    return max(6, len(str(n)))


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pd.Series:
    """``prefix`` + each number zero-padded to ``width`` (e.g. lead-000001); numbers below 1 are missing."""
    numbers = np.asarray(numbers, dtype=np.int64)
    digits = pa.array(numbers, mask=numbers < 1).cast(pa.large_string())
    padded = pc.utf8_lpad(digits, width=width, padding="0")
    joined = pc.binary_join_element_wise(
        pa.scalar(prefix, pa.large_string()), padded, pa.scalar("", pa.large_string())
    )
    return pd.Series(pd.array(joined, dtype="str"))


def _nullable_int(values: np.ndarray, missing: np.ndarray) -> pd.array:
    return pd.arrays.IntegerArray(
        np.where(missing, 0, values).astype(np.int64), np.asarray(missing, dtype=bool)
    )
