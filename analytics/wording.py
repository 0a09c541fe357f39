"""The words for results: periods spelled out, values with their units, a result as one sentence.

Every page says numbers the same way: "612 MQLs in November 2026 against a
target of 750", "87% of leads first touched within 4 business hours", with
the status words of :data:`analytics.charts.STATUS_LABELS` and, for
``st.badge``, the colours of :data:`analytics.charts.STATUS_COLORS`.
"""

from __future__ import annotations

import calendar as month_names
import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from analytics.agreement import Commitment
from analytics.charts import AMBER, GREEN, GREY, RED, STATUS_COLORS, STATUS_LABELS
from analytics.periods import parse_week


class WordingError(ValueError):
    """A value cannot be put into words; the message says why."""


def period_name(label: str) -> str:
    """Return a period label spelled out.

    >>> period_name("2026-11"), period_name("2026-W07"), period_name("2026-Q1"), period_name("odd")
    ('November 2026', 'week 7 of 2026', 'Q1 2026', 'odd')
    """
    text = str(label)
    year, _, rest = text.partition("-")
    if not (year.isdigit() and rest):
        return text
    if rest.isdigit() and 1 <= int(rest) <= 12:
        return f"{month_names.month_name[int(rest)]} {year}"
    if rest[0] == "W" and rest[1:].isdigit():
        return f"week {int(rest[1:])} of {year}"
    if rest[0] == "Q" and rest[1:].isdigit():
        return f"{rest} {year}"
    return text


def literal(value: Any) -> str:
    r"""``value`` as text that Markdown (and Streamlit's extensions of it) shows as itself, never as markup.

    The one escape for every value from a CRM, a file or a URL on its way into ``st.markdown``, captions,
    alerts, metric labels and titles: a channel named ``![px](https://evil.example/p.png)`` must not make
    every viewer's browser fetch that image. Every ASCII punctuation character gets a backslash (which
    CommonMark allows for all of them), so no link, image, autolink, HTML tag, ``:color[...]`` directive or
    ``$`` formula survives; line breaks become spaces so a value cannot start a heading or a list.

    >>> literal("![px](https://evil.example/p.png)")
    '\\!\\[px\\]\\(https\\:\\/\\/evil\\.example\\/p\\.png\\)'
    >>> literal("Paid Social"), literal(None)
    ('Paid Social', 'None')
    """
    text = re.sub(r"[\r\n\u2028\u2029]+", " ", str(value))
    return _MARKDOWN_SPECIAL.sub(r"\\\g<0>", text)


_MARKDOWN_SPECIAL = re.compile(r"[!-/:-@\[-`{-~]")  # all ASCII punctuation


def selection_text(
    teams: Iterable[str] = (),
    owners: Iterable[str] = (),
    channels: Iterable[str] = (),
    *,
    markdown: bool = False,
) -> str:
    r"""Return the dashboard's team / owner / channel selection in words (empty = all).

    ``markdown=True``: each name passed through :func:`literal`, for st.markdown, captions and alerts
    (chart titles take the plain text).

    >>> selection_text(["EMEA"], [], ["Events", "Webinars"])
    'EMEA · all owners · Events, Webinars'
    >>> selection_text(["[x](https://e.example)"], markdown=True)
    '\\[x\\]\\(https\\:\\/\\/e\\.example\\) · all owners · all channels'
    """
    shown = literal if markdown else str
    parts = [(list(teams), "all teams"), (list(owners), "all owners"), (list(channels), "all channels")]
    return " · ".join(", ".join(map(shown, chosen)) or everyone for chosen, everyone in parts)


def format_value(
    value: Any,
    kind: str,
    unit: str = "",
    currency: str | None = None,
    *,
    short: bool = False,
    compact: bool = False,
    exact: bool = False,
    missing: str = "–",
    beside: Any = None,
) -> str:
    """Return a metric value with its unit: counts with separators, amounts with the currency, rates in %.

    The one way Accord writes a number. ``unit`` follows a count ("612 leads",
    "1 lead") and names a duration's unit (default "business hours");
    ``short``: durations as "3.2 h" (a metric tile); ``compact``: amounts as
    "EUR 4.23M" / "EUR 84k" (grids and the meeting pack); ``exact``: as a
    target is written ("87.5%", "4 business hours"); ``missing``: the text for
    a missing value; ``beside``: the target the value is shown next to — the
    value then gets as many decimals as it takes to see how it compares (see
    :func:`decimals_beside`): never "90%" for 89.5% beside a target of 90%.

    >>> format_value(0.895, "rate"), format_value(0.895, "rate", beside=0.9), format_value(0.8996, "rate", beside=0.9)
    ('90%', '89.5%', '89.96%')
    >>> format_value(1234, "count"), format_value(5e6, "amount", currency="EUR"), format_value(0.873, "rate")
    ('1,234', 'EUR 5,000,000', '87%')
    >>> format_value(3.25, "duration"), format_value(3.25, "duration", short=True), format_value(None, "rate")
    ('3.2 business hours', '3.2 h', '–')
    >>> format_value(612, "count", "leads"), format_value(1, "count", "leads"), format_value(2.5, "count")
    ('612 leads', '1 lead', '2.5')
    >>> format_value(4_230_000, "amount", currency="EUR", compact=True), format_value(84_000, "amount", compact=True)
    ('EUR 4.23M', '84k')
    >>> format_value(0.875, "rate", exact=True), format_value(4, "duration", exact=True), format_value(None, "count", missing="no target")
    ('87.5%', '4 business hours', 'no target')
    """
    number = number_or_nan(value)
    if math.isnan(number):
        return missing
    target = number_or_nan(beside)
    places = decimals_beside(number, target, kind)
    rounds_onto = compact and kind == "amount" and places is None and not math.isnan(target)
    if rounds_onto and number != target and _money(number, currency) == _money(target, currency):
        compact = False  # "EUR 4.23M" beside a target of "EUR 4.23M"
    if places is not None:
        scale = 100 if kind == "rate" else 1
        shown = f"{number * scale:,.{places}f}"
        if kind == "rate":
            return f"{shown}%"
        if kind == "amount":
            return f"{currency} {shown}" if currency else shown
        words = unit or "business hours" if kind == "duration" else unit
        return f"{shown} {words}".strip()
    if kind == "rate":
        return f"{plain_number(round(number * 100, 1))}%" if exact else f"{number:.0%}"
    if kind == "amount":
        return (
            _money(number, currency)
            if compact
            else f"{currency} {number:,.0f}"
            if currency
            else f"{number:,.0f}"
        )
    if kind == "duration":
        if short:
            return f"{number:,.1f} h"
        words = unit or "business hours"
        if exact:
            return f"{plain_number(number)} {words[:-1] if number == 1 and words.endswith('s') else words}"
        return f"{number:,.1f} {words}"
    if kind != "count":
        raise WordingError(f"unknown metric kind {kind!r}; kinds: count, amount, rate, duration")
    shown = f"{number:,.1f}" if abs(number) < 10 and abs(number - round(number)) >= 0.05 else f"{number:,.0f}"
    if shown == "1" and unit.endswith("s"):
        unit = unit[:-1]  # 1 lead
    return f"{shown} {unit}".strip()


# How many decimals a figure gets by default (in its display unit: percent for rates).
_DEFAULT_PLACES = {"rate": 0, "amount": 0, "count": 0, "duration": 1}
_MAX_PLACES = 6


def decimals_beside(value: float, target: float, kind: str) -> int | None:
    """Return the decimals ``value`` needs beside ``target`` so the shown figure compares as the true one does.

    None when the default display already does (or either is missing): a value
    below the target never shows as equal to or above it, a value above never as
    equal or below. Decimals are in the display unit (percent for rates).

    >>> decimals_beside(0.895, 0.9, "rate"), decimals_beside(0.93, 0.9, "rate"), decimals_beside(749.6, 750, "count")
    (1, None, 1)
    """
    if math.isnan(value) or math.isnan(target) or value == target:
        return None
    scale = 100 if kind == "rate" else 1
    v, t = value * scale, target * scale
    for places in range(_DEFAULT_PLACES.get(kind, 0), _MAX_PLACES + 1):
        shown = round(v, places)
        if shown != t and (shown < t) == (v < t):
            return None if places == _DEFAULT_PLACES.get(kind, 0) else places
    return _MAX_PLACES


def gap_text(
    row: Mapping[str, Any], *, unit: str = "", currency: str | None = None, short: bool = False
) -> str | None:
    """Return the gap of an ``evaluate`` row in words, with the precision to see it; None without a target.

    Closed periods and rates: actual against the target ("missed by 0.5 points",
    "134 leads short", "3 points above target"); a current count or amount:
    against the expected-by-today pace ("12 leads behind pace"). A provisional
    period says nothing of a gap yet. ``short``: for a table cell ("0.5 pts short",
    "134 short", "12 behind", "EUR 120k ahead", "0.8 h over").

    >>> gap_text({"kind": "rate", "period_state": "closed", "actual": 0.895, "target": 0.9, "status": "missed"})
    'missed by 0.5 points'
    >>> gap_text({"kind": "count", "period_state": "closed", "actual": 616.0, "target": 750.0}, unit="leads")
    '134 leads short'
    >>> gap_text({"kind": "count", "period_state": "current", "actual": 40.0, "target": 750.0,
    ...           "expected_to_date": 52.0}, unit="leads")
    '12 leads behind pace'
    """
    actual, target = number_or_nan(row.get("actual")), number_or_nan(row.get("target"))
    if math.isnan(actual) or math.isnan(target) or row.get("period_state") == "provisional":
        return None
    kind = str(row["kind"])
    paced = kind in ("count", "amount") and row.get("period_state") == "current"
    reference = number_or_nan(row.get("expected_to_date")) if paced else target
    if math.isnan(reference):
        return None
    gap = actual - reference
    if gap == 0:
        return "on pace" if paced else "exactly on target"
    lower = kind == "duration"
    worse = gap > 0 if lower else gap < 0
    if short:
        if kind == "rate":
            size = points_text(gap).replace(" points", " pts").replace(" point", " pt")
        else:
            size = format_value(abs(gap), kind, "", currency, short=True, compact=True, beside=0.0)
        ahead = "under" if lower else "ahead"
        return f"{size} {('over' if lower else 'behind' if paced else 'short') if worse else ahead}"
    if kind == "rate":
        size = points_text(gap)
    else:
        places = decimals_beside(abs(gap), 0.0, kind)
        size = format_value(abs(gap), kind, unit, currency) if places is None else (
            format_value(abs(gap), kind, unit, currency, beside=0.0))  # fmt: skip
    if paced:
        return f"{size} {'behind' if worse else 'ahead of'} pace"
    if lower:
        return f"{size} {'over' if worse else 'under'} the limit"
    if worse:
        return f"missed by {size}" if row.get("status") == "missed" else f"{size} short"
    return f"{size} above target"


def points_text(gap: float) -> str:
    """Return the size of a rate gap in percentage points, one decimal, more when it would read as 0.

    >>> points_text(-0.005), points_text(0.03), points_text(0.0001), points_text(0.01)
    ('0.5 points', '3 points', '0.01 points', '1 point')
    """
    points = abs(gap) * 100
    places = next((p for p in range(1, _MAX_PLACES + 1) if round(points, p) != 0), _MAX_PLACES)
    shown = plain_number(round(points, places))
    return f"{shown} point{'' if shown == '1' else 's'}"


def _money(number: float, currency: str | None) -> str:
    prefix = f"{currency} " if currency else ""
    size = abs(number)
    if size >= 1e6:
        return f"{prefix}{number / 1e6:,.2f}M"
    if size >= 1e4:
        return f"{prefix}{number / 1e3:,.0f}k"
    return f"{prefix}{number:,.0f}"


def plain_number(value: float) -> str:
    """Return a number without trailing zeros: 4.0 -> '4', 2.5 -> '2.5'; large values with separators."""
    return f"{value:g}" if abs(value) < 1e6 else f"{value:,.0f}"


def share_text(share: float) -> str:
    """Return a share in %, with a decimal below 10% so a small share does not read as none.

    >>> share_text(0.331), share_text(0.0031), share_text(0.0), share_text(float("nan"))
    ('33%', '0.3%', '0%', '–')
    """
    if pd.isna(share):
        return "–"
    return f"{share:.1%}" if 0 < abs(share) < 0.1 else f"{share:.0%}"


def metric_noun(commitment: Commitment) -> str:
    """Return how a commitment's value reads after the number, e.g. 'MQLs' or 'of leads first touched ...'.

    >>> metric_noun(Commitment(id="s", owner="sales", metric="followed_up_within",
    ...                        params={"business_hours": 4}, target=0.9))
    'of leads first touched within 4 business hours'
    """
    params = commitment.metric_params()
    nouns = {
        "mql_count": "MQLs",
        "sql_count": "SQLs",
        "sourced_pipeline": "sourced pipeline",
        "won_revenue": "won revenue",
        "mql_to_sql_rate": "of MQLs became SQLs",
        "acceptance_rate": "of decided leads accepted",
        "response_time_median": "median time to first touch",
        "response_time_p90": "90th percentile time to first touch",
    }
    if commitment.metric == "followed_up_within":
        return f"of leads first touched within {params.business_hours:g} business hours"
    if commitment.metric == "touches_within":
        return f"of leads with {params.touches}+ touches within {params.business_days:g} business days"
    if commitment.metric == "dispositioned_within":
        return f"of leads accepted or rejected within {params.business_days:g} business days"
    return nouns.get(commitment.metric, commitment.metric.replace("_", " "))


def result_sentence(row: Mapping[str, Any], *, noun: str, currency: str | None = None) -> str:
    """Return one ``evaluate`` row spelled out: the actual, the period, the target, the status, what is needed.

    >>> row = {"period": "2026-11", "period_state": "current", "kind": "count", "actual": 167.0,
    ...        "target": 750.0, "status": "off track", "expected_to_date": 713.2, "projection": 175.6,
    ...        "needed_per_week": 2826.3, "gap": -583.0}
    >>> print(result_sentence(row, noun="MQLs"))
    167 MQLs in November 2026 against a target of 750: 713 expected by today, projected finish 176 — off track. 2,826 MQLs needed per remaining week.
    """
    kind = str(row["kind"])
    period = period_name(row["period"])
    actual, target = number_or_nan(row.get("actual")), number_or_nan(row.get("target"))
    status = STATUS_LABELS.get(str(row.get("status")), str(row.get("status"))).lower()

    def fmt(value: float) -> str:
        return format_value(value, kind, currency=currency)

    shown = format_value(actual, kind, currency=currency, beside=target)  # never rounded onto the target
    if kind == "amount":
        head = f"{shown} of {noun} in {period}"
    elif kind == "duration":
        head = f"{noun[0].upper()}{noun[1:]} in {period}: {shown}"
    elif kind == "rate" and math.isnan(actual):
        pending = number_or_nan(row.get("pending"))
        waiting = f" ({pending:,.0f} pending)" if not math.isnan(pending) and pending else ""
        head = f"No lead decided yet in {period}{waiting}"
    else:
        head = f"{shown} {noun} in {period}"
    if kind == "rate" and not math.isnan(actual):
        words = OUTCOME_WORDS.get(str(row.get("metric")), ("met", "breached", "pending"))
        counts = [number_or_nan(row.get(c)) for c in ("met", "breached", "pending")]
        shown = [f"{n:,.0f} {w}" for n, w in zip(counts, words, strict=True) if w and not math.isnan(n)]
        if shown:
            head += f" ({', '.join(shown)})"
    if math.isnan(target):
        return f"{head}; the agreement sets no target for it."
    if row.get("period_state") == "closed":
        sentence = f"{head} against a target of {fmt(target)}: {status}"
        gap = gap_text(row, unit=noun if kind == "count" else "", currency=currency)
        if gap and not gap.startswith("missed by"):
            sentence += f", {gap}"
        elif gap:
            sentence += gap.removeprefix("missed")
        return sentence + "."
    if row.get("period_state") == "provisional":
        pending = number_or_nan(row.get("pending"))
        waiting = (
            f"{pending:,.0f} leads still pending"
            if not math.isnan(pending) and pending
            else "no lead pending"
        )
        return (f"{head} against a target of {fmt(target)} — provisional: the windows of the period's leads are "
                f"still running out ({waiting}), so it is not met or missed yet.")  # fmt: skip
    if kind in ("count", "amount"):
        expected, projection = (
            number_or_nan(row.get("expected_to_date")),
            number_or_nan(row.get("projection")),
        )
        sentence = f"{head} against a target of {fmt(target)}: {fmt(expected)} expected by today"
        if not math.isnan(projection):
            sentence += f", projected finish {fmt(projection)}"
        sentence += f" — {status}."
        needed = number_or_nan(row.get("needed_per_week"))
        if not math.isnan(needed) and needed > 0:
            unit = f"{noun} " if kind == "count" else f"of {noun} "
            sentence += f" {fmt(needed)} {unit}needed per remaining week."
        return sentence
    return f"{head} against a target of {fmt(target)} — {status}."


def delta_text(row: Mapping[str, Any], *, currency: str | None = None) -> str | None:
    """Return how far an ``evaluate`` row is from where it should be, for a metric tile; None without a target.

    Current period, counts and amounts: against the expected-by-today pace; otherwise against the target.

    >>> delta_text({"kind": "count", "period_state": "current", "actual": 167.0, "target": 750.0,
    ...             "expected_to_date": 713.2})
    '-546 vs expected by today'
    >>> delta_text({"kind": "rate", "period_state": "closed", "actual": 0.93, "target": 0.9})
    '+3 points vs target'
    """
    actual, target = number_or_nan(row.get("actual")), number_or_nan(row.get("target"))
    if math.isnan(target) or math.isnan(actual):
        return None
    kind = str(row["kind"])
    paced = kind in ("count", "amount") and row.get("period_state") == "current"
    reference = number_or_nan(row.get("expected_to_date")) if paced else target
    gap = actual - reference
    sign = "+" if gap >= 0 else "-"  # an ASCII minus: st.metric colours the delta by it
    amount = points_text(gap) if kind == "rate" else format_value(abs(gap), kind, currency=currency)
    return f"{sign}{amount} vs {'expected by today' if paced else 'target'}"


# How a rate metric's met / breached / pending leads are called in a sentence (None: not mentioned).
OUTCOME_WORDS: dict[str, tuple[str | None, str | None, str | None]] = {
    "acceptance_rate": ("accepted", "rejected", "open"),
    "mql_to_sql_rate": ("qualified", "not (yet) qualified", None),
}


_BADGES = {GREEN: "green", AMBER: "orange", RED: "red"}


def badge_color(status: str) -> str:
    """Return the ``st.badge`` colour of a status, matching :data:`analytics.charts.STATUS_COLORS`.

    >>> badge_color("on track"), badge_color("at risk"), badge_color("missed"), badge_color("no target")
    ('green', 'orange', 'red', 'gray')
    """
    return _BADGES.get(STATUS_COLORS.get(status, GREY), "gray")


def number_or_nan(value: Any) -> float:
    """A value as a float, NaN when missing (None, NaN, NA, NaT)."""
    return math.nan if value is None or pd.isna(value) else float(value)


# ----------------------------------------------------------------------------- a week's figures in words

_ACRONYMS = {"mql": "MQL", "mqls": "MQLs", "sql": "SQL", "sqls": "SQLs", "sla": "SLA", "p90": "p90"}


def commitment_title(commitment_id: str) -> str:
    """Return a commitment id as a title.

    >>> commitment_title("mql-volume"), commitment_title("speed-to-lead")
    ('MQL volume', 'Speed to lead')
    """
    words = re.split(r"[-_\s]+", str(commitment_id).strip())
    words = [_ACRONYMS.get(w.lower(), w.lower()) for w in words if w]
    if not words:
        return str(commitment_id)
    first = words[0]
    return " ".join([first if first in _ACRONYMS.values() else first.capitalize(), *words[1:]])


def week_dates(week: str) -> str:
    """Return the days of ISO ``week`` in words.

    >>> week_dates("2026-W48"), week_dates("2026-W49")
    ('23–29 November 2026', '30 November – 6 December 2026')
    """
    monday = parse_week(week)
    sunday = monday + dt.timedelta(days=6)
    if monday.month == sunday.month:
        return f"{monday.day}–{sunday.day} {sunday:%B %Y}"
    if monday.year == sunday.year:
        return f"{monday.day} {monday:%B} – {sunday.day} {sunday:%B %Y}"
    return f"{monday.day} {monday:%B %Y} – {sunday.day} {sunday:%B %Y}"


def format_change(change: Any, kind: str, unit: str = "", currency: str | None = None) -> str:
    """Return a change with sign and unit: '+12 leads', '-3 pts', '+EUR 0.40M'; '' when missing.

    >>> format_change(-0.031, "rate"), format_change(12, "count", "leads")
    ('-3.1 pts', '+12 leads')
    """
    number = number_or_nan(change)
    if math.isnan(number):
        return ""
    sign = "+" if number > 0 else "-" if number < 0 else "±"
    if kind == "rate":
        return f"{sign}{abs(number) * 100:.1f} pts"
    return sign + format_value(abs(number), kind, unit, currency, compact=True)


def gap_sentence(row: Mapping[str, Any], currency: str | None = None) -> str:
    """Return one sentence on how far a figure row is from its target.

    >>> gap_sentence({"commitment": "mql-volume", "kind": "count", "unit": "leads", "period": "2026-11",
    ...     "period_state": "closed", "actual": 612.0, "target": 750.0, "lower_is_better": False})
    'MQL volume: 612 leads in November 2026 against a target of 750 leads (138 leads short, 18%).'
    """
    kind, unit = str(row["kind"]), str(row.get("unit", ""))
    paced = kind in ("count", "amount") and row.get("period_state") == "current"
    value = number_or_nan(row.get("projection") if paced else row.get("actual"))
    target = number_or_nan(row.get("target"))
    when = period_name(str(row["period"]))
    title = commitment_title(str(row["commitment"]))
    shown = format_value(value, kind, unit, currency, compact=True, beside=row.get("target"))
    lead = f"{title}: on pace for {shown} in {when}" if paced else f"{title}: {shown} in {when}"
    if math.isnan(target):
        return f"{lead}, no target."
    if math.isnan(value):
        return f"{lead} against a target of {format_value(target, kind, unit, currency, compact=True)}."
    lower = bool(row.get("lower_is_better"))
    distance = (value - target) if lower else (target - value)
    if kind == "rate":
        how = f"{points_text(distance)} {'short' if distance > 0 else 'ahead'}"
    else:
        word = ("over" if lower else "short") if distance > 0 else ("under" if lower else "ahead")
        share = f", {abs(distance) / target:.0%}" if target else ""
        how = f"{format_value(abs(distance), kind, unit, currency, compact=True)} {word}{share}"
    limit = "at most " if lower else ""
    return f"{lead} against a target of {limit}{format_value(target, kind, unit, currency, compact=True)} ({how})."
