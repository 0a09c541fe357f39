"""Agreement revisions: the document in plain words, what changed between versions, reviews, effective dates.

Pure functions over :mod:`analytics.agreement` documents and
:func:`analytics.commitments.evaluate` frames; no database, no clock (``as_of``
is a parameter). The Agreement page and ``cli.py agreement`` both use them.

- Plain language: :func:`plain_language` (one sentence per commitment),
  :func:`describe_terms` (period, timezone, business hours, review).
- Changes: :func:`diff` (field-level :class:`Change` list, commitments keyed by
  id), :func:`unified_yaml_diff`; :func:`with_changes` builds a new document
  from edited targets and params.
- Error placement: :func:`problems` splits an ``AgreementError`` into
  ``(field path, message)`` pairs, :func:`line_of` finds a path's line in YAML.
- Effective dates: :func:`default_effective_from` (start of the next period),
  :func:`check_effective_from` (never before an existing version, never
  re-judging a closed period).
- Review: :func:`review_state` (the planned date, due or overdue), :func:`following_review`,
  :func:`review_checklist` (misses per commitment since the version).
- Consequences: :func:`consequences_table`, :func:`triggered_consequences`.

>>> from analytics.agreement import parse_agreement
>>> old = parse_agreement('''{name: A, parties: [sales], commitments: [
...   {id: speed-to-lead, owner: sales, metric: followed_up_within, params: {business_hours: 4}, target: 0.9}]}''')
>>> new = with_changes(old, targets={"speed-to-lead": 0.85})
>>> [c.text for c in diff(old, new)]
['commitments[speed-to-lead].target: 0.90 -> 0.85']
>>> plain_language(new)["sentence"].iloc[0]
'Sales follows up every MQL within 4 business hours, Mon–Fri 09:00–17:00 UTC, for 85% of leads.'
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
import yaml

from analytics import wording
from analytics.agreement import (
    WEEKDAYS,
    Agreement,
    AgreementError,
    AgreementVersion,
    CalendarSpec,
    Commitment,
    compose,
    parse_document,
)
from analytics.commitments import as_versions
from analytics.metrics import METRICS
from analytics.periods import PeriodError, period_of, to_instant

REVIEW_MONTHS: dict[str, int] = {"month": 1, "quarter": 3, "half-year": 6, "year": 12}
REVIEW_WARNING_DAYS = 14  # a review this close is "due"
PERIOD_WORDS: dict[str, str] = {"week": "a week", "month": "a month", "quarter": "a quarter"}


# --- plain language ----------------------------------------------------------------------------------


def target_text(value: float | None, kind: str, currency: str | None = None) -> str:
    """Return a target or actual as people write it: ``wording.format_value`` exact, "no target" when missing.

    >>> target_text(0.9, "rate"), target_text(0.875, "rate"), target_text(5e6, "amount", "EUR")
    ('90%', '87.5%', 'EUR 5,000,000')
    >>> target_text(750, "count"), target_text(143.25, "count"), target_text(2.5, "count")
    ('750', '143', '2.5')
    >>> target_text(4, "duration"), target_text(None, "count")
    ('4 business hours', 'no target')
    """
    return wording.format_value(value, kind, currency=currency, exact=True, missing="no target")


def describe_days(workdays: Iterable[str]) -> str:
    """Return working days as a short phrase: a run of three or more days becomes a range.

    >>> describe_days(["mon", "tue", "wed", "thu", "fri"]), describe_days(["mon", "wed", "fri"])
    ('Mon–Fri', 'Mon, Wed, Fri')
    """
    positions = sorted(WEEKDAYS.index(d) for d in workdays)
    runs: list[list[int]] = []
    for p in positions:
        if runs and p == runs[-1][-1] + 1:
            runs[-1].append(p)
        else:
            runs.append([p])
    words = []
    for run in runs:
        names = [WEEKDAYS[p].capitalize() for p in run]
        words.append(f"{names[0]}–{names[-1]}" if len(run) >= 3 else ", ".join(names))
    return ", ".join(words)


def describe_calendar(calendar: CalendarSpec, timezone: str) -> str:
    """Return business hours as 'Mon–Fri 09:00–17:30 Europe/Berlin'."""
    return f"{describe_days(calendar.workdays)} {calendar.hours[0]}–{calendar.hours[1]} {timezone}"


def describe_business_time(agreement: Agreement) -> str:
    """Return the agreement's business hours, plus each team whose own hours differ.

    E.g. 'Mon–Fri 09:00–17:30 Europe/Berlin (Americas: Mon–Fri 09:00–17:30 America/New_York)'.
    """
    base = describe_calendar(agreement.calendar, agreement.timezone)
    teams = []
    for team, spec in agreement.teams.items():
        own = describe_calendar(spec.calendar or agreement.calendar, spec.timezone or agreement.timezone)
        if own != base:
            teams.append(f"{team}: {own}")
    return f"{base} ({'; '.join(teams)})" if teams else base


def describe_days_limit(days: float, reading: str, agreement: Agreement) -> str:
    """Say a limit in business days as the agreement reads it, e.g. 'within 2 business days (16 working hours ...)'.

    >>> from analytics.agreement import parse_agreement
    >>> a = parse_agreement("{name: A, parties: [s], commitments: [{id: c, owner: s, metric: mql_count, target: 1}]}")
    >>> describe_days_limit(2, "business_time", a)
    'within 2 business days (16 working hours counted from the handover)'
    >>> describe_days_limit(2, "end_of_day", a)
    'by the end of the 2nd working day after the day of the handover'
    """
    if reading == "end_of_day":
        n = int(days)
        suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
        return f"by the end of the {n}{suffix} working day after the day of the handover"
    hours = days * agreement.calendar_for(None).day_seconds / 3600
    unit = "business day" if days == 1 else "business days"
    return (f"within {wording.plain_number(days)} {unit} ({wording.plain_number(round(hours, 2))} working hours "
            "counted from the handover)")  # fmt: skip


def _party(name: str) -> str:
    return name[:1].upper() + name[1:]


def _describe_filters(commitment: Commitment) -> str:
    parts = [f"{field} {' or '.join(values)}" for field, values in commitment.filters.items()]
    return f", counting only {'; '.join(parts)}" if parts else ""


def _describe_slice_targets(commitment: Commitment, agreement: Agreement) -> str:
    """' Per slice (the company target is not a slice's): team EMEA: at least 200; ...' ('' when none)."""
    table = commitment.slice_targets
    if table is None or not table.items():
        return ""
    kind = METRICS[commitment.metric].kind
    parts = [f"{dimension} {value}: at least {target_text(target, kind, agreement.currency)}"
             for dimension, targets in table.items() for value, target in targets.items()]  # fmt: skip
    return f" Per slice (the company target is not a slice's): {'; '.join(parts)}."


# Sentence per metric. Placeholders: {party}, {target}, {per} ("a month"), {hours} (business time),
# and the metric's params by name. Rate targets read "for 90% of leads".
_SENTENCES: dict[str, str] = {
    "mql_count": "{party} hands over at least {target} MQLs {per}",
    "sql_count": "{party} hands over leads of which at least {target} become SQLs {per}",
    "sourced_pipeline": "{party} sources at least {target} of pipeline {per} (deals opened from its leads)",
    "won_revenue": "{party} wins at least {target} of revenue {per}",
    "mql_to_sql_rate": "{party} hands over MQLs of which at least {target} become sales-qualified",
    "acceptance_rate": "{party} hands over MQLs of which at least {target} are accepted rather than rejected",
    "followed_up_within": "{party} follows up every MQL within {business_hours} business hours, {hours}, "
    "for {target} of leads",
    "touches_within": "{party} touches every MQL at least {touches} times{kinds} {within_days}, "
    "{hours}, for {target} of leads",
    "dispositioned_within": "{party} accepts or rejects every MQL {within_days}, {hours}, for {target} of leads",
    "response_time_median": "{party} gives MQLs a first touch within {target} at the median, {hours}",
    "response_time_p90": "{party} gives 90% of MQLs a first touch within {target}, {hours}",
}


def describe_commitment(commitment: Commitment, agreement: Agreement) -> str:
    """Return one plain sentence for ``commitment`` (its party, what, how much, by when, on whose clock).

    A commitment without a target reads '... is tracked without a target'.
    """
    metric = METRICS[commitment.metric]
    party = _party(commitment.owner)
    if commitment.target is None or commitment.metric not in _SENTENCES:
        what = commitment.metric.replace("_", " ")
        per = "" if metric.kind in ("rate", "duration") else f" {PERIOD_WORDS[agreement.period]}"
        if commitment.target is None:
            return (f"{party}'s {what} is tracked without a target{_describe_filters(commitment)}."
                    f"{_describe_slice_targets(commitment, agreement)}")  # fmt: skip
        bound = "at most" if metric.lower_is_better else "at least"
        shown = target_text(commitment.target, metric.kind, agreement.currency)
        return (f"{party} commits to {what} of {bound} {shown}{per}{_describe_filters(commitment)}."
                f"{_describe_slice_targets(commitment, agreement)}")  # fmt: skip
    params = commitment.metric_params().model_dump()
    values = {k: wording.plain_number(v) if isinstance(v, int | float) and not isinstance(v, bool) else v
              for k, v in params.items()}  # fmt: skip
    kinds = params.get("kinds")
    values["kinds"] = f" ({' or '.join(kinds)})" if kinds else ""
    if "business_days" in params:
        values["within_days"] = describe_days_limit(params["business_days"], params["reading"], agreement)
    target = target_text(commitment.target, metric.kind, agreement.currency)
    sentence = _SENTENCES[commitment.metric].format(
        party=party,
        target=target,
        per=PERIOD_WORDS[agreement.period],
        hours=describe_business_time(agreement),
        **{k: v for k, v in values.items() if k not in ("party", "target", "per", "hours")},
    )
    return f"{sentence}{_describe_filters(commitment)}.{_describe_slice_targets(commitment, agreement)}"


_LABELS = {
    "mql_count": "MQLs handed over",
    "sql_count": "SQLs",
    "sourced_pipeline": "Pipeline from marketing leads",
    "won_revenue": "Won revenue",
    "mql_to_sql_rate": "MQLs that became SQLs",
    "acceptance_rate": "Decided leads accepted",
    "followed_up_within": "First touch within {business_hours} business hours",
    "touches_within": "{touches}+ touches within {business_days} business days",
    "dispositioned_within": "Accepted or rejected within {business_days} business days",
    "response_time_median": "Median time to first touch",
    "response_time_p90": "90th percentile time to first touch",
}


def commitment_label(commitment: Commitment) -> str:
    """Return a short plain name for what ``commitment`` measures, to show beside its id and metric code.

    >>> commitment_label(Commitment(id="speed-to-lead", owner="sales", metric="followed_up_within",
    ...                             params={"business_hours": 4}, target=0.9))
    'First touch within 4 business hours'
    """
    params = commitment.metric_params().model_dump()
    values = {k: wording.plain_number(v) if isinstance(v, int | float) and not isinstance(v, bool) else v
              for k, v in params.items()}  # fmt: skip
    template = _LABELS.get(commitment.metric)
    if template is None:
        return commitment.metric.replace("_", " ").capitalize()
    return template.format(**values)


def plain_language(agreement: Agreement) -> pd.DataFrame:
    """Return one row per commitment, in document order, with its plain sentence.

    Columns: ``commitment``, ``party``, ``metric``, ``kind``, ``target``,
    ``target_text`` (e.g. '90%'), ``sentence``, ``description`` (the
    document's own words, '' when none).
    """
    rows = []
    for c in agreement.commitments:
        metric = METRICS[c.metric]
        rows.append(
            {
                "commitment": c.id,
                "party": c.owner,
                "metric": c.metric,
                "kind": metric.kind,
                "target": math.nan if c.target is None else float(c.target),
                "target_text": target_text(c.target, metric.kind, agreement.currency),
                "sentence": describe_commitment(c, agreement),
                "description": c.description or "",
            }
        )
    columns = ["commitment", "party", "metric", "kind", "target", "target_text", "sentence", "description"]
    return pd.DataFrame(rows, columns=columns)


def describe_terms(agreement: Agreement) -> list[str]:
    """Return the general terms as sentences: period and timezone, business time, teams, review."""
    lines = [
        f"Judged per {agreement.period} in {agreement.timezone}"
        + (f"; amounts in {agreement.currency}." if agreement.currency else "."),
        f"Business time: {describe_calendar(agreement.calendar, agreement.timezone)}, "
        f"{_count(len(agreement.calendar.holidays), 'holiday')}.",
    ]
    for team, spec in agreement.teams.items():
        calendar = spec.calendar or agreement.calendar
        timezone = spec.timezone or agreement.timezone
        lines.append(
            f"Team {team}: {describe_calendar(calendar, timezone)}, {_count(len(calendar.holidays), 'holiday')}."
        )
    if agreement.review is not None:
        lines.append(f"Reviewed every {agreement.review.every}, first planned for {agreement.review.next}.")
    else:
        lines.append("No review cadence set (add review: {every: quarter, next: YYYY-MM-DD}).")
    return lines


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# --- what changed -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One field-level difference: ``kind`` is 'changed', 'added', 'removed' or 'reordered'."""

    path: str
    kind: str
    old: Any = None
    new: Any = None

    @property
    def text(self) -> str:
        """The change in one line, e.g. 'commitments[speed-to-lead].target: 0.90 -> 0.85'."""
        if self.kind == "added":
            return f"{self.path}: added {show(self.new)}"
        if self.kind == "removed":
            return f"{self.path}: removed" + ("" if isinstance(self.old, dict) else f" {show(self.old)}")
        if self.kind == "reordered":
            return f"{self.path}: order {show(self.old)} -> {show(self.new)}"
        return f"{self.path}: {show(self.old)} -> {show(self.new)}"


def show(value: Any) -> str:
    """Return a document value in one short line (numbers as written in YAML, two decimals for shares).

    >>> show(0.9), show(750.0), show(4.5), show(None), show(["mon", "tue"]), show({"a": 1})
    ('0.90', '750', '4.50', '(none)', '[mon, tue]', '{a: 1}')
    """
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return f"{value:.2f}" if round(value, 2) == value else repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {show(v)}" for k, v in value.items()) + "}"
    text = str(value)
    return text if text.strip() == text and text else f'"{text}"'


_IDENTITY = {"commitments": "id", "consequences": "commitment"}


def diff(old: Agreement, new: Agreement) -> list[Change]:
    """Return the field-level changes from ``old`` to ``new``, in document order (empty when equal).

    Commitments are matched by id and consequences by commitment, so a changed
    target reads ``commitments[speed-to-lead].target``; lists of plain values
    (holidays, workdays, parties) list each added or removed item.
    """
    out: list[Change] = []
    _walk("", old.to_document(), new.to_document(), out)
    return out


def _walk(path: str, old: Any, new: Any, out: list[Change]) -> None:
    if old == new:
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [*old, *(k for k in new if k not in old)]:
            sub = f"{path}.{key}" if path else str(key)
            if key not in new:
                out.append(Change(sub, "removed", old[key], None))
            elif key not in old:
                out.append(Change(sub, "added", None, new[key]))
            else:
                _walk(sub, old[key], new[key], out)
    elif isinstance(old, list) and isinstance(new, list):
        _walk_list(path, old, new, out)
    else:
        out.append(Change(path, "changed", old, new))


def _walk_list(path: str, old: list, new: list, out: list[Change]) -> None:
    key = _IDENTITY.get(path.rsplit(".", 1)[-1])
    if key and _keyed(old, key) and _keyed(new, key):
        before = {item[key]: item for item in old}
        after = {item[key]: item for item in new}
        for k, item in before.items():
            if k not in after:
                out.append(Change(f"{path}[{k}]", "removed", item, None))
            else:
                _walk(f"{path}[{k}]", item, after[k], out)
        out.extend(
            Change(f"{path}[{k}]", "added", None, item) for k, item in after.items() if k not in before
        )
        common_old = [k for k in before if k in after]
        common_new = [k for k in after if k in before]
        if common_old != common_new:
            out.append(Change(path, "reordered", common_old, common_new))
    elif all(not isinstance(v, dict | list) for v in [*old, *new]):
        removed = [v for v in old if v not in new]
        added = [v for v in new if v not in old]
        out.extend(Change(path, "removed", v, None) for v in removed)
        out.extend(Change(path, "added", None, v) for v in added)
        if not removed and not added:
            out.append(Change(path, "reordered", old, new))
    else:
        out.append(Change(path, "changed", old, new))


def _keyed(items: list, key: str) -> bool:
    ids = [item.get(key) for item in items if isinstance(item, dict)]
    return len(ids) == len(items) and len(set(ids)) == len(ids)


def unified_yaml_diff(old: Agreement, new: Agreement, old_label: str = "old", new_label: str = "new") -> str:
    """Return a unified diff of the two documents' YAML (empty text when they are equal)."""
    lines = difflib.unified_diff(
        old.to_yaml().splitlines(keepends=True),
        new.to_yaml().splitlines(keepends=True),
        fromfile=old_label,
        tofile=new_label,
    )
    return "".join(lines)


# --- editing --------------------------------------------------------------------------------------------


def with_changes(
    agreement: Agreement,
    targets: Mapping[str, float | None] | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
) -> Agreement:
    """Return a new document with the targets and metric params of the named commitments replaced.

    ``targets``: ``{commitment id: target or None}``; ``params``: ``{commitment
    id: {param: value}}`` (merged into the existing params; a None value removes
    the param). The result is validated like a document read from YAML: a bad
    value raises :class:`AgreementError` with the field path, e.g.
    ``commitments[3].params.business_hours: Input should be greater than 0``.
    """
    document = agreement.to_document()
    known = [c["id"] for c in document["commitments"]]
    for name in [*(targets or {}), *(params or {})]:
        if name not in known:
            raise AgreementError(f"unknown commitment {name!r}; commitments: {', '.join(known)}")
    for item in document["commitments"]:
        if targets and item["id"] in targets:
            item["target"] = targets[item["id"]]
        if params and item["id"] in params:
            merged = {**item.get("params", {}), **params[item["id"]]}
            item["params"] = {k: v for k, v in merged.items() if v is not None}
    return parse_document(document)


_PATH = re.compile(r"^(?P<path>[\w\-\[\]. ]+?): (?P<text>.+)$")
_COMMITMENT = re.compile(r"^commitments\[(?P<index>\d+)\](?:\.(?P<field>.+))?$")


def problems(error: AgreementError | str) -> list[tuple[str, str]]:
    """Return each problem of an ``AgreementError`` as ``(field path, what is wrong)``; path '' when none.

    >>> problems("2 problems in the agreement:\\n- name: required field is missing\\n- review.next: 'x' is not a date")
    [('name', 'required field is missing'), ('review.next', "'x' is not a date")]
    >>> problems("YAML syntax error at line 3, column 1: could not find expected ':'")
    [('', "YAML syntax error at line 3, column 1: could not find expected ':'")]
    """
    text = str(error)
    lines = text.split("\n")
    items = [line[2:] for line in lines[1:] if line.startswith("- ")] if len(lines) > 1 else [text]
    out = []
    for item in items:
        match = _PATH.match(item)
        if match and not item.startswith("YAML syntax error"):
            out.append((match["path"], match["text"]))
        else:
            out.append(("", item))
    return out


def commitment_field(path: str) -> tuple[int | None, str]:
    """Return ``(commitment index, field within it)`` of an error path; ``(None, path)`` elsewhere.

    >>> commitment_field("commitments[3].params.business_hours"), commitment_field("review.next")
    ((3, 'params.business_hours'), (None, 'review.next'))
    """
    match = _COMMITMENT.match(path)
    if match is None:
        return None, path
    return int(match["index"]), match["field"] or ""


def line_of(text: str, path: str) -> int | None:
    """Return the 1-based line of field ``path`` (e.g. ``commitments[2].target``) in YAML ``text``.

    When the field itself is missing, the line of the nearest enclosing field;
    None when the text does not parse or the path is empty.

    >>> line_of("name: A\\ncommitments:\\n  - id: x\\n    target: lots\\n", "commitments[0].target")
    4
    """
    if not path:
        return None
    try:
        node = compose(text)  # bounded like parsing: a text refused there is not composed here either
    except AgreementError:
        return None
    line = None
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        if node is None:
            break
        if part.startswith("["):
            index = int(part[1:-1])
            if not isinstance(node, yaml.SequenceNode) or index >= len(node.value):
                break
            node = node.value[index]
            line = node.start_mark.line + 1
            continue
        if not isinstance(node, yaml.MappingNode):
            break
        found = next(
            ((k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == part), None
        )
        if found is None:
            break
        line = found[0].start_mark.line + 1
        node = found[1]
    return line


# --- effective dates -----------------------------------------------------------------------------------


def default_effective_from(agreement: Agreement, as_of: Any) -> pd.Timestamp:
    """Return the start of the period after the one containing ``as_of`` (UTC): when a change takes effect.

    >>> from analytics.agreement import parse_agreement
    >>> doc = parse_agreement("{name: A, parties: [s], timezone: Europe/Berlin, "
    ...     "commitments: [{id: c, owner: s, metric: mql_count, target: 1}]}")
    >>> str(default_effective_from(doc, pd.Timestamp("2026-11-27T12:00Z")))
    '2026-11-30 23:00:00+00:00'
    """
    return period_of(_instant(as_of), agreement.period, agreement.timezone)["period_end"]


def check_effective_from(
    effective_from: Any, versions: Iterable[AgreementVersion], as_of: Any, agreement: Agreement
) -> pd.Timestamp:
    """Return ``effective_from`` as a UTC Timestamp if a new version of ``agreement`` may take effect then.

    A date is read as local midnight in the agreement's timezone. The first
    version of an agreement may take effect at any time (it defines history).
    A later one may not take effect before the latest existing version's
    effective date, nor before the start of the period containing ``as_of``
    (that would change how a closed period was judged). Otherwise
    :class:`AgreementError` says which date is allowed.
    """
    moment = _effective_instant(effective_from, agreement.timezone)
    existing = list(versions)
    if not existing:
        return moment
    latest = max(existing, key=lambda v: (pd.Timestamp(v.effective_from), v.version))
    latest_from = pd.Timestamp(latest.effective_from).tz_convert("UTC")
    zone = agreement.timezone
    if moment < latest_from:
        raise AgreementError(
            f"effective_from: {_local(moment, zone)} is before version {latest.version}'s effective date "
            f"{_local(latest_from, zone)}; pick {_local(latest_from, zone)} or later "
            "(a new version never takes effect before an existing one)"
        )
    current = period_of(_instant(as_of), agreement.period, zone)
    if moment < current["period_start"]:
        raise AgreementError(
            f"effective_from: {_local(moment, zone)} is before the current period {current['period']} "
            f"(from {_local(current['period_start'], zone)}): closed periods keep the judgement they had; "
            f"pick {_local(current['period_start'], zone)} or later"
        )
    return moment


def earliest_effective_from(
    versions: Iterable[AgreementVersion], as_of: Any, agreement: Agreement
) -> pd.Timestamp | None:
    """Return the earliest instant a new version may take effect (see :func:`check_effective_from`).

    None for the first version of an agreement (any date is allowed).
    """
    existing = list(versions)
    if not existing:
        return None
    latest = max(pd.Timestamp(v.effective_from).tz_convert("UTC") for v in existing)
    current = period_of(_instant(as_of), agreement.period, agreement.timezone)["period_start"]
    return max(latest, current)


def _effective_instant(value: Any, timezone: str) -> pd.Timestamp:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        raise AgreementError("effective_from: required; give a date YYYY-MM-DD")
    if isinstance(value, str) and re.fullmatch(r"\s*\d{4}-\d{2}-\d{2}\s*", value):
        try:
            value = dt.date.fromisoformat(value.strip())
        except ValueError:
            raise AgreementError(f"effective_from: {value!r} is not a date; use YYYY-MM-DD") from None
    try:
        return to_instant(value, timezone)
    except PeriodError:
        raise AgreementError(f"effective_from: {value!r} is not a date; use YYYY-MM-DD") from None


def _instant(value: Any) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        raise AgreementError(f"as_of {value!r} needs a timezone (e.g. UTC)")
    return stamp.tz_convert("UTC")


def _local(moment: pd.Timestamp, timezone: str) -> str:
    """'2026-12-01' for local midnight, else '2026-12-01 14:30' (local time)."""
    local = moment.tz_convert(timezone)
    return f"{local:%Y-%m-%d}" if local == local.normalize() else f"{local:%Y-%m-%d %H:%M}"


# --- review ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewState:
    """When the agreement is next reviewed: ``state`` is 'overdue', 'due', 'scheduled' or 'no cadence'."""

    next: dt.date | None
    state: str
    days: int | None  # days until the review (negative: overdue by)
    message: str


def following_review(agreement: Agreement, today: dt.date) -> dt.date | None:
    """Return the first review date after ``today`` on the agreement's cadence, counted from ``review.next``.

    What to write as the new ``review.next`` once a review is done; None when the agreement sets no review.

    >>> from analytics.agreement import parse_agreement
    >>> doc = parse_agreement("{name: A, parties: [s], review: {every: quarter, next: 2026-07-01}, "
    ...     "commitments: [{id: c, owner: s, metric: mql_count, target: 1}]}")
    >>> following_review(doc, dt.date(2026, 3, 1)), following_review(doc, dt.date(2026, 11, 18))
    (datetime.date(2026, 7, 1), datetime.date(2027, 1, 1))
    """
    if agreement.review is None:
        return None
    step, due = (
        pd.DateOffset(months=REVIEW_MONTHS[agreement.review.every]),
        pd.Timestamp(agreement.review.next),
    )
    while due.date() <= today:
        due += step
    return due.date()


def review_state(version: AgreementVersion, as_of: Any) -> ReviewState:
    """Return when ``version``'s agreement is next reviewed (its ``review.next``) and whether that is due
    (within :data:`REVIEW_WARNING_DAYS`) or overdue as of ``as_of`` (in the agreement's timezone).

    The date written in the agreement is the one that counts: a version saved after it without a new
    ``review.next`` leaves the review overdue (saving a change is not a review)."""
    doc = version.document
    if doc.review is None:
        return ReviewState(None, "no cadence", None, "No review cadence is set in the agreement.")
    due = doc.review.next
    today = _instant(as_of).tz_convert(doc.timezone).date()
    days = (due - today).days
    if days < 0:
        after = following_review(doc, today)
        state, message = (
            "overdue",
            (
                f"The review was due on {_day(due)}, {_count(-days, 'day')} ago: it is overdue. After the "
                f"review, set review.next (every {doc.review.every}: {_day(after)} would be next)."
            ),
        )
    elif days <= REVIEW_WARNING_DAYS:
        when = "today" if days == 0 else f"in {_count(days, 'day')}"
        state, message = "due", f"The review is due {when} ({_day(due)})."
    else:
        state, message = "scheduled", f"Next review on {_day(due)}, in {_count(days, 'day')}."
    return ReviewState(due, state, days, message)


def _day(date: dt.date) -> str:
    """'1 July 2026' (no leading zero)."""
    return f"{date.day} {date:%B %Y}"


CHECKLIST_COLUMNS = [
    "commitment",
    "party",
    "periods",
    "met",
    "missed",
    "not_judged",
    "missed_periods",
    "check",
]


def review_checklist(evaluation: pd.DataFrame, since: Any = None) -> pd.DataFrame:
    """Return, per commitment, how often it was met and missed in closed periods starting at or after ``since``.

    ``evaluation``: an :func:`~analytics.commitments.evaluate` frame without
    breakdown. Columns :data:`CHECKLIST_COLUMNS`; ``check`` is the question to
    ask in the review (e.g. 'missed in 4 of 6 periods: revisit the target or
    agree how to get back on track').
    """
    closed = evaluation[evaluation["period_state"] == "closed"]
    if since is not None:
        closed = closed[closed["period_start"] >= _instant(since)]
    rows = []
    for commitment, group in evaluation.groupby("commitment", sort=False):
        mine = closed[closed["commitment"] == commitment].sort_values("period_start")
        met = int((mine["status"] == "met").sum())
        missed_rows = mine[mine["status"] == "missed"]
        missed = len(missed_rows)
        judged = met + missed
        if mine.empty:
            check = "no closed period since this version took effect yet"
        elif judged == 0:
            check = "nothing to judge (no target or no data): set a target or check the data"
        elif missed == 0:
            check = f"met in all {_count(judged, 'period')}: is the target still ambitious enough?"
        elif missed * 2 >= judged:
            check = f"missed in {missed} of {_count(judged, 'period')}: revisit the target or agree how to get back on track"
        else:
            check = f"missed in {missed} of {_count(judged, 'period')}: look at what went wrong then"
        rows.append(
            {
                "commitment": commitment,
                "party": group["party"].iloc[-1],
                "periods": len(mine),
                "met": met,
                "missed": missed,
                "not_judged": len(mine) - judged,
                "missed_periods": ", ".join(missed_rows["period"].astype(str)),
                "check": check,
            }
        )
    return pd.DataFrame(rows, columns=CHECKLIST_COLUMNS).astype(
        {"periods": "int64", "met": "int64", "missed": "int64", "not_judged": "int64"}
    )


# --- consequences --------------------------------------------------------------------------------------------


def consequences_table(agreement: Agreement) -> pd.DataFrame:
    """Return what each side agreed happens on a miss or a meet: commitment, party, on_miss, on_meet ('' = none)."""
    owners = {c.id: c.owner for c in agreement.commitments}
    rows = [
        {"commitment": q.commitment, "party": owners[q.commitment], "on_miss": q.on_miss or "",
         "on_meet": q.on_meet or ""}
        for q in agreement.consequences
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=["commitment", "party", "on_miss", "on_meet"])


TRIGGERED_COLUMNS = ["period", "commitment", "party", "status", "version", "consequence"]


def triggered_consequences(
    agreement_versions: Agreement | AgreementVersion | Iterable[AgreementVersion],
    evaluation: pd.DataFrame,
    periods: int = 3,
) -> pd.DataFrame:
    """Return the consequences the last ``periods`` closed periods triggered, newest period first.

    A missed commitment triggers its ``on_miss``, a met one its ``on_meet``,
    as written in the version that judged the period (the ``version`` column of
    the evaluation). Columns :data:`TRIGGERED_COLUMNS`; one row per consequence.
    """
    documents = {v.version: v.document for v in as_versions(agreement_versions)}
    closed = evaluation[evaluation["period_state"] == "closed"]
    last = closed.drop_duplicates("period_start").sort_values("period_start")["period_start"].tail(periods)
    chosen = closed[closed["period_start"].isin(last) & closed["status"].isin(["met", "missed"])]
    rows = []
    for row in chosen.sort_values(["period_start"], ascending=False, kind="stable").itertuples():
        version = None if pd.isna(row.version) else int(row.version)
        doc = documents.get(version)
        if doc is None:
            continue
        for q in doc.consequences:
            text = (
                (q.on_meet if row.status == "met" else q.on_miss) if q.commitment == row.commitment else None
            )
            if text:
                rows.append(
                    {"period": row.period, "commitment": row.commitment, "party": row.party,
                     "status": row.status, "version": version, "consequence": text}
                )  # fmt: skip
    return pd.DataFrame(rows, columns=TRIGGERED_COLUMNS)
