"""The canonical frames of a window of time: which rows and columns a page, a report or a view reads.

One rule, one home (:mod:`analytics.windows`): leads handed over in ``[start, end)``
plus the leads of its deals, deals created or closed in it, activities until
:data:`ACTIVITY_TAIL` after it, every owner. :func:`read_window` reads it from the
database; :func:`cut_window` (the pure rule itself) cuts it from frames read for a
wider window (the dashboard's cache, the Overview's weeks), giving the same rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from analytics.schema import BOOL, COLUMNS, FLOAT, INT, STR, UTC_TS
from analytics.windows import ACTIVITY_TAIL, cut_window
from data import queries
from data.transactions import transaction

__all__ = ["ACTIVITY_TAIL", "ANALYTICS_COLUMNS", "all_columns", "cut_window", "read_window"]
# The columns the analytics read (metrics.prepare_frames, followup, funnel, snapshots, the views): the
# source system's own ids, lifecycle text and update times are left unread (a fifth less reading time, a quarter
# less memory on 15 months of the 1M-lead demo).
# tests/reports/test_weeks.py checks every figure is the same as on complete frames.
ANALYTICS_COLUMNS: dict[str, tuple[str, ...]] = {
    "leads": ("id", "external_id", "created_at", "mql_at", "sql_at", "owner_id", "owner_external_id",
              "owner_assigned_at", "team", "channel", "campaign", "first_touch_at", "disposition",
              "disposition_at", "rejection_reason", "segment", "archived"),
    "deals": ("id", "created_at", "closed_at", "amount", "is_closed", "is_won", "owner_id", "owner_external_id",
              "team", "channel", "lead_id", "archived"),
    "activities": ("id", "lead_id", "owner_id", "kind", "occurred_at", "archived"),
}  # fmt: skip


def read_window(engine: Engine, start: pd.Timestamp, end: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """Return the canonical frames of ``[start, end)`` read from the database: the one window rule.

    Leads handed over in the window plus the leads of its deals, deals created
    or closed in it, activities until :data:`ACTIVITY_TAIL` after it, every
    owner. Only the :data:`ANALYTICS_COLUMNS` are read; the frames still carry
    every canonical column, the others all missing.
    """
    read = ANALYTICS_COLUMNS
    # One transaction: the four frames see the same rows. The repeat handovers every read keys its rows
    # by are read once (at a million leads each reading costs more than a month's deals).
    with transaction(engine) as conn:
        repeats = queries.repeat_handovers(conn)
        leads = queries.read_leads(
            conn, start, end, with_deal_leads=True, columns=read["leads"], repeats=repeats
        )
        deals = queries.read_deals(conn, start, end, columns=read["deals"], repeats=repeats)
        activities = queries.read_activities(
            conn, start, end + ACTIVITY_TAIL, columns=read["activities"], repeats=repeats
        )
        return {
            "owners": queries.read_owners(conn),
            "leads": all_columns(leads, "leads"),
            "deals": all_columns(deals, "deals"),
            "activities": all_columns(activities, "activities"),
        }


def all_columns(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """``frame`` with every canonical column of ``table``, in canonical order; those it lacks all missing.

    >>> list(all_columns(pd.DataFrame({"id": pd.array([1], dtype="Int64")}), "owners").columns)[:3]
    ['id', 'source', 'external_id']
    """
    spec = COLUMNS[table]
    missing = {
        name: pd.Series(_MISSING[dtype], index=frame.index, dtype=dtype)
        for name, dtype in spec.items()
        if name not in frame.columns
    }
    return frame.assign(**missing)[list(spec)] if missing else frame


_MISSING = {UTC_TS: pd.NaT, STR: np.nan, INT: pd.NA, FLOAT: np.nan, BOOL: pd.NA}
