"""Exported text -> typed values: dates, numbers, booleans and value maps. Pure pandas, no I/O.

Each ``parse_*`` function takes a column of text and returns the typed column
and a ``bad`` mask: True where a value was present but could not be read. A
blank cell, or a null word such as "n/a", is missing, never bad.

Work is done once per distinct value (``pd.factorize``), so a column of dates
without times, or of a few stage names, costs almost nothing.

Dates (from the year 1900 to 2200): ISO 8601 (with or without time, "T" or space, with or without a
``Z``/offset); numeric dates month-first (US) or day-first with ``/``, ``.``
or ``-``, 2- or 4-digit years, 24-hour or AM/PM times; month names ("Jan 5,
2024", "5 Jan 2024"). Naive values are local times of the mapping's timezone;
values with an offset are converted. All come out as UTC.
"""

from __future__ import annotations

import calendar
import contextlib
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analytics.schema import UTC_TS

NULL_WORDS = frozenset({"", "null", "none", "n/a", "na", "nan", "nat", "#n/a", "-", "--", "(blank)"})
TRUE_WORDS = frozenset(
    {"true", "t", "yes", "y", "1", "1.0", "x", "on", "checked", "ja", "j", "wahr", "oui", "vrai"}
)
FALSE_WORDS = frozenset(
    {"false", "f", "no", "n", "0", "0.0", "off", "unchecked", "nein", "falsch", "non", "faux"}
)
ANY_OTHER = "*"  # key of a value map: the value for anything not listed
# Dates both connectors read: from the year 1900 to the year 2200 (connectors.hubspot.mapping uses these too);
# anything else, such as 0001-01-01 or 9999-12-31, is "not a date". The importer is stricter still.
FIRST_DATE = np.datetime64("1900-01-01T00:00:00", "us")
AFTER_LAST_DATE = np.datetime64("2201-01-01T00:00:00", "us")

_ISO = r"^\d{4}-\d{1,2}-\d{1,2}"
_OFFSET = r"(?:[Zz]|[+-]\d{2}:?\d{2})$"
_NUMERIC_DATE = re.compile(r"^(\d{1,2})([/.\-])(\d{1,2})\2(\d{2}|\d{4})(?!\d)")
_TIMES = (
    "",
    " %H:%M",
    " %H:%M:%S",
    " %I:%M %p",
    " %I:%M:%S %p",
    " %I:%M%p",
    ", %I:%M %p",
    ", %H:%M",
    ", %H:%M:%S",
    ", %I:%M:%S %p",
    "T%H:%M:%S",
    "T%H:%M",
)
_NAMED_DATES = (
    "%b %d, %Y",
    "%B %d, %Y",
    "%d %b %Y",
    "%d %B %Y",
    "%d-%b-%Y",
    "%d-%b-%y",
    "%b %d %Y",
    "%B %d %Y",
)
_SHORT_TIMES = ("", " %H:%M", " %H:%M:%S", " %I:%M %p", ", %I:%M %p", " at %I:%M %p")


def clean_text(values: pd.Series) -> pd.Series:
    """Text with surrounding whitespace removed; an empty cell becomes missing.

    >>> clean_text(pd.Series(["  Ann ", "", None], dtype="str")).tolist()
    ['Ann', nan, nan]
    """
    text = values.astype("str").str.strip()
    return text.mask(text.str.len() == 0)


def typed_text(values: pd.Series) -> pd.Series:
    """:func:`clean_text`, with null words ("n/a", "null", "-", ...) also missing: the input of a typed column."""
    text = clean_text(values)
    return text.mask(text.str.lower().isin(NULL_WORDS))


def distinct_values(values: pd.Series, nulls: bool = True) -> tuple[np.ndarray, pd.Series]:
    """``codes, uniques``: each row's index into ``uniques`` (-1 for a missing cell), and the distinct
    values, stripped, with empty ones (and, if ``nulls``, null words) as missing.

    Parsing ``uniques`` and taking the result by ``codes`` reads each distinct value once.
    """
    codes, uniques = pd.factorize(pd.Series(values).astype("str"))
    cleaned = (
        typed_text(pd.Series(uniques, dtype="str")) if nulls else clean_text(pd.Series(uniques, dtype="str"))
    )
    return codes, cleaned


def _take(codes: np.ndarray, per_unique: np.ndarray, missing):
    """``per_unique[codes]``, with ``missing`` where the code is -1."""
    padded = np.append(per_unique, np.array([missing], dtype=per_unique.dtype))
    return padded[np.where(codes >= 0, codes, len(per_unique))]


# ----------------------------------------------------------------------------- dates


_DATE_PREFIX = 11  # characters that hold a numeric date (31/12/2024) and the one after it


def _is_day(day: int, month: int, year: int) -> bool:
    """True when ``day``/``month`` is a day of the calendar (a two-digit year is read as 20xx)."""
    if not 1 <= month <= 12 or day < 1:
        return False
    year = year + 2000 if year < 100 else year
    return day <= calendar.monthrange(year, month)[1]


@dataclass(frozen=True)
class DateChoice:
    """How numeric dates such as 03/04/2024 are read, and why, in words for the report."""

    dayfirst: bool
    note: str
    ambiguous: bool = False


def choose_date_order(samples: Iterable[str], dayfirst: bool | None = None) -> DateChoice:
    """Day-first or month-first, from ``samples`` of date text (``dayfirst`` from a mapping wins).

    Every distinct date among the samples is weighed. A date that is valid
    only day-first (31/01/2024) or only month-first (01/31/2024) decides; one
    that is valid neither way (45/01/2024, 31/02/2024) decides nothing: it is
    rejected whatever the order. When no value decides, dots mean day-first
    (German style), otherwise month-first (US) is assumed and the choice is
    marked ambiguous.

    >>> choose_date_order(["03/04/2024", "25/12/2023"]).dayfirst
    True
    >>> choose_date_order(["03/04/2024"]).ambiguous
    True
    >>> choose_date_order(["03/04/2024", "45/01/2024"]).ambiguous  # an impossible date decides nothing
    True
    """
    values = samples if isinstance(samples, pd.Series) else pd.Series(list(samples), dtype="object")
    texts = pc.utf8_trim_whitespace(pa.array(values.astype("object"), type=pa.string(), from_pandas=True))
    # A column holds ~20,000 date-times but few distinct days: cut to the date, then weigh each day once.
    prefixes = pc.unique(pc.utf8_slice_codeunits(texts.drop_null(), 0, _DATE_PREFIX)).to_pylist()
    day_only, month_only, numeric, dots, seen_dates = [], [], 0, 0, set()
    for prefix in prefixes:
        match = _NUMERIC_DATE.match(prefix)
        if not match or match.group(0) in seen_dates:
            continue
        seen_dates.add(text := match.group(0))
        numeric += 1
        first, second, year = int(match.group(1)), int(match.group(3)), int(match.group(4))
        dots += match.group(2) == "."
        as_day_first, as_month_first = _is_day(first, second, year), _is_day(second, first, year)
        if as_day_first and not as_month_first:
            day_only.append(text)
        elif as_month_first and not as_day_first:
            month_only.append(text)
    if dayfirst is not None:
        order = "day first (DD/MM/YYYY)" if dayfirst else "month first (MM/DD/YYYY)"
        against = month_only if dayfirst else day_only
        note = f"numeric dates read {order}, as the mapping states"
        if against:
            note += f"; {len(against)} values such as {against[0]!r} do not fit and are rejected"
        return DateChoice(dayfirst, note)
    if numeric == 0:
        return DateChoice(
            False, "dates are ISO 8601 (YYYY-MM-DD) or name the month; no day/month order to choose"
        )
    if day_only and not month_only:
        return DateChoice(
            True,
            f"numeric dates read day first (DD/MM/YYYY): values such as {day_only[0]!r} "
            "have a day above 12 in first place",
        )
    if month_only and not day_only:
        return DateChoice(
            False,
            f"numeric dates read month first (MM/DD/YYYY): values such as "
            f"{month_only[0]!r} have a day above 12 in second place",
        )
    if day_only and month_only:
        chosen = len(day_only) >= len(month_only)
        return DateChoice(
            chosen,
            f"conflicting numeric dates: {len(day_only)} fit only day first (e.g. {day_only[0]!r}), "
            f"{len(month_only)} only month first (e.g. {month_only[0]!r}); read "
            f"{'day' if chosen else 'month'} first, the others are rejected; set dayfirst in the mapping",
            ambiguous=True,
        )
    if dots * 2 > numeric:
        return DateChoice(
            True,
            "numeric dates read day first (DD.MM.YYYY): no value decides, and dots are the "
            "day-first convention",
        )
    return DateChoice(
        False,
        "numeric dates are ambiguous (no valid date has a day above 12): read month first (MM/DD/YYYY, US); "
        "set `dayfirst: true` in the mapping if the export is day first",
        ambiguous=True,
    )


def date_formats(dayfirst: bool) -> list[str]:
    """The strptime formats tried (in order) for dates that are not ISO 8601."""
    order = ("%d", "%m") if dayfirst else ("%m", "%d")
    out = []
    for year in ("%Y", "%y"):
        for sep in "/.-":
            out += [f"{order[0]}{sep}{order[1]}{sep}{year}{time}" for time in _TIMES]
    out += [f"%Y/%m/%d{time}" for time in _TIMES[:5]] + ["%Y%m%d"]
    out += [f"{date}{time}" for date in _NAMED_DATES for time in _SHORT_TIMES]
    return out


@dataclass
class ParsedDates:
    """Dates read from text: UTC ``values``, the ``bad`` mask, and whether naive values had a time of day."""

    values: pd.Series
    bad: np.ndarray
    naive_times: bool = False
    date_only: bool = False  # some values were dates without a time (a day, read in ``timezone``)


def parse_datetimes(
    values: pd.Series, *, dayfirst: bool = False, date_format: str | None = None, timezone: str = "UTC"
) -> ParsedDates:
    """Read a column of date text as UTC timestamps (``datetime64[us, UTC]``).

    Naive values are local times in ``timezone``: a time skipped by a DST
    change moves forward, a repeated one takes its first (summer-time) instant.
    ``date_format`` (strptime, e.g. ``%d.%m.%Y %H:%M``) replaces detection.

    >>> parsed = parse_datetimes(pd.Series(["2024-03-01 09:30", "31/12/2023", "soon"]),
    ...                          dayfirst=True, timezone="Europe/Berlin")
    >>> [str(v) for v in parsed.values]
    ['2024-03-01 08:30:00+00:00', '2023-12-30 23:00:00+00:00', 'NaT']
    >>> parsed.bad.tolist()
    [False, False, True]
    """
    codes, uniques = distinct_values(values)
    present = uniques.notna().to_numpy()
    stamps = np.full(len(uniques), np.datetime64("NaT"), dtype="datetime64[us]")  # UTC instants
    aware = np.zeros(len(uniques), dtype=bool)
    if present.any():
        if date_format is not None:
            _parse_with(uniques, [date_format], present, stamps, aware)
        else:
            iso = uniques.str.match(_ISO).fillna(False).to_numpy(dtype=bool)
            if iso.any():
                _parse_iso(uniques, iso, stamps, aware)
            rest = np.isnat(stamps) & ~iso & present
            if rest.any():
                _parse_with(uniques, date_formats(dayfirst), rest, stamps, aware)
    # a year outside 1900-2200 is not a date (as for HubSpot); checked before local times are converted
    stamps[(stamps < FIRST_DATE) | (stamps >= AFTER_LAST_DATE)] = np.datetime64("NaT")
    naive = ~aware & ~np.isnat(stamps)
    naive_times = bool(
        (stamps[naive].astype("datetime64[us]") != stamps[naive].astype("datetime64[D]")).any()
    )
    date_only = bool(naive.any() and not uniques[naive].str.contains(":", regex=False).fillna(True).all())
    if naive.any() and timezone != "UTC":
        local = pd.Series(stamps[naive]).dt.tz_localize(
            ZoneInfo(timezone), ambiguous=np.ones(int(naive.sum()), dtype=bool), nonexistent="shift_forward"
        )
        stamps[naive] = local.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[us]")
    taken = _take(codes, stamps, np.datetime64("NaT"))
    out = pd.Series(taken, index=values.index, dtype="datetime64[us]").dt.tz_localize("UTC").astype(UTC_TS)
    bad = _take(codes, present & np.isnat(stamps), False)
    return ParsedDates(out, bad, naive_times, date_only)


def _parse_iso(uniques: pd.Series, iso: np.ndarray, stamps: np.ndarray, aware: np.ndarray) -> None:
    subset = uniques[iso]
    try:  # the common case first: all naive, or all with one offset
        parsed = pd.to_datetime(subset, format="ISO8601", errors="coerce")
    except ValueError:  # mixed offsets, or naive and aware values together
        parsed = None
    if parsed is not None:
        where = np.flatnonzero(iso)
        if isinstance(parsed.dtype, pd.DatetimeTZDtype):
            parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
            aware[where] = True
        stamps[where] = parsed.to_numpy("datetime64[us]")
        return
    with_offset = subset.str.contains(_OFFSET, regex=True).to_numpy(dtype=bool)
    where = np.flatnonzero(iso)
    if with_offset.any():
        parsed = pd.to_datetime(subset[with_offset], format="ISO8601", utc=True, errors="coerce")
        stamps[where[with_offset]] = parsed.dt.tz_localize(None).to_numpy("datetime64[us]")
        aware[where[with_offset]] = True
    if (~with_offset).any():
        parsed = pd.to_datetime(subset[~with_offset], format="ISO8601", errors="coerce")
        stamps[where[~with_offset]] = parsed.to_numpy("datetime64[us]")


def _parse_with(uniques: pd.Series, formats: list[str], todo: np.ndarray, stamps, aware) -> None:
    """Try each strptime format on the values still unread; a day that rolled over (31/02) is refused."""
    array = pa.array(uniques.to_numpy(dtype=object, na_value=None), type=pa.string())
    for fmt in formats:
        remaining = np.flatnonzero(todo & np.isnat(stamps))
        if remaining.size == 0:
            return
        if "%z" in fmt or "%Z" in fmt:
            parsed = pd.to_datetime(uniques.iloc[remaining], format=fmt, utc=True, errors="coerce")
            values = parsed.dt.tz_localize(None).to_numpy("datetime64[us]")
            aware[remaining[~np.isnat(values)]] = True
        else:
            subset = array.take(pa.array(remaining))
            parsed = pc.strptime(subset, format=fmt, unit="us", error_is_null=True)
            values = parsed.to_numpy(zero_copy_only=False).astype("datetime64[us]")
            values = _refuse_rollover(subset, values, fmt)
        stamps[remaining] = values


def _refuse_rollover(text: pa.Array, values: np.ndarray, fmt: str) -> np.ndarray:
    """strptime turns 31/02/2024 into 2 March; keep a date only if its day is the day written."""
    ok = ~np.isnat(values)
    if not ok.any():
        return values
    years = values.astype("datetime64[Y]").astype(np.int64) + 1970
    values = np.where(years < 1000, np.datetime64("NaT"), values)  # "%Y" read a 2-digit year
    numeric = re.findall(r"%[dmYyHIMS]", fmt)
    if "%d" not in numeric:
        return values
    position = numeric.index("%d")
    day = (values - values.astype("datetime64[M]")).astype("timedelta64[D]").astype(np.int64) + 1
    suspect = np.flatnonzero(~np.isnat(values) & (day <= 3))
    if suspect.size == 0:
        return values
    pattern = r"^\D*" + r"(?:\d+\D+)" * position + r"(?P<d>\d+)"
    written = pc.extract_regex(text.take(pa.array(suspect)), pattern).field("d")
    written = pc.cast(written, pa.int64()).to_numpy(zero_copy_only=False)
    values[suspect[written != day[suspect]]] = np.datetime64("NaT")
    return values


# ----------------------------------------------------------------------------- numbers


@dataclass(frozen=True)
class DecimalChoice:
    """Whether "1,5" is one and a half (decimal comma) or a thousands-grouped number, and why."""

    decimal: str
    note: str


_COMMA_DECIMAL = re.compile(r",\d{1,2}$|,\d{4,}$|\.\d{3},\d+$")
_POINT_DECIMAL = re.compile(r"\.\d{1,2}$|\.\d{4,}$|,\d{3}\.\d+$")
_CURRENCY = r"(?:[$€£¥₹₽₩]|US\$|[A-Z]{3}\.?|Fr\.)"
_AFFIXES = re.compile(rf"^([+-])?\s*{_CURRENCY}?\s*([+-])?\s*(.*?)\s*{_CURRENCY}?\s*(-)?$")
_GROUPING = str.maketrans("", "", " \u00a0\u202f'\u2019")


def choose_decimal(samples: Iterable[str], decimal: str | None = None) -> DecimalChoice:
    """The decimal separator of number text ``samples`` ("." unless only decimal commas are seen).

    >>> choose_decimal(["1.234,50", "12,5"]).decimal
    ','
    >>> choose_decimal(["1,234", "7"]).decimal
    '.'
    """
    if decimal is not None:
        return DecimalChoice(decimal, f"decimal separator {decimal!r}, as the mapping states")
    comma = point = 0
    example = None
    for value in samples:
        value = str(value).strip().rstrip("-)")
        if _COMMA_DECIMAL.search(value):
            comma += 1
            example = example or value
        elif _POINT_DECIMAL.search(value):
            point += 1
    if comma and comma > point:
        return DecimalChoice(
            ",",
            f"decimal comma: values such as {example!r} use a comma before the decimals"
            + (f" ({point} values look otherwise and are rejected)" if point else ""),
        )
    return DecimalChoice(".", "decimal point")


def parse_number(text: str, decimal: str = ".") -> float:
    """One number from export text: currency, thousands separators, accounting negatives.

    Raises ValueError when ``text`` is not a number.

    >>> parse_number("$1,234.50"), parse_number("1.234,50 €", ","), parse_number("(200)")
    (1234.5, 1234.5, -200.0)
    """
    match = _AFFIXES.match(text.strip())
    if not match:
        raise ValueError(text)
    lead, inner, body, trail = match.group(1), match.group(2), match.group(3), match.group(4)
    signs = [sign for sign in (lead, inner, trail) if sign]
    negative = signs == ["-"]
    if body.startswith("(") and body.endswith(")"):  # accounting style: (200) is -200
        signs.append("(")
        negative, body = True, body[1:-1].strip()
    if len(signs) > 1:
        raise ValueError(text)
    body = body.translate(_GROUPING)
    thousands = "," if decimal == "." else "."
    t, d = re.escape(thousands), re.escape(decimal)
    if not re.fullmatch(rf"(?:\d{{1,3}}(?:{t}\d{{3}})+|\d+)(?:{d}\d*)?(?:[eE][+-]?\d+)?|{d}\d+", body):
        raise ValueError(text)
    number = float(body.replace(thousands, "").replace(decimal, "."))
    if not math.isfinite(number):
        raise ValueError(text)
    return -number if negative else number


def parse_numbers(values: pd.Series, decimal: str = ".") -> tuple[pd.Series, np.ndarray]:
    """A column of number text as float64 (NaN where missing) and its ``bad`` mask.

    >>> numbers, bad = parse_numbers(pd.Series(["1,200", "€ 3.5", "", "ten"]))
    >>> numbers.tolist()[:2], bad.tolist()
    ([1200.0, 3.5], [False, False, False, True])
    """
    codes, uniques = distinct_values(values)
    present = uniques.notna().to_numpy()
    parsed = np.full(len(uniques), np.nan)
    if present.any():
        plain = present.copy()
        if decimal != ".":
            plain &= ~uniques.str.contains(r"[.,]", regex=True).fillna(False).to_numpy(dtype=bool)
        fast = pd.to_numeric(uniques[plain], errors="coerce").to_numpy(dtype=float, copy=True)
        fast[~np.isfinite(fast)] = np.nan
        parsed[plain] = fast
        for i in np.flatnonzero(np.isnan(parsed) & present):
            with contextlib.suppress(ValueError):  # stays NaN: marked bad below
                parsed[i] = parse_number(uniques.iloc[i], decimal)
    out = _take(codes, parsed, np.nan)
    bad = _take(codes, present & np.isnan(parsed), False)
    return pd.Series(out, index=values.index, dtype="float64"), bad


# ----------------------------------------------------------------------------- booleans and value maps


def parse_booleans(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """A column of yes/no text ("true", "Yes", "1", "x", "nein", ...) as nullable booleans, and its ``bad`` mask.

    >>> flags, bad = parse_booleans(pd.Series(["Yes", "FALSE", None, "maybe"]))
    >>> flags.tolist(), bad.tolist()
    ([True, False, <NA>, <NA>], [False, False, False, True])
    """
    codes, uniques = distinct_values(values)
    folded = uniques.str.lower()
    flags = np.full(len(uniques), -1, dtype=np.int8)  # -1 unknown, 0 false, 1 true
    flags[folded.isin(TRUE_WORDS).to_numpy(dtype=bool)] = 1
    flags[folded.isin(FALSE_WORDS).to_numpy(dtype=bool)] = 0
    taken = _take(codes, flags, -1)
    out = pd.Series(pd.array(taken == 1, dtype="boolean"), index=values.index)
    out[taken < 0] = pd.NA
    bad = _take(codes, uniques.notna().to_numpy() & (flags < 0), False)
    return out, bad


def map_values(values: pd.Series, table: dict) -> tuple[np.ndarray, np.ndarray]:
    """Look each value up in a value map (case-insensitive; key ``"*"`` catches any other non-blank value).

    Returns the mapped values (an object array) and the mask of values that were mapped.

    >>> mapped, hit = map_values(pd.Series(["Closed Won", "closed lost", "Demo", None]),
    ...                          {"Closed Won": True, "Closed Lost": False})
    >>> mapped[hit].tolist(), hit.tolist()
    ([True, False], [True, True, False, False])
    """
    lookup = {str(key).strip().casefold(): value for key, value in table.items() if key != ANY_OTHER}
    codes, uniques = distinct_values(values, nulls=False)
    keys = [u.casefold() if isinstance(u, str) else None for u in uniques]
    found = np.array([k is not None and k in lookup for k in keys], dtype=bool)
    mapped = np.array([lookup.get(k) if k is not None else None for k in keys], dtype=object)
    if ANY_OTHER in table:
        other = np.array([k is not None for k in keys], dtype=bool) & ~found
        mapped[other] = table[ANY_OTHER]
        found |= other
    return _take(codes, mapped, None), _take(codes, found, False)
