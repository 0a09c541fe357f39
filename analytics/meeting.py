"""The weeks of the Monday meeting: which ISO week the Overview opens on, and which weeks can be chosen.

A week "has barely started" until the close of its first working day in the
agreement's calendar (its workdays, hours, holidays and timezone): before then
the meeting looks back at the week just closed, afterwards at the week in
progress. Pure: the instant is a parameter.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from analytics.agreement import Agreement
from analytics.calendar import end_of_nth_working_day
from analytics.periods import shift_week, week_of, week_row

MEETING_WEEKS = 13  # the weeks before the current one that the Overview's week picker offers (a quarter)


def first_working_day_close(week: str, doc: Agreement) -> pd.Timestamp:
    """Return the UTC instant the first working day of ISO ``week`` closes, in ``doc``'s calendar.

    Holidays and non-working days are skipped, so a week whose Monday is a holiday
    starts working on Tuesday (the close can fall after the week when it has none).

    >>> from analytics.agreement import parse_agreement
    >>> doc = parse_agreement('''{name: A, parties: [s], timezone: Europe/Berlin,
    ...   calendar: {hours: ["09:00", "17:30"]},
    ...   commitments: [{id: c, owner: s, metric: mql_count, target: 1}]}''')
    >>> first_working_day_close("2026-W50", doc)  # Monday 7 December, 17:30 in Berlin
    Timestamp('2026-12-07 16:30:00+0000', tz='UTC')
    """
    calendar = doc.calendar_for(None)
    start = week_row(week, doc.timezone)["period_start"]
    # The n-th working day is counted from the day after the start's local date: start from the Sunday before.
    sunday = pd.Series([start - pd.Timedelta(microseconds=1)])
    return end_of_nth_working_day(sunday, 1, calendar).iloc[0]


def has_barely_started(as_of: Any, doc: Agreement) -> bool:
    """True while the ISO week holding ``as_of`` has not finished its first working day (see the module)."""
    moment = pd.Timestamp(as_of)
    return moment < first_working_day_close(week_of(moment, doc.timezone), doc)


def opening_week(as_of: Any, doc: Agreement) -> str:
    """Return the ISO week the Overview opens on at ``as_of``: the week just closed while the current one has
    barely started (:func:`has_barely_started`), else the current week.

    >>> from analytics.agreement import parse_agreement
    >>> doc = parse_agreement('''{name: A, parties: [s], timezone: UTC,
    ...   commitments: [{id: c, owner: s, metric: mql_count, target: 1}]}''')
    >>> opening_week("2026-12-07T08:00Z", doc), opening_week("2026-12-08T08:00Z", doc)
    ('2026-W49', '2026-W50')
    """
    moment = pd.Timestamp(as_of)
    current = week_of(moment, doc.timezone)
    return shift_week(current, -1) if has_barely_started(moment, doc) else current


def meeting_weeks(as_of: Any, doc: Agreement, weeks: int = MEETING_WEEKS) -> list[str]:
    """Return the current ISO week at ``as_of`` and the ``weeks`` before it, latest first (the week picker)."""
    current = week_of(pd.Timestamp(as_of), doc.timezone)
    return [shift_week(current, -n) for n in range(weeks + 1)]
