"""Follow-up detail: per lead, how long sales took to touch it, in business time, and what is due now.

:func:`followup_detail` lists the handed-over leads with their clock (the same
definition as the ``followed_up_within`` metric: ``mql_at`` -> ``first_touch_at``
in business time of the lead's calendar), the due time, the business hours left
(negative: overdue by) and, where the CRM knows when the owner was assigned, the
split of that clock into routing delay (handover -> owner assigned) and rep
delay (the later of handover and assignment -> first touch); the two add up to
the clock. :func:`followup_queue` is the list a sales manager works from: untouched
leads overdue now or due within the next few business hours. :func:`followup_by`
is the one per-rep (and per-team) follow-up computation, :func:`delays_by` splits
the clock into routing and rep delay per team or rep.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from analytics.agreement import Agreement, AgreementVersion
from analytics.commitments import as_versions, document_in_force
from analytics.groups import ALL, NO_VALUE, UNASSIGNED, check_by, labels
from analytics.metrics import (
    BREACHED,
    HOUR,
    MET,
    PENDING,
    Facts,
    as_instant,
    deadline_status,
    filter_mask,
    prepare_frames,
)
from analytics.periods import to_instant
from errors import AccordError

STATUS_NAMES = {MET: "met", BREACHED: "breached", PENDING: "pending"}
DETAIL_COLUMNS = [
    "lead_id", "owner_id", "owner", "team", "channel", "mql_at", "first_touch_at", "business_hours_taken",
    "limit_hours", "status", "due_at", "hours_left", "routing_hours", "rep_hours",
]  # fmt: skip


class FollowupError(AccordError, ValueError):
    """Follow-up detail cannot be built with these arguments; the message says why."""


def followup_detail(
    agreement: Agreement | AgreementVersion | Iterable[AgreementVersion],
    frames: Mapping[str, pd.DataFrame],
    as_of: Any,
    *,
    business_hours: float | None = None,
    commitment: str | None = None,
    start: Any = None,
    end: Any = None,
) -> pd.DataFrame:
    """Return one row per handed-over lead (columns :data:`DETAIL_COLUMNS`), oldest handover first.

    The limit is ``business_hours`` when given, else that of the
    ``followed_up_within`` commitment ``commitment`` (default: the first one) of
    the agreement version in force at ``as_of``, whose filters then apply too.
    ``start``/``end`` (dates in the agreement's timezone, or instants) keep leads
    handed over in ``[start, end)``.

    ``business_hours_taken``: business hours from handover to first touch (NaN
    if untouched at as_of). ``due_at``: the instant the limit runs out.
    ``hours_left``: business hours left until due at as_of for an untouched lead
    (negative: overdue by that much), NaN once touched. ``routing_hours``:
    handover (``mql_at``) -> owner assigned, 0 when the owner was assigned
    before the handover (nurture time before the handover is marketing's, not
    routing); ``rep_hours``: the later of handover and assignment -> first touch
    (NaN where a side is unknown; 0 when the touch came before the assignment).
    """
    versions = as_versions(agreement)
    moment = as_instant(as_of)
    doc = document_in_force(versions, moment)
    limit_hours, filters = _limit(doc, business_hours, commitment)
    known = prepare_frames(frames, moment)
    leads = known.leads
    keep = filter_mask(Facts(known, doc.calendar_for(None)), "leads", filters)
    if start is not None:
        keep &= (leads["mql_at"] >= to_instant(start, doc.timezone)).to_numpy(bool, na_value=False)
    if end is not None:
        keep &= (leads["mql_at"] < to_instant(end, doc.timezone)).to_numpy(bool, na_value=False)
    # Business time only for the leads asked about.
    facts = Facts(
        replace(known, leads=leads[keep].reset_index(drop=True)), doc.calendar_for(None), doc.team_calendars()
    )
    leads = facts.leads

    limit = limit_hours * HOUR
    taken = facts.seconds_to("first_touch_at")
    elapsed = facts.elapsed()
    status = deadline_status(taken, elapsed, limit)
    touched = ~np.isnan(taken)
    routing = facts.seconds_between(leads["mql_at"], leads["owner_assigned_at"])
    # The rep's clock starts once the lead is both handed over and assigned; unknown if the assignment is.
    rep_start = leads[["mql_at", "owner_assigned_at"]].max(axis=1, skipna=False)
    rep = facts.seconds_between(rep_start, leads["first_touch_at"])
    owners = facts.frames.owners.dropna(subset=["id"]).drop_duplicates("id")
    names = pd.Series(owners["name"].to_numpy(), index=owners["id"].to_numpy(dtype="int64"))
    owner_ids = leads["owner_id"].to_numpy(dtype="float64", na_value=np.nan)
    detail = pd.DataFrame(
        {
            "lead_id": leads["id"],
            "owner_id": leads["owner_id"],
            "owner": pd.Series(names.reindex(owner_ids).to_numpy(), dtype="str"),
            "team": leads["team"],
            "channel": leads["channel"],
            "mql_at": leads["mql_at"],
            "first_touch_at": leads["first_touch_at"],
            "business_hours_taken": taken / HOUR,
            "limit_hours": float(limit_hours),
            "status": pd.Series(
                np.select([status == MET, status == BREACHED], ["met", "breached"], "pending")
            ),
            "due_at": facts.due_at(limit),
            "hours_left": np.where(touched, np.nan, (limit - elapsed) / HOUR),
            "routing_hours": routing / HOUR,
            "rep_hours": rep / HOUR,
        }
    )
    detail = detail.sort_values(["mql_at", "lead_id"], kind="stable")
    return detail.reset_index(drop=True)[DETAIL_COLUMNS]


def followup_queue(detail: pd.DataFrame, within_hours: float = 4.0) -> pd.DataFrame:
    """Return the untouched leads of ``detail`` overdue now or due within ``within_hours`` business hours.

    Most urgent first (earliest ``due_at``); adds ``overdue`` (True when the
    limit has passed). ``detail`` is a :func:`followup_detail` frame.

    >>> d = pd.DataFrame({"lead_id": [1, 2, 3, 4], "hours_left": [-2.0, 3.0, 9.0, np.nan],
    ...                   "due_at": pd.to_datetime(["2026-03-02", "2026-03-05", "2026-03-09", "2026-03-01"], utc=True)})
    >>> followup_queue(d, within_hours=4)[["lead_id", "overdue"]].to_dict("list")
    {'lead_id': [1, 2], 'overdue': [True, False]}
    """
    if within_hours < 0:
        raise FollowupError(f"within_hours must be 0 or more, got {within_hours}")
    left = detail["hours_left"].to_numpy(dtype="float64", na_value=np.nan)
    with np.errstate(invalid="ignore"):
        due_soon = left <= within_hours
    queue = detail[due_soon].assign(overdue=left[due_soon] < 0)
    return queue.sort_values(["due_at", "lead_id"], kind="stable").reset_index(drop=True)


def _limit(doc: Agreement, business_hours: float | None, commitment: str | None) -> tuple[float, tuple]:
    if business_hours is not None:
        if not business_hours > 0:
            raise FollowupError(f"business_hours must be more than 0, got {business_hours}")
        return float(business_hours), ()
    candidates = [c for c in doc.commitments if c.metric == "followed_up_within"]
    if commitment is not None:
        candidates = [c for c in candidates if c.id == commitment]
        if not candidates:
            known = ", ".join(c.id for c in doc.commitments if c.metric == "followed_up_within") or "none"
            raise FollowupError(
                f"no followed_up_within commitment {commitment!r}; follow-up commitments: {known}"
            )
    if not candidates:
        raise FollowupError(
            f"the agreement {doc.name!r} has no followed_up_within commitment; pass business_hours to set a limit"
        )
    chosen = candidates[0]
    return float(chosen.metric_params().business_hours), tuple(chosen.filters.items())


# ----------------------------------------------------------------------------- per rep, per team, delays


def _group_key(detail: pd.DataFrame, by: str | None) -> pd.Series:
    if by is None:
        return pd.Series(ALL, index=detail.index, dtype="str")
    if by == "owner":
        return detail["owner_id"].astype("float64").fillna(-1.0)
    return labels(detail["team"], NO_VALUE).set_axis(detail.index)


def followup_by(detail: pd.DataFrame, *, by: str | None = "owner") -> pd.DataFrame:
    """Return follow-up compliance per rep (``by="owner"``), per team, or overall (``by=None``), worst rate first.

    ``detail`` is a ``followup_detail`` frame. Columns: the group (``owner_id``,
    ``owner``, ``team`` for owners — :data:`UNASSIGNED` for leads without one;
    ``team`` for teams; nothing overall), ``leads``, ``met``, ``breached``,
    ``pending``, ``rate`` (met / (met + breached), as the ``followed_up_within``
    metric), ``median_hours`` and ``p90_hours`` (business hours to first touch
    of the touched leads) and ``overdue_untouched`` (breached and still not
    touched). An owner's team is the most frequent team of their leads.
    """
    check_by(by, (None, "owner", "team"))
    frame = detail.assign(
        _key=_group_key(detail, by),
        _met=detail["status"] == "met",
        _breached=detail["status"] == "breached",
        _pending=detail["status"] == "pending",
        _overdue=(detail["status"] == "breached") & detail["first_touch_at"].isna(),
    )
    grouped = frame.groupby("_key", sort=True)
    out = grouped.agg(
        leads=("_met", "size"), met=("_met", "sum"), breached=("_breached", "sum"),
        pending=("_pending", "sum"), overdue_untouched=("_overdue", "sum"),
        median_hours=("business_hours_taken", "median"),
    )  # fmt: skip
    out["p90_hours"] = grouped["business_hours_taken"].quantile(0.9)  # linear, NaN skipped, as the metric
    decided = out["met"] + out["breached"]
    out["rate"] = (out["met"] / decided.where(decided > 0)).astype("float64")
    counts = ["leads", "met", "breached", "pending", "overdue_untouched"]
    out[counts] = out[counts].astype("int64")
    measures = [
        "leads",
        "met",
        "breached",
        "pending",
        "rate",
        "median_hours",
        "p90_hours",
        "overdue_untouched",
    ]
    if by is None:
        if out.empty:  # still one row: nothing handed over
            out = pd.DataFrame([{m: 0 for m in counts} | {"rate": np.nan, "median_hours": np.nan,
                                                        "p90_hours": np.nan}])  # fmt: skip
        return out.reset_index(drop=True)[measures]
    if by == "team":
        out = out.reset_index().rename(columns={"_key": "team"})
        return _worst_first(out, "team")[["team", *measures]]
    first = frame.groupby("_key")["owner"].first()
    per_team = frame.dropna(subset=["team"]).groupby(["_key", "team"]).size().rename("n").reset_index()
    per_team = per_team.sort_values(["_key", "n", "team"], ascending=[True, False, True], kind="stable")
    teams = per_team.drop_duplicates("_key").set_index("_key")["team"]
    out = out.reset_index()
    ids = out["_key"].to_numpy(dtype="float64")
    out["owner_id"] = pd.array(np.where(ids < 0, np.nan, ids), dtype="Int64")
    out["owner"] = pd.Series(first.reindex(ids).to_numpy(dtype=object), dtype="str").fillna("(unknown owner)")
    out["owner"] = out["owner"].mask(ids < 0, UNASSIGNED)
    out["team"] = pd.Series(teams.reindex(ids).to_numpy(dtype=object), dtype="str")
    return _worst_first(out, "owner")[["owner_id", "owner", "team", *measures]]


def _worst_first(out: pd.DataFrame, label: str) -> pd.DataFrame:
    order = out.sort_values(["rate", "leads", label], ascending=[True, False, True], na_position="last")
    return order.reset_index(drop=True)


def delays_by(detail: pd.DataFrame, *, by: str = "team") -> pd.DataFrame:
    """Return routing delay vs rep delay: an ``All`` row, then one per team (or owner), in business hours.

    ``detail`` is a ``followup_detail`` frame. Columns: ``by``, ``leads``,
    ``routed`` (leads whose assignment time is known), ``routing_median`` /
    ``routing_p90`` (created -> owner assigned), ``rep_median`` / ``rep_p90``
    (assigned -> first touch), ``taken_median`` / ``taken_p90`` (handover ->
    first touch, the SLA clock). NaN where nothing is known.
    """
    check_by(by, ("team", "owner"))
    groups = labels(detail["team"]) if by == "team" else labels(detail["owner"], UNASSIGNED)
    everyone = _delay_stats(detail.assign(_group=ALL)).reindex([ALL])
    everyone[["leads", "routed"]] = everyone[["leads", "routed"]].fillna(0)
    per_group = _delay_stats(detail.assign(_group=groups.to_numpy()))
    out = pd.concat([everyone, per_group]).reset_index(names=by)
    return out.astype({by: "str", "leads": "int64", "routed": "int64"})


def _delay_stats(frame: pd.DataFrame) -> pd.DataFrame:
    """Leads, routed, and median / p90 of each clock per ``_group`` of ``frame`` (groups sorted)."""
    grouped = frame.groupby("_group", sort=True)
    out = pd.DataFrame({"leads": grouped.size(), "routed": grouped["routing_hours"].count()})
    for name, column in (
        ("routing", "routing_hours"),
        ("rep", "rep_hours"),
        ("taken", "business_hours_taken"),
    ):
        out[f"{name}_median"] = grouped[column].median()
        out[f"{name}_p90"] = grouped[column].quantile(0.9)
    return out
