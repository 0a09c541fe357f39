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
from analytics.metrics import METRICS, as_instant
from analytics.periods import period_grid
from data import queries
from data.facts import FACTS, _key, _quantiles, status_at
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
    tiles, by_owner = {}, {}
    with transaction(bind) as conn:
        for metric, commitment in found.items():
            if commitment is None:
                continue
            cond = _where(version, commitment.id, start, end, as_of_us, teams, owners, channels)
            whole = _counts(conn, cond, [], as_of_us).iloc[0]
            tiles[metric] = {"commitment": commitment.id, **_rates(whole)}
            owned = _counts(conn, cond, ["owner_id"], as_of_us)
            owned = owned[owned["n"] > 0].assign(actual=lambda o: _actual(o["met"], o["breached"]))
            owned.insert(1, "owner", _labels(owned["owner_id"], names, "(unassigned)"))
            by_owner[metric] = owned.drop(columns="overdue_untouched").reset_index(drop=True)
        speed = found["followed_up_within"]
        per_rep = per_team = overall = None
        if speed is not None:
            cond = _where(version, speed.id, start, end, as_of_us, teams, owners, channels)
            per_rep = _per_rep(conn, cond, as_of_us, names)
            per_team = _per_team(conn, cond, as_of_us)
            overall = _overall(conn, cond, as_of_us)
        judged = judged_rows(conn, versions, start, end, as_of, tiles, by_owner, teams, owners, channels)
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
    """n, met, breached, pending and overdue_untouched (breached, not stopped by as_of) per ``groups``."""
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
    ).where(cond)
    if groups:
        query = query.group_by(*columns)
    out = pd.DataFrame(conn.execute(query).all(), columns=[*groups, *COUNTS])
    out[COUNTS] = out[COUNTS].astype("int64")
    return out


def _actual(met: pd.Series, breached: pd.Series) -> pd.Series:
    decided = (met + breached).astype("float64")
    return (met / decided.where(decided > 0)).astype("float64")


def _rates(row: pd.Series) -> dict[str, Any]:
    decided = row["met"] + row["breached"]
    actual = float(row["met"] / decided) if decided else float("nan")
    return {k: int(row[k]) for k in ("n", "met", "breached", "pending")} | {"actual": actual}


def _hours(conn: Connection, cond, groups: list[str], as_of_us: int, q: float) -> dict[tuple, float]:
    """The ``q`` quantile of business hours to first touch of the leads touched by ``as_of``, per group."""
    c = FACTS.c
    touched = cond & c.stop_us.is_not(None) & (c.stop_us <= as_of_us)
    return _quantiles(conn, touched, groups, [c[g] for g in groups], q)


def _owner_names(bind: Engine | Connection) -> pd.Series:
    owners = queries.read_owners(bind).dropna(subset=["id"]).drop_duplicates("id")
    return pd.Series(owners["name"].to_numpy(dtype=object), index=owners["id"].to_numpy(dtype="int64"))


def _labels(ids: pd.Series, names: pd.Series, missing: str) -> pd.Series:
    """Owner names of ``ids`` (``missing`` for no owner, "(unknown owner)" for an id without a name)."""
    values = pd.array(ids, dtype="Int64")
    found = names.reindex(values.to_numpy(dtype="float64", na_value=np.nan)).to_numpy(dtype=object)
    out = pd.Series(found, dtype="str").fillna("(unknown owner)")
    return out.mask(pd.isna(values), missing).reset_index(drop=True)


def _with_measures(out: pd.DataFrame, conn, cond, groups: list[str], as_of_us: int) -> pd.DataFrame:
    """``out`` (counts per ``groups``) with leads, rate, median_hours and p90_hours."""
    medians = _hours(conn, cond, groups, as_of_us, 0.5)
    p90s = _hours(conn, cond, groups, as_of_us, 0.9)
    keys = [_key(row) for row in out[groups].itertuples(index=False)] if groups else [()] * len(out)
    out = out.rename(columns={"n": "leads"})
    out["rate"] = _actual(out["met"], out["breached"])
    out["median_hours"] = np.array([medians.get(k, np.nan) for k in keys], dtype="float64")
    out["p90_hours"] = np.array([p90s.get(k, np.nan) for k in keys], dtype="float64")
    return out


def _overall(conn: Connection, cond, as_of_us: int) -> dict[str, Any]:
    out = _with_measures(_counts(conn, cond, [], as_of_us), conn, cond, [], as_of_us)
    return out[MEASURES].iloc[0].to_dict()


def _per_team(conn: Connection, cond, as_of_us: int) -> pd.DataFrame:
    out = _counts(conn, cond, ["team"], as_of_us)
    out = _with_measures(out, conn, cond, ["team"], as_of_us)
    out["team"] = pd.Series(out["team"].to_numpy(dtype=object), dtype="str").fillna("(none)")
    return _worst_first(out, "team")[["team", *MEASURES]]


def _per_rep(conn: Connection, cond, as_of_us: int, names: pd.Series) -> pd.DataFrame:
    by_team = _counts(conn, cond, ["owner_id", "team"], as_of_us)
    key = by_team["owner_id"].astype("float64").fillna(-1.0)
    out = by_team.assign(_key=key).groupby("_key", sort=True)[COUNTS].sum().reset_index()
    # An owner's team: the most frequent team of their leads, ties to the first name.
    teams = by_team.assign(_key=key).dropna(subset=["team"])
    teams = teams.sort_values(["_key", "n", "team"], ascending=[True, False, True], kind="stable")
    team = teams.drop_duplicates("_key").set_index("_key")["team"]
    ids = out["_key"].to_numpy(dtype="float64")
    out["owner_id"] = pd.array(np.where(ids < 0, np.nan, ids), dtype="Int64")
    out = _with_measures(out, conn, cond, ["owner_id"], as_of_us)
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


def judged_rows(conn, versions, start, end, as_of, tiles, by_owner, teams=(), owners=(), channels=()):
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
    unsettled = closed and _unsettled(conn, doc, version or judging_version(versions, start, as_of),
                                      unfiltered.id, start, end, as_of, teams, owners, channels)  # fmt: skip
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


def _unsettled(conn, doc, version, commitment, start, end, as_of, teams, owners, channels) -> bool:
    """Whether a window of one of the period's leads is still open at ``as_of``, as evaluate reads it: on
    each calendar, the period's last handover and the longest window of the version's commitments."""
    c = FACTS.c
    as_of_us = int(as_of.value // 1000)
    cond = _where(version, commitment, start, end, as_of_us, teams, owners, channels)
    rows = conn.execute(sa.select(c.team, sa.func.max(c.mql_us)).where(cond).group_by(c.team)).all()
    default = doc.calendar_for(None)
    calendars = doc.team_calendars()
    last: dict[Any, int] = {}
    for team, newest in rows:
        calendar = calendars.get(team, default) if team is not None else default
        last[calendar] = max(last.get(calendar, newest), newest)
    for calendar, newest in last.items():
        limits = [w for x in doc.commitments if (w := window_seconds(x, calendar)) is not None]
        moment = pd.Timestamp(newest, unit="us", tz="UTC")
        if limits and business_seconds_between(moment, as_of, calendar) <= max(limits):
            return True
    return False
