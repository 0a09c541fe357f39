"""Breakdowns behind the Marketing, Sales and Funnel pages, and agreements with metrics tracked without a target.

- Marketing: volumes (MQLs, SQLs, sourced pipeline), acceptance and rejection
  reasons by channel or campaign (:func:`volume_by`, :func:`acceptance_by`,
  :func:`rejection_reasons`, :func:`reasons_table`).
- Sales: follow-up per rep or team and routing vs rep delay, from a
  :func:`analytics.followup.followup_detail` frame (:func:`followup_by`,
  :func:`delays_by`); the overdue queue as a table (:func:`queue_table`).
- Agreements extended with metrics *tracked without a target*
  (:func:`with_tracked`), so a page can show SQLs or won revenue through
  :func:`analytics.commitments.evaluate` even when no commitment measures them,
  and the rows of one metric in an evaluation (:func:`rows_for`).

The definitions are those of :mod:`analytics.metrics`: a lead counts in the window
of its handover (``mql_at``), a deal in the window of its ``created_at``, and
everything is as known at ``as_of`` (:func:`analytics.metrics.prepare_frames`:
a disposition decided after ``as_of`` is still open). Windows ``[start, end)``
are dates read in the agreement's timezone, or instants. Charts of these frames
are in :mod:`analytics.breakdown_charts`, their wording in :mod:`analytics.wording`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from analytics.agreement import Agreement, AgreementVersion, Commitment
from analytics.commitments import as_versions, document_in_force
from analytics.metrics import METRICS, Frames, as_instant, positions, prepare_frames, reached_sql
from analytics.periods import to_instant
from analytics.schema import validate_frame

BREAKDOWN_FIELDS: tuple[str, ...] = ("channel", "campaign", "team", "segment")
NO_VALUE = "(none)"
NO_REASON = "(no reason given)"
UNASSIGNED = "(unassigned)"
ALL = "All"
QUEUE_DAYS = 30  # the overdue queue looks at leads handed over in the last 30 days
_NO_ID = np.iinfo(np.int64).min


class BreakdownError(ValueError):
    """A breakdown cannot be built with these arguments; the message says which and why."""


# --- agreements with tracked metrics -----------------------------------------------------------------


def find_commitment(document: Agreement, metric: str) -> Commitment | None:
    """Return the first commitment of ``document`` that measures ``metric``, or None."""
    return next((c for c in document.commitments if c.metric == metric), None)


def tracked_id(document: Agreement, metric: str) -> str:
    """Return the commitment id that shows ``metric`` in ``with_tracked(document, [metric])``.

    The id of the first commitment measuring it, else the metric's name (with
    ``-tracked`` appended while that clashes with another commitment's id).
    """
    found = find_commitment(document, metric)
    if found is not None:
        return found.id
    ids = {c.id for c in document.commitments}
    cid = metric
    while cid in ids:
        cid += "-tracked"
    return cid


def tracked_commitment(document: Agreement, metric: str) -> Commitment:
    """Return the commitment that shows ``metric``: the agreement's own, else the one :func:`with_tracked` adds."""
    found = find_commitment(document, metric)
    if found is not None:
        return found
    if metric not in METRICS:
        raise BreakdownError(f"unknown metric {metric!r}; known metrics: {', '.join(METRICS)}")
    return Commitment(
        id=tracked_id(document, metric), owner=document.parties[0], metric=metric, target=None,
        description="Tracked without a target: the agreement sets none.",
    )  # fmt: skip


def rows_for(result: pd.DataFrame, document: Agreement, metric: str) -> pd.DataFrame:
    """Return the rows of an ``evaluate`` frame that show ``metric``, oldest period first.

    Those of the commitment :func:`tracked_id` names; where a period was judged by
    a version without that id, that period's first commitment measuring the metric.
    """
    cid = tracked_id(document, metric)
    mine = result[result["commitment"] == cid]
    others = result[(result["metric"] == metric) & ~result["period"].isin(mine["period"])]
    others = others.drop_duplicates(
        subset=[c for c in ("period", "owner_id", "team", "channel") if c in result]
    )
    rows = pd.concat([mine, others]) if len(others) else mine
    return rows.sort_values("period_start", kind="stable").reset_index(drop=True)


def row_for(result: pd.DataFrame, document: Agreement, metric: str, period: str) -> pd.Series | None:
    """Return the ``evaluate`` row of ``metric`` (see :func:`rows_for`) in ``period``, or None."""
    rows = rows_for(result, document, metric)
    rows = rows[rows["period"] == period]
    return rows.iloc[0] if len(rows) else None


def stage_targets(document: Agreement) -> dict[str, float]:
    """Return the funnel stages with a count target in ``document``: {'MQL': 750.0, ...}.

    From unfiltered ``mql_count`` / ``sql_count`` commitments with a target (a
    filtered one counts only part of the funnel).
    """
    out = {}
    for metric, stage in (("mql_count", "MQL"), ("sql_count", "SQL")):
        found = find_commitment(document, metric)
        if found is not None and found.target is not None and not found.filters.items():
            out[stage] = float(found.target)
    return out


def with_tracked(
    agreement_versions: Agreement | AgreementVersion | Iterable[AgreementVersion],
    metrics: Iterable[str],
    *,
    party: str | None = None,
) -> list[AgreementVersion]:
    """Return the versions with a commitment *tracked without a target* for each metric none of theirs measures.

    The added commitment has id :func:`tracked_id`, target null, no filters and
    belongs to ``party`` (default: the document's first party), so ``evaluate``
    reports its actual with status ``no target``. Versions are copied, not changed.
    """
    versions = as_versions(agreement_versions)
    wanted = list(dict.fromkeys(metrics))
    unknown = [m for m in wanted if m not in METRICS]
    if unknown:
        raise BreakdownError(f"unknown metric {unknown[0]!r}; known metrics: {', '.join(METRICS)}")
    out = []
    for version in versions:
        doc = version.document
        extra = tuple(
            tracked_commitment(doc, m).model_copy(update={"owner": party or doc.parties[0]})
            for m in wanted
            if find_commitment(doc, m) is None
        )
        if extra:
            doc = doc.model_copy(update={"commitments": doc.commitments + extra})
        out.append(version.model_copy(update={"document": doc}))
    return out


# --- marketing: volumes, acceptance, rejection reasons -------------------------------------------------


def _window(agreement, frames: Mapping[str, pd.DataFrame], start, end, as_of):
    """(document, frames known at as_of, lead mask, deal mask) of leads handed over / deals created in the window."""
    moment = as_instant(as_of)
    doc = document_in_force(as_versions(agreement), moment)
    lo, hi = to_instant(start, doc.timezone), to_instant(end, doc.timezone)
    if hi <= lo:
        raise BreakdownError(f"the window is empty: end {hi} is not after start {lo}")
    known = prepare_frames(frames, moment)
    handed = known.leads["mql_at"]
    created = known.deals["created_at"]
    leads_in = ((handed >= lo) & (handed < hi)).to_numpy(bool, na_value=False)
    deals_in = ((created >= lo) & (created < hi)).to_numpy(bool, na_value=False)
    return doc, known, leads_in, deals_in


def _lead_column(frames: Mapping[str, pd.DataFrame], known: Frames, column: str) -> pd.Series:
    """``column`` of the raw leads (one prepare_frames drops, e.g. campaign), aligned to ``known.leads``."""
    raw = frames.get("leads")
    if raw is None or not len(raw):
        return pd.Series(np.full(len(known.leads), np.nan), dtype="str")
    raw = validate_frame(raw, "leads")
    at = positions(raw["id"].to_numpy(dtype="int64", na_value=_NO_ID),
                   known.leads["id"].to_numpy(dtype="int64", na_value=_NO_ID))  # fmt: skip
    values = raw[column].take(np.maximum(at, 0)).to_numpy(dtype=object)
    return pd.Series(values, dtype="str").mask(at < 0)


def _check_by(by: str | None, allowed: tuple[str | None, ...]) -> None:
    if by not in allowed:
        shown = ", ".join(str(a) for a in allowed)
        raise BreakdownError(f"unknown breakdown by={by!r}; use one of: {shown}")


def _labels(values: pd.Series, missing: str = NO_VALUE) -> pd.Series:
    return pd.Series(values.to_numpy(dtype=object), dtype="str").fillna(missing)


def volume_by(
    agreement: Agreement | AgreementVersion | Iterable[AgreementVersion],
    frames: Mapping[str, pd.DataFrame],
    start: Any,
    end: Any,
    as_of: Any,
    *,
    by: str = "channel",
) -> pd.DataFrame:
    """Return MQLs, SQLs and sourced pipeline per channel (or campaign, team, segment), most MQLs first.

    Columns: ``by``, ``mqls`` (leads handed over in the window), ``sqls`` (of
    those, qualified by as_of), ``mql_to_sql``, ``sourced_deals`` and
    ``sourced_pipeline`` (deals created in the window whose lead is a marketing
    lead; missing amounts count 0), ``share_of_mqls``. A deal is grouped by its
    lead's channel (its own without a lead) and its own team (as ``evaluate(by=...)``
    does) and by its lead's campaign or segment. A missing value is :data:`NO_VALUE`. Groups with neither leads nor
    deals are left out; the columns sum to the ``mql_count``, ``sql_count`` and
    ``sourced_pipeline`` actuals of the window.
    """
    _check_by(by, BREAKDOWN_FIELDS)
    _, known, leads_in, deals_in = _window(agreement, frames, start, end, as_of)
    lead_values = _lead_column(frames, known, by) if by == "campaign" else known.leads[by]
    leads = pd.DataFrame({by: _labels(lead_values)[leads_in], "sql": reached_sql(known)[leads_in]})
    deals = known.deals
    sourced = deals_in & deals["lead_is_mql"].to_numpy(bool)
    if by == "campaign":
        at = positions(known.leads["id"].to_numpy(dtype="int64", na_value=_NO_ID),
                       deals["lead_id"].to_numpy(dtype="int64", na_value=_NO_ID))  # fmt: skip
        if len(lead_values):
            deal_values = lead_values.take(np.maximum(at, 0)).reset_index(drop=True).mask(at < 0)
        else:  # no lead at all (e.g. an owner with deals only): no deal has a lead's campaign
            deal_values = pd.Series(np.full(len(deals), np.nan), dtype="str")
    else:
        deal_values = deals[by].reset_index(drop=True)
    amounts = np.nan_to_num(deals["amount"].to_numpy(dtype="float64", na_value=np.nan))
    pipeline = pd.DataFrame({by: _labels(deal_values)[sourced], "amount": amounts[sourced]})
    per_lead = leads.groupby(by).agg(mqls=("sql", "size"), sqls=("sql", "sum"))
    per_deal = pipeline.groupby(by).agg(sourced_deals=("amount", "size"), sourced_pipeline=("amount", "sum"))
    out = per_lead.join(per_deal, how="outer").fillna(0).reset_index()
    out = out.astype(
        {"mqls": "int64", "sqls": "int64", "sourced_deals": "int64", "sourced_pipeline": "float64"}
    )
    total = out["mqls"].sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        out["mql_to_sql"] = np.where(
            out["mqls"] > 0, out["sqls"] / out["mqls"].where(out["mqls"] > 0, 1), np.nan
        )
        out["share_of_mqls"] = out["mqls"] / total if total else np.nan
    out[by] = out[by].astype("str")
    out = out.sort_values(["mqls", "sourced_pipeline", by], ascending=[False, False, True], kind="stable")
    columns = [by, "mqls", "sqls", "mql_to_sql", "sourced_deals", "sourced_pipeline", "share_of_mqls"]
    return out[columns].reset_index(drop=True)


def _decisions(agreement, frames, start, end, as_of, by: str | None) -> pd.DataFrame:
    """Per lead handed over in the window: group label, disposition (as known at as_of) and rejection reason."""
    _, known, leads_in, _ = _window(agreement, frames, start, end, as_of)
    if by is None:
        group = pd.Series(ALL, index=range(len(known.leads)), dtype="str")
    else:
        group = _labels(_lead_column(frames, known, by) if by == "campaign" else known.leads[by])
    reason = _lead_column(frames, known, "rejection_reason")
    disposition = known.leads["disposition"].reset_index(drop=True)
    frame = pd.DataFrame(
        {
            "group": group.to_numpy(dtype=object),
            "accepted": (disposition == "accepted").to_numpy(bool, na_value=False),
            "rejected": (disposition == "rejected").to_numpy(bool, na_value=False),
            "reason": _labels(reason, NO_REASON).to_numpy(dtype=object),
        }
    )
    return frame[leads_in].reset_index(drop=True)


def acceptance_by(
    agreement: Agreement | AgreementVersion | Iterable[AgreementVersion],
    frames: Mapping[str, pd.DataFrame],
    start: Any,
    end: Any,
    as_of: Any,
    *,
    by: str = "channel",
) -> pd.DataFrame:
    """Return how sales decided on each channel's (or campaign's, team's, segment's) leads, most leads first.

    Columns: ``by``, ``leads`` (handed over in the window), ``accepted``,
    ``rejected``, ``open`` (not decided by as_of), ``acceptance_rate``
    (accepted / (accepted + rejected), as the ``acceptance_rate`` metric; NaN
    when none is decided) and ``top_reason`` (the most frequent rejection
    reason; ties alphabetical; missing when none was rejected).
    """
    _check_by(by, BREAKDOWN_FIELDS)
    decided = _decisions(agreement, frames, start, end, as_of, by)
    grouped = decided.groupby("group")
    out = grouped.agg(leads=("accepted", "size"), accepted=("accepted", "sum"), rejected=("rejected", "sum"))
    out = out.astype("int64")
    out["open"] = out["leads"] - out["accepted"] - out["rejected"]
    decided_n = out["accepted"] + out["rejected"]
    out["acceptance_rate"] = (out["accepted"] / decided_n.where(decided_n > 0)).astype("float64")
    rejected = decided[decided["rejected"]]
    if len(rejected):
        counts = rejected.groupby(["group", "reason"]).size().reset_index(name="n")
        counts = counts.sort_values(["group", "n", "reason"], ascending=[True, False, True], kind="stable")
        out["top_reason"] = counts.drop_duplicates("group").set_index("group")["reason"].reindex(out.index)
    else:
        out["top_reason"] = np.nan
    out = out.reset_index().rename(columns={"group": by})
    out[by] = out[by].astype("str")
    out["top_reason"] = out["top_reason"].astype("str")
    out = out.sort_values(["leads", by], ascending=[False, True], kind="stable")
    return out[[by, "leads", "accepted", "rejected", "open", "acceptance_rate", "top_reason"]].reset_index(
        drop=True
    )


def rejection_reasons(
    agreement: Agreement | AgreementVersion | Iterable[AgreementVersion],
    frames: Mapping[str, pd.DataFrame],
    start: Any,
    end: Any,
    as_of: Any,
    *,
    by: str | None = "channel",
) -> pd.DataFrame:
    """Return why sales rejected leads handed over in the window: one row per group x reason.

    Columns: [``by``], ``reason`` (:data:`NO_REASON` when none was given),
    ``rejected`` (leads) and ``share`` (of the group's rejected leads). Groups
    with most rejections first, then reasons by count. Only leads rejected by
    as_of count. ``by=None``: reasons over all leads.
    """
    _check_by(by, (None, *BREAKDOWN_FIELDS))
    decided = _decisions(agreement, frames, start, end, as_of, by)
    rejected = decided[decided["rejected"]]
    counts = rejected.groupby(["group", "reason"]).size().rename("rejected").reset_index()
    totals = counts.groupby("group")["rejected"].transform("sum")
    counts["share"] = (counts["rejected"] / totals).astype("float64")
    counts["_total"] = totals
    counts = counts.sort_values(
        ["_total", "group", "rejected", "reason"], ascending=[False, True, False, True], kind="stable"
    )
    out = counts.rename(columns={"group": by or "group"})
    columns = ([by] if by else []) + ["reason", "rejected", "share"]
    out = out[columns].reset_index(drop=True).astype({"reason": "str", "rejected": "int64"})
    if by:
        out[by] = out[by].astype("str")
    return out


def reasons_table(reasons: pd.DataFrame, by: str) -> pd.DataFrame:
    """Return a :func:`rejection_reasons` frame as one row per group and one column per reason (counts).

    Columns: ``by``, ``rejected`` (the group's total), then the reasons, most
    frequent overall first; groups with most rejections first.

    >>> r = pd.DataFrame({"channel": ["A", "A", "B"], "reason": ["x", "y", "y"], "rejected": [2, 1, 4]})
    >>> reasons_table(r, "channel").to_dict("list")
    {'channel': ['B', 'A'], 'rejected': [4, 3], 'y': [4, 1], 'x': [0, 2]}
    """
    _check_by(by, BREAKDOWN_FIELDS)
    wide = reasons.pivot_table(index=by, columns="reason", values="rejected", aggfunc="sum", fill_value=0)
    wide = wide[wide.sum(axis=0).sort_values(ascending=False, kind="stable").index]
    wide.insert(0, "rejected", wide.sum(axis=1))
    wide = wide.sort_values("rejected", ascending=False, kind="stable").reset_index()
    wide.columns.name = None
    return wide.astype({c: "int64" for c in wide.columns if c != by})


# --- sales: follow-up per rep and team, routing vs rep delay, the queue --------------------------------


def _group_key(detail: pd.DataFrame, by: str | None) -> pd.Series:
    if by is None:
        return pd.Series(ALL, index=detail.index, dtype="str")
    if by == "owner":
        return detail["owner_id"].astype("float64").fillna(-1.0)
    return _labels(detail["team"], NO_VALUE).set_axis(detail.index)


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
    _check_by(by, (None, "owner", "team"))
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
    _check_by(by, ("team", "owner"))
    labels = _labels(detail["team"]) if by == "team" else _labels(detail["owner"], UNASSIGNED)
    everyone = _delay_stats(detail.assign(_group=ALL)).reindex([ALL])
    everyone[["leads", "routed"]] = everyone[["leads", "routed"]].fillna(0)
    per_group = _delay_stats(detail.assign(_group=labels.to_numpy()))
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


def queue_window(as_of: Any, days: int = QUEUE_DAYS) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Return the UTC window whose leads the overdue queue looks at: ``days`` before as_of's day to its end.

    Whole UTC days, so a cached load keyed on the window changes once a day.

    >>> queue_window(pd.Timestamp("2026-11-27T16:14Z"), 30)
    (Timestamp('2026-10-28 00:00:00+0000', tz='UTC'), Timestamp('2026-11-28 00:00:00+0000', tz='UTC'))
    """
    moment = as_instant(as_of)
    if days < 1:
        raise BreakdownError(f"the queue needs at least 1 day to look back, got {days}")
    day = moment.floor("D")
    return day - pd.Timedelta(days=days), day + pd.Timedelta(days=1)


QUEUE_COLUMNS = ["lead", "lead_id", "owner", "team", "channel", "handed_over", "due", "hours_left", "state"]


def queue_table(queue: pd.DataFrame, leads: pd.DataFrame, timezone: str) -> pd.DataFrame:
    """Return a ``followup_queue`` frame as the table a sales manager works from, most urgent first.

    Columns :data:`QUEUE_COLUMNS`: ``lead`` (the CRM's external id, from the
    canonical ``leads``), ``lead_id``, ``owner`` (:data:`UNASSIGNED` if none),
    ``team``, ``channel``, ``handed_over`` and ``due`` (in ``timezone``),
    ``hours_left`` (business hours; negative: overdue by) and ``state`` in words,
    e.g. 'overdue by 2.5 business hours'.
    """
    leads = validate_frame(leads, "leads") if len(leads) else leads
    ids = queue["lead_id"].to_numpy(dtype="int64", na_value=_NO_ID)
    if len(leads):
        at = positions(leads["id"].to_numpy(dtype="int64", na_value=_NO_ID), ids)
        external = pd.Series(leads["external_id"].take(np.maximum(at, 0)).to_numpy(dtype=object), dtype="str")
        external = external.mask(at < 0)
    else:
        external = pd.Series(np.full(len(queue), np.nan), dtype="str")
    left = queue["hours_left"].to_numpy(dtype="float64")
    state = [
        f"overdue by {-h:.1f} business hours" if h < 0 else f"due in {h:.1f} business hours" for h in left
    ]
    out = pd.DataFrame(
        {
            "lead": external,
            "lead_id": queue["lead_id"].reset_index(drop=True),
            "owner": _labels(queue["owner"], UNASSIGNED),
            "team": queue["team"].reset_index(drop=True),
            "channel": queue["channel"].reset_index(drop=True),
            "handed_over": queue["mql_at"].dt.tz_convert(timezone).reset_index(drop=True),
            "due": queue["due_at"].dt.tz_convert(timezone).reset_index(drop=True),
            "hours_left": left,
            "state": pd.Series(state, dtype="str"),
        }
    )
    return out[QUEUE_COLUMNS]
