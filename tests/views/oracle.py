"""Slow, obvious figures computed row by row from the frames, for the view tests (no code of the views)."""

from __future__ import annotations

import pandas as pd

from analytics.agreement import Agreement, AgreementVersion
from tests.analytics.conftest import slow_business_seconds

UNASSIGNED = "(unassigned)"


def version_at(versions: list[AgreementVersion], moment: pd.Timestamp) -> Agreement:
    """The document in force at ``moment``: the newest version effective by then, else the earliest."""
    ordered = sorted(versions, key=lambda v: (pd.Timestamp(v.effective_from), v.version))
    started = [v for v in ordered if pd.Timestamp(v.effective_from) <= moment]
    return (started[-1] if started else ordered[0]).document


def handed_over(frames, start, end, as_of) -> list:
    """The leads handed over in [start, end) as known at ``as_of``, one namedtuple each (archived left out)."""
    out = []
    for lead in frames["leads"].itertuples():
        if (not pd.isna(lead.archived) and bool(lead.archived)) or pd.isna(lead.mql_at):
            continue
        if start <= lead.mql_at < end and lead.mql_at <= as_of:
            out.append(lead)
    return out


def follow_up_by_rep(versions, frames, start, end, as_of) -> dict[str, dict[str, int]]:
    """Per rep name: met / breached / pending of the first touch, judged by the version in force at ``start``."""
    doc = version_at(versions, start)
    speed = next(c for c in doc.commitments if c.metric == "followed_up_within")
    limit = speed.params["business_hours"] * 3600
    names = dict(zip(frames["owners"]["id"].astype(int), frames["owners"]["name"], strict=True))
    out: dict[str, dict[str, int]] = {}
    for lead in handed_over(frames, start, end, as_of):
        calendar = doc.calendar_for(lead.team if lead.team in doc.teams else None)
        touched = not pd.isna(lead.first_touch_at) and lead.first_touch_at <= as_of
        if touched:
            status = (
                "met"
                if slow_business_seconds(lead.mql_at, lead.first_touch_at, calendar) <= limit
                else "breached"
            )
        else:
            status = "breached" if slow_business_seconds(lead.mql_at, as_of, calendar) > limit else "pending"
        rep = UNASSIGNED if pd.isna(lead.owner_id) else names[int(lead.owner_id)]
        counts = out.setdefault(rep, {"met": 0, "breached": 0, "pending": 0})
        counts[status] += 1
    return out


def rate(counts: dict[str, int]) -> float:
    decided = counts["met"] + counts["breached"]
    return counts["met"] / decided if decided else float("nan")
