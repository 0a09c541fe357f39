"""Canonical frames: the one place that names every column and its dtype.

Every connector produces, and every repository read returns, frames with exactly
these columns. Timestamps are timezone-aware UTC (``datetime64[us, UTC]``);
conversion to an agreement's timezone happens in the analytics that need it.

>>> frame = empty_frame("owners")
>>> list(frame.columns)[:3]
['id', 'source', 'external_id']
>>> validate_frame(frame, "owners") is frame
True
"""

from __future__ import annotations

import numpy as np
import pandas as pd

UTC_TS = "datetime64[us, UTC]"
STR = "str"
INT = "Int64"  # nullable: an unresolved owner or lead is <NA>, not a crash
FLOAT = "float64"
BOOL = "boolean"

# Column -> dtype, in the order frames carry them.
COLUMNS: dict[str, dict[str, str]] = {
    "owners": {
        "id": INT,
        "source": STR,
        "external_id": STR,
        "name": STR,
        "email": STR,
        "team": STR,
        "active": BOOL,
        "updated_at": UTC_TS,
    },
    "leads": {
        "id": INT,
        "source": STR,
        "external_id": STR,
        "created_at": UTC_TS,
        "mql_at": UTC_TS,
        "sql_at": UTC_TS,
        "owner_id": INT,
        "owner_external_id": STR,
        "owner_assigned_at": UTC_TS,
        "team": STR,
        "channel": STR,
        "campaign": STR,
        "lifecycle_stage": STR,
        "lead_status": STR,
        "first_touch_at": UTC_TS,
        "touches": INT,
        "disposition": STR,
        "disposition_at": UTC_TS,
        "rejection_reason": STR,
        "segment": STR,
        "archived": BOOL,
        "updated_at": UTC_TS,
        # Who the lead is, for the records behind a figure (never logged; fictitious in the demo).
        "name": STR,
        "company": STR,
        "email": STR,
    },
    "deals": {
        "id": INT,
        "source": STR,
        "external_id": STR,
        "name": STR,
        "created_at": UTC_TS,
        "closed_at": UTC_TS,
        "amount": FLOAT,
        "currency": STR,
        "stage": STR,
        "pipeline": STR,
        "is_closed": BOOL,
        "is_won": BOOL,
        "owner_id": INT,
        "owner_external_id": STR,
        "team": STR,
        "channel": STR,
        "lead_id": INT,
        "lead_external_id": STR,
        "archived": BOOL,
        "updated_at": UTC_TS,
    },
    "activities": {
        "id": INT,
        "source": STR,
        "external_id": STR,
        "lead_id": INT,
        "lead_external_id": STR,
        "owner_id": INT,
        "owner_external_id": STR,
        "kind": STR,
        "occurred_at": UTC_TS,
        "archived": BOOL,
    },
}

# Columns a connector supplies (the rest are resolved by the repository on read:
# surrogate ids, and the owner's team).
DERIVED_ON_READ: dict[str, set[str]] = {
    "owners": {"id"},
    "leads": {"id", "owner_id", "team"},
    "deals": {"id", "owner_id", "team", "lead_id"},
    "activities": {"id", "lead_id", "owner_id"},
}

# The most characters each text column holds in the database: the mappers reject a longer value with its
# reason, and data/models.py builds its String columns from these (one definition). A column not listed
# (a derived one, like leads.team) is not stored as text of its own.
_ID = {"source": 64, "external_id": 255}
TEXT_LIMITS: dict[str, dict[str, int]] = {
    "owners": {**_ID, "name": 255, "email": 320, "team": 255},
    "leads": {
        **_ID,
        "owner_external_id": 255,
        "channel": 255,
        "campaign": 255,
        "lifecycle_stage": 64,
        "lead_status": 64,
        "disposition": 16,
        "rejection_reason": 255,
        "segment": 255,
        "name": 255,
        "company": 255,
        "email": 320,
    },
    "deals": {
        **_ID,
        "name": 255,
        "currency": 8,
        "stage": 255,
        "pipeline": 255,
        "owner_external_id": 255,
        "channel": 255,
        "lead_external_id": 255,
    },
    "activities": {**_ID, "lead_external_id": 255, "owner_external_id": 255, "kind": 16},
}
# Every INT column is a 32-bit INTEGER in the database (PostgreSQL's limit; SQLite's is wider).
INT_MAX = 2**31 - 1

DISPOSITIONS = ("open", "accepted", "rejected")
ACTIVITY_KINDS = ("call", "email", "meeting", "task", "note")


class SchemaError(ValueError):
    """A frame does not have the canonical shape; the message names the column."""


def input_columns(table: str) -> list[str]:
    """Columns a connector must provide for ``table`` (canonical minus derived)."""
    _check_table(table)
    return [c for c in COLUMNS[table] if c not in DERIVED_ON_READ[table]]


def empty_frame(table: str, columns: list[str] | None = None) -> pd.DataFrame:
    """An empty frame with the canonical columns and dtypes of ``table``."""
    _check_table(table)
    names = columns if columns is not None else list(COLUMNS[table])
    return pd.DataFrame({c: pd.Series(dtype=COLUMNS[table][c]) for c in names})


def coerce_frame(df: pd.DataFrame, table: str, *, partial: bool = False) -> pd.DataFrame:
    """Return a copy of ``df`` cast to the canonical dtypes of ``table``.

    Missing columns are added as all-missing unless ``partial`` (then only the
    columns present are cast). Extra columns are dropped. Naive timestamps are
    taken as UTC; aware ones are converted to UTC.
    """
    _check_table(table)
    spec = COLUMNS[table]
    names = [c for c in spec if c in df.columns] if partial else list(spec)
    out = {}
    for name in names:
        dtype = spec[name]
        if name not in df.columns:
            out[name] = pd.Series(None, index=df.index, dtype=object).astype(dtype)
            continue
        try:
            out[name] = _cast(df[name], dtype)
        except (TypeError, ValueError) as exc:
            raise SchemaError(f"{table}.{name}: cannot convert to {dtype}: {exc}") from exc
    return pd.DataFrame(out, index=df.index)


def validate_frame(df: pd.DataFrame, table: str) -> pd.DataFrame:
    """Check that ``df`` has every canonical column of ``table`` with its dtype.

    Returns ``df`` unchanged, or raises :class:`SchemaError` naming the first
    column that is missing or has the wrong dtype.
    """
    _check_table(table)
    for name, dtype in COLUMNS[table].items():
        if name not in df.columns:
            raise SchemaError(f"{table}: column {name!r} is missing (have {list(df.columns)})")
        if str(df[name].dtype) != str(pd.Series(dtype=dtype).dtype):
            raise SchemaError(f"{table}.{name}: dtype is {df[name].dtype}, expected {dtype}")
    return df


def _cast(series: pd.Series, dtype: str) -> pd.Series:
    if dtype == UTC_TS:
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            return series.dt.tz_convert("UTC").astype(UTC_TS)
        textual = series.dtype == object or str(series.dtype) == "str"
        converted = pd.to_datetime(series, utc=True, format="ISO8601" if textual else None)
        return converted.astype(UTC_TS)
    return series.astype(dtype)


def _check_table(table: str) -> None:
    if table not in COLUMNS:
        raise SchemaError(f"unknown table {table!r}; known tables: {', '.join(COLUMNS)}")


def full_names(first, last) -> pd.Series:
    """Return first and last names joined by a space (a "str" Series); a blank part is left out, both: missing.

    >>> full_names(["Ada", None, " ", None], ["Lovelace", "Hopper", "Curie", None]).tolist()
    ['Ada Lovelace', 'Hopper', 'Curie', nan]
    """
    parts = [
        pd.Series(list(p), dtype=object).where(lambda s: s.notna(), "").astype(str).str.strip()
        for p in (first, last)
    ]
    joined = parts[0].str.cat(parts[1], sep=" ").str.strip()
    return joined.where(joined.str.len() > 0).astype(STR)


def is_repeat_handover(ids: pd.Series) -> np.ndarray:
    """Whether each leads row is a repeat handover (a lead re-qualified after recycling): its id is negative.

    A lead handed over several times is read as one row per handover; the first keeps the lead's id,
    later ones get negative ids (see ``data.handovers``).

    >>> is_repeat_handover(pd.Series([3, -7, None], dtype="Int64")).tolist()
    [False, True, False]
    """
    return (ids < 0).to_numpy(dtype=bool, na_value=False)
