"""The cohort funnel: of the leads handed over in a period, how many reached SQL, opportunity and won.

Stages of a handed-over lead, as known at ``as_of``:

- **MQL**: handed over (``mql_at``), which puts it in its period's cohort;
- **SQL**: :func:`analytics.metrics.reached_sql`, the one definition Marketing
  uses too: ``sql_at`` is set or the lead has a deal (so each stage is a subset
  of the one before and every conversion is in [0, 1]);
- **opportunity**: a deal exists whose ``lead_id`` is the lead;
- **won**: one of those deals is won.

Median times between stages are in calendar days, over the leads where both
stage times are known (SQL at ``sql_at``, opportunity at the lead's first
deal's ``created_at``, won at its first won deal's ``closed_at``); a stage
recorded before the previous one counts as 0 days.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from analytics.agreement import Agreement, AgreementVersion
from analytics.commitments import as_versions, document_in_force
from analytics.metrics import (
    Facts,
    as_instant,
    filter_mask,
    positions,
    prepare_frames,
    reached_sql,
    timestamps_us,
)
from analytics.periods import assign_periods, period_grid, period_of
from analytics.schema import is_repeat_handover

STAGES: tuple[str, ...] = ("mql", "sql", "opportunity", "won")
STAGE_LABELS = {"mql": "MQL", "sql": "SQL", "opportunity": "Opportunity", "won": "Won"}
FUNNEL_BREAKDOWNS: tuple[str | None, ...] = (None, "owner", "team", "channel", "segment")


class FunnelError(ValueError):
    """The funnel cannot be built with these arguments; the message says why."""


def lead_stages(facts: Facts) -> pd.DataFrame:
    """Return per handed-over lead (aligned to ``facts.leads``) when it reached each stage.

    Columns ``mql_at``, ``sql_at``, ``opportunity_at``, ``won_at`` (NaT: not
    reached) and booleans ``sql``, ``opportunity``, ``won`` (a later stage implies
    the earlier ones).
    """
    leads, deals = facts.leads, facts.frames.linked_deals  # a lead's deals, whoever owns them
    n = len(leads)
    pos = positions(
        facts.lead_ids(), deals["lead_id"].to_numpy(dtype="int64", na_value=np.iinfo(np.int64).min)
    )
    linked = pos >= 0
    created = timestamps_us(deals["created_at"])
    closed = timestamps_us(deals["closed_at"])
    won_deal = deals["is_won"].to_numpy(bool, na_value=False) & (closed != np.iinfo(np.int64).min)
    opportunity_at = _first_per_lead(pos[linked], created[linked], n)
    won_at = _first_per_lead(pos[linked & won_deal], closed[linked & won_deal], n)
    has_opp = np.bincount(pos[linked], minlength=n) > 0
    has_won = np.bincount(pos[linked & won_deal], minlength=n) > 0
    has_sql = reached_sql(facts.frames) | has_opp | has_won  # the one SQL definition
    return pd.DataFrame(
        {
            "mql_at": leads["mql_at"],
            "sql_at": leads["sql_at"],
            "opportunity_at": _as_timestamps(opportunity_at),
            "won_at": _as_timestamps(won_at),
            "sql": has_sql,
            "opportunity": has_opp | has_won,
            "won": has_won,
        }
    )


def funnel(
    agreement: Agreement | AgreementVersion | Iterable[AgreementVersion],
    frames: Mapping[str, pd.DataFrame],
    start: Any,
    end: Any,
    as_of: Any,
    *,
    filters: Mapping[str, Iterable[str]] | None = None,
    by: str | None = None,
) -> pd.DataFrame:
    """Return one row per handover period (x group with ``by``) of the cohort funnel.

    Periods are those of the agreement version in force at ``as_of`` that
    overlap ``[start, end)`` and have started. Columns: ``period``,
    ``period_start``, ``period_end``, [group], ``mql``, ``sql``, ``opportunity``,
    ``won`` (lead counts), ``mql_to_sql``, ``sql_to_opportunity``,
    ``opportunity_to_won``, ``mql_to_won`` (shares; NaN when the earlier stage is
    0), ``days_mql_to_sql``, ``days_sql_to_opportunity``,
    ``days_opportunity_to_won`` (medians, calendar days). ``filters``:
    ``{channel|team|owner|segment: [values]}`` as in a commitment.
    """
    if by not in FUNNEL_BREAKDOWNS:
        raise FunnelError(f"unknown breakdown by={by!r}; use one of: None, owner, team, channel, segment")
    facts, grid, stages, keep = _cohorts(agreement, frames, start, end, as_of, filters)
    group_cols = []
    if by is not None:
        group_cols = ["owner_id"] if by == "owner" else [by]
        stages[group_cols[0]] = facts.leads[group_cols[0]]
    stages = stages[keep]
    for a, b in (("mql", "sql"), ("sql", "opportunity"), ("opportunity", "won")):
        since = stages[f"{b}_at"] - stages[f"{a}_at"]
        stages[f"days_{a}_to_{b}"] = (since.dt.total_seconds() / 86_400).clip(lower=0)
    grouped = stages.groupby(["_pos", *group_cols], dropna=False, sort=True)
    out = grouped.agg(
        mql=("mql_at", "size"),
        sql=("sql", "sum"),
        opportunity=("opportunity", "sum"),
        won=("won", "sum"),
        days_mql_to_sql=("days_mql_to_sql", "median"),
        days_sql_to_opportunity=("days_sql_to_opportunity", "median"),
        days_opportunity_to_won=("days_opportunity_to_won", "median"),
    ).reset_index()
    if by is None:
        # Every period gets a row, also one without handovers.
        out = pd.DataFrame({"_pos": np.arange(len(grid))}).merge(out, on="_pos", how="left")
        out[["mql", "sql", "opportunity", "won"]] = out[["mql", "sql", "opportunity", "won"]].fillna(0)
    counts = {s: out[s].to_numpy(dtype="float64") for s in STAGES}
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = {
            "mql_to_sql": counts["sql"] / counts["mql"],
            "sql_to_opportunity": counts["opportunity"] / counts["sql"],
            "opportunity_to_won": counts["won"] / counts["opportunity"],
            "mql_to_won": counts["won"] / counts["mql"],
        }
    rates = {k: np.where(np.isfinite(v), v, np.nan) for k, v in rates.items()}
    periods = grid.iloc[out["_pos"].to_numpy()].reset_index(drop=True)
    result = pd.concat([periods, out.drop(columns="_pos").reset_index(drop=True)], axis=1).assign(**rates)
    result[list(STAGES)] = result[list(STAGES)].astype("int64")
    if by == "owner":
        owners = facts.frames.owners.dropna(subset=["id"]).drop_duplicates("id")
        names = pd.Series(owners["name"].to_numpy(), index=owners["id"].to_numpy(dtype="int64"))
        ids = result["owner_id"].to_numpy(dtype="float64", na_value=np.nan)
        result["owner"] = pd.Series(names.reindex(ids).to_numpy(), dtype="str").mask(
            np.isnan(ids), "(unassigned)"
        )
        group_cols = ["owner_id", "owner"]
    columns = ["period", "period_start", "period_end", *group_cols, *STAGES, *rates]
    columns += ["days_mql_to_sql", "days_sql_to_opportunity", "days_opportunity_to_won"]
    return result[columns]


def _cohorts(
    agreement: Any,
    frames: Mapping[str, pd.DataFrame],
    start: Any,
    end: Any,
    as_of: Any,
    filters: Mapping[str, Iterable[str]] | None,
) -> tuple[Facts, pd.DataFrame, pd.DataFrame, np.ndarray]:
    """The facts, period grid, :func:`lead_stages` (with ``_pos``, the handover period) and the mask of the leads
    in a cohort of the grid: what :func:`funnel` counts and :func:`cohort_leads` lists."""
    moment = as_instant(as_of)
    doc = document_in_force(as_versions(agreement), moment)
    grid = period_grid(doc.period, doc.timezone, start, end)
    grid = grid[grid["period_start"] <= moment].reset_index(drop=True)
    facts = Facts(prepare_frames(frames, moment), doc.calendar_for(None), doc.team_calendars())
    stages = lead_stages(facts)
    stages["_pos"] = assign_periods(stages["mql_at"], grid)
    keep = filter_mask(facts, "leads", (filters or {}).items()) & (stages["_pos"].to_numpy() >= 0)
    return facts, grid, stages, keep


def cohort_leads(
    agreement: Agreement | AgreementVersion | Iterable[AgreementVersion],
    frames: Mapping[str, pd.DataFrame],
    period: Any,
    as_of: Any,
    stage: str,
    *,
    filters: Mapping[str, Iterable[str]] | None = None,
) -> pd.DataFrame:
    """Return the leads of the cohort handed over in the period holding ``period`` that reached ``stage``, as
    known at ``as_of``: the leads :func:`funnel` counts in that period's ``stage`` column (one definition).

    Columns: the canonical lead columns, ``opportunity_at`` and ``won_at`` (:func:`lead_stages`; ``mql_at``
    and ``sql_at`` are the lead's own). Order: handover, then id.
    """
    if stage not in STAGES:
        raise FunnelError(f"unknown stage {stage!r}; use one of: {', '.join(STAGES)}")
    moment = as_instant(as_of)
    doc = document_in_force(as_versions(agreement), moment)
    row = period_of(as_instant(period), doc.period, doc.timezone)
    facts, _, stages, keep = _cohorts(
        agreement, frames, row["period_start"], row["period_end"], moment, filters
    )
    at_stage = stages["mql_at"].notna() if stage == "mql" else stages[stage]
    reached = np.asarray(keep, dtype=bool) & at_stage.to_numpy(bool)
    leads = facts.leads.reset_index(drop=True)
    out = leads.assign(
        opportunity_at=stages["opportunity_at"].to_numpy(), won_at=stages["won_at"].to_numpy()
    )[reached]
    return out.sort_values(["mql_at", "id"], kind="stable").reset_index(drop=True)


def funnel_totals(cohorts: pd.DataFrame) -> pd.DataFrame:
    """Return the stage counts summed over the rows of a :func:`funnel` frame, one row per stage.

    Columns ``stage`` (label), ``leads``, ``of_previous`` and ``of_mql`` (shares).

    >>> f = pd.DataFrame({"mql": [60, 40], "sql": [30, 20], "opportunity": [10, 5], "won": [3, 2]})
    >>> funnel_totals(f)["of_previous"].round(2).tolist()
    [1.0, 0.5, 0.3, 0.33]
    """
    totals = np.array([cohorts[s].sum() for s in STAGES], dtype="float64")
    previous = np.r_[totals[0], totals[:-1]]
    with np.errstate(invalid="ignore", divide="ignore"):
        of_previous = np.where(previous > 0, totals / np.where(previous > 0, previous, 1), np.nan)
        of_mql = np.where(totals[0] > 0, totals / (totals[0] or 1), np.nan)
    return pd.DataFrame(
        {
            "stage": [STAGE_LABELS[s] for s in STAGES],
            "leads": totals,
            "of_previous": of_previous,
            "of_mql": of_mql,
        }
    )


def _first_per_lead(pos: np.ndarray, when: np.ndarray, n: int) -> np.ndarray:
    """Earliest ``when`` per lead position (NaT int where none)."""
    out = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    valid = when != np.iinfo(np.int64).min
    np.minimum.at(out, pos[valid], when[valid])
    out[out == np.iinfo(np.int64).max] = np.iinfo(np.int64).min
    return out


def _as_timestamps(values: np.ndarray) -> pd.Series:
    return pd.Series(values.view("datetime64[us]")).dt.tz_localize("UTC")


def handover_split(leads: pd.DataFrame, start: Any, end: Any, as_of: Any) -> dict[str, int]:
    """Return how many handovers of ``[start, end)`` (by ``mql_at``, known at ``as_of``) were first-time / recycled.

    ``leads`` is a canonical leads frame; a repeat handover (a lead re-qualified after recycling) has
    a negative id (:func:`analytics.schema.is_repeat_handover`); archived rows do not count.

    >>> leads = pd.DataFrame({"id": pd.array([1, -4, 2], dtype="Int64"), "archived": [False, False, True],
    ...     "mql_at": pd.to_datetime(["2026-03-02", "2026-03-05", "2026-03-06"], utc=True)})
    >>> handover_split(leads, "2026-03-01T00:00Z", "2026-04-01T00:00Z", "2026-03-31T00:00Z")
    {'first_time': 1, 'recycled': 1}
    """
    moment = as_instant(as_of)
    when = leads["mql_at"]
    live = ~leads["archived"].to_numpy(dtype=bool, na_value=False)
    inside = ((when >= as_instant(start)) & (when < as_instant(end)) & (when <= moment)).to_numpy(
        bool, na_value=False
    )
    repeat = is_repeat_handover(leads["id"])
    counted = live & inside
    return {"first_time": int((counted & ~repeat).sum()), "recycled": int((counted & repeat).sum())}
