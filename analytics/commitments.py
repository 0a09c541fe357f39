"""Commitment evaluation: for each commitment and period, the actual against the target in force.

:func:`evaluate` is the one entry point the pages use. Periods come from the
agreement version in force at ``as_of`` (its period length and timezone); each
period is then judged by the version in force when the period started, so a
target changed later never rewrites an earlier period. Periods after ``as_of``
are left out.

Status of a row (higher is better, except durations where lower is better):

- closed period (ended at or before as_of): ``met`` if the actual reaches the
  target, else ``missed``;
- current period: from the projection (counts and amounts: straight-line pace
  in business time; rates and durations: the actual as it stands) — ``on track``
  if it reaches the target, ``at risk`` if it is short by at most
  :data:`AT_RISK_BAND` of the target, else ``off track``;
- a closed period's rate is ``provisional`` (period_state and status, no met /
  missed) while a window of one of the period's leads (follow-up, touches,
  disposition) is still open at as_of; once the last has run out it is settled;
- a current period's rate resting on fewer than :data:`MIN_DECIDED` decided
  leads is ``too few decided`` instead of on track / at risk / off track;
- ``pending`` when nothing can be judged yet (no lead decided, no business time
  elapsed), ``no data`` for a closed period with nothing to measure, ``no target``
  where there is no target (see ``GLOSSARY["no target"]`` in analytics.metrics).

A page can show a metric no commitment measures (SQLs, won revenue):
:func:`with_tracked` adds a commitment *tracked without a target* for it, and
:func:`rows_for` / :func:`row_for` find a metric's rows in the evaluation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from analytics.agreement import Agreement, AgreementVersion, Commitment, version_in_force
from analytics.calendar import business_seconds_between
from analytics.metrics import (
    BREACHED,
    HOUR,
    MET,
    METRICS,
    Facts,
    Frames,
    aggregate_arrays,
    as_instant,
    day_limits,
    filter_mask,
    prepare_frames,
)
from analytics.pacing import (
    business_weeks_left,
    elapsed_share,
    expected_by_day,
    needed_per_week,
    projected_finish,
)
from analytics.periods import assign_periods, local_midnight, period_grid, period_of
from analytics.slicing import Slice
from errors import AccordError

AT_RISK_BAND = 0.10
# A current period's rate resting on fewer decided leads says so instead of a projection status.
MIN_DECIDED = 10
# Rate metrics whose leads each have a window (a limit in business time) that must run out to settle.
WINDOWED = ("followed_up_within", "touches_within", "dispositioned_within")
BREAKDOWNS: tuple[str | None, ...] = (None, "owner", "team", "channel")
STATUSES: tuple[str, ...] = (
    "met",
    "missed",
    "on track",
    "at risk",
    "off track",
    "pending",
    "no data",
    "no target",
    "provisional",
    "too few decided",
)
EPOCH = pd.Timestamp("1970-01-01", tz="UTC")

RESULT_COLUMNS = [
    "commitment", "party", "metric", "kind", "unit", "period", "period_start", "period_end", "period_state",
    "version", "target", "actual", "gap", "gap_pct", "status", "n", "met", "breached", "pending",
    "elapsed_share", "expected_to_date", "projection", "needed_per_week", "lower_is_better",
]  # fmt: skip


class EvaluationError(AccordError, ValueError):
    """The evaluation cannot run with these arguments; the message says which and why."""


def as_versions(
    agreement_versions: Agreement | AgreementVersion | Iterable[AgreementVersion],
) -> list[AgreementVersion]:
    """Return the versions as a list; a bare :class:`Agreement` is one version in force since 1970."""
    if isinstance(agreement_versions, Agreement):
        doc = agreement_versions
        return [
            AgreementVersion(
                agreement=doc.name, version=1, effective_from=EPOCH, document=doc, created_at=EPOCH
            )
        ]
    if isinstance(agreement_versions, AgreementVersion):
        return [agreement_versions]
    versions = list(agreement_versions)
    if not versions:
        raise EvaluationError("no agreement version given: save an agreement first")
    for v in versions:
        if not isinstance(v, AgreementVersion):
            raise EvaluationError(f"expected AgreementVersion items, got {type(v).__name__}")
    names = {v.agreement for v in versions}
    if len(names) > 1:
        raise EvaluationError(f"versions of different agreements were mixed: {', '.join(sorted(names))}")
    return versions


def evaluate(
    agreement_versions: Agreement | AgreementVersion | Iterable[AgreementVersion],
    frames: Mapping[str, pd.DataFrame],
    start: Any,
    end: Any,
    as_of: Any,
    by: str | None = None,
) -> pd.DataFrame:
    """Return one row per commitment x period (x owner / team / channel with ``by``), columns :data:`RESULT_COLUMNS`.

    ``frames`` are canonical ``leads``, ``deals``, ``activities``, ``owners``
    (missing ones are empty). ``start``/``end``: dates (read in the agreement's
    timezone) or instants; every period overlapping ``[start, end)`` that has
    started by ``as_of`` is evaluated. ``as_of``: a timezone-aware instant.

    With ``by``, each row is one group's share of the commitment. Rate and
    duration targets apply to every group; count and amount targets are for the
    whole and show ``no target`` per group. Groups without rows are left out.
    ``met``/``breached``/``pending`` are filled for rate metrics only.
    """
    return _Run(agreement_versions, frames, start, end, as_of, by).result()


def _period_run(agreement_versions, frames, commitment_id: str, period: Any, moment: pd.Timestamp):
    """The evaluation run of the period holding ``period`` as of ``moment``, for one commitment.

    Returns (run, period row, version in force at the period's start, its document, the commitment);
    EvaluationError when the period starts after ``moment`` or that version has no such commitment.
    """
    versions = as_versions(agreement_versions)
    grid_doc = document_in_force(versions, moment)
    row = period_of(period, grid_doc.period, grid_doc.timezone)
    run = _Run(versions, frames, row["period_start"], row["period_end"], moment, None)
    if run.grid.empty:
        raise EvaluationError(f"period {row['period']} starts after as_of {moment}: nothing has happened yet")
    version, doc = run.version_of(0)
    commitment = next((c for c in doc.commitments if c.id == commitment_id), None)
    if commitment is None:
        raise EvaluationError(
            f"commitment {commitment_id!r} is not in the agreement in force on {row['period_start']:%Y-%m-%d}; "
            f"commitments: {', '.join(c.id for c in doc.commitments)}"
        )
    return run, row, version, doc, commitment


def daily_progress(
    agreement_versions: Agreement | AgreementVersion | Iterable[AgreementVersion],
    frames: Mapping[str, pd.DataFrame],
    commitment_id: str,
    period: Any,
    as_of: Any,
) -> pd.DataFrame:
    """Return the day-by-day progress of a count or amount commitment over the period containing ``period``.

    One row per local day of the period: ``day`` (local date), ``day_end``
    (UTC), ``actual`` (that day's value), ``cumulative`` (NaN after the as-of
    day), ``expected`` (target x elapsed share at the day's end, or at as_of for
    the as-of day) and ``target``.
    """
    moment = as_instant(as_of)
    run, row, version, doc, commitment = _period_run(
        agreement_versions, frames, commitment_id, period, moment
    )
    metric = METRICS[commitment.metric]
    if metric.kind not in ("count", "amount"):
        raise EvaluationError(
            f"daily progress is for counts and amounts; {commitment_id!r} is a {metric.kind}"
        )
    facts = run.facts_for(doc)
    values = run.values(facts, doc, commitment)
    rows = facts.table(metric.table)
    inside = (run.period_index(metric.table, metric.at) == 0) & run.filter(facts, metric.table, commitment)

    zone = doc.timezone
    first = row["period_start"].tz_convert(zone).tz_localize(None).normalize()
    last = (row["period_end"] - pd.Timedelta(microseconds=1)).tz_convert(zone).tz_localize(None).normalize()
    days = pd.date_range(first, last, freq="D")
    bounds = local_midnight(days.append(pd.DatetimeIndex([days[-1] + pd.Timedelta(days=1)])), zone)
    day_pos = (
        np.searchsorted(bounds.asi8, rows[metric.at].dt.as_unit("us").array.asi8[inside], side="right") - 1
    )
    per_day = np.bincount(
        day_pos, weights=np.nan_to_num(values[inside].astype("float64")), minlength=len(days)
    )
    day_end = pd.Series(bounds[1:])
    day_start = pd.Series(bounds[:-1])
    until = day_end.where(~((day_start <= moment) & (moment < day_end)), moment)
    target = float(run.targets(commitment, metric.kind, {}, np.zeros(1, np.int64))) if version else np.nan
    calendar = doc.calendar_for(None)
    cumulative = np.cumsum(per_day[: len(days)])
    started = day_start <= moment
    return pd.DataFrame(
        {
            "day": days,
            "day_end": day_end,
            "actual": np.where(started, per_day[: len(days)], np.nan),
            "cumulative": np.where(started, cumulative, np.nan),
            "expected": expected_by_day(calendar, row["period_start"], row["period_end"], target, until),
            "target": target,
        }
    )


def known_versions(versions: list[AgreementVersion], as_of: Any) -> list[AgreementVersion]:
    """Return the versions saved (``created_at``) by ``as_of``: a version saved later is not used as of it.

    When none was saved by then, the first saved version stands in, so a past period can still be read.
    """
    moment = as_instant(as_of)
    known = [v for v in versions if pd.isna(v.created_at) or pd.Timestamp(v.created_at) <= moment]
    if known or not versions:
        return known
    first = min(pd.Timestamp(v.created_at) for v in versions)
    return [v for v in versions if pd.Timestamp(v.created_at) == first]


def document_in_force(versions: list[AgreementVersion], moment: pd.Timestamp) -> Agreement:
    """Return the document of the version in force at ``moment``, or of the earliest version before any.

    Only versions saved by ``moment`` count (:func:`known_versions`).
    """
    versions = known_versions(versions, moment)
    current = version_in_force(versions, moment)
    return (current or _earliest(versions)).document


def document_for_period(versions: list[AgreementVersion], period_start: Any, as_of: Any) -> Agreement:
    """Return the document a period is judged by, as :func:`evaluate` judges it: among the versions saved by
    ``as_of``, the one in force at ``period_start`` (or the earliest, before any)."""
    known = known_versions(versions, as_of)
    current = version_in_force(known, as_instant(period_start))
    return (current or _earliest(known)).document


def _earliest(versions: list[AgreementVersion]) -> AgreementVersion:
    return min(versions, key=lambda v: (pd.Timestamp(v.effective_from), -v.version))


def _narrowed(selection: Slice) -> set[str]:
    return {k for k, v in (("team", selection.teams), ("owner", selection.owners),
                           ("channel", selection.channels)) if v}  # fmt: skip


def selection_target(commitment, kind: str, selection: Slice, owners: pd.DataFrame) -> float:
    """The target of a commitment's row for the rows of ``selection`` (``GLOSSARY["slice target"]``).

    Rates and durations: the commitment's target, for every slice. Counts and amounts: the target for
    the whole; for rows narrowed along one slice kind, the agreement's slice target of that slice (owner
    ids looked up in ``owners`` by name, then external id); else none (NaN).
    """
    whole = np.nan if commitment.target is None else float(commitment.target)
    narrowed = _narrowed(selection)
    if kind in ("rate", "duration") or not narrowed:
        return whole
    table = commitment.slice_targets
    if len(narrowed) > 1 or table is None:
        return np.nan
    (dimension,) = narrowed
    chosen = selection.owners if dimension == "owner" else getattr(selection, f"{dimension}s")
    found = slice_target(table, dimension, chosen, owners)
    return np.nan if found is None else found


def slice_target(table, dimension: str, chosen, owners: pd.DataFrame) -> float | None:
    """The slice target of ``chosen`` values (owner ids are looked up by name, then external id)."""
    if dimension != "owner":
        return table.target_for(dimension, chosen)
    owners = owners.dropna(subset=["id"]).drop_duplicates("id").set_index("id")
    total = 0.0
    for owner_id in chosen:
        if owner_id not in owners.index:
            return None
        row = owners.loc[owner_id]
        found = next((t for key in (row["name"], row["external_id"]) if not pd.isna(key)
                      and (t := table.target_for("owner", [key])) is not None), None)  # fmt: skip
        if found is None:
            return None
        total += found
    return total


class _Run:
    """One evaluation: prepared frames, per-calendar facts and per-row values, each computed once."""

    def __init__(self, agreement_versions, frames, start, end, as_of, by) -> None:
        if by not in BREAKDOWNS:
            raise EvaluationError(f"unknown breakdown by={by!r}; use one of: None, owner, team, channel")
        self.as_of = as_instant(as_of)
        self.versions = known_versions(as_versions(agreement_versions), self.as_of)
        self.by = by
        self.grid_doc = document_in_force(self.versions, self.as_of)
        grid = period_grid(self.grid_doc.period, self.grid_doc.timezone, start, end)
        self.grid = grid[grid["period_start"] <= self.as_of].reset_index(drop=True)
        self.frames: Frames = prepare_frames(frames, self.as_of)
        self.selection = getattr(frames, "selection", None) or Slice()
        self._facts: dict[Any, Facts] = {}
        self._values: dict[Any, np.ndarray] = {}
        self._periods: dict[tuple[str, str], np.ndarray] = {}
        self._groups: dict[str, tuple[np.ndarray, dict[str, np.ndarray]]] = {}
        self._filters: dict[Any, np.ndarray] = {}
        self._period_versions = [version_in_force(self.versions, s) for s in self.grid["period_start"]]

    # -- cached pieces ---------------------------------------------------------------------------

    def version_of(self, pos: int) -> tuple[AgreementVersion | None, Agreement]:
        """The version in force at the start of period ``pos`` (None before the first) and the document used."""
        version = self._period_versions[pos]
        return version, (version or _earliest(self.versions)).document

    def facts_for(self, doc: Agreement) -> Facts:
        calendar, teams = doc.calendar_for(None), doc.team_calendars()
        key = (calendar, tuple(sorted(teams.items())))
        if key not in self._facts:
            self._facts[key] = Facts(self.frames, calendar, teams)
        return self._facts[key]

    def values(self, facts: Facts, doc: Agreement, commitment) -> np.ndarray:
        params = commitment.metric_params()
        key = (id(facts), commitment.metric, params.model_dump_json())
        if key not in self._values:
            self._values[key] = np.asarray(METRICS[commitment.metric].compute(facts, params))
        return self._values[key]

    def period_index(self, table: str, at: str) -> np.ndarray:
        if (table, at) not in self._periods:
            rows = self.frames.leads if table == "leads" else self.frames.deals
            self._periods[(table, at)] = assign_periods(rows[at], self.grid)
        return self._periods[(table, at)]

    def filter(self, facts: Facts, table: str, commitment) -> np.ndarray:
        items = tuple(commitment.filters.items())
        key = (table, items)
        if key not in self._filters:
            self._filters[key] = filter_mask(facts, table, items)
        return self._filters[key]

    def groups(self, table: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Group code per row of ``table`` and the label columns of each code (no labels without ``by``)."""
        if table in self._groups:
            return self._groups[table]
        rows = self.frames.leads if table == "leads" else self.frames.deals
        if self.by is None:
            found = (np.zeros(len(rows), dtype=np.int64), {})
        elif self.by == "owner":
            codes, ids = pd.factorize(rows["owner_id"], use_na_sentinel=False)
            ids = pd.array(ids, dtype="Int64")
            owners = self.frames.owners.dropna(subset=["id"]).drop_duplicates("id")
            names = pd.Series(owners["name"].to_numpy(), index=owners["id"].to_numpy(dtype="int64"))
            label = pd.Series(
                names.reindex(ids.to_numpy(dtype="float64", na_value=np.nan)).to_numpy(), dtype="str"
            )
            label = label.mask(pd.isna(ids), "(unassigned)").fillna("(unknown owner)")
            found = (
                codes.astype(np.int64),
                {"owner_id": ids.to_numpy(dtype=object), "owner": label.to_numpy(dtype=object)},
            )
        else:
            codes, values = pd.factorize(rows[self.by], use_na_sentinel=False)
            label = pd.Series(values, dtype="str").fillna("(none)")
            found = (codes.astype(np.int64), {self.by: label.to_numpy(dtype=object)})
        self._groups[table] = found
        return found

    def targets(self, commitment, kind: str, labels: dict[str, np.ndarray], group: np.ndarray) -> Any:
        """The target of each row (group codes ``group``): see ``GLOSSARY["slice target"]``.

        Without a breakdown: :func:`selection_target`. With one, rates and durations take the
        commitment's target in every group; counts and amounts the agreement's slice target of each
        group when nothing else narrows the rows (else none).
        """
        if self.by is None:
            return selection_target(commitment, kind, self.selection, self.frames.owners)
        whole = np.nan if commitment.target is None else float(commitment.target)
        if kind in ("rate", "duration"):
            return whole
        narrowed = _narrowed(self.selection) | {self.by}
        table = commitment.slice_targets
        if len(narrowed) > 1 or table is None:
            return np.nan
        (dimension,) = narrowed
        codes = labels["owner_id"] if dimension == "owner" else labels[dimension]
        per_code = [
            slice_target(table, dimension, [c], self.frames.owners) if not pd.isna(c) else None for c in codes
        ]
        values = np.array([np.nan if t is None else t for t in per_code], dtype="float64")
        return values[group] if len(values) else np.full(len(group), np.nan)

    def unsettled(self, positions: Iterable[int]) -> set[int]:
        """The periods among ``positions`` where a window of one of their leads is still open at as_of.

        Business time is monotone in the handover, so on each calendar the lead
        handed over last in a period has the period's last window, and once a
        period has settled so has every earlier one: a business-time sum for the
        latest periods only.
        """
        pidx = self.period_index("leads", "mql_at")
        last_of: dict[Any, list[tuple[int, pd.Timestamp, float]]] = {}
        for pos in positions:
            in_period = pidx == pos
            if not in_period.any():
                continue
            _, doc = self.version_of(pos)
            facts = self.facts_for(doc)
            for calendar, mask in facts.calendar_groups():
                rows = in_period & mask
                limits = [w for c in doc.commitments if (w := window_seconds(c, calendar)) is not None]
                if rows.any() and limits:
                    last_of.setdefault(calendar, []).append(
                        (pos, facts.leads["mql_at"][rows].max(), max(limits))
                    )
        return _open_periods(last_of, self.as_of)

    # -- the evaluation ----------------------------------------------------------------------------

    def spans(self) -> list[tuple[int, int]]:
        """Runs ``(first, last)`` of consecutive periods judged by the same version."""
        out: list[tuple[int, int]] = []
        for pos, version in enumerate(self._period_versions):
            if out and self._period_versions[out[-1][0]] is version:
                out[-1] = (out[-1][0], pos)
            else:
                out.append((pos, pos))
        return out

    def result(self) -> pd.DataFrame:
        group_cols = [] if self.by is None else (["owner_id", "owner"] if self.by == "owner" else [self.by])
        columns = RESULT_COLUMNS[:9] + group_cols + RESULT_COLUMNS[9:]
        pieces = [piece for lo, hi in self.spans() for piece in self._span(lo, hi)]
        if not pieces or not sum(len(p["_pos"]) for p in pieces):
            return _empty_result(columns, group_cols)
        data = {key: np.concatenate([p[key] for p in pieces]) for key in pieces[0]}
        pos = data.pop("_pos")
        grid = self.grid.iloc[pos].reset_index(drop=True)
        out = pd.DataFrame(
            {
                "period": grid["period"],
                "period_start": grid["period_start"],
                "period_end": grid["period_end"],
                **{
                    c: pd.Series(data.pop(c), dtype="str")
                    for c in ("commitment", "party", "metric", "kind", "unit")
                },
                **({"owner_id": pd.array(data.pop("owner_id"), dtype="Int64")} if self.by == "owner" else {}),
                **{c: pd.Series(data.pop(c), dtype="str") for c in group_cols if c != "owner_id"},
                "version": pd.array(data.pop("version"), dtype="Int64"),
                "n": data.pop("n").astype("int64"),
                "lower_is_better": data.pop("lower_is_better").astype(bool),
                **{
                    c: data.pop(c).astype("float64")
                    for c in ("target", "actual", "met", "breached", "pending")
                },
                "_pos": pos,
                "_order": data.pop("_order"),
            }
        )
        out = _judge(out, self)
        out = out.sort_values(["_order", "period_start", *group_cols[-1:]], kind="stable")
        return out[columns].reset_index(drop=True)

    def _span(self, lo: int, hi: int) -> list[dict[str, np.ndarray]]:
        """Aggregated rows of periods ``lo..hi`` (one version), as column arrays per commitment."""
        version, doc = self.version_of(lo)
        facts = self.facts_for(doc)
        periods = len(self.grid)
        order = {c.id: i for i, c in enumerate(self.grid_doc.commitments)}
        pieces = []
        for commitment in doc.commitments:
            metric = METRICS[commitment.metric]
            pidx = self.period_index(metric.table, metric.at)
            codes, labels = self.groups(metric.table)
            size = len(next(iter(labels.values()))) if labels else 1
            inside = self.filter(facts, metric.table, commitment) & (pidx >= lo) & (pidx <= hi)
            keys = np.where(inside, pidx * size + codes, -1)
            agg = aggregate_arrays(metric, self.values(facts, doc, commitment), keys, periods * size)
            slot = np.arange(periods * size)
            pos, group = slot // size, slot % size
            keep = (pos >= lo) & (pos <= hi)
            if self.by is not None:
                keep &= agg["n"] > 0
            count = int(keep.sum())
            judged = version is not None and doc.period == self.grid_doc.period
            targets = self.targets(commitment, metric.kind, labels, group[keep]) if judged else np.nan
            piece = {
                "_pos": pos[keep],
                "_order": np.full(count, order.get(commitment.id, len(order))),
                "commitment": np.full(count, commitment.id, dtype=object),
                "party": np.full(count, commitment.owner, dtype=object),
                "metric": np.full(count, metric.name, dtype=object),
                "kind": np.full(count, metric.kind, dtype=object),
                "unit": np.full(count, metric.unit, dtype=object),
                "version": np.full(count, version.version if version else None, dtype=object),
                "target": np.broadcast_to(np.asarray(targets, dtype="float64"), (count,)).copy(),
                "lower_is_better": np.full(count, metric.lower_is_better),
                **{c: agg[c][keep] for c in ("n", "actual", "met", "breached", "pending")},
                **{c: values[group[keep]] for c, values in labels.items()},
            }
            pieces.append(piece)
        return pieces


def _open_periods(last_of: dict[Any, list[tuple[int, pd.Timestamp, float]]], as_of: pd.Timestamp) -> set[int]:
    """The periods whose last handover's longest window (per calendar: (period, last handover, limit) items) is
    still open at ``as_of``."""
    out: set[int] = set()
    for calendar, items in last_of.items():
        # Latest handover first: once one has run out, so has every earlier one with no longer window.
        items.sort(key=lambda item: item[1], reverse=True)
        for i, (pos, last, limit) in enumerate(items):
            if business_seconds_between(last, as_of, calendar) > limit:
                if limit >= max(rest[2] for rest in items[i:]):
                    break
            else:
                out.add(pos)
    return out


class _Counted:
    """What :func:`_judge` reads of a run (as_of, grid, versions, open windows), for rows built from counts."""

    def __init__(self, agreement_versions, start, end, as_of, last_handovers: pd.DataFrame) -> None:
        self.as_of = as_instant(as_of)
        self.versions = known_versions(as_versions(agreement_versions), self.as_of)
        self.grid_doc = document_in_force(self.versions, self.as_of)
        grid = period_grid(self.grid_doc.period, self.grid_doc.timezone, start, end)
        self.grid = grid[grid["period_start"] <= self.as_of].reset_index(drop=True)
        self._period_versions = [version_in_force(self.versions, s) for s in self.grid["period_start"]]
        self.last_handovers = last_handovers

    version_of = _Run.version_of

    def unsettled(self, positions: Iterable[int]) -> set[int]:
        """:meth:`_Run.unsettled` from the latest handover per period and team (``last_handovers``)."""
        last_of: dict[Any, list[tuple[int, pd.Timestamp, float]]] = {}
        frame = self.last_handovers
        for pos in positions:
            mine = frame[frame["pos"] == pos]
            if mine.empty:
                continue
            _, doc = self.version_of(pos)
            default, teams = doc.calendar_for(None), doc.team_calendars()
            calendars = [teams.get(t, default) if isinstance(t, str) else default for t in mine["team"]]
            last = mine["last"].reset_index(drop=True)
            for calendar in dict.fromkeys(calendars):
                limits = [w for c in doc.commitments if (w := window_seconds(c, calendar)) is not None]
                if limits:
                    on = pd.Series([c == calendar for c in calendars])
                    last_of.setdefault(calendar, []).append((pos, last[on].max(), max(limits)))
        return _open_periods(last_of, self.as_of)


def decided_rate_rows(
    agreement_versions: Agreement | AgreementVersion | Iterable[AgreementVersion],
    metric: str,
    start: Any,
    end: Any,
    as_of: Any,
    counts: Callable[[Commitment], pd.DataFrame],
    last_handovers: pd.DataFrame,
) -> pd.DataFrame:
    """Return ``rows_for(evaluate(agreement_versions, frames, start, end, as_of), doc, metric)`` from counts.

    For a rate metric whose every lead is decided (met or breached, never pending: ``mql_to_sql_rate``).
    ``counts(commitment)`` returns, indexed by period position in the grid, ``n`` (the leads handed over
    in the period that pass the commitment's filters) and ``met``; ``last_handovers`` holds the latest
    handover (``last``) per period position (``pos``) and lead team (``team``) of all the leads, which
    says which closed periods are still provisional. Periods, versions, targets and status are
    :func:`evaluate`'s; so is the choice of commitment per period (:func:`rows_for`).
    """
    if METRICS[metric].kind != "rate":
        raise EvaluationError(f"decided_rate_rows is for rates; {metric!r} is a {METRICS[metric].kind}")
    run = _Counted(agreement_versions, start, end, as_of, last_handovers)
    rows = []
    for pos, version, doc, chosen, rank in chosen_per_period(run, metric):
        counted = counts(chosen)
        n = int(counted["n"].get(pos, 0))
        met = float(counted["met"].get(pos, 0))
        judged = version is not None and doc.period == run.grid_doc.period and chosen.target is not None
        rows.append({
            "commitment": chosen.id, "party": chosen.owner, "metric": metric, "kind": "rate",
            "unit": METRICS[metric].unit, "version": version.version if version else None,
            "target": float(chosen.target) if judged else np.nan, "actual": met / n if n else np.nan,
            "n": n, "met": met, "breached": float(n - met), "pending": 0.0, "lower_is_better": False,
            "_pos": pos, "_order": rank,
        })  # fmt: skip
    return judged_rows(rows, run)


def chosen_per_period(run: _Counted, metric: str):
    """Yield ``(position, version, document, commitment, rank)`` for each period of ``run``'s grid whose
    version measures ``metric``: the commitment :func:`rows_for` shows there (the tracked id, else that
    version's first commitment of the metric in the grid document's order, ``rank``)."""
    cid = tracked_id(run.grid_doc, metric)
    order = {c.id: i for i, c in enumerate(run.grid_doc.commitments)}
    for pos in range(len(run.grid)):
        version, doc = run.version_of(pos)
        candidates = [c for c in doc.commitments if c.metric == metric]
        if not candidates:
            continue
        own = [c for c in candidates if c.id == cid]
        chosen = own[0] if own else min(candidates, key=lambda c: order.get(c.id, len(order)))
        yield pos, version, doc, chosen, order.get(chosen.id, len(order))


def judged_rows(rows: list[dict], run: _Counted) -> pd.DataFrame:
    """``evaluate``'s rows (:data:`RESULT_COLUMNS`) from per-period dicts built over :func:`chosen_per_period`:
    typed, placed on the grid's periods, judged (:func:`_judge`), oldest first."""
    if not rows:
        return _empty_result(RESULT_COLUMNS, [])
    out = pd.DataFrame(rows)
    out = out.astype({c: "str" for c in ("commitment", "party", "metric", "kind", "unit")}).astype(
        {"version": "Int64", "n": "int64", "lower_is_better": bool, "target": "float64"}
    )
    grid = run.grid.iloc[out["_pos"].to_numpy()].reset_index(drop=True)
    for column in ("period", "period_start", "period_end"):
        out[column] = grid[column]
    out = _judge(out, run)
    return out.sort_values("period_start", kind="stable")[RESULT_COLUMNS].reset_index(drop=True)


def _judge(out: pd.DataFrame, run: _Run) -> pd.DataFrame:
    """Add period state, pacing, gap and status to the aggregated rows."""
    closed = (out["period_end"] <= run.as_of).to_numpy()
    share = np.ones(len(out))
    weeks = np.zeros(len(out))
    for pos in np.unique(out["_pos"].to_numpy()[~closed]):
        _, doc = run.version_of(int(pos))
        calendar = doc.calendar_for(None)
        period = run.grid.iloc[int(pos)]
        rows = (out["_pos"] == pos).to_numpy()
        share[rows] = elapsed_share(calendar, period["period_start"], period["period_end"], run.as_of)
        weeks[rows] = business_weeks_left(calendar, period["period_end"], run.as_of)

    kind = out["kind"].to_numpy()
    positions = out["_pos"].to_numpy()
    open_windows = run.unsettled(int(p) for p in np.unique(positions[closed]))
    provisional = closed & (kind == "rate") & np.isin(positions, list(open_windows))
    paced = np.isin(kind, ["count", "amount"])
    actual = out["actual"].to_numpy(dtype="float64")
    target = out["target"].to_numpy(dtype="float64")
    projection = np.where(paced, projected_finish(actual, share), actual)
    expected = np.where(paced, target * share, target)
    needed = np.where(paced & ~closed, needed_per_week(target, actual, weeks), np.nan)
    lower = out["lower_is_better"].to_numpy(bool)
    gap = actual - target
    with np.errstate(invalid="ignore", divide="ignore"):
        gap_pct = np.where(target != 0, gap / target, np.nan)

    status = _status(actual, projection, target, lower, closed, out["pending"].to_numpy(dtype="float64"))
    decided = (out["met"] + out["breached"]).to_numpy(dtype="float64")
    judged = np.isin(status, ["on track", "at risk", "off track", "met", "missed"])
    status = np.where(provisional & (judged | (status == "pending")), "provisional", status)
    few = ~closed & (kind == "rate") & judged & (decided < MIN_DECIDED)
    status = np.where(few, "too few decided", status)
    return out.assign(
        period_state=np.where(provisional, "provisional", np.where(closed, "closed", "current")),
        elapsed_share=share,
        expected_to_date=expected,
        projection=projection,
        needed_per_week=needed,
        gap=gap,
        gap_pct=gap_pct,
        status=pd.array(status, dtype="str"),
    )


def _status(actual, projection, target, lower, closed, pending) -> np.ndarray:
    """Status per row; see the module docstring. ``pending`` is NaN for non-rate metrics."""
    with np.errstate(invalid="ignore"):
        reaches = np.where(lower, actual <= target, actual >= target)
        projected = np.where(lower, projection <= target, projection >= target)
        near = np.where(
            lower, projection <= target * (1 + AT_RISK_BAND), projection >= target * (1 - AT_RISK_BAND)
        )
    no_actual = np.isnan(actual)
    waiting = no_actual & (~closed | (pending > 0))
    conditions = [
        np.isnan(target),
        waiting,
        no_actual,
        closed & reaches,
        closed,
        projected,
        np.isnan(projection),
        near,
    ]
    choices = ["no target", "pending", "no data", "met", "missed", "on track", "pending", "at risk"]
    return np.select(conditions, choices, default="off track")


def window_seconds(commitment, calendar) -> float | None:
    """The business seconds of one lead's window under ``commitment`` on ``calendar`` (None: no window).

    >>> from analytics.agreement import Commitment
    >>> from analytics.calendar import BusinessCalendar
    >>> c = Commitment(id="t", owner="s", metric="dispositioned_within", params={"business_days": 2}, target=0.9)
    >>> window_seconds(c, BusinessCalendar(hours=("09:00", "17:00"))) / 3600
    16.0
    """
    if commitment.metric not in WINDOWED:
        return None
    params = commitment.metric_params()
    if commitment.metric == "followed_up_within":
        return float(params.business_hours) * 3600.0
    # Read as end_of_day, the window also holds the rest of the handover's day: at most one day more.
    extra = 1 if params.reading == "end_of_day" else 0
    return (float(params.business_days) + extra) * calendar.day_seconds


def _empty_result(columns: list[str], group_cols: list[str]) -> pd.DataFrame:
    text = {
        "commitment",
        "party",
        "metric",
        "kind",
        "unit",
        "period",
        "period_state",
        "status",
        "owner",
        "team",
        "channel",
    }
    dtypes = {c: "str" if c in text else "float64" for c in columns}
    dtypes.update(
        period_start="datetime64[us, UTC]", period_end="datetime64[us, UTC]", version="Int64", n="int64",
        lower_is_better="bool", owner_id="Int64",
    )  # fmt: skip
    return pd.DataFrame({c: pd.Series(dtype=dtypes[c]) for c in columns})


# ----------------------------------------------------------------------------- metrics tracked without a target


class UnknownMetricError(ValueError):
    """Code asked to track a metric the registry does not know (a bug: the agreement's metrics are checked on parse)."""


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
        raise UnknownMetricError(f"unknown metric {metric!r}; known metrics: {', '.join(METRICS)}")
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
        raise UnknownMetricError(f"unknown metric {unknown[0]!r}; known metrics: {', '.join(METRICS)}")
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


# Rate metrics with a clock (a limit per lead): their own clock gives a record's due time and hours taken.
_CLOCKS = ("followed_up_within", "touches_within", "dispositioned_within")


def counted_rows(
    agreement_versions: Agreement | AgreementVersion | Iterable[AgreementVersion],
    frames: Mapping[str, pd.DataFrame],
    commitment_id: str,
    period: Any,
    as_of: Any,
) -> pd.DataFrame:
    """Return the rows (leads or deals, as known at ``as_of``) that commitment ``commitment_id`` counts in the
    period holding ``period``: the records behind its figure, from the same evaluation as :func:`evaluate`.

    Counts: the rows counted (value 1); amounts: the rows that add to the sum (``value`` their amount);
    rates: every row judged, ``status`` met / breached / pending; durations: the rows measured. Columns:
    the table's canonical columns plus ``value``, ``status`` ("met", "breached", "pending", or "counted"),
    ``hours`` (business hours the commitment's clock took, else to first touch; NaN: not yet) and ``due``
    (when its clock, else the first follow-up limit, runs out; NaT: none). Order: the metric's ``at``, then id.
    """
    moment = as_instant(as_of)
    run, row, _, doc, commitment = _period_run(agreement_versions, frames, commitment_id, period, moment)
    metric = METRICS[commitment.metric]
    facts = run.facts_for(doc)
    values = np.asarray(run.values(facts, doc, commitment), dtype="float64")
    inside = (run.period_index(metric.table, metric.at) == 0) & run.filter(facts, metric.table, commitment)
    if metric.kind == "count":
        inside &= values > 0
    elif metric.kind in ("amount", "duration"):
        inside &= ~np.isnan(values)
    rows = facts.table(metric.table)
    status = np.full(len(rows), "counted", dtype=object)
    if metric.kind == "rate":
        status = np.select([values == MET, values == BREACHED], ["met", "breached"], "pending").astype(object)
    hours = np.full(len(rows), np.nan)
    due = pd.Series(pd.NaT, index=range(len(rows)), dtype="datetime64[us, UTC]")
    if metric.table == "leads":
        clock = commitment if commitment.metric in _CLOCKS else _first_followup(doc)
        taken, limit = _clock(facts, clock)
        hours = taken / HOUR
        if limit is not None:
            due = facts.due_at(limit).reset_index(drop=True)
    out = rows.reset_index(drop=True).assign(value=values, status=status, hours=hours, due=due)
    out = out[inside]
    return out.sort_values([metric.at, "id"], kind="stable").reset_index(drop=True)


def _first_followup(doc: Agreement):
    """The agreement's first ``followed_up_within`` commitment (None without one): the default clock of a lead."""
    return next((c for c in doc.commitments if c.metric == "followed_up_within"), None)


def _clock(facts, commitment) -> tuple[np.ndarray, Any]:
    """(business seconds taken, limit in seconds or None) of ``commitment``'s clock; first touch without one."""
    if commitment is None:
        return facts.seconds_to("first_touch_at"), None
    params = commitment.metric_params()
    if commitment.metric == "followed_up_within":
        return facts.seconds_to("first_touch_at"), params.business_hours * HOUR
    if commitment.metric == "dispositioned_within":
        return facts.seconds_to("disposition_at"), day_limits(facts, params)
    nth = facts.nth_activity_at(params.touches, params.kinds)
    return facts.lead_seconds_until(nth, key=("nth", params.touches, params.kinds)), day_limits(facts, params)
