"""The rows of the canonical frames that a window of time needs: the one window rule.

For a window ``[start, end)``: deals created or closed in it; leads handed over
in it plus the leads of those deals; activities from ``start`` until
:data:`ACTIVITY_TAIL` after ``end`` (touches after a window still count for the
leads handed over in it); every owner. ``data.frames.read_window`` reads these
rows from the database by the same rule; :func:`cut_window` cuts them from
frames read for a wider window (the dashboard's cache, the Overview's weeks), and
evaluating the cut gives the same figures as evaluating all of the frames.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from analytics.slicing import slice_frames

# Touches after a window still count for the leads handed over in it: limits are far shorter than this.
ACTIVITY_TAIL = pd.Timedelta(days=28)


def cut_window(
    frames: Mapping[str, pd.DataFrame], start: Any, end: Any, tail: pd.Timedelta = ACTIVITY_TAIL
) -> dict[str, pd.DataFrame]:
    """Return the rows of canonical ``frames`` that the window ``[start, end)`` needs (see the module).

    Tables missing from ``frames`` stay missing; other tables are kept whole.
    Sliced frames (:func:`analytics.slicing.slice_frames`) stay sliced: the window
    is cut from the whole frames, then sliced again, so links still resolve on
    the whole data.
    """
    selection = getattr(frames, "selection", None)
    if selection:
        whole = cut_window(frames.whole, start, end, tail)
        return slice_frames(
            whole, teams=selection.teams, owners=selection.owners, channels=selection.channels
        )
    lo, hi = pd.Timestamp(start), pd.Timestamp(end)

    def inside(series: pd.Series, until: pd.Timestamp) -> np.ndarray:
        return ((series >= lo) & (series < until)).to_numpy(dtype=bool, na_value=False)

    out = dict(frames)
    deal_leads = np.empty(0, dtype="int64")
    deals = frames.get("deals")
    if deals is not None:
        deals = deals[inside(deals["created_at"], hi) | inside(deals["closed_at"], hi)]
        out["deals"] = deals
        deal_leads = deals["lead_id"].dropna().to_numpy(dtype="int64")
    leads = frames.get("leads")
    if leads is not None:
        keep = inside(leads["mql_at"], hi)
        if len(deal_leads):
            keep = keep | leads["id"].isin(deal_leads).to_numpy(dtype=bool, na_value=False)
        out["leads"] = leads[keep]
    activities = frames.get("activities")
    if activities is not None:
        out["activities"] = activities[inside(activities["occurred_at"], hi + tail)]
    return out
