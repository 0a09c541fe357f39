"""The Marketing page's history: its figures over the periods before the one shown, as small frames.

The MQL -> SQL trend (one row per period from the oldest offered) and the channel volumes of the period
before and of the :data:`analytics.mix.USUAL_PERIODS` before it. Two builders give the same
:class:`HistoryFigures`: ``views.marketing.history_from_frames`` (the pandas engine, the oracle) and
``data.aggregates.history_figures`` (aggregate queries in the database), so the page never reads the
history's rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from analytics import mix
from analytics.periods import period_of

TREND_METRIC = "mql_to_sql_rate"


@dataclass(frozen=True)
class HistoryFigures:
    """The history of one period, slice and as-of instant.

    ``trend``: the ``evaluate`` rows of :data:`TREND_METRIC` per period (:func:`analytics.commitments.rows_for`),
    oldest first; ``previous`` and ``usual``: channel volumes (:func:`analytics.mix.volume_table`) of the
    period before and of the usual periods pooled.
    """

    trend: pd.DataFrame
    previous: pd.DataFrame
    usual: pd.DataFrame


def earlier_windows(doc: Any, period_start: pd.Timestamp) -> tuple[tuple, tuple]:
    """Return (label, start, end) of the period before the one starting at ``period_start``, and (first label,
    start, last label) of the :data:`analytics.mix.USUAL_PERIODS` before it, in ``doc``'s periods."""
    rows = []
    start = period_start
    for _ in range(mix.USUAL_PERIODS):
        row = period_of(start - pd.Timedelta(microseconds=1), doc.period, doc.timezone)
        rows.append((str(row["period"]), row["period_start"], row["period_end"]))
        start = row["period_start"]
    return rows[0], (rows[-1][0], rows[-1][1], rows[0][0])


def history_window(doc: Any, history_start: pd.Timestamp, period_start, period_end, as_of) -> tuple:
    """Return the [start, end) of the frames the history needs: from the older of ``history_start`` and the
    usual periods' start to the later of ``period_end`` and just after ``as_of`` (a deal of a lead handed
    over in the window, created after it but by as_of, makes the lead an SQL)."""
    _, usual = earlier_windows(doc, period_start)
    return min(pd.Timestamp(history_start), usual[1]), max(
        pd.Timestamp(period_end), pd.Timestamp(as_of) + pd.Timedelta(microseconds=1)
    )
