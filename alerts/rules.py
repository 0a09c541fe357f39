"""Which alerts are due at an instant: pure, from the follow-up detail of the analytics core.

Nothing here reads a clock, a database or a setting: the agreement's versions, the canonical frames,
the instant and the parameters come in, frames and booleans go out. Business time is the analytics
core's (:func:`analytics.followup.followup_detail` gives each untouched lead's ``hours_left`` in the
business time of its team's calendar); this module only decides what is worth a message.

- *due soon*: an untouched lead whose follow-up window ends within ``lead_time_hours`` business hours;
- *breached*: an untouched lead whose window ran out, at most ``breach_lookback_hours`` business hours
  ago (older breaches were either alerted already or predate the alerts; the daily queue still lists
  them);
- *daily queue*: per team, the untouched leads overdue or due before the end of the local day;
- *weekly digest*: due from the first working day of the week in the agreement's calendar.

>>> import datetime as dt
>>> from analytics.calendar import BusinessCalendar
>>> cal = BusinessCalendar(timezone="Europe/Berlin")
>>> at_work(cal, pd.Timestamp("2026-12-07 09:30", tz="Europe/Berlin")), at_work(cal, pd.Timestamp("2026-12-06 11:00Z"))
(True, False)
>>> first_working_day(cal, dt.date(2026, 12, 9))  # Wednesday -> its week's Monday
datetime.date(2026, 12, 7)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from analytics.agreement import Agreement, AgreementVersion
from analytics.calendar import BusinessCalendar, business_seconds
from analytics.commitments import as_versions, document_in_force
from analytics.followup import followup_detail
from analytics.metrics import as_instant
from errors import AccordError

DUE_SOON, BREACHED, DAILY_QUEUE, WEEKLY_DIGEST = "due_soon", "breached", "daily_queue", "weekly_digest"
KINDS = (DUE_SOON, BREACHED, DAILY_QUEUE, WEEKLY_DIGEST)
DEMO_SOURCE = "demo"
BREACH_LOOKBACK_HOURS = 8.0  # about one working day: a first run does not flood reps with old breaches
ALERT_COLUMNS = [
    "kind", "commitment", "lead_id", "source", "external_id", "owner_id", "owner", "team", "channel",
    "mql_at", "due_at", "hours_left", "window",
]  # fmt: skip


class RuleError(AccordError, ValueError):
    """Alert rules cannot be evaluated with these arguments; the message says which and why."""


def open_leads(frames: Mapping[str, pd.DataFrame], as_of: Any) -> dict[str, pd.DataFrame]:
    """Return ``frames`` with only the leads an alert can be about: handed over and untouched at ``as_of``.

    A touched lead never alerts, and leaving it out spares its business-time arithmetic (most leads are
    touched). The leads frame keeps its columns and dtypes.
    """
    moment = as_instant(as_of)
    leads = frames["leads"]
    handed = leads["mql_at"].notna() & (leads["mql_at"] <= moment)
    untouched = leads["first_touch_at"].isna() | (leads["first_touch_at"] > moment)
    return {**frames, "leads": leads[(handed & untouched).to_numpy(bool, na_value=False)]}


def follow_up_commitments(doc: Agreement) -> list[str]:
    """Return the ids of the agreement's ``followed_up_within`` commitments, in document order."""
    return [c.id for c in doc.commitments if c.metric == "followed_up_within"]


Detail = tuple[
    str, pd.DataFrame, pd.DataFrame
]  # commitment, its follow-up detail, source/external id by lead


def open_details(
    agreement: Agreement | AgreementVersion | Iterable[AgreementVersion],
    frames: Mapping[str, pd.DataFrame],
    as_of: Any,
    *,
    include_demo: bool = False,
) -> list[Detail]:
    """Return per follow-up commitment in force at ``as_of``: its id, the follow-up detail of the open
    (untouched) leads, and their ``source``/``external_id`` by lead id. Demo leads only if ``include_demo``.
    """
    versions = as_versions(agreement)
    moment = as_instant(as_of)
    doc = document_in_force(versions, moment)
    frames = open_leads(frames, moment)
    raw = frames["leads"]
    if not include_demo and "source" in raw.columns:
        frames = {**frames, "leads": raw[(raw["source"] != DEMO_SOURCE).to_numpy(bool, na_value=True)]}
    about = _lead_columns(frames["leads"])
    return [
        (c, followup_detail(versions, frames, moment, commitment=c), about)
        for c in follow_up_commitments(doc)
    ]


def lead_alerts(
    agreement: Agreement | AgreementVersion | Iterable[AgreementVersion],
    frames: Mapping[str, pd.DataFrame],
    as_of: Any,
    *,
    lead_time_hours: float = 1.0,
    breach_lookback_hours: float = BREACH_LOOKBACK_HOURS,
    include_demo: bool = False,
    details: list[Detail] | None = None,
) -> pd.DataFrame:
    """Return the due-soon and breached alerts at ``as_of``, one row per lead and commitment (:data:`ALERT_COLUMNS`).

    For every ``followed_up_within`` commitment of the version in force at ``as_of`` (with its filters):
    ``due_soon`` where the untouched lead has ``0 <= hours_left <= lead_time_hours`` business hours
    left; ``breached`` where ``-breach_lookback_hours <= hours_left < 0``. ``window`` names the clock
    the alert is about (the handover instant, ISO), so a lead handed over again gets new alerts.
    Leads whose ``source`` is ``"demo"`` are left out unless ``include_demo``. Most urgent first.
    ``details`` (from :func:`open_details` of the same arguments) saves computing them again.
    """
    if not lead_time_hours >= 0:
        raise RuleError(f"ACCORD_ALERT_LEAD_TIME must be 0 or more business hours, got {lead_time_hours}")
    if not breach_lookback_hours >= 0:
        raise RuleError(f"breach_lookback_hours must be 0 or more, got {breach_lookback_hours}")
    parts = []
    for commitment, detail, about in details or open_details(
        agreement, frames, as_of, include_demo=include_demo
    ):
        left = detail["hours_left"].to_numpy(dtype="float64", na_value=np.nan)
        with np.errstate(invalid="ignore"):
            soon = (left >= 0) & (left <= lead_time_hours)
            late = (left < 0) & (left >= -breach_lookback_hours)
        chosen = detail[soon | late]
        kinds = np.where(late[soon | late], BREACHED, DUE_SOON)
        parts.append(_alert_frame(chosen, kinds, commitment, about))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in ALERT_COLUMNS})
    alerts = pd.concat(parts, ignore_index=True)
    return alerts.sort_values(["due_at", "lead_id", "commitment"], kind="stable").reset_index(drop=True)


def queue_leads(
    agreement: Agreement | AgreementVersion | Iterable[AgreementVersion],
    frames: Mapping[str, pd.DataFrame],
    as_of: Any,
    *,
    include_demo: bool = False,
    details: list[Detail] | None = None,
) -> pd.DataFrame:
    """Return the untouched leads overdue at ``as_of`` or due before the end of their team's local day.

    Columns as :data:`ALERT_COLUMNS` (``kind`` is ``daily_queue``, ``window`` the local date of the
    lead's calendar); one row per lead and follow-up commitment, most urgent first. ``details`` as
    in :func:`lead_alerts`.
    """
    moment = as_instant(as_of)
    doc = document_in_force(as_versions(agreement), moment)
    parts = []
    for commitment, detail, about in details or open_details(
        agreement, frames, as_of, include_demo=include_demo
    ):
        detail = detail[detail["hours_left"].notna()]
        teams = detail["team"].astype(object).where(detail["team"].notna(), None)
        ends = {t: _day_end(doc.calendar_for(t), moment) for t in teams.unique()}
        today_ends = teams.map(ends).to_numpy(dtype="int64")
        due = detail["due_at"].to_numpy(dtype="datetime64[us]").astype("int64")
        keep = (detail["hours_left"].to_numpy(dtype="float64") < 0) | (due < today_ends)
        chosen = detail[keep]
        parts.append(_alert_frame(chosen, np.full(len(chosen), DAILY_QUEUE), commitment, about))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in ALERT_COLUMNS})
    queue = pd.concat(parts, ignore_index=True)
    return queue.sort_values(["due_at", "lead_id"], kind="stable").reset_index(drop=True)


def at_work(calendar: BusinessCalendar, as_of: Any) -> bool:
    """Whether ``as_of`` lies inside a working window of ``calendar`` (the next second is working time)."""
    moment = as_instant(as_of)
    starts = pd.Series([moment])
    return bool(business_seconds(starts, pd.Series([moment + pd.Timedelta(seconds=1)]), calendar).iloc[0] > 0)


def working_day(calendar: BusinessCalendar, day: dt.date) -> bool:
    """Whether the local date ``day`` of ``calendar`` has working time (a workday that is not a holiday)."""
    start = pd.Timestamp(day, tz=calendar.timezone)
    end = pd.Timestamp(day + dt.timedelta(days=1), tz=calendar.timezone)
    return bool(business_seconds(pd.Series([start]), pd.Series([end]), calendar).iloc[0] > 0)


def first_working_day(calendar: BusinessCalendar, day: dt.date) -> dt.date | None:
    """Return the first working date of the ISO week (Monday to Sunday) holding ``day``; None if it has none."""
    monday = day - dt.timedelta(days=day.weekday())
    for offset in range(7):
        candidate = monday + dt.timedelta(days=offset)
        if working_day(calendar, candidate):
            return candidate
    return None


def local_now(calendar: BusinessCalendar, as_of: Any) -> pd.Timestamp:
    """Return ``as_of`` on the wall clock of ``calendar``'s timezone."""
    return as_instant(as_of).tz_convert(calendar.timezone)


def daily_queue_due(calendar: BusinessCalendar, as_of: Any, at: str) -> str | None:
    """Return the local date (ISO) whose daily queue is due at ``as_of``, or None.

    Due on a working day of ``calendar`` once its local clock shows ``at`` ("HH:MM") or later; the
    ledger keeps it to once a day, so a run that catches up later that day still sends it.

    >>> cal = BusinessCalendar(timezone="Europe/Berlin")
    >>> daily_queue_due(cal, pd.Timestamp("2026-12-07 07:45Z"), "08:30"), daily_queue_due(cal, pd.Timestamp("2026-12-06 09:00Z"), "08:30")
    ('2026-12-07', None)
    """
    local = local_now(calendar, as_of)
    if not working_day(calendar, local.date()) or local.strftime("%H:%M") < _clock(at):
        return None
    return local.date().isoformat()


def weekly_digest_due(calendar: BusinessCalendar, as_of: Any, at: str) -> str | None:
    """Return the ISO week ("2026-W50") whose digest is due at ``as_of``, or None.

    Due from ``at`` local time on the first working day of the week (a holiday Monday moves it to
    Tuesday), and on later working days of the week for a run that catches up; the ledger keeps it to
    once a week.

    >>> cal = BusinessCalendar(timezone="Europe/Berlin", holidays=["2026-12-07"])
    >>> weekly_digest_due(cal, pd.Timestamp("2026-12-07 10:00Z"), "08:00"), weekly_digest_due(cal, pd.Timestamp("2026-12-08 07:30Z"), "08:00")
    (None, '2026-W50')
    """
    local = local_now(calendar, as_of)
    today = local.date()
    first = first_working_day(calendar, today)
    if first is None or today < first or not working_day(calendar, today):
        return None
    if today == first and local.strftime("%H:%M") < _clock(at):
        return None
    year, week, _ = today.isocalendar()
    return f"{year}-W{week:02d}"


def _clock(text: str) -> str:
    try:
        parsed = dt.datetime.strptime(text.strip(), "%H:%M")
    except (ValueError, AttributeError):
        raise RuleError(f"a time of day must be HH:MM (e.g. 08:30), got {text!r}") from None
    return parsed.strftime("%H:%M")


def _day_end(calendar: BusinessCalendar, moment: pd.Timestamp) -> int:
    local = moment.tz_convert(calendar.timezone)
    end = pd.Timestamp(local.date() + dt.timedelta(days=1), tz=calendar.timezone)
    return end.tz_convert("UTC").value // 1000


def _lead_columns(leads: pd.DataFrame) -> pd.DataFrame:
    cols = {"id": leads["id"]}
    for name in ("source", "external_id"):
        cols[name] = leads[name] if name in leads.columns else pd.Series(np.nan, index=leads.index)
    frame = pd.DataFrame(cols).dropna(subset=["id"])
    return frame.drop_duplicates("id").set_index("id")


def _alert_frame(
    detail: pd.DataFrame, kinds: np.ndarray, commitment: str, about: pd.DataFrame
) -> pd.DataFrame:
    ids = detail["lead_id"].to_numpy(dtype="int64")
    info = about.reindex(ids)
    kinds = np.asarray(kinds, dtype=object)
    mql = detail["mql_at"]
    windows = mql.dt.strftime("%Y-%m-%dT%H:%M:%SZ").to_numpy(dtype=object)
    return pd.DataFrame(
        {
            "kind": kinds,
            "commitment": commitment,
            "lead_id": ids,
            "source": info["source"].to_numpy(dtype=object),
            "external_id": info["external_id"].to_numpy(dtype=object),
            "owner_id": detail["owner_id"].to_numpy(),
            "owner": detail["owner"].to_numpy(dtype=object),
            "team": detail["team"].to_numpy(dtype=object),
            "channel": detail["channel"].to_numpy(dtype=object),
            "mql_at": mql.reset_index(drop=True),
            "due_at": detail["due_at"].reset_index(drop=True),
            "hours_left": detail["hours_left"].to_numpy(dtype="float64"),
            "window": windows,
        },
        columns=ALERT_COLUMNS,
    )
