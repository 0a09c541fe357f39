"""The Funnel page's history as small frames: cohorts per handover period, pipeline and won revenue per period.

Two builders give the same :class:`FunnelHistory`: ``views.funnel.history_from_frames`` (the pandas engine,
the oracle) and ``data.funnel_aggregates.funnel_history`` (aggregate queries in the database), so the page
never reads 15 periods of rows. The pure pieces here turn per-period counts and sums into the frames
:func:`analytics.funnel.funnel` and :func:`analytics.commitments.rows_for` of ``evaluate`` return.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analytics.agreement import Agreement, AgreementVersion, Commitment
from analytics.commitments import _Counted, chosen_per_period, judged_rows
from analytics.funnel import STAGES
from analytics.metrics import METRICS
from analytics.slicing import Slice

DAYS = ("days_mql_to_sql", "days_sql_to_opportunity", "days_opportunity_to_won")
RATES = {
    "mql_to_sql": ("sql", "mql"),
    "sql_to_opportunity": ("opportunity", "sql"),
    "opportunity_to_won": ("won", "opportunity"),
    "mql_to_won": ("won", "mql"),
}


@dataclass(frozen=True)
class FunnelHistory:
    """What the Funnel page needs of its periods, for one period, slice and as-of instant.

    ``owners``: the owners frame (to name a slice); ``cohorts``: :func:`analytics.funnel.funnel` of the
    history; ``revenue``: per metric (``sourced_pipeline``, ``won_revenue``) the ``evaluate`` rows
    :func:`analytics.commitments.rows_for` picks, oldest first; ``won_missing``: (won deals of the
    selected period without an amount, all won deals of it), as ``views.funnel.won_without_amount``.
    """

    owners: pd.DataFrame
    cohorts: pd.DataFrame
    revenue: Mapping[str, pd.DataFrame]
    won_missing: tuple[int, int]


def cohort_frame(grid: pd.DataFrame, counts: pd.DataFrame, days: pd.DataFrame) -> pd.DataFrame:
    """Return :func:`analytics.funnel.funnel`'s frame (no breakdown) from counts and medians per period.

    ``grid``: the periods (``period``, ``period_start``, ``period_end``); ``counts``: ``pos`` (position in
    ``grid``) with ``mql``, ``sql``, ``opportunity``, ``won``; ``days``: ``pos`` with any of :data:`DAYS`
    (medians, NaN or absent: none). Every period gets a row, also one without handovers.

    >>> grid = pd.DataFrame({"period": ["a", "b"], "period_start": [1, 2], "period_end": [2, 3]})
    >>> c = pd.DataFrame({"pos": [1], "mql": [4], "sql": [2], "opportunity": [1], "won": [0]})
    >>> cohort_frame(grid, c, pd.DataFrame({"pos": [1], "days_mql_to_sql": [1.5]}))[["mql", "mql_to_sql"]].values.tolist()
    [[0.0, nan], [4.0, 0.5]]
    """
    out = grid[["period", "period_start", "period_end"]].reset_index(drop=True)
    at = pd.Index(counts["pos"].to_numpy("int64"))
    for stage in STAGES:
        values = np.zeros(len(out), dtype="int64")
        hit = at.get_indexer(np.arange(len(out)))
        values[hit >= 0] = counts[stage].to_numpy("int64")[hit[hit >= 0]]
        out[stage] = values
    with np.errstate(invalid="ignore", divide="ignore"):
        for rate, (top, bottom) in RATES.items():
            ratio = out[top].to_numpy("float64") / out[bottom].to_numpy("float64")
            out[rate] = np.where(np.isfinite(ratio), ratio, np.nan)
    per_pos = days.set_index("pos") if len(days) else pd.DataFrame(index=pd.Index([], dtype="int64"))
    for column in DAYS:
        found = per_pos[column] if column in per_pos else pd.Series(dtype="float64")
        out[column] = found.reindex(np.arange(len(out))).to_numpy(dtype="float64")
    return out


def slice_target(commitment: Commitment, selection: Slice, owners: pd.DataFrame) -> float:
    """The target of an amount or count ``commitment`` for ``selection``, as ``evaluate`` sets it (no breakdown).

    The commitment's target for the whole; narrowed along one slice kind, the agreement's slice target of
    the chosen values (owners looked up by name, then external id); else NaN (``GLOSSARY["slice target"]``).
    """
    whole = np.nan if commitment.target is None else float(commitment.target)
    narrowed = [k for k, v in (("team", selection.teams), ("owner", selection.owners),
                               ("channel", selection.channels)) if v]  # fmt: skip
    if not narrowed:
        return whole
    table = commitment.slice_targets
    if len(narrowed) > 1 or table is None:
        return np.nan
    (dimension,) = narrowed
    if dimension != "owner":
        found = table.target_for(dimension, getattr(selection, f"{dimension}s"))
        return np.nan if found is None else found
    people = owners.dropna(subset=["id"]).drop_duplicates("id").set_index("id")
    total = 0.0
    for owner_id in selection.owners:
        if owner_id not in people.index:
            return np.nan
        row = people.loc[owner_id]
        found = next((t for key in (row["name"], row["external_id"]) if not pd.isna(key)
                      and (t := table.target_for("owner", [key])) is not None), None)  # fmt: skip
        if found is None:
            return np.nan
        total += found
    return total


def summed_rows(
    agreement_versions: Agreement | AgreementVersion | Iterable[AgreementVersion],
    metric: str,
    start: Any,
    end: Any,
    as_of: Any,
    sums: Callable[[Commitment], pd.DataFrame],
    target: Callable[[Commitment], float],
) -> pd.DataFrame:
    """Return ``rows_for(evaluate(agreement_versions, frames, start, end, as_of), doc, metric)`` from sums.

    For an amount (or count) metric: ``sums(commitment)`` returns, indexed by period position in the
    grid, ``n`` (the rows that count and pass the commitment's filters) and ``actual`` (their sum);
    ``target(commitment)`` the commitment's target for the slice (:func:`slice_target`). Periods,
    versions, the commitment chosen per period, targets and status are :func:`evaluate`'s.
    """
    kind = METRICS[metric].kind
    run = _Counted(agreement_versions, start, end, as_of, pd.DataFrame({"pos": [], "team": [], "last": []}))
    rows = []
    for pos, version, doc, chosen, rank in chosen_per_period(run, metric):
        summed = sums(chosen)
        judged = version is not None and doc.period == run.grid_doc.period
        rows.append({
            "commitment": chosen.id, "party": chosen.owner, "metric": metric, "kind": kind,
            "unit": METRICS[metric].unit, "version": version.version if version else None,
            "target": target(chosen) if judged else np.nan,
            "actual": float(summed["actual"].get(pos, 0.0)), "n": int(summed["n"].get(pos, 0)),
            "met": np.nan, "breached": np.nan, "pending": np.nan, "lower_is_better": False,
            "_pos": pos, "_order": rank,
        })  # fmt: skip
    return judged_rows(rows, run)
