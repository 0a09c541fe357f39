"""The Overview's figures of a week: evaluated, frozen as plain records, compared, ranked.

What "this week" means
----------------------
A week is an ISO week (Monday 00:00 to the next Monday 00:00) in the
agreement's timezone, labelled ``2026-W48``. Every commitment is evaluated over
the week by the agreement version in force when the week started:

- counts and amounts (MQLs, pipeline) against a **prorated target**: the
  period's target x the week's share of the period's business time (the
  agreement's calendar). A week holding 5 of a month's 21 working days gets
  5/21 of the monthly target; a week across two months adds its share of each
  (e.g. 1/21 of November + 4/22 of December), both at the target of the version
  in force at the week's start. With a weekly agreement the target is the target.
- rates and durations against the target as it is: a share of leads or a limit
  in hours does not scale with time.

A **closed week is judged as it stood at its close** (as of the week's end): a
lead still pending then stays pending in that week's figures. So a week's
figures do not drift as time passes; only a correction of the data changes
them, and :func:`compare_figures` says which and by how much. The current week
is judged as of ``as_of``; its counts are paced by the week's elapsed business
time, exactly as :func:`analytics.commitments.evaluate` paces a period.

Records
-------
:func:`week_figures` returns what is frozen for a week: plain, JSON-ready dicts
(fields :data:`FIGURE_FIELDS`), one per commitment for the week
(``scope="week"``) and one per commitment for the agreement period to date at
the same instant (``scope="period"``). :func:`week_overview` assembles what the
Overview and the meeting pack show: the week (frozen figures when a final
snapshot exists), the week before, the last weeks' trend, corrections of frozen
weeks, week over week, and the three biggest gaps.

>>> shift_week("2026-W01", -1), shift_week("2026-W52", 1)
('2025-W52', '2026-W53')
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analytics import wording
from analytics.agreement import Agreement, AgreementVersion, version_in_force
from analytics.calendar import business_seconds
from analytics.commitments import as_versions, document_in_force, evaluate
from analytics.metrics import METRICS, as_instant
from analytics.periods import period_grid, period_of, shift_week, week_row
from analytics.schema import UTC_TS
from analytics.slicing import slice_frames
from analytics.windows import cut_window
from analytics.wording import commitment_title, gap_sentence, number_or_nan
from errors import AccordError

SCOPES: tuple[str, ...] = ("week", "period")


class FramesSource:
    """Where the week functions get their evaluations: :func:`analytics.commitments.evaluate` on ``frames``.

    Every function here that takes ``frames`` also takes any object with this class's methods instead
    (duck-typed: ``cut``, ``evaluate``, ``sliced`` and ``owners``), e.g. an evaluation answered by the
    database from stored aggregates, which holds no rows and ignores :meth:`cut`.
    """

    def __init__(self, frames: Mapping[str, pd.DataFrame]) -> None:
        self.frames = frames

    def cut(self, start: Any, end: Any) -> FramesSource:
        """The source of the window ``[start, end)`` (:func:`analytics.windows.cut_window`), cut once."""
        return FramesSource(cut_window(self.frames, start, end))

    def evaluate(self, versions: Any, start: Any, end: Any, as_of: Any) -> pd.DataFrame:
        return evaluate(versions, self.frames, start, end, as_of)

    def sliced(
        self, teams: Iterable[str] = (), owners: Iterable[int] = (), channels: Iterable[str] = ()
    ) -> FramesSource:
        """The source of the rows of the chosen teams, owner ids and channels (:func:`analytics.slicing.slice_frames`)."""
        return FramesSource(slice_frames(self.frames, teams=teams, owners=owners, channels=channels))

    @property
    def owners(self) -> pd.DataFrame:
        """The owners (people) the rows name."""
        return self.frames.get("owners", pd.DataFrame())


def evaluation_source(frames: Any) -> Any:
    """``frames`` as an evaluation source: itself when it has ``evaluate`` and ``cut``, else a :class:`FramesSource`."""
    return frames if hasattr(frames, "evaluate") and hasattr(frames, "cut") else FramesSource(frames)


FIGURE_FIELDS: tuple[str, ...] = (
    "scope", "period", "period_start", "period_end", "period_state", "as_of", "commitment", "party",
    "metric", "kind", "unit", "version", "target", "actual", "gap", "gap_pct", "status", "n", "met",
    "breached", "pending", "elapsed_share", "expected_to_date", "projection", "lower_is_better",
)  # fmt: skip
_TEXT = ("scope", "period", "period_state", "commitment", "party", "metric", "kind", "unit", "status")
_TIMES = ("period_start", "period_end", "as_of")
_NUMBERS = ("target", "actual", "gap", "gap_pct", "met", "breached", "pending", "elapsed_share",
            "expected_to_date", "projection")  # fmt: skip
BEHIND: tuple[str, ...] = ("missed", "off track", "at risk")
COMPARED: tuple[str, ...] = ("actual", "target", "n")
TREND_WEEKS = 8


class SnapshotError(AccordError, ValueError):
    """A week or snapshot cannot be used as given; the message says which and why."""


# ----------------------------------------------------------------------------- week evaluation


def week_share(doc: Agreement, week_start: Any, week_end: Any) -> float:
    """Return the share of the agreement period's target that falls in the week ``[week_start, week_end)``.

    The sum, over the agreement periods the week overlaps, of the business time
    of the overlap over the business time of the period (wall-clock time for a
    period without any business time). 1.0 for a weekly agreement.
    """
    if doc.period == "week":
        return 1.0
    start, end = pd.Timestamp(week_start), pd.Timestamp(week_end)
    grid = period_grid(doc.period, doc.timezone, start, end)
    calendar = doc.calendar_for(None)
    lo = grid["period_start"].clip(lower=start)
    hi = grid["period_end"].clip(upper=end)
    whole = business_seconds(grid["period_start"], grid["period_end"], calendar).to_numpy()
    part = business_seconds(lo, hi, calendar).to_numpy()
    wall = ((hi - lo) / (grid["period_end"] - grid["period_start"])).to_numpy(dtype="float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(whole > 0, part / np.where(whole > 0, whole, 1.0), wall)
    return float(share.sum())


def weekly_document(doc: Agreement, share: float | None) -> Agreement:
    """Return ``doc`` as a weekly agreement: count and amount targets x ``share`` (None: no targets at all)."""
    commitments = []
    for c in doc.commitments:
        if share is None:
            commitments.append(c.model_copy(update={"target": None}))
        elif c.target is not None and METRICS[c.metric].kind in ("count", "amount"):
            commitments.append(c.model_copy(update={"target": float(c.target) * share}))
        else:
            commitments.append(c)
    return doc.model_copy(update={"period": "week", "commitments": tuple(commitments)})


def week_version(versions: Iterable[AgreementVersion], week_start: Any, week_end: Any) -> AgreementVersion:
    """Return the version judging the week ``[week_start, week_end)``, as a weekly agreement (prorated targets).

    It is the version in force at the week's start. Before any version the week
    has no target: the earliest document is returned in force only from the
    week's end, so :func:`analytics.commitments.evaluate` shows ``no target``.
    """
    versions = as_versions(versions)
    start, end = pd.Timestamp(week_start), pd.Timestamp(week_end)
    version = version_in_force(versions, start)
    if version is None:
        earliest = min(versions, key=lambda v: (pd.Timestamp(v.effective_from), -v.version))
        return earliest.model_copy(
            update={
                "document": weekly_document(earliest.document, None),
                "effective_from": end.to_pydatetime(),
            }
        )
    share = week_share(version.document, start, end)
    return version.model_copy(
        update={"document": weekly_document(version.document, share), "effective_from": start.to_pydatetime()}
    )


def evaluate_weeks(
    agreement_versions: Any,
    frames: Mapping[str, pd.DataFrame],
    weeks: Sequence[str],
    as_of: Any,
    *,
    at_close: bool = True,
) -> pd.DataFrame:
    """Return figure rows (columns :data:`FIGURE_FIELDS`, ``scope="week"``) for each ISO week in ``weeks``.

    Weeks are read in the timezone of the agreement in force at ``as_of``; a
    week that starts after ``as_of`` is left out. Each week is judged by
    :func:`week_version`: with ``at_close`` (the default) its counts and amounts
    as of ``min(as_of, week end)``, i.e. a closed week as it stood when it ended,
    and its rates and durations as known at ``as_of`` (provisional until the
    week's last window has run out, then settled; each row's ``as_of`` says
    which instant it is); without, every week as known at ``as_of`` (one
    evaluation, faster). Oldest week first, commitments in agreement order.
    """
    versions = as_versions(agreement_versions)
    moment = as_instant(as_of)
    tz = document_in_force(versions, moment).timezone
    rows = [row for row in (week_row(w, tz) for w in dict.fromkeys(weeks)) if row["period_start"] <= moment]
    rows.sort(key=lambda row: row["period_start"])
    groups = [[row] for row in rows] if at_close else ([rows] if rows else [])
    pieces = []
    for group in groups:
        start, end = group[0]["period_start"], group[-1]["period_end"]
        at = min(moment, end) if at_close else moment
        derived = [
            week_version(versions, row["period_start"], row["period_end"])
            for row in group
            if version_in_force(versions, row["period_start"]) is not None
        ] or [week_version(versions, end, end + pd.Timedelta(weeks=1))]  # no version yet: no targets
        window = evaluation_source(frames).cut(start, end)
        result = as_figures(window.evaluate(derived, start, end, at), "week", at)
        if at_close and moment > end:
            # Counts and amounts are final at the close; rates are read as known now, so a week settles
            # (its last window runs out) into met / missed, and stays provisional until then.
            now = as_figures(window.evaluate(derived, start, end, moment), "week", moment)
            rates = ~result["kind"].isin(["count", "amount"])
            result = pd.concat(
                [result[~rates], now[~now["kind"].isin(["count", "amount"])]], ignore_index=True
            )
        pieces.append(result)
    if not pieces:
        return figures_frame([])
    return pd.concat(pieces, ignore_index=True).sort_values("period_start", kind="stable", ignore_index=True)


def evaluate_period_to_date(
    agreement_versions: Any, frames: Mapping[str, pd.DataFrame], as_of: Any
) -> pd.DataFrame:
    """Return figure rows (``scope="period"``) of the agreement period holding the instant just before ``as_of``."""
    versions = as_versions(agreement_versions)
    moment = as_instant(as_of)
    doc = document_in_force(versions, moment)
    row = period_of(moment - pd.Timedelta(microseconds=1), doc.period, doc.timezone)
    part = evaluation_source(frames).cut(row["period_start"], row["period_end"])
    rows = part.evaluate(versions, row["period_start"], row["period_end"], moment)
    return as_figures(rows, "period", moment)


def week_figures(
    agreement_versions: Any, frames: Mapping[str, pd.DataFrame], week: str, as_of: Any
) -> list[dict]:
    """Return the records frozen for ISO ``week``: the week's figures and the period to date, as of its close.

    "As of its close" is ``min(as_of, week end)``: a closed week as it stood when
    it ended, the current week as of ``as_of``. Records are JSON-ready dicts with
    the fields :data:`FIGURE_FIELDS` (see :func:`to_records`). ``frames`` must
    cover the week and its period (:func:`overview_window`).
    """
    versions = as_versions(agreement_versions)
    moment = as_instant(as_of)
    row = week_row(week, document_in_force(versions, moment).timezone)
    if row["period_start"] > moment:
        raise SnapshotError(
            f"week {week} has not started at {moment:%Y-%m-%d %H:%M} UTC: nothing to freeze yet"
        )
    at = min(moment, row["period_end"])
    week_rows = evaluate_weeks(versions, frames, [week], at)
    period_rows = evaluate_period_to_date(versions, frames, at)
    return to_records(pd.concat([week_rows, period_rows], ignore_index=True))


def overview_window(
    agreement_versions: Any, week: str, as_of: Any, trend_weeks: int = TREND_WEEKS
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Return the ``[start, end)`` of data that :func:`week_overview` of ``week`` needs (UTC instants).

    From the first trend week's start to the end of the later of the week and
    the agreement period holding the week's figures.
    """
    versions = as_versions(agreement_versions)
    moment = as_instant(as_of)
    doc = document_in_force(versions, moment)
    row = week_row(week, doc.timezone)
    first = week_row(shift_week(week, -(max(trend_weeks, 2) - 1)), doc.timezone)
    at = min(moment, row["period_end"])
    period = period_of(at - pd.Timedelta(microseconds=1), doc.period, doc.timezone)
    start = min(first["period_start"], period["period_start"])
    return start, max(row["period_end"], period["period_end"])


# ----------------------------------------------------------------------------- records


def as_figures(rows: pd.DataFrame, scope: str, as_of: pd.Timestamp) -> pd.DataFrame:
    """Evaluation rows as figure rows: the scope and as_of added, columns in :data:`FIGURE_FIELDS` order."""
    out = rows.assign(scope=scope, as_of=pd.Series([as_of] * len(rows), index=rows.index, dtype=UTC_TS))
    return figures_frame(out[list(FIGURE_FIELDS)])


def figures_frame(records: Iterable[Mapping[str, Any]] | pd.DataFrame) -> pd.DataFrame:
    """Return figure records (dicts, e.g. read back from a snapshot, or a frame) as a typed frame.

    Columns :data:`FIGURE_FIELDS`; times UTC, numbers float64 (NaN for missing),
    ``version`` and ``n`` Int64, text "str", ``lower_is_better`` bool. Missing
    fields are filled with missing values.

    >>> frame = figures_frame([{"scope": "week", "commitment": "c", "actual": None, "n": 3}])
    >>> frame["actual"].tolist(), frame["n"].tolist(), str(frame["period_start"].dtype)
    ([nan], [3], 'datetime64[us, UTC]')
    """
    frame = (
        records.reset_index(drop=True) if isinstance(records, pd.DataFrame) else pd.DataFrame(list(records))
    )
    out = {}
    for name in FIGURE_FIELDS:
        column = (
            frame[name] if name in frame else pd.Series([None] * len(frame), index=frame.index, dtype=object)
        )
        if name in _TIMES:
            typed = str(column.dtype) == UTC_TS
            out[name] = column if typed else pd.to_datetime(column, utc=True, format="ISO8601").astype(UTC_TS)
        elif name in _TEXT:
            out[name] = column if str(column.dtype) == "str" else column.astype("str")
        elif name == "lower_is_better":
            out[name] = column if column.dtype == bool else column.fillna(False).astype(bool)
        else:
            dtype = "Int64" if name in ("version", "n") else "float64"
            if column.dtype == object:  # records read back from JSON: None for missing
                column = pd.to_numeric(column.where(column.notna(), np.nan))
            out[name] = column.astype(dtype)
    return pd.DataFrame(out)


def to_records(frame: pd.DataFrame) -> list[dict]:
    """Return figure rows as plain JSON-ready dicts: ISO text for times, None for missing values.

    >>> to_records(figures_frame([{"scope": "week", "actual": 3.0}]))[0]["actual"]
    3.0
    """
    frame = figures_frame(frame)
    records = []
    for row in frame.to_dict("records"):
        record = {}
        for name, value in row.items():
            if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
                record[name] = None
            elif isinstance(value, pd.Timestamp):
                record[name] = None if value is pd.NaT else value.isoformat()
            elif isinstance(value, np.generic):
                record[name] = value.item()
            else:
                record[name] = value
        records.append(record)
    return records


# ----------------------------------------------------------------------------- comparing and ranking


def compare_figures(frozen: pd.DataFrame, now: pd.DataFrame) -> pd.DataFrame:
    """Return what changed between frozen figures and the same figures recomputed now, one row per change.

    Rows are matched on scope, period and commitment; ``actual``, ``target`` and
    ``n`` are compared (relative tolerance 1e-9). Columns: scope, period,
    commitment, kind, unit, field, frozen, now, change, message — e.g.
    "2026-W46 MQL volume was 142 leads when frozen, 145 now."
    """
    columns = ["scope", "period", "commitment", "kind", "unit", "field", "frozen", "now", "change", "message"]
    keys = ["scope", "period", "commitment"]
    frozen, now = figures_frame(frozen), figures_frame(now)
    both = frozen.merge(now, on=keys, suffixes=("_frozen", "_now"))
    found = []
    for row in both.to_dict("records"):
        for name in COMPARED:
            before = number_or_nan(row[f"{name}_frozen"])
            after = number_or_nan(row[f"{name}_now"])
            if _same(before, after):
                continue
            kind, unit = row["kind_frozen"], row["unit_frozen"]
            what = f"{row['period']} {commitment_title(row['commitment'])}"
            if name == "actual":
                text = f"{what} was {wording.format_value(before, kind, unit, compact=True)} when frozen, {wording.format_value(after, kind, unit, compact=True)} now."
            elif name == "target":
                text = f"{what}: the target was {wording.format_value(before, kind, unit, compact=True)} when frozen, {wording.format_value(after, kind, unit, compact=True)} now."
            else:
                text = f"{what} was measured on {_count(before)} when frozen, {_count(after)} now."
            change = after - before if not (math.isnan(before) or math.isnan(after)) else math.nan
            found.append(
                [
                    row["scope"],
                    row["period"],
                    row["commitment"],
                    kind,
                    unit,
                    name,
                    before,
                    after,
                    change,
                    text,
                ]
            )
    return pd.DataFrame(found, columns=columns).astype(
        {"frozen": "float64", "now": "float64", "change": "float64", "field": "str", "message": "str"}
    )


def _same(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def _count(value: float) -> str:
    return "no leads" if math.isnan(value) else f"{value:,.0f} row{'s' if value != 1 else ''}"


def headline_value(figures: pd.DataFrame) -> pd.Series:
    """Return the value that decides each row's status: the projection for counts and amounts of a
    current period, else the actual."""
    paced = figures["kind"].isin(["count", "amount"]) & (figures["period_state"] == "current")
    return figures["projection"].where(paced, figures["actual"])


def week_over_week(this_week: pd.DataFrame, last_week: pd.DataFrame) -> pd.DataFrame:
    """Return one row per commitment of ``this_week``: its value, last week's value and the change.

    ``value`` is :func:`headline_value` (a current week's counts are compared as
    projected to the week's end, ``projected`` True); ``change`` is value minus
    last week's actual; ``improved`` says whether that is better (lower is
    better for durations), NA when either side is missing or nothing changed.
    Columns: commitment, party, kind, unit, lower_is_better, week, value,
    projected, status, previous_week, previous, previous_status, change, improved.
    """
    this_week, last_week = figures_frame(this_week), figures_frame(last_week)
    now = this_week[this_week["scope"] == "week"]
    before = last_week[last_week["scope"] == "week"][["commitment", "period", "actual", "status"]]
    before = before.rename(
        columns={"period": "previous_week", "actual": "previous", "status": "previous_status"}
    )
    out = now[["commitment", "party", "kind", "unit", "lower_is_better", "period", "status"]].rename(
        columns={"period": "week"}
    )
    out = out.assign(
        value=headline_value(now).to_numpy(),
        projected=(now["kind"].isin(["count", "amount"]) & (now["period_state"] == "current")).to_numpy(),
    )
    out = out.merge(before.drop_duplicates("commitment"), on="commitment", how="left")
    out["change"] = out["value"] - out["previous"]
    better = np.where(out["lower_is_better"], out["change"] < 0, out["change"] > 0)
    out["improved"] = pd.array(better, dtype="boolean").copy()
    out.loc[out["change"].isna() | (out["change"] == 0), "improved"] = pd.NA
    columns = ["commitment", "party", "kind", "unit", "lower_is_better", "week", "value", "projected", "status",
               "previous_week", "previous", "previous_status", "change", "improved"]  # fmt: skip
    return out[columns].reset_index(drop=True)


def biggest_gaps(figures: pd.DataFrame, n: int = 3, currency: str | None = None) -> pd.DataFrame:
    """Return the ``n`` commitments furthest behind their target, furthest first.

    A row is behind when its status is missed, off track or at risk. Its
    shortfall is the distance of :func:`headline_value` from the target as a
    share of the target (so MQLs and follow-up rates compare); a commitment
    behind both in the week and in the period is listed once, by its larger
    shortfall. Columns: the figure columns plus ``value``, ``shortfall`` and
    ``sentence``. Fewer than ``n`` rows when fewer are behind.
    """
    figures = figures_frame(figures)
    value = headline_value(figures)
    target = figures["target"]
    with np.errstate(invalid="ignore", divide="ignore"):
        raw = (target - value) / target.where(target != 0)
    shortfall = raw.where(~figures["lower_is_better"], -raw)
    behind = figures["status"].isin(BEHIND) & shortfall.notna()
    ranked = figures.assign(value=value, shortfall=shortfall)[behind]
    ranked = ranked.sort_values("shortfall", ascending=False, kind="stable").drop_duplicates("commitment")
    ranked = ranked.head(n).reset_index(drop=True)
    ranked["sentence"] = pd.Series(
        [gap_sentence(r, currency) for r in ranked.to_dict("records")], dtype="str"
    )
    return ranked


# ----------------------------------------------------------------------------- the overview of a week


@dataclass(frozen=True)
class WeekOverview:
    """Everything the Overview and the meeting pack show for one ISO week (frames in the figure format).

    ``figures`` and ``previous`` are the weeks *as shown*: frozen figures where a
    final snapshot exists, else as they stood at the week's close (the current
    week: as of now). ``trend`` is every week *as known now*, so a rate whose
    leads were still pending at a week's close has settled there.
    """

    agreement: str
    week: str
    week_start: pd.Timestamp
    week_end: pd.Timestamp
    previous_week: str
    as_of: pd.Timestamp  # the instant the week's figures are for: min(as_of, week end)
    figures: pd.DataFrame  # this week (scope "week") and the period to date (scope "period")
    previous: pd.DataFrame  # the week before (scope "week")
    trend: pd.DataFrame  # the last weeks up to this one (scope "week") as known now, oldest first
    changes: pd.DataFrame  # :func:`week_over_week`
    gaps: pd.DataFrame  # :func:`biggest_gaps`
    corrections: pd.DataFrame  # :func:`compare_figures` of the frozen weeks shown
    frozen: dict[str, pd.Timestamp] = field(
        default_factory=dict
    )  # week -> frozen_at of the final snapshots used

    @property
    def is_closed(self) -> bool:
        """True when the week had ended at the as-of instant."""
        return self.as_of >= self.week_end

    def week_rows(self) -> pd.DataFrame:
        return self.figures[self.figures["scope"] == "week"].reset_index(drop=True)

    def period_rows(self) -> pd.DataFrame:
        return self.figures[self.figures["scope"] == "period"].reset_index(drop=True)


def final_snapshots(
    snapshots: pd.DataFrame | None, as_of: Any = None
) -> dict[str, tuple[pd.DataFrame, pd.Timestamp]]:
    """Return ``{week: (figures frame, frozen_at)}`` of the final snapshots in a ``read_snapshots`` frame.

    With ``as_of``, a snapshot frozen for a later instant (its figures' ``as_of``) is left out: nothing
    recorded after as_of changes a figure shown as of it.
    """
    if snapshots is None or snapshots.empty:
        return {}
    out = {}
    for row in snapshots[snapshots["final"].astype(bool)].to_dict("records"):
        figures = figures_frame(row["figures"] or [])
        described = figures["as_of"].max() if len(figures) else pd.Timestamp(row["frozen_at"])
        if as_of is not None and not pd.isna(described) and described > as_instant(as_of):
            continue
        out[str(row["week"])] = (figures, pd.Timestamp(row["frozen_at"]))
    return out


def week_overview(
    agreement_versions: Any,
    frames: Mapping[str, pd.DataFrame],
    snapshots: pd.DataFrame | None,
    week: str,
    as_of: Any,
    *,
    use_frozen: bool = True,
    trend_weeks: int = TREND_WEEKS,
    currency: str | None = None,
) -> WeekOverview:
    """Return the :class:`WeekOverview` of ISO ``week`` as of ``as_of``.

    ``frames`` must cover :func:`overview_window`; ``snapshots`` is
    ``data.journal.read_snapshots`` of the agreement (or None). With
    ``use_frozen`` (the default; pass False when the figures are sliced by team,
    owner or channel, which snapshots are not), the week and the week before
    show their frozen figures where a final snapshot exists, and every
    difference from the same figures recomputed now *for the same instant*
    (so only corrections of the data count, not leads decided since) is listed
    in ``corrections``. ``currency`` is used in the gap sentences.
    """
    versions = as_versions(agreement_versions)
    moment = as_instant(as_of)
    tz = document_in_force(versions, moment).timezone
    row = week_row(week, tz)
    if row["period_start"] > moment:
        raise SnapshotError(f"week {week} has not started at {moment:%Y-%m-%d %H:%M} UTC")
    week, previous_week = str(row["period"]), shift_week(str(row["period"]), -1)
    at = min(moment, row["period_end"])
    weeks = [shift_week(week, -k) for k in range(max(trend_weeks, 2) - 1, -1, -1)]
    frames = evaluation_source(frames).cut(*overview_window(versions, week, moment, trend_weeks))  # once
    trend = evaluate_weeks(versions, frames, weeks, moment, at_close=False)
    frozen = final_snapshots(snapshots, as_of=moment) if use_frozen else {}
    corrections, used = [], {}

    def as_shown(label: str, scope: str, compute) -> pd.DataFrame:
        """The rows of ``label`` as frozen (plus rows of commitments added since), else ``compute()``."""
        records, frozen_at = frozen.get(label, (figures_frame([]), None))
        kept = records[records["scope"] == scope]
        # A rate frozen before its week settled is read as known now (at as_of) instead.
        unsettled = set(kept.loc[kept["period_state"] == "provisional", "commitment"])
        kept = kept[~kept["commitment"].isin(unsettled)]
        if kept.empty:
            return compute()
        used[label] = frozen_at
        then = kept["as_of"].max()
        again = (evaluate_weeks(versions, frames, [label], then) if scope == "week"
                 else evaluate_period_to_date(versions, frames, then))  # fmt: skip
        corrections.append(compare_figures(kept, again))
        added = set(c.id for c in document_in_force(versions, at).commitments) - set(kept["commitment"])
        added |= unsettled
        if not added:
            return kept
        live = compute()
        return pd.concat([kept, live[live["commitment"].isin(added)]], ignore_index=True)

    def this_live() -> pd.DataFrame:
        # The current week as known now is already in the trend; a closed one is judged at its close
        # (its rates as known now: provisional until settled).
        return (
            trend[trend["period"] == week]
            if at == moment
            else evaluate_weeks(versions, frames, [week], moment)
        )

    this_week = as_shown(week, "week", this_live)
    period = as_shown(week, "period", lambda: evaluate_period_to_date(versions, frames, at))
    previous = as_shown(
        previous_week, "week", lambda: evaluate_weeks(versions, frames, [previous_week], moment)
    )
    figures = _in_agreement_order(
        figures_frame(pd.concat([this_week, period], ignore_index=True)), versions, at
    )
    previous = _in_agreement_order(figures_frame(previous), versions, at)
    found = [c for c in corrections if len(c)]
    return WeekOverview(
        agreement=versions[0].agreement,
        week=week,
        week_start=row["period_start"],
        week_end=row["period_end"],
        previous_week=previous_week,
        as_of=at,
        figures=figures,
        previous=previous,
        trend=trend,
        changes=week_over_week(figures, previous),
        # The gaps of the week and of the period to date (a closed week's period as it stood then).
        gaps=biggest_gaps(figures, currency=currency),
        corrections=pd.concat(found, ignore_index=True) if found else compare_figures([], []),
        frozen=used,
    )


def _in_agreement_order(
    figures: pd.DataFrame, versions: list[AgreementVersion], at: pd.Timestamp
) -> pd.DataFrame:
    order = {c.id: i for i, c in enumerate(document_in_force(versions, at).commitments)}
    rank = figures["commitment"].map(order).fillna(len(order))
    scope = figures["scope"].map({s: i for i, s in enumerate(SCOPES)})
    return (
        figures.assign(_s=scope, _r=rank)
        .sort_values(["_s", "_r"], kind="stable")
        .drop(columns=["_s", "_r"])
        .reset_index(drop=True)
    )
