"""The evaluation answered by the database: :func:`analytics.commitments.evaluate`'s rows, no row read.

The Overview evaluates every commitment over 12 ISO weeks, the week before and the agreement period, a
handful of ``evaluate`` calls over the same window. On frames that is the window's every lead, deal and
activity in memory (a million leads at scale). :class:`StoredEvaluation` answers the same calls from GROUP BY
queries that return small frames, and is an evaluation source for :mod:`analytics.snapshots` and
``views.overview`` (``cut``, ``evaluate``, ``sliced``, ``owners``):

- MQLs, SQLs and the MQL -> SQL rate: :func:`data.aggregates.lead_counts` (per period, channel, segment,
  owner key), a slice and a commitment's filters applied in pandas on the small result;
- sourced pipeline and won revenue: :mod:`data.deal_aggregates`, the same way;
- follow-up, touches and disposition within their windows, response time median / p90: the stored SLA
  facts (:mod:`data.facts`) of the version judging each period, counted per stored period key with the
  status at ``as_of`` by comparison (:func:`data.facts.status_at`), the quantiles in the database;
- the acceptance rate: the dispositions the facts rows of an unfiltered clock commitment hold (accepted or
  rejected by ``as_of``; an undated one counts, as in the engine).

Periods, versions, targets and status are ``evaluate``'s own (``_Counted``, ``_judge``), so only the
counting moves. The pandas engine stays the oracle (``tests/data/test_stored_evaluation.py``).

It answers only where the database can (the caller asks only a database that keeps its facts current,
``data.fact_upkeep.current``): it raises :class:`NotStored` when a version's clock commitment has no stored
facts, when the agreement changed its timezone
between the versions a grid spans, when the grid's period has no stored key, or when an acceptance
commitment filters by owner (the facts hold the owner's id, not the owner key its filter also matches).
The caller evaluates the frames instead.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

import settings
from analytics.commitments import (
    RESULT_COLUMNS,
    _Counted,
    _earliest,
    _empty_result,
    _judge,
    selection_target,
)
from analytics.metrics import METRICS, as_instant
from analytics.slicing import Slice
from data import fact_upkeep, queries
from data.aggregates import _in_slice, _passes, _resolved, lead_counts, owner_keys
from data.deal_aggregates import deal_counts, deal_figures
from data.facts import CLOCK_METRICS, FACTS, PERIODS, QUANTILES, _quantiles, status_at, stored_commitments
from data.transactions import transaction
from errors import AccordError

LEAD_METRICS = ("mql_count", "sql_count", "mql_to_sql_rate")
DEAL_METRICS = ("sourced_pipeline", "won_revenue")
FACT_SLICES = {"teams": "team", "owners": "owner_id", "channels": "channel"}


class NotStored(AccordError, LookupError):
    """The database cannot answer this evaluation from its aggregates; the message says why."""


class StoredEvaluation:
    """An evaluation source answered by the database ``bind`` for the rows of ``selection`` (see the module).

    Query results are kept per instance and shared by its slices (:meth:`sliced`), so the calls of one page
    view that ask the same period and instant ask the database once.
    """

    def __init__(
        self, bind: Engine | Connection, selection: Slice | None = None, *, _shared: dict | None = None
    ):
        self.bind = bind
        self.selection = selection or Slice()
        self._shared = {} if _shared is None else _shared

    # -- the evaluation source ------------------------------------------------------------------

    def cut(self, start: Any, end: Any) -> StoredEvaluation:
        """The source of a window: itself (every query names its own window)."""
        return self

    def sliced(self, teams: Iterable[str] = (), owners: Iterable[int] = (), channels: Iterable[str] = ()):
        """The rows of the chosen teams, owner ids and channels, within this selection."""
        chosen = Slice(tuple(teams), tuple(int(o) for o in owners), tuple(channels))
        if self.selection:
            chosen = chosen.within(self.selection)
        return StoredEvaluation(self.bind, chosen, _shared=self._shared)

    @property
    def owners(self) -> pd.DataFrame:
        """Every owner (``data.queries.read_owners``)."""
        return self._once(("owners",), lambda: queries.read_owners(self.bind))

    def evaluate(self, versions: Any, start: Any, end: Any, as_of: Any) -> pd.DataFrame:
        """``analytics.commitments.evaluate(versions, <the rows of the selection>, start, end, as_of)``."""
        as_of = as_instant(as_of)
        run = _Counted(versions, start, end, as_of, pd.DataFrame(columns=["pos", "team", "last"]))
        grid = run.grid
        if grid.empty:
            return _empty_result(RESULT_COLUMNS, [])
        bounds = (*grid["period_start"], grid["period_end"].iloc[-1])
        docs = [run.version_of(pos) for pos in range(len(grid))]
        segments = any(
            "segment" in dict(c.filters.items())
            for _, doc in docs
            for c in doc.commitments
            if c.metric in LEAD_METRICS
        )
        leads = self._leads(bounds, as_of, segments)
        leads = leads[_in_slice(leads, self.selection)]
        run.last_handovers = (
            leads.groupby(["pos", "team"], dropna=False)["last_mql"].max().rename("last").reset_index()
        )
        order = {c.id: i for i, c in enumerate(run.grid_doc.commitments)}
        rows = []
        answers: dict[tuple, dict] = {}  # every period's figures of a commitment of a version, counted once
        for pos, (version, doc) in enumerate(docs):
            stored = version or _earliest(run.versions)
            judged = version is not None and doc.period == run.grid_doc.period
            for commitment in doc.commitments:
                metric = METRICS[commitment.metric]
                key = (stored.agreement, int(stored.version), commitment.id)
                if key not in answers:
                    answers[key] = self._figures(commitment, leads, stored, run, bounds, as_of)
                figures = answers[key]
                target = (
                    selection_target(commitment, metric.kind, self.selection, self.owners)
                    if judged
                    else np.nan
                )
                rows.append({
                    "commitment": commitment.id, "party": commitment.owner, "metric": metric.name,
                    "kind": metric.kind, "unit": metric.unit, "version": version.version if version else None,
                    "target": target, "lower_is_better": metric.lower_is_better, "_pos": pos,
                    "_order": order.get(commitment.id, len(order)), **figures.get(pos, _nothing(metric.kind)),
                })  # fmt: skip
        return _rows(rows, run)

    # -- per metric: {position: n, actual, met, breached, pending} ----------------------------------

    def _figures(self, commitment, leads, stored, run, bounds, as_of) -> dict[int, dict[str, float]]:
        metric = commitment.metric
        filters = tuple((name, tuple(values)) for name, values in commitment.filters.items())
        if metric in LEAD_METRICS:
            return _lead_figures(metric, leads[_passes(leads, filters, self.owners)])
        if metric in DEAL_METRICS:
            counts = self._per_periods(
                ("deals", metric, as_of),
                bounds,
                lambda: deal_counts(self.bind, list(bounds), as_of, metric, self._owner_keys()),
                _cut,
            )
            found = deal_figures(counts, filters, self.selection, self.owners, len(bounds) - 1)
            return {int(pos): {"n": int(row.n), "actual": float(row.actual)} for pos, row in found.iterrows()}
        if metric in CLOCK_METRICS:
            return self._facts(stored, commitment.id, None, metric, run, bounds, as_of)
        if metric == "acceptance_rate":
            if "owner" in dict(filters):
                raise NotStored("an acceptance commitment filtered by owner is counted from the leads")
            source = self._unfiltered_clock(stored)
            return self._facts(stored, source, filters, metric, run, bounds, as_of)
        raise NotStored(f"metric {metric!r} is not counted in the database")

    def _facts(self, version, commitment_id, filters, metric, run, bounds, as_of) -> dict:
        """Counts (and quantiles) of the fact rows of ``commitment_id`` of ``version`` per period position."""
        if (version.agreement, int(version.version), commitment_id) not in self._stored():
            raise NotStored(
                f"no SLA facts of {version.agreement!r} version {version.version} {commitment_id!r}"
            )
        if version.document.timezone != run.grid_doc.timezone or run.grid_doc.period not in PERIODS:
            raise NotStored("the periods are not those the facts are keyed by")
        key = ("facts", version.agreement, int(version.version), commitment_id, filters, metric, as_of,
               run.grid_doc.period, self.selection)  # fmt: skip
        return self._per_periods(
            key, bounds, lambda: self._fact_counts(version, commitment_id, filters, metric, run, bounds, as_of),
            lambda found, first, count: {p - first: v for p, v in found.items() if first <= p < first + count},
        )  # fmt: skip

    def _fact_counts(self, version, commitment_id, filters, metric, run, bounds, as_of) -> dict:
        c = FACTS.c
        starts = {int(pd.Timestamp(s).value // 1000): pos for pos, s in enumerate(bounds[:-1])}
        start_us, end_us = min(starts), int(pd.Timestamp(bounds[-1]).value // 1000)
        as_of_us = int(as_of.value // 1000)
        period = c[f"{run.grid_doc.period}_us"]
        cond = (
            (c.agreement == version.agreement)
            & (c.version == int(version.version))
            & (c.commitment == commitment_id)
            & (c.mql_us >= start_us)  # the indexed column: periods start and end at these instants
            & (c.mql_us < end_us)
            & (c.mql_us <= as_of_us)
            & (c.created_us.is_(None) | (c.created_us <= as_of_us))
        )
        for kind, column in FACT_SLICES.items():
            chosen = list(getattr(self.selection, kind))
            if chosen:
                cond &= c[column].in_(chosen)
        for name, values in filters or ():
            cond &= c[name].in_(list(values))
        if metric == "acceptance_rate":
            known = c.disposition_us.is_(None) | (c.disposition_us <= as_of_us)
            met, breached = (c.disposition == "accepted") & known, (c.disposition == "rejected") & known
        else:
            met, breached, _ = status_at(as_of_us)

        def count(condition):
            return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)

        query = sa.select(period.label("period_us"), sa.func.count(), count(met), count(breached))
        with transaction(self.bind) as conn:
            found = conn.execute(query.where(cond).group_by(period)).all()
            quantiles = {}
            if metric in QUANTILES:
                touched = cond & c.stop_us.is_not(None) & (c.stop_us <= as_of_us)
                quantiles = _quantiles(
                    conn, touched, ["period_us"], [period.label("period_us")], QUANTILES[metric]
                )
        out = {}
        for period_us, n, met_n, breached_n in found:
            pos = starts.get(int(period_us))
            if pos is None:
                continue
            if metric in QUANTILES:
                out[pos] = {"n": int(n), "actual": quantiles.get((period_us,), np.nan)}
                continue
            decided = met_n + breached_n
            out[pos] = {
                "n": int(n), "met": float(met_n), "breached": float(breached_n),
                "pending": float(n - decided), "actual": met_n / decided if decided else np.nan,
            }  # fmt: skip
        return out

    # -- shared reads -----------------------------------------------------------------------------

    def _once(self, key: tuple, compute):
        if key not in self._shared:
            self._shared[key] = compute()
        return self._shared[key]

    def _per_periods(self, key: tuple, bounds: tuple, compute, part):
        """``compute()``, the answer of ``key`` for the periods between ``bounds``, asked once. Where an earlier
        answer of the same ``key`` (the same question as of the same instant) covers these periods as a run of
        its own, ``part(answer, first position, count)`` cuts them from it instead: the Overview asks the weeks
        of its trend, then single weeks of them as of the same instant."""
        mine = ("periods", key, bounds)
        if mine not in self._shared:
            for (tag, *earlier), answer in list(self._shared.items()):
                if tag != "periods" or earlier[0] != key or bounds[0] not in earlier[1]:
                    continue
                first = earlier[1].index(bounds[0])
                if earlier[1][first : first + len(bounds)] == bounds:
                    self._shared[mine] = part(answer, first, len(bounds) - 1)
                    break
            else:
                self._shared[mine] = compute()
        return self._shared[mine]

    def _stored(self) -> set[tuple[str, int, str]]:
        def read():
            with transaction(self.bind) as conn:
                return {(a, int(v), c) for a, v, c in stored_commitments(conn)}

        return self._once(("stored",), read)

    def _unfiltered_clock(self, version) -> str:
        """A clock commitment of ``version`` without filters whose facts are stored: its rows are every handover."""
        stored = self._stored()
        for commitment in version.document.commitments:
            key = (version.agreement, int(version.version), commitment.id)
            if commitment.metric in CLOCK_METRICS and not commitment.filters.items() and key in stored:
                return commitment.id
        raise NotStored(f"version {version.version} has no unfiltered clock commitment with stored facts")

    def _owner_keys(self) -> pd.DataFrame:
        return self._once(("owner keys",), lambda: owner_keys(self.bind))

    def _leads(self, bounds, as_of, segments: bool) -> pd.DataFrame:
        def read():
            return _resolved(lead_counts(self.bind, list(bounds), as_of, segments), self._owner_keys())

        return self._per_periods(("leads", as_of, segments), bounds, read, _cut)


def _cut(frame: pd.DataFrame, first: int, count: int) -> pd.DataFrame:
    """The rows of periods ``first``.. ``first + count - 1`` of a frame with a ``pos`` column, numbered from 0."""
    inside = (frame["pos"] >= first) & (frame["pos"] < first + count)
    return frame[inside].assign(pos=frame["pos"][inside] - first).reset_index(drop=True)


def _nothing(kind: str) -> dict[str, float]:
    """The figures of a period without rows: evaluate's zeros and NaNs."""
    if kind in ("count", "amount"):
        return {"n": 0, "actual": 0.0}
    if kind == "rate":
        return {"n": 0, "met": 0.0, "breached": 0.0, "pending": 0.0, "actual": np.nan}
    return {"n": 0, "actual": np.nan}


def _lead_figures(metric: str, leads: pd.DataFrame) -> dict[int, dict[str, float]]:
    per = leads.groupby("pos")[["mqls", "sqls"]].sum()
    out = {}
    for pos, mqls, sqls in zip(per.index, per["mqls"], per["sqls"], strict=True):
        if metric == "mql_count":
            out[int(pos)] = {"n": int(mqls), "actual": float(mqls)}
        elif metric == "sql_count":
            out[int(pos)] = {"n": int(mqls), "actual": float(sqls)}
        else:
            out[int(pos)] = {
                "n": int(mqls), "met": float(sqls), "breached": float(mqls - sqls), "pending": 0.0,
                "actual": sqls / mqls if mqls else np.nan,
            }  # fmt: skip
    return out


def _rows(rows: list[dict], run: _Counted) -> pd.DataFrame:
    """``evaluate``'s frame from the per-period dicts: typed, placed on the grid, judged, in its order."""
    if not rows:
        return _empty_result(RESULT_COLUMNS, [])
    out = pd.DataFrame(rows)
    for column in ("met", "breached", "pending"):
        out[column] = out[column].astype("float64") if column in out else np.nan
    out = out.astype({c: "str" for c in ("commitment", "party", "metric", "kind", "unit")}).astype(
        {"version": "Int64", "n": "int64", "lower_is_better": bool, "target": "float64", "actual": "float64"}
    )
    grid = run.grid.iloc[out["_pos"].to_numpy()].reset_index(drop=True)
    for column in ("period", "period_start", "period_end"):
        out[column] = grid[column]
    out = _judge(out, run)
    out = out.sort_values(["_order", "period_start"], kind="stable")
    return out[RESULT_COLUMNS].reset_index(drop=True)


def source(writer: Engine, reader: Engine | Connection | None = None) -> StoredEvaluation | None:
    """A :class:`StoredEvaluation` reading through ``reader`` (default ``writer``), or None: off
    (``ACCORD_FIGURES_FROM_DATABASE``) or ``writer``'s database does not keep its SLA facts current."""
    if not settings.switch("ACCORD_FIGURES_FROM_DATABASE") or not fact_upkeep.current(writer):
        return None
    return StoredEvaluation(writer if reader is None else reader)


def answered(writer: Engine, answer, read_frames, reader: Engine | Connection | None = None):
    """``answer(data)`` with the database answering (:func:`source`) where it can, else with the frames
    ``read_frames()`` (e.g. an agreement version saved while its facts were not stored yet)."""
    if (stored := source(writer, reader)) is not None:
        with contextlib.suppress(NotStored):
            return answer(stored)
    return answer(read_frames())
