"""Raw rows of an export -> canonical rows, and the rows that cannot be used with their reasons.

Pure pandas: :func:`make_plan` fixes, from the first rows, every choice that
must hold for the whole file (date order, decimal separator); then
:func:`convert_chunk` turns each chunk into a canonical frame of the good rows
and a list of rejected rows (file line, column, reasons, raw values).

A row is rejected, as a whole, when any mapped value cannot be read or is
implausible:

- a date that is not a date, lies before 1990, or lies more than a day after
  the import time ``as_of`` (a lead created in 2150 is an error, not a
  forecast). The one exception: a deal that is not closed may carry a close
  date up to 10 years ahead (CRMs export the expected close date there);
- a negative amount or touch count, a touch count that is not whole, a
  whole number too large for its database column (touches: PostgreSQL
  INTEGER, at most 2 147 483 647), an amount that is not finite;
- a NUL character (``\\x00``) in any mapped cell: UTF-16 files can hold one,
  and PostgreSQL text cannot, so the row is rejected rather than stored
  altered (text is stored as written, or not at all);
- a yes/no or enumerated value (disposition, activity kind) outside its words;
- a missing required value (external id; created_at of a lead; occurred_at of
  an activity) or text longer than its database column.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analytics.schema import BOOL, COLUMNS, FLOAT, INT, INT_MAX, TEXT_LIMITS, UTC_TS
from connectors.files.mapping import ENUMERATIONS, REQUIRED_VALUES, Mapping, join_label, resolve_joins
from connectors.files.values import (
    NULL_WORDS,
    DateChoice,
    DecimalChoice,
    choose_date_order,
    choose_decimal,
    clean_text,
    map_values,
    parse_booleans,
    parse_datetimes,
    parse_numbers,
)

EARLIEST = pd.Timestamp("1990-01-01", tz="UTC")
NUL = "\x00"
NUL_SHOWN = "\ufffd"  # how a NUL in a rejected row's id is shown (the raw values, JSON, keep it escaped)
NUL_REASON = "contains a NUL character (\\x00), which cannot be stored"
FUTURE_TOLERANCE = pd.Timedelta(days=1)
EXPECTED_CLOSE_HORIZON = pd.Timedelta(days=3653)
SAMPLE_VALUES = 2_000  # distinct values per column that choose the decimal separator
SAMPLE_ROWS = 20_000  # rows at the start of the file that fix date order and decimal separator
_KIND_SYNONYMS = {
    "e-mail": "email",
    "phone": "call",
    "phone call": "call",
    "to-do": "task",
    "todo": "task",
    "calls": "call",
    "emails": "email",
    "meetings": "meeting",
    "tasks": "task",
    "notes": "note",
}


@dataclass(frozen=True)
class Plan:
    """What holds for every row of one import: table, source, field -> column, and the choices made."""

    table: str
    source: str
    columns: dict[str, str]
    mapping: Mapping
    as_of: pd.Timestamp
    dates: DateChoice
    decimal: DecimalChoice
    joins: dict[str, list[str]] = field(default_factory=dict)  # field -> the columns joined into it

    @property
    def timezone(self) -> str:
        return self.mapping.timezone or "UTC"

    def header_of(self, name: str) -> str:
        """What feeds field ``name``, as rejected rows name it: its column, its joined columns, or a constant."""
        if name in self.columns:
            return self.columns[name]
        return join_label(self.joins[name]) if name in self.joins else f"constant {name}"


def make_plan(
    mapping: Mapping, columns: dict[str, str], first_rows: pd.DataFrame, source: str, as_of
) -> Plan:
    """Fix the date order and decimal separator from ``first_rows`` (the mapping's settings win)."""
    spec = COLUMNS[mapping.table]
    as_of = pd.Timestamp(as_of)
    as_of = as_of.tz_localize("UTC") if as_of.tzinfo is None else as_of.tz_convert("UTC")
    date_headers = dict.fromkeys(h for f, h in columns.items() if spec[f] == UTC_TS)
    # Every date of the sample rows, not the first distinct ones: an export sorted by date may hold
    # thousands of days 1-12 before the first day that decides the order.
    date_samples = pd.concat([first_rows[h].head(SAMPLE_ROWS) for h in date_headers] or [pd.Series()])
    number_samples = _samples(first_rows, [h for f, h in columns.items() if spec[f] in (FLOAT, INT)])
    if mapping.date_format:
        dates = DateChoice(
            bool(mapping.dayfirst), f"dates read with the mapping's format {mapping.date_format}"
        )
    else:
        dates = choose_date_order(date_samples, mapping.dayfirst)
    return Plan(
        mapping.table, source, columns, mapping, as_of, dates, choose_decimal(number_samples, mapping.decimal),
        resolve_joins(mapping, [str(c) for c in first_rows.columns]),
    )  # fmt: skip


def joined_text(frame: pd.DataFrame, headers: list[str]) -> pd.Series:
    """The text of ``headers`` joined with a space, row by row; a blank part is left out, all blank is missing.

    >>> raw = pd.DataFrame({"First": ["Ada", " ", "Grace", None], "Last": ["Lovelace", "Curie", "", None]})
    >>> joined_text(raw, ["First", "Last"]).tolist()
    ['Ada Lovelace', 'Curie', 'Grace', nan]
    """
    joined = pd.Series("", index=frame.index, dtype="str")
    for header in headers:
        joined = (joined + " " + clean_text(frame[header]).fillna("")).str.strip()
    return joined.mask(joined.str.len() == 0)


def _samples(frame: pd.DataFrame, headers: list[str]) -> list[str]:
    out: list[str] = []
    for header in dict.fromkeys(headers):
        values = frame[header].head(SAMPLE_ROWS).dropna().unique()[:SAMPLE_VALUES].to_numpy(dtype=object)
        cleaned = (str(v).strip() for v in values)
        out.extend(v for v in cleaned if v.lower() not in NULL_WORDS)
    return out


@dataclass
class Converted:
    """One chunk converted: the good rows as a canonical frame (with their file ``lines``) and the rejects."""

    frame: pd.DataFrame
    lines: np.ndarray
    rejected: list[dict] = field(default_factory=list)
    naive_times: bool = False
    date_only: bool = False


class _Problems:
    """Per-row reasons, collected column by column as masks; the texts are written only for bad rows.

    A reason is a template: ``{value}`` is the cell as the file holds it (quoted), ``{short}`` the
    same cut to 40 characters.
    """

    def __init__(self, n: int, cells: dict[str, pd.Series]):
        self.bad = np.zeros(n, dtype=bool)
        self.cells = cells
        self.items: list[tuple[np.ndarray, str, str]] = []

    def add(self, mask: np.ndarray, header: str, reason: str) -> None:
        mask = np.asarray(mask, dtype=bool)
        if mask.any():
            self.bad |= mask
            self.items.append((mask, header, reason))

    def reasons(self) -> dict[int, list[tuple[str, str]]]:
        out: dict[int, list[tuple[str, str]]] = {}
        for mask, header, reason in self.items:
            for i in np.flatnonzero(mask):
                cell = str(self.cells[header].iloc[i]).strip() if header in self.cells else ""
                text = reason.format(value=repr(cell), short=repr(cell[:40]) + "...")
                out.setdefault(int(i), []).append((header, text))
        return out


def convert_chunk(raw: pd.DataFrame, lines: np.ndarray, plan: Plan) -> Converted:
    """Map, convert and validate the rows of ``raw`` (text, the file's headers) under ``plan``."""
    n = len(raw)
    raw = raw.reset_index(drop=True)
    table, spec, mapping = plan.table, COLUMNS[plan.table], plan.mapping
    inputs = [(name, header, raw[header]) for name, header in plan.columns.items()]
    inputs += [(name, join_label(headers), joined_text(raw, headers)) for name, headers in plan.joins.items()]
    inputs += [(name, f"constant {name}", _constant(value, n)) for name, value in mapping.constants.items()]
    problems = _Problems(n, {header: values for _, header, values in inputs})
    out: dict[str, pd.Series] = {"source": pd.Series([plan.source] * n, dtype="str")}
    naive_times = date_only = False
    for name, header, values in inputs:
        problems.add(_has_nul(values), header, NUL_REASON)
        dtype = spec[name]
        if dtype == UTC_TS:
            parsed = parse_datetimes(
                values, dayfirst=plan.dates.dayfirst, date_format=mapping.date_format, timezone=plan.timezone
            )
            naive_times |= parsed.naive_times
            date_only |= parsed.date_only
            problems.add(parsed.bad, header, "{value} is not a date")
            out[name] = parsed.values
        elif dtype in (FLOAT, INT):
            numbers, bad = parse_numbers(values, plan.decimal.decimal)
            problems.add(bad, header, "{value} is not a number")
            negative = (numbers.to_numpy() < 0) & ~np.isnan(numbers.to_numpy())
            if dtype == INT:
                fraction = ~np.isnan(numbers.to_numpy()) & (numbers.to_numpy() % 1 != 0)
                problems.add(fraction, header, "{value} is not a whole number")
                limit = INT_MAX
                huge = np.abs(numbers.to_numpy()) >= float(limit) + 1  # NaN compares False
                problems.add(huge & ~negative, header, f"{{value}} is too large (at most {limit:,})")
                numbers = numbers.where(~fraction & ~huge)  # a huge negative is refused as negative below
                out[name] = pd.Series(pd.array(numbers.round(), dtype="Int64"))
            else:
                out[name] = numbers
            problems.add(negative, header, "{value} is negative")
        elif dtype == BOOL:
            out[name] = _booleans(values, mapping.values.get(name), header, problems)
        else:
            out[name] = _text(table, name, values, mapping.values.get(name), header, problems)

    if mapping.stages is not None and "stage" in out:
        _derive_from_stage(out, mapping)
    _check_required(out, plan, problems)
    _check_dates(out, plan, problems)

    good = ~problems.bad
    frame = pd.DataFrame({k: v.reset_index(drop=True) for k, v in out.items()})
    frame = frame[good].reset_index(drop=True)
    rejected = _rejected(raw, lines, plan, problems, out.get("external_id"))
    return Converted(frame, np.asarray(lines)[good], rejected, naive_times, date_only)


def _has_nul(values: pd.Series) -> np.ndarray:
    """Where a cell holds a NUL character, which no PostgreSQL text can store."""
    return values.astype("str").str.contains(NUL, regex=False).fillna(False).to_numpy(dtype=bool)


def _constant(value, n: int) -> pd.Series:
    text = "" if value is None else ("true" if value is True else "false" if value is False else str(value))
    return pd.Series([text] * n, dtype="str")


def _booleans(values, value_map, header, problems) -> pd.Series:
    flags, bad = parse_booleans(values)
    if value_map:
        mapped, hit = map_values(values, value_map)
        flags = flags.copy()
        flags[hit] = pd.array(list(mapped[hit]), dtype="boolean")
        listed = ", ".join(str(k) for k in value_map if k != "*")
        problems.add(bad & ~hit, header, f"{{value}} is neither in the value map ({listed}) nor yes/no")
    else:
        problems.add(bad, header, "{value} is not yes/no (true/false, yes/no, 1/0)")
    return flags


def _text(table, name, values, value_map, header, problems) -> pd.Series:
    text = clean_text(values)
    if value_map:
        mapped, hit = map_values(values, value_map)
        replaced = pd.Series([None if v is None else str(v) for v in mapped], dtype="str")
        text = text.where(~hit, replaced)
    if name in ENUMERATIONS:
        folded = text.str.lower()
        if name == "kind":
            folded = folded.replace(_KIND_SYNONYMS)
        bad = (text.notna() & ~folded.isin(ENUMERATIONS[name])).to_numpy(dtype=bool)
        allowed = ", ".join(ENUMERATIONS[name])
        problems.add(bad, header, f"{{value}} is not a {name} ({allowed}); map it under values: {name}")
        text = folded.where(~bad)
    limit = TEXT_LIMITS[table].get(name)
    if limit:
        long = (text.str.len() > limit).fillna(False).to_numpy(dtype=bool)
        problems.add(long, header, f"{{short}} is longer than {limit} characters")
    return text.astype("str")


def _derive_from_stage(out: dict, mapping: Mapping) -> None:
    stage = out["stage"].str.casefold()
    won = {s.strip().casefold() for s in mapping.stages.won}
    lost = {s.strip().casefold() for s in mapping.stages.lost}
    present = stage.notna().to_numpy()
    is_won = pd.Series(pd.NA, index=stage.index, dtype="boolean")
    is_closed = is_won.copy()
    is_won[present] = stage[present].isin(won).to_numpy()
    is_closed[present] = stage[present].isin(won | lost).to_numpy()
    # an explicit column (e.g. Salesforce's "Won" checkbox) wins; the stage fills its gaps
    out["is_won"] = out["is_won"].fillna(is_won) if "is_won" in out else is_won
    out["is_closed"] = out["is_closed"].fillna(is_closed) if "is_closed" in out else is_closed


def _check_required(out: dict, plan: Plan, problems: _Problems) -> None:
    for name in REQUIRED_VALUES[plan.table]:
        if name not in out:
            continue
        header = plan.header_of(name)
        missing = out[name].isna().to_numpy() & ~problems.bad
        problems.add(missing, header, f"{name} is blank, and {plan.table} need it")


def _check_dates(out: dict, plan: Plan, problems: _Problems) -> None:
    latest = plan.as_of + FUTURE_TOLERANCE
    for name in out:
        if COLUMNS[plan.table].get(name) != UTC_TS:
            continue
        header = plan.columns.get(name, f"constant {name}")
        values = out[name]
        limit = pd.Series(latest, index=values.index)
        if plan.table == "deals" and name == "closed_at":  # an open deal's close date is an expectation
            closed = np.zeros(len(values), dtype=bool)
            if "is_closed" in out:
                closed = out["is_closed"].fillna(False).to_numpy(dtype=bool)
            limit[~closed] = plan.as_of + EXPECTED_CLOSE_HORIZON
        early = (values < EARLIEST).fillna(False).to_numpy(dtype=bool)
        late = (values > limit).fillna(False).to_numpy(dtype=bool)
        problems.add(early, header, "{value} is before 1990")
        problems.add(late, header, f"{{value}} is in the future (after {plan.as_of:%Y-%m-%d})")


def _rejected(raw, lines, plan: Plan, problems: _Problems, external_ids) -> list[dict]:
    rows = []
    for i, reasons in sorted(problems.reasons().items()):
        external_id = None
        if external_ids is not None and isinstance(external_ids.iloc[i], str):
            external_id = external_ids.iloc[i].replace(NUL, NUL_SHOWN)  # the raw values keep it exactly
        record = raw.iloc[i]
        rows.append(
            {
                "source": plan.source,
                "object": plan.table,
                "external_id": external_id,
                "row_number": int(lines[i]),
                "column_name": reasons[0][0],
                "reasons": "; ".join(f"{header}: {reason}" for header, reason in reasons),
                "raw": json.dumps(
                    {str(k): v for k, v in record.items() if isinstance(v, str)}, ensure_ascii=False
                ),
            }
        )
    return rows
