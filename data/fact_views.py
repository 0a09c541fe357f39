"""The Sales page's clock figures read from the stored SLA facts: small GROUP BY results, never lead rows.

:func:`sales_clock` answers, for one period ``[start, end)``, slice (several teams, owners and channels
each) and ``as_of``, what the Sales view otherwise computes from the period's frames:

- ``tiles``: per clock commitment (``followed_up_within``, ``touches_within``, ``dispositioned_within``)
  of the version that judges the period, ``n``, ``met``, ``breached``, ``pending`` and ``actual`` (met /
  (met + breached)), as :func:`analytics.commitments.evaluate` counts them;
- ``by_owner``: the same per owner (``owner_id``, ``owner``), as ``evaluate(..., by="owner")``;
- ``per_rep`` / ``per_team`` / ``overall``: the follow-up table of
  :func:`analytics.followup.followup_by` of :func:`views.sales.rep_followup` (leads, met, breached,
  pending, rate, median_hours, p90_hours, overdue_untouched; an owner's team is their leads' most
  frequent team), judged by the version in force at the period's start.

Status at ``as_of`` is :func:`data.facts.status_at` (a comparison of stored instants). The pandas path
stays the oracle (tests/data/test_fact_views.py) and the fallback: :func:`sales_clock` returns None
where the facts cannot answer (a version that is not stored, such as the weekly stand-in
:func:`views.sales.judging_versions` makes for an ISO week of a monthly agreement).
``evaluation`` / ``evaluation_by_owner`` are the clock commitments' rows as evaluate returns them, judged
as it judges them (status, gap, provisional), for a period of the agreement's own.

Cost: one query per clock commitment (counts per owner and team) and one for the median and p90. On
SQLite that is about 0.2 s at 100k leads and 1-1.5 s for a month at 1M: more than the two evaluations it
replaces once the period's frames are read, which the Sales page still does for its histogram, delays
and queue; so the Sales loader asks for it only with ``ACCORD_SALES_FROM_FACTS`` on
(bench/bench_sales_facts.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from analytics.agreement import AgreementVersion, version_in_force
from analytics.calendar import business_seconds_between
from analytics.commitments import (
    RESULT_COLUMNS,
    _empty_result,
    _judge,
    as_versions,
    document_in_force,
    known_versions,
    window_seconds,
)
from analytics.followup import UNASSIGNED, _worst_first
from analytics.metrics import HOUR, METRICS, as_instant
from analytics.periods import period_grid
from data import queries
from data.facts import FACTS, _key, status_at
from data.transactions import transaction

SALES_CLOCKS = ("followed_up_within", "touches_within", "dispositioned_within")
COUNTS = ["n", "met", "breached", "pending", "overdue_untouched"]
MEASURES = ["leads", "met", "breached", "pending", "rate", "median_hours", "p90_hours", "overdue_untouched"]


@dataclass(frozen=True)
class SalesClock:
    """The clock figures of one period, slice and as_of (see the module docstring)."""

    version: int  # the version judging the period
    tiles: Mapping[str, Mapping[str, Any]]  # metric -> commitment, n, met, breached, pending, actual
    by_owner: Mapping[str, pd.DataFrame]  # metric -> owner_id, owner, n, met, breached, pending, actual
    followup_commitment: str | None
    per_rep: pd.DataFrame | None
    per_team: pd.DataFrame | None
    overall: Mapping[str, Any] | None
    # The clock commitments' rows as evaluate returns them (judged: status, gap, period state), whole and
    # by owner; None where the period is not one of the agreement's own (see :func:`judged_rows`).
    evaluation: pd.DataFrame | None = None
    evaluation_by_owner: pd.DataFrame | None = None


def judging_version(versions: Any, period_start: Any, as_of: Any) -> AgreementVersion | None:
    """The version a period is judged by, as evaluate judges it: among those saved by ``as_of``, the one in
    force at ``period_start``, else the earliest."""
    known = known_versions(as_versions(versions), as_of)
    if not known:
        return None
    current = version_in_force(known, as_instant(period_start))
    return current or min(known, key=lambda v: (pd.Timestamp(v.effective_from), -v.version))


def has_facts(bind: Engine | Connection, agreement: str, version: int) -> bool:
    """Whether facts of ``agreement`` version ``version`` are stored (one index probe)."""
    c = FACTS.c
    query = sa.select(c.version).where((c.agreement == agreement) & (c.version == int(version))).limit(1)
    with transaction(bind) as conn:
        return conn.execute(query).first() is not None


def sales_clock(
    bind: Engine | Connection,
    versions: Any,
    start: Any,
    end: Any,
    as_of: Any,
    teams: Iterable[str] = (),
    owners: Iterable[int] = (),
    channels: Iterable[str] = (),
) -> SalesClock | None:
    """Return the :class:`SalesClock` of ``[start, end)`` as of ``as_of`` for the slice, or None if the facts
    of the judging version are not stored (the caller computes from frames instead)."""
    version = judging_version(versions, start, as_of)
    if version is None or not has_facts(bind, version.agreement, version.version):
        return None
    doc = version.document
    found = {m: next((c for c in doc.commitments if c.metric == m), None) for m in SALES_CLOCKS}
    as_of_us = int(as_instant(as_of).value // 1000)
    names = _owner_names(bind)
    tiles, by_owner, grouped = {}, {}, {}
    speed = found["followed_up_within"]
    per_rep = per_team = overall = None
    with transaction(bind) as conn:
        # One query per commitment (counts per owner and team); every table is summed from it.
        for metric, commitment in found.items():
            if commitment is None:
                continue
            cond = _where(version, commitment.id, start, end, as_of_us, teams, owners, channels)
            counts = grouped[commitment.id] = _counts(conn, cond, ["owner_id", "team"], as_of_us)
            tiles[metric] = {"commitment": commitment.id, **_rates(counts[COUNTS].sum())}
            owned = _by_owner(counts)
            owned = owned[owned["n"] > 0].assign(actual=lambda o: _actual(o["met"], o["breached"]))
            owned.insert(1, "owner", _labels(owned["owner_id"], names, "(unassigned)"))
            by_owner[metric] = owned.drop(columns="overdue_untouched").reset_index(drop=True)
        if speed is not None:
            cond = _where(version, speed.id, start, end, as_of_us, teams, owners, channels)
            hours = _hour_quantiles(conn, cond, as_of_us)
            counts = grouped[speed.id]
            per_rep = _per_rep(counts, hours, names)
            per_team = _per_team(counts, hours)
            overall = _overall(counts, hours)
        judged = judged_rows(conn, versions, start, end, as_of, tiles, by_owner, teams, owners, channels,
                             grouped=grouped)  # fmt: skip
    return SalesClock(
        int(version.version), tiles, by_owner, None if speed is None else speed.id, per_rep, per_team, overall,
        *(judged or (None, None)),
    )  # fmt: skip


def _where(version, commitment, start, end, as_of_us, teams, owners, channels) -> sa.ColumnElement:
    """The fact rows of ``commitment`` handed over in ``[start, end)`` and known by ``as_of``, in the slice."""
    c = FACTS.c
    start_us, end_us = (int(as_instant(x).value // 1000) for x in (start, end))
    cond = (
        (c.agreement == version.agreement)
        & (c.version == int(version.version))
        & (c.commitment == commitment)
        & (c.mql_us >= start_us)
        & (c.mql_us < end_us)
        & (c.mql_us <= as_of_us)
        & (c.created_us.is_(None) | (c.created_us <= as_of_us))
    )
    for column, values in (("team", teams), ("owner_id", owners), ("channel", channels)):
        values = list(values)
        if values:
            cond &= c[column].in_([int(v) for v in values] if column == "owner_id" else values)
    return cond


def _counts(conn: Connection, cond, groups: list[str], as_of_us: int) -> pd.DataFrame:
    """n, met, breached, pending, overdue_untouched (breached, not stopped by as_of) and the last handover
    (``last_us``) per ``groups``."""
    c = FACTS.c
    met, breached, pending = status_at(as_of_us)
    overdue = ~(c.stop_us.is_not(None) & (c.stop_us <= as_of_us)) & breached

    def count(condition):
        return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)

    columns = [c[g] for g in groups]
    query = sa.select(
        *columns,
        sa.func.count().label("n"),
        count(met).label("met"),
        count(breached).label("breached"),
        count(pending).label("pending"),
        count(overdue).label("overdue_untouched"),
        sa.func.max(c.mql_us).label("last_us"),
    ).where(cond)
    if groups:
        query = query.group_by(*columns)
    out = pd.DataFrame(conn.execute(query).all(), columns=[*groups, *COUNTS, "last_us"])
    out[COUNTS] = out[COUNTS].astype("int64")
    return out


def _owner_key(ids: pd.Series) -> pd.Series:
    return ids.astype("float64").fillna(-1.0)


def _by_owner(counts: pd.DataFrame) -> pd.DataFrame:
    """``counts`` per owner and team summed per owner (``owner_id`` Int64, NA: no owner)."""
    out = counts.groupby(_owner_key(counts["owner_id"]).rename("_key"), sort=True)[COUNTS].sum().reset_index()
    ids = out.pop("_key").to_numpy(dtype="float64")
    out.insert(0, "owner_id", pd.array(np.where(ids < 0, np.nan, ids), dtype="Int64"))
    return out


def _actual(met: pd.Series, breached: pd.Series) -> pd.Series:
    decided = (met + breached).astype("float64")
    return (met / decided.where(decided > 0)).astype("float64")


def _rates(row: pd.Series) -> dict[str, Any]:
    decided = row["met"] + row["breached"]
    actual = float(row["met"] / decided) if decided else float("nan")
    return {k: int(row[k]) for k in ("n", "met", "breached", "pending")} | {"actual": actual}


def _hour_quantiles(conn: Connection, cond, as_of_us: int) -> dict[tuple, tuple[float, float]]:
    """Median and 90th percentile (linear interpolation) of business hours to first touch of the leads touched
    by ``as_of``: per owner (``("owner", owner_id)``), per team (``("team", team)``) and overall (``("all",)``).

    PostgreSQL: ``percentile_cont`` per grouping. SQLite: one pass ranks each row within its owner, its
    team and all rows (window functions), and only the rows at the ranks the quantiles need come back."""
    c = FACTS.c
    touched = cond & c.stop_us.is_not(None) & (c.stop_us <= as_of_us)
    hours = c.taken_seconds / HOUR
    out: dict[tuple, tuple[float, float]] = {}
    if conn.dialect.name == "postgresql":
        for kind, groups in (("owner", [c.owner_id]), ("team", [c.team]), ("all", [])):
            query = sa.select(*groups, *(sa.func.percentile_cont(q).within_group(hours) for q in (0.5, 0.9)))
            query = query.where(touched).group_by(*groups) if groups else query.where(touched)
            for *key, median, p90 in conn.execute(query):
                if median is not None:
                    out[(kind, *_key(key))] = (float(median), float(p90))
        return out
    parts = {"owner": [c.owner_id], "team": [c.team], "all": []}
    ranked = sa.select(
        c.owner_id, c.team, hours.label("hours"),
        *(col for kind, groups in parts.items() for col in (
            sa.func.row_number().over(partition_by=groups or None, order_by=c.taken_seconds).label(f"rn_{kind}"),
            sa.func.count().over(partition_by=groups or None).label(f"size_{kind}"),
        )),
    ).where(touched).subquery()  # fmt: skip
    wanted = []
    for kind in parts:
        rn, size = ranked.c[f"rn_{kind}"], ranked.c[f"size_{kind}"]
        for q in (0.5, 0.9):
            low = sa.cast(q * (size - 1), sa.Integer) + 1  # 1-based rank of the value at or below
            wanted.append((rn == low) | (rn == low + 1))
    picked: dict[tuple, dict[float, list]] = {}
    for row in conn.execute(sa.select(ranked).where(sa.or_(*wanted))).mappings():
        for kind in parts:
            key = (kind, *_key([row[g.name] for g in parts[kind]]))
            rn, size = row[f"rn_{kind}"], row[f"size_{kind}"]
            for q in (0.5, 0.9):
                low = int(q * (size - 1)) + 1
                if rn in (low, low + 1):
                    picked.setdefault(key, {}).setdefault(q, [q * (size - 1), None, None])[rn - low + 1] = (
                        float(row["hours"])
                    )
    for key, found in picked.items():
        values = []
        for q in (0.5, 0.9):
            rank, lo, hi = found[q]
            hi = lo if hi is None else hi
            values.append(lo + (hi - lo) * (rank - int(rank)))
        out[key] = (values[0], values[1])
    return out


def _owner_names(bind: Engine | Connection) -> pd.Series:
    owners = queries.read_owners(bind).dropna(subset=["id"]).drop_duplicates("id")
    return pd.Series(owners["name"].to_numpy(dtype=object), index=owners["id"].to_numpy(dtype="int64"))


def _labels(ids: pd.Series, names: pd.Series, missing: str) -> pd.Series:
    """Owner names of ``ids`` (``missing`` for no owner, "(unknown owner)" for an id without a name)."""
    values = pd.array(ids, dtype="Int64")
    found = names.reindex(values.to_numpy(dtype="float64", na_value=np.nan)).to_numpy(dtype=object)
    out = pd.Series(found, dtype="str").fillna("(unknown owner)")
    return out.mask(pd.isna(values), missing).reset_index(drop=True)


def _with_measures(out: pd.DataFrame, hours: dict, kind: str, keys: list[tuple]) -> pd.DataFrame:
    """``out`` (counts of the groups ``keys``) with leads, rate, median_hours and p90_hours."""
    out = out.rename(columns={"n": "leads"})
    out["rate"] = _actual(out["met"], out["breached"])
    found = [hours.get((kind, *k), (np.nan, np.nan)) for k in keys]
    out["median_hours"] = np.array([m for m, _ in found], dtype="float64")
    out["p90_hours"] = np.array([p for _, p in found], dtype="float64")
    return out


def _overall(counts: pd.DataFrame, hours: dict) -> dict[str, Any]:
    out = _with_measures(counts[COUNTS].sum().to_frame().T.astype("int64"), hours, "all", [()])
    return out[MEASURES].iloc[0].to_dict()


def _per_team(counts: pd.DataFrame, hours: dict) -> pd.DataFrame:
    team = pd.Series(counts["team"].to_numpy(dtype=object), name="team")
    out = counts[COUNTS].groupby(team, sort=True, dropna=False).sum().reset_index()
    keys = [(None if pd.isna(t) else t,) for t in out["team"]]
    out = _with_measures(out, hours, "team", keys)
    out["team"] = pd.Series(out["team"].to_numpy(dtype=object), dtype="str").fillna("(none)")
    return _worst_first(out, "team")[["team", *MEASURES]]


def _per_rep(counts: pd.DataFrame, hours: dict, names: pd.Series) -> pd.DataFrame:
    out = _by_owner(counts)
    # An owner's team: the most frequent team of their leads, ties to the first name.
    teams = counts.assign(_key=_owner_key(counts["owner_id"])).dropna(subset=["team"])
    teams = teams.sort_values(["_key", "n", "team"], ascending=[True, False, True], kind="stable")
    team = teams.drop_duplicates("_key").set_index("_key")["team"]
    ids = _owner_key(out["owner_id"]).to_numpy()
    out = _with_measures(out, hours, "owner", [(None if i < 0 else int(i),) for i in ids])
    out["owner"] = _labels(out["owner_id"], names, UNASSIGNED)
    out["team"] = pd.Series(team.reindex(ids).to_numpy(dtype=object), dtype="str")
    return _worst_first(out, "owner")[["owner_id", "owner", "team", *MEASURES]]


# --- the rows evaluate returns, judged -----------------------------------------------------------------


class _OnePeriod:
    """What :func:`analytics.commitments._judge` asks of an evaluation run, for one period from facts."""

    def __init__(self, as_of, grid, version, doc, unsettled: bool):
        self.as_of, self.grid, self._version, self._unsettled = as_of, grid, (version, doc), unsettled

    def version_of(self, pos: int):
        return self._version

    def unsettled(self, positions) -> set[int]:
        return {0} if self._unsettled and 0 in set(positions) else set()


def judged_rows(
    conn, versions, start, end, as_of, tiles, by_owner, teams=(), owners=(), channels=(), grouped=None
):
    """The clock commitments' rows of ``[start, end)`` as :func:`analytics.commitments.evaluate` returns them
    (whole, and by owner), judged as it judges them; None when ``[start, end)`` is not one period of the
    version in force at ``as_of``, or when whether the period has settled cannot be read from the facts
    (every clock commitment has filters: the period's last handover may be in none of them)."""
    as_of = as_instant(as_of)
    start, end = as_instant(start), as_instant(end)
    known = known_versions(as_versions(versions), as_of)
    grid_doc = document_in_force(known, as_of)
    grid = period_grid(grid_doc.period, grid_doc.timezone, start, end)
    grid = grid[grid["period_start"] <= as_of].reset_index(drop=True)
    if len(grid) != 1 or grid["period_start"].iloc[0] != start or grid["period_end"].iloc[0] != end:
        return None
    version = version_in_force(known, start)
    doc = (version or judging_version(versions, start, as_of)).document
    unfiltered = next(
        (c for c in doc.commitments if c.metric in SALES_CLOCKS and not c.filters.items()), None
    )
    if unfiltered is None:
        return None
    closed = end <= as_of
    counts = (grouped or {}).get(unfiltered.id)
    if closed and counts is None:
        as_of_us = int(as_of.value // 1000)
        cond = _where(version or judging_version(versions, start, as_of), unfiltered.id, start, end, as_of_us,
                      teams, owners, channels)  # fmt: skip
        counts = _counts(conn, cond, ["team"], as_of_us)
    unsettled = closed and _unsettled(doc, counts, as_of)
    run = _OnePeriod(as_of, grid, version, doc, unsettled)
    judged = version is not None and doc.period == grid_doc.period
    order = {c.id: i for i, c in enumerate(grid_doc.commitments)}
    period = grid.iloc[0]
    whole, owned = [], []
    for commitment in doc.commitments:
        if commitment.metric not in SALES_CLOCKS or commitment.metric not in tiles:
            continue
        if tiles[commitment.metric]["commitment"] != commitment.id:
            continue  # a second commitment of the same metric: the page shows the first
        metric = METRICS[commitment.metric]
        common = {
            "period": period["period"], "period_start": period["period_start"], "period_end": period["period_end"],
            "commitment": commitment.id, "party": commitment.owner, "metric": metric.name, "kind": metric.kind,
            "unit": metric.unit, "version": version.version if version is not None else None,
            "lower_is_better": metric.lower_is_better, "_pos": 0, "_order": order.get(commitment.id, len(order)),
            "target": float(commitment.target) if judged and commitment.target is not None else np.nan,
        }  # fmt: skip
        tile = tiles[commitment.metric]
        whole.append({**common, **{k: tile[k] for k in ("n", "met", "breached", "pending", "actual")}})
        for row in by_owner[commitment.metric].to_dict("records"):
            owned.append({**common, **row})
    return _judged(pd.DataFrame(whole), run, []), _judged(pd.DataFrame(owned), run, ["owner_id", "owner"])


def _judged(rows: pd.DataFrame, run: _OnePeriod, group_cols: list[str]) -> pd.DataFrame:
    columns = RESULT_COLUMNS[:9] + group_cols + RESULT_COLUMNS[9:]
    if rows.empty:
        return _empty_result(columns, group_cols)
    rows = rows.astype({"n": "int64", "met": "float64", "breached": "float64", "pending": "float64",
                        "actual": "float64", "target": "float64", "lower_is_better": bool})  # fmt: skip
    rows["version"] = pd.array(rows["version"], dtype="Int64")
    for column in ("commitment", "party", "metric", "kind", "unit", "period", *group_cols[1:]):
        rows[column] = rows[column].astype("str")
    if group_cols:
        rows["owner_id"] = pd.array(rows["owner_id"], dtype="Int64")
    out = _judge(rows, run)
    out = out.sort_values(["_order", "period_start", *group_cols[-1:]], kind="stable")
    return out[columns].reset_index(drop=True)


def _unsettled(doc, counts: pd.DataFrame, as_of: pd.Timestamp) -> bool:
    """Whether a window of one of the period's leads is still open at ``as_of``, as evaluate reads it: on
    each calendar, the period's last handover (``counts``' ``last_us`` per team) and the longest window of
    the version's commitments."""
    default = doc.calendar_for(None)
    calendars = doc.team_calendars()
    last: dict[Any, int] = {}
    for team, newest in zip(counts["team"], counts["last_us"], strict=True):
        if newest is None or pd.isna(newest):
            continue
        calendar = calendars.get(team, default) if isinstance(team, str) else default
        last[calendar] = max(last.get(calendar, int(newest)), int(newest))
    for calendar, newest in last.items():
        limits = [w for x in doc.commitments if (w := window_seconds(x, calendar)) is not None]
        moment = pd.Timestamp(newest, unit="us", tz="UTC")
        if limits and business_seconds_between(moment, as_of, calendar) <= max(limits):
            return True
    return False
