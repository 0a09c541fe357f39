"""Pure mapping from HubSpot's raw records (the JSON dicts its API sends) to canonical rows.

No HTTP, no database, no clock: a list of records in, a frame of connector-input
columns (``analytics.schema.input_columns``) out, plus the records that could
not be used, each with its reasons, for ``rejected_rows``.

How the SLA's facts are read from HubSpot (decisions, documented here once):

- ``leads.mql_at`` / ``sql_at``: the date the contact entered lifecycle stage
  ``marketingqualifiedlead`` / ``salesqualifiedlead`` (``hs_v2_date_entered_*``,
  falling back to the legacy ``hs_lifecyclestage_*_date``).
- ``leads.first_touch_at``: the earliest of ``hs_first_outreach_date`` (first
  outbound call, email or meeting by anyone), ``hs_sa_first_engagement_date``
  (first engagement by the *current* owner: it resets when the owner changes, so
  it can only be later than the true first touch, and taking the earliest makes
  a reset harmless), and, after activities are synced, the earliest associated
  call, email, meeting or task (:func:`touch_updates`).
- ``leads.touches``: the number of associated, not archived calls, emails,
  meetings and tasks (:func:`touch_updates`).
- ``leads.disposition``: "rejected" when ``hs_lead_status`` is the rejected
  status (UNQUALIFIED) — the current status wins, even over an earlier SQL date —;
  else "accepted" when the contact has an SQL date or its status is one of the
  accepted statuses; else "open". ``disposition_at``: the configured date
  property (a workflow sets it when sales decides), else the SQL date for an
  accepted lead, else unknown; always empty for an open lead.
  ``rejection_reason``: the configured reason property, for rejected leads only.
- ``leads.channel`` / ``deals.channel``: ``hs_analytics_source`` (original
  source) as a readable label (PAID_SEARCH -> "Paid Search").
- ``deals.stage`` / ``pipeline``: labels from the pipelines API (the raw id when
  the stage is unknown); ``is_closed`` / ``is_won``: ``hs_is_closed`` /
  ``hs_is_closed_won``, else the stage's metadata; ``closed_at``: ``closedate``
  for closed deals only (on an open deal it is the expected close date).
- ``deals.lead_external_id`` / ``activities.lead_external_id``: the associated
  contact with the smallest id (the first created) among those HubSpot returns.
- A record with a date or an amount that does not parse is rejected whole (kept
  in ``rejected_rows`` with the property, the value and the raw record); empty
  values are simply missing. A date is a moment from 1900 to the end of 2200
  (:data:`EARLIEST`, :data:`LATEST`): anything else, such as epoch milliseconds
  in the year 300 000 or "-5" read as the year -5, is "not a date".
- Text is stored as sent or the record is rejected, never altered: a record is
  rejected when a text it would store holds a NUL character (PostgreSQL text
  cannot) or is longer than its database column (e.g. a deal name over 255
  characters), the reason naming the property and the limit. Owners likewise;
  an owner's name or e-mail that is a number is taken as text, one that is a
  list or an object rejects the owner.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analytics.schema import BOOL, FLOAT, STR, TEXT_LIMITS, UTC_TS, full_names
from connectors.files.values import AFTER_LAST_DATE, FIRST_DATE
from connectors.hubspot.settings import (
    CHANNEL_LABELS,
    DEAL_PROPERTIES,
    MQL_STAGE,
    SOURCE,
    SQL_STAGE,
    PropertyChoices,
    contact_properties,
    stage_entered,
)

# The first moment a date may be, and the first after the last: the years 1900 to 2200, as for files.
EARLIEST = pd.Timestamp(FIRST_DATE).tz_localize("UTC")
LATEST = pd.Timestamp(AFTER_LAST_DATE).tz_localize("UTC")
_MILLIS_RANGE = (int(EARLIEST.timestamp()) * 1000, int(LATEST.timestamp()) * 1000)
NUL = "\x00"
NUL_REASON = "contains a NUL character (\\x00), which cannot be stored"
_SHOWN = 40  # characters of an over-long value quoted in its reason


@dataclass
class Mapped:
    """Canonical rows of one batch, and the records kept aside (dicts for ``add_rejected_rows``)."""

    frame: pd.DataFrame
    rejected: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class Stage:
    """A deal stage as the pipelines API describes it."""

    label: str
    pipeline_label: str
    is_closed: bool | None
    is_won: bool | None


# ----------------------------------------------------------------------------- values


def parse_instants(values: Sequence | pd.Series) -> tuple[pd.Series, np.ndarray]:
    """HubSpot date values as UTC timestamps, and a mask of values that are present but not a date.

    Accepts ISO-8601 datetimes (v3), ``YYYY-MM-DD`` dates (midnight UTC) and
    epoch-millisecond strings (legacy v1). Empty strings and None are missing;
    a moment before 1900 or after 2200 is not a date.

    >>> stamps, bad = parse_instants(["2024-05-01T07:10:12.688Z", "2024-05-01",
    ...                               "1714547412688", "", None, "not-a-date", "-5", "99999999999999999999"])
    >>> [str(s) for s in stamps[:3]]
    ['2024-05-01 07:10:12.688000+00:00', '2024-05-01 00:00:00+00:00', '2024-05-01 07:10:12.688000+00:00']
    >>> bad.tolist()
    [False, False, False, False, False, True, True, True]
    """
    texts = _strings(values)
    millis = [
        _millis(t) if t is not None and len(t) >= 9 and t.lstrip("-").isdigit() else None for t in texts
    ]
    iso = [None if m is not None else t for t, m in zip(texts, millis, strict=True)]
    out = pd.to_datetime(pd.Series(iso, dtype=object), format="ISO8601", utc=True, errors="coerce")
    out = out.astype(UTC_TS)
    if any(m is not None for m in millis):
        numbers = pd.Series([None if m is _OUT_OF_RANGE else m for m in millis], dtype="Int64")
        stamps = pd.to_datetime(numbers, unit="ms", utc=True).astype(UTC_TS)
        out = out.where(np.array([m is None for m in millis], dtype=bool), stamps)
    out = out.where((out >= EARLIEST) & (out < LATEST))  # also turns year -5 or 9999 into NaT
    present = np.array([t is not None for t in texts], dtype=bool)
    return out, present & out.isna().to_numpy()


_OUT_OF_RANGE = object()


def _millis(text: str):
    """Epoch milliseconds as an int, or ``_OUT_OF_RANGE`` when not a whole number within 1900-2200."""
    try:
        number = int(text)
    except ValueError:  # e.g. "²" passes str.isdigit
        return _OUT_OF_RANGE
    return number if _MILLIS_RANGE[0] <= number < _MILLIS_RANGE[1] else _OUT_OF_RANGE


def parse_numbers(values: Sequence | pd.Series) -> tuple[pd.Series, np.ndarray]:
    """HubSpot number values as floats, and a mask of values that are present but not a number.

    >>> numbers, bad = parse_numbers(["10200", "0.2000000000000000111", "", None, "12,5x"])
    >>> numbers.tolist()[:2], bad.tolist()
    ([10200.0, 0.2], [False, False, False, False, True])
    """
    texts = _strings(values)
    out = pd.to_numeric(pd.Series(texts, dtype=object), errors="coerce").astype(FLOAT)
    finite = np.isfinite(out.to_numpy())
    present = np.array([t is not None for t in texts], dtype=bool)
    return out.where(finite), present & ~finite


def parse_flags(values: Sequence | pd.Series) -> pd.Series:
    """HubSpot's "true"/"false" strings as a nullable boolean (anything else is missing).

    >>> parse_flags(["true", "false", "", None]).tolist()
    [True, False, <NA>, <NA>]
    """
    flags = {"true": True, "false": False}
    return pd.Series([flags.get(t.lower()) if t else None for t in _strings(values)], dtype=BOOL)


def channel_labels(codes: Sequence | pd.Series) -> pd.Series:
    """Readable labels of ``hs_analytics_source`` codes.

    >>> channel_labels(["PAID_SEARCH", "SOCIAL_MEDIA", "NEW_THING", None]).tolist()
    ['Paid Search', 'Organic Social', 'New Thing', nan]
    """
    return pd.Series(
        [
            None if code is None else CHANNEL_LABELS.get(code) or code.replace("_", " ").title()
            for code in _strings(codes)
        ],
        dtype=STR,
    )


def _strings(values: Sequence | pd.Series) -> list[str | None]:
    """Values as Python strings, with None for missing and empty ones."""
    raw = values.tolist() if isinstance(values, pd.Series) else values
    return [
        v if isinstance(v, str) and v else None if v is None or v == "" or v is pd.NA or v != v else str(v)
        for v in raw
    ]


def _text(values: Sequence | pd.Series) -> pd.Series:
    """Values as a "str" Series with empty strings missing."""
    return pd.Series(_strings(values), dtype=STR)


# ----------------------------------------------------------------------------- records


def _properties(records: Sequence[dict], names: Iterable[str]) -> dict[str, list]:
    rows = [r.get("properties") or {} for r in records]
    return {name: [row.get(name) for row in rows] for name in names}


def _with_fallback(values: pd.Series, records: Sequence[dict], key: str) -> pd.Series:
    """``values``, missing ones taken from the record's own ``key`` (createdAt, updatedAt)."""
    if not values.isna().any():
        return values
    return values.fillna(parse_instants([r.get(key) for r in records])[0])


def _archived(records: Sequence[dict]) -> pd.Series:
    return pd.Series([bool(r.get("archived", False)) for r in records], dtype=BOOL)


class _Problems:
    """Reasons per row of a batch; rows with any reason are rejected whole."""

    def __init__(self, records: Sequence[dict], obj: str):
        self.records = records
        self.obj = obj
        self.reasons: dict[int, list[str]] = {}
        self.columns: dict[int, str] = {}

    def add(self, bad: np.ndarray, values: Sequence, prop: str, what: str) -> None:
        """Reject the rows of ``bad``: "<prop>: <value> is not <what>"."""
        for row in np.flatnonzero(bad):
            self.reject(int(row), prop, f"{_shown(values[row])} is not {what}")

    def reject(self, row: int, prop: str, reason: str) -> None:
        """Reject one row: "<prop>: <reason>"."""
        self.reasons.setdefault(row, []).append(f"{prop}: {reason}")
        self.columns.setdefault(row, prop)

    def keep(self) -> np.ndarray:
        mask = np.ones(len(self.records), dtype=bool)
        mask[list(self.reasons)] = False
        return mask

    def rejected(self) -> list[dict]:
        return [
            {
                "source": SOURCE,
                "object": self.obj,
                # shown with U+FFFD for a NUL; the raw record keeps the id exactly (escaped in its JSON)
                "external_id": str(self.records[row].get("id")).replace(NUL, "\ufffd"),
                "column_name": self.columns[row],
                "reasons": reasons,
                "raw": self.records[row],
            }
            for row, reasons in sorted(self.reasons.items())
        ]


def _instants(props: dict[str, list], names: Sequence[str], problems: _Problems) -> dict[str, pd.Series]:
    """Parse several date properties in one go (one ``to_datetime`` call for the whole batch)."""
    names = list(dict.fromkeys(names))
    size = len(next(iter(props.values()), []))
    flat = [value for name in names for value in props[name]]
    parsed, bad = parse_instants(flat)
    out = {}
    for i, name in enumerate(names):
        part = slice(i * size, (i + 1) * size)
        problems.add(bad[part], props[name], name, "a date")
        out[name] = parsed.iloc[part].reset_index(drop=True)
    return out


def _shown(value) -> str:
    """A value as quoted in a reason: its repr, cut to 40 characters.

    >>> _shown("x" * 50), _shown(12)
    ("'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'...", '12')
    """
    if isinstance(value, str) and len(value) > _SHOWN:
        return repr(value[:_SHOWN]) + "..."
    text = repr(value)  # a list or an object: cut its repr
    return text if len(text) <= _SHOWN + 2 else text[:_SHOWN] + "..."


def _check_text(frame: pd.DataFrame, table: str, sources: dict[str, str], problems: _Problems) -> None:
    """Reject rows whose text (column -> the property it came from) has a NUL or is too long for its column."""
    limits = TEXT_LIMITS[table]
    for name, prop in sources.items():
        values = frame[name]
        for row in np.flatnonzero(values.str.contains(NUL, regex=False).fillna(False).to_numpy(dtype=bool)):
            problems.reject(int(row), prop, NUL_REASON)
        limit = limits.get(name)
        if limit:
            for row in np.flatnonzero((values.str.len() > limit).fillna(False).to_numpy(dtype=bool)):
                problems.reject(
                    int(row), prop, f"{_shown(values.iloc[row])} is longer than {limit} characters"
                )


def _finish(frame: pd.DataFrame, problems: _Problems, table: str, sources: dict[str, str]) -> Mapped:
    """The good rows of ``frame`` and the rejected records, once its text is checked (see :func:`_check_text`)."""
    _check_text(frame, table, sources, problems)
    keep = problems.keep()
    return Mapped(frame.loc[keep].reset_index(drop=True), problems.rejected())


def _first_contact(records: Sequence[dict], associations: dict[str, list[str]] | None) -> pd.Series:
    """The associated contact with the smallest id, from a batch read or the list's ``associations``."""
    out = []
    for record in records:
        if associations is not None:
            ids = associations.get(str(record.get("id")), [])
        else:
            block = (record.get("associations") or {}).get("contacts") or {}
            ids = [str(item.get("id")) for item in block.get("results", []) if item.get("id") is not None]
        out.append(min(ids, key=_id_key) if ids else None)
    return pd.Series(out, dtype=object).astype(STR)


def first_of(contact_ids: Sequence[str]) -> str | None:
    """The contact with the smallest id (the first created), or None; a deal's or activity's lead.

    >>> first_of(["120", "99", "abc"]), first_of([])
    ('99', None)
    """
    return min((str(c) for c in contact_ids), key=_id_key, default=None)


def _id_key(value: str) -> tuple[int, int | str]:
    return (0, int(value)) if value.isdigit() else (1, value)


# ----------------------------------------------------------------------------- objects


def owners_frame(records: Sequence[dict]) -> Mapped:
    """Owners (``GET /crm/v3/owners``, active and archived) as canonical owner rows, and the unusable ones.

    ``name`` is first and last name, else the e-mail (when it fits the name
    column); ``team`` is the owner's primary team (or first team); ``active``
    is "not archived". A name, e-mail or team name that is a number is taken as
    text; one that is a list or an object, a NUL character or text too long for
    its column rejects the owner, with the reason.

    >>> mapped = owners_frame([{"id": "7", "firstName": "Ada", "lastName": "Byron", "email": "ada@x.example",
    ...   "teams": [{"id": "1", "name": "EMEA", "primary": True}], "archived": False,
    ...   "updatedAt": "2024-01-02T03:04:05Z"}, {"id": "8", "firstName": {"first": "Bo"}}])
    >>> mapped.frame[["external_id", "name", "team", "active"]].to_dict("records")
    [{'external_id': '7', 'name': 'Ada Byron', 'team': 'EMEA', 'active': True}]
    >>> mapped.rejected[0]["reasons"]
    ["firstName: {'first': 'Bo'} is not text"]
    """
    problems = _Problems(records, "owners")
    names, emails, teams = [], [], []
    name_limit = TEXT_LIMITS["owners"]["name"]
    for row, r in enumerate(records):
        first, last, email = (
            _owner_text(r.get(key), key, row, problems) for key in ("firstName", "lastName", "email")
        )
        name = " ".join(p for p in (first, last) if p).strip()
        usable_email = email if email and NUL not in email and len(email) <= name_limit else None
        names.append(name or usable_email)
        emails.append(email)
        teams.append(_primary_team(r, row, problems))
    frame = pd.DataFrame(
        {
            "source": pd.Series([SOURCE] * len(records), dtype=STR),
            "external_id": pd.Series([str(r["id"]) for r in records], dtype=STR),
            "name": pd.Series(names, dtype=object).astype(STR),
            "email": pd.Series(emails, dtype=object).astype(STR),
            "team": pd.Series(teams, dtype=object).astype(STR),
            "active": ~_archived(records),
            "updated_at": parse_instants([r.get("updatedAt") for r in records])[0],
        }
    )
    sources = {"external_id": "id", "name": "firstName/lastName", "email": "email", "team": "teams"}
    return _finish(frame, problems, "owners", sources)


def _owner_text(value, prop: str, row: int, problems: _Problems) -> str | None:
    """An owner's ``value`` of ``prop`` as text (a number becomes its digits); a list or object rejects the owner."""
    if isinstance(value, dict | list | tuple | set):
        problems.reject(row, prop, f"{_shown(value)} is not text")
        return None
    return _strings([value])[0]


def _primary_team(record: dict, row: int, problems: _Problems) -> str | None:
    """The name of the owner's primary team, else of its first team, else None."""
    listed = record.get("teams") or []
    if not isinstance(listed, list):
        problems.reject(row, "teams", f"{_shown(listed)} is not a list of teams")
        return None
    listed = [t for t in listed if isinstance(t, dict)]
    primary = [t for t in listed if t.get("primary")] or listed
    return _owner_text(primary[0].get("name"), "teams", row, problems) if primary else None


def leads_frame(records: Sequence[dict], choices: PropertyChoices | None = None) -> Mapped:
    """Contacts as canonical lead rows (without ``touches``; see :func:`touch_updates`)."""
    choices = choices or PropertyChoices()
    props = _properties(records, contact_properties(choices))
    problems = _Problems(records, "contacts")
    mql_v2, mql_legacy = stage_entered(MQL_STAGE)
    sql_v2, sql_legacy = stage_entered(SQL_STAGE)
    dates = _instants(
        props,
        [
            "createdate",
            "lastmodifieddate",
            "hubspot_owner_assigneddate",
            mql_v2,
            mql_legacy,
            sql_v2,
            sql_legacy,
            "hs_first_outreach_date",
            "hs_sa_first_engagement_date",
            choices.disposition_date,
        ],
        problems,
    )
    sql_at = dates[sql_v2].fillna(dates[sql_legacy])
    status = _text(props["hs_lead_status"])
    rejected = (status == choices.rejected_status).fillna(False).astype(bool)
    accepted = ~rejected & (
        sql_at.notna() | status.isin(choices.accepted_statuses).fillna(False).astype(bool)
    )
    disposition = pd.Series(
        np.select([rejected.to_numpy(), accepted.to_numpy()], ["rejected", "accepted"], "open"), dtype=STR
    )
    decided_at = dates[choices.disposition_date].where(
        ~(accepted & dates[choices.disposition_date].isna()), sql_at
    )
    first_touch = pd.concat(
        [dates["hs_first_outreach_date"], dates["hs_sa_first_engagement_date"]], axis=1
    ).min(axis=1)
    frame = pd.DataFrame(
        {
            "source": pd.Series([SOURCE] * len(records), dtype=STR),
            "external_id": pd.Series([str(r["id"]) for r in records], dtype=STR),
            "created_at": _with_fallback(dates["createdate"], records, "createdAt"),
            "mql_at": dates[mql_v2].fillna(dates[mql_legacy]),
            "sql_at": sql_at,
            "owner_external_id": _text(props["hubspot_owner_id"]),
            "owner_assigned_at": dates["hubspot_owner_assigneddate"],
            "channel": channel_labels(props["hs_analytics_source"]),
            "campaign": _text(props[choices.campaign]),
            "lifecycle_stage": _text(props["lifecyclestage"]),
            "lead_status": status,
            "first_touch_at": first_touch.astype(UTC_TS),
            "disposition": disposition,
            "disposition_at": decided_at.where(disposition != "open").astype(UTC_TS),
            "rejection_reason": _text(props[choices.rejection_reason]).where(rejected),
            "segment": _text(props[choices.segment]),
            "archived": _archived(records),
            "updated_at": _with_fallback(dates["lastmodifieddate"], records, "updatedAt"),
            "name": full_names(props["firstname"], props["lastname"]),
            "company": _text(props["company"]),
            "email": _text(props["email"]),
        }
    )
    sources = {
        "external_id": "id",
        "owner_external_id": "hubspot_owner_id",
        "name": "firstname",
        "company": "company",
        "email": "email",
        "channel": "hs_analytics_source",
        "campaign": choices.campaign,
        "lifecycle_stage": "lifecyclestage",
        "lead_status": "hs_lead_status",
        "rejection_reason": choices.rejection_reason,
        "segment": choices.segment,
    }
    return _finish(frame, problems, "leads", sources)


def stage_index(pipelines: Sequence[dict]) -> dict[tuple[str | None, str], Stage]:
    """(pipeline id, stage id) -> :class:`Stage`, plus (None, stage id) for lookups without the pipeline.

    A stage is won when it is closed with probability 1.

    >>> index = stage_index([{"id": "default", "label": "Sales Pipeline", "stages": [
    ...     {"id": "closedwon", "label": "Closed Won", "metadata": {"isClosed": "true", "probability": "1.0"}}]}])
    >>> index[("default", "closedwon")]
    Stage(label='Closed Won', pipeline_label='Sales Pipeline', is_closed=True, is_won=True)
    """
    index: dict[tuple[str | None, str], Stage] = {}
    for pipeline in pipelines:
        for stage in pipeline.get("stages") or []:
            meta = stage.get("metadata") or {}
            closed = {"true": True, "false": False}.get(str(meta.get("isClosed", "")).lower())
            try:
                probability = float(meta.get("probability"))
            except (TypeError, ValueError):
                probability = None
            won = None if closed is None else bool(closed and probability is not None and probability >= 1.0)
            entry = Stage(
                label=str(stage.get("label") or stage["id"]),
                pipeline_label=str(pipeline.get("label") or pipeline["id"]),
                is_closed=closed,
                is_won=won,
            )
            index[(str(pipeline["id"]), str(stage["id"]))] = entry
            index.setdefault((None, str(stage["id"])), entry)
    return index


def deals_frame(
    records: Sequence[dict],
    stages: dict[tuple[str | None, str], Stage] | None = None,
    associations: dict[str, list[str]] | None = None,
) -> Mapped:
    """Deals as canonical deal rows; ``associations`` (deal id -> contact ids) overrides the records' own."""
    stages = stages or {}
    props = _properties(records, DEAL_PROPERTIES)
    problems = _Problems(records, "deals")
    dates = _instants(props, ["createdate", "closedate", "hs_lastmodifieddate"], problems)
    amount, bad_amount = parse_numbers(props["amount"])
    problems.add(bad_amount, props["amount"], "amount", "a number")
    pipeline_ids = _text(props["pipeline"])
    stage_ids = _text(props["dealstage"])
    found = [
        stages.get((p, s)) or stages.get((None, s)) if isinstance(s, str) else None
        for p, s in zip(pipeline_ids.tolist(), stage_ids.tolist(), strict=True)
    ]
    stage_closed = pd.Series([f.is_closed if f else None for f in found], dtype=BOOL)
    stage_won = pd.Series([f.is_won if f else None for f in found], dtype=BOOL)
    is_closed = parse_flags(props["hs_is_closed"]).fillna(stage_closed)
    is_won = parse_flags(props["hs_is_closed_won"]).fillna(stage_won)
    pipeline_labels = {
        (p, s): f.pipeline_label for p, s, f in zip(pipeline_ids, stage_ids, found, strict=True) if f
    }
    frame = pd.DataFrame(
        {
            "source": pd.Series([SOURCE] * len(records), dtype=STR),
            "external_id": pd.Series([str(r["id"]) for r in records], dtype=STR),
            "name": _text(props["dealname"]),
            "created_at": _with_fallback(dates["createdate"], records, "createdAt"),
            "closed_at": dates["closedate"].where(is_closed.fillna(False).astype(bool)).astype(UTC_TS),
            "amount": amount,
            "currency": _text(props["deal_currency_code"]),
            "stage": pd.Series(
                [f.label if f else s for f, s in zip(found, stage_ids.tolist(), strict=True)], dtype=object
            ).astype(STR),
            "pipeline": pd.Series(
                [
                    pipeline_labels.get((p, s), p)
                    for p, s in zip(pipeline_ids.tolist(), stage_ids.tolist(), strict=True)
                ],
                dtype=object,
            ).astype(STR),
            "is_closed": is_closed,
            "is_won": is_won,
            "owner_external_id": _text(props["hubspot_owner_id"]),
            "channel": channel_labels(props["hs_analytics_source"]),
            "lead_external_id": _first_contact(records, associations),
            "archived": _archived(records),
            "updated_at": _with_fallback(dates["hs_lastmodifieddate"], records, "updatedAt"),
        }
    )
    sources = {
        "external_id": "id",
        "name": "dealname",
        "currency": "deal_currency_code",
        "stage": "dealstage",
        "pipeline": "pipeline",
        "owner_external_id": "hubspot_owner_id",
        "channel": "hs_analytics_source",
        "lead_external_id": "associations.contacts",
    }
    return _finish(frame, problems, "deals", sources)


def activities_frame(
    records: Sequence[dict], obj: str, kind: str, associations: dict[str, list[str]] | None = None
) -> Mapped:
    """Calls, emails, meetings or tasks (HubSpot object ``obj``) as canonical activity rows of ``kind``."""
    props = _properties(records, ["hs_timestamp", "hubspot_owner_id"])
    problems = _Problems(records, obj)
    dates = _instants(props, ["hs_timestamp"], problems)
    frame = pd.DataFrame(
        {
            "source": pd.Series([SOURCE] * len(records), dtype=STR),
            "external_id": pd.Series([str(r["id"]) for r in records], dtype=STR),
            "lead_external_id": _first_contact(records, associations),
            "owner_external_id": _text(props["hubspot_owner_id"]),
            "kind": pd.Series([kind] * len(records), dtype=STR),
            "occurred_at": _with_fallback(dates["hs_timestamp"], records, "createdAt"),
            "archived": _archived(records),
        }
    )
    sources = {
        "external_id": "id",
        "lead_external_id": "associations.contacts",
        "owner_external_id": "hubspot_owner_id",
    }
    return _finish(frame, problems, "activities", sources)


# ----------------------------------------------------------------------------- derived


def touch_updates(leads: pd.DataFrame, activities: pd.DataFrame) -> pd.DataFrame:
    """Leads whose ``touches`` or ``first_touch_at`` change once their activities are counted.

    ``leads`` and ``activities`` are canonical frames of one source. A lead's
    touches are its not archived activities; its first touch is the earlier of
    the stored one (from the contact's properties) and its first activity.
    Returns rows (source, external_id, first_touch_at, touches) to upsert.

    >>> t = pd.Timestamp
    >>> leads = pd.DataFrame({"source": ["hubspot"] * 2, "external_id": ["1", "2"],
    ...     "first_touch_at": [t("2024-01-05", tz="UTC"), pd.NaT], "touches": pd.array([None, 0], "Int64")})
    >>> acts = pd.DataFrame({"lead_external_id": ["1", "1"], "archived": [False, False],
    ...     "occurred_at": [t("2024-01-03", tz="UTC"), t("2024-01-09", tz="UTC")]})
    >>> touch_updates(leads, acts)[["external_id", "touches"]].to_dict("records")
    [{'external_id': '1', 'touches': 2}]
    >>> str(touch_updates(leads, acts)["first_touch_at"].iloc[0])
    '2024-01-03 00:00:00+00:00'
    """
    live = activities.loc[
        ~activities["archived"].fillna(False).astype(bool) & activities["lead_external_id"].notna()
    ]
    grouped = live.groupby("lead_external_id", sort=False)["occurred_at"]
    keyed = leads.set_index("external_id")
    counts = grouped.size().reindex(keyed.index).fillna(0).astype("Int64")
    firsts = pd.to_datetime(grouped.min(), utc=True).reindex(keyed.index).astype(UTC_TS)
    stored = keyed["first_touch_at"].astype(UTC_TS)
    first = stored.where(firsts.isna() | (stored.notna() & (stored <= firsts)), firsts)
    stored_touches = keyed["touches"].astype("Int64")
    both = first.notna() & stored.notna()
    changed = (
        (stored_touches != counts).fillna(True) | (first.isna() != stored.isna()) | (both & (first != stored))
    )
    changed = changed.to_numpy(dtype=bool)
    out = pd.DataFrame(
        {
            "source": keyed["source"].astype(STR),
            "external_id": keyed.index.astype(STR),
            "first_touch_at": first.astype(UTC_TS),
            "touches": counts,
        },
        index=keyed.index,
    )
    return out.loc[changed].reset_index(drop=True)


# ----------------------------------------------------------------------------- lifecycle history

# HubSpot's default lifecycle stages in order; MQL and every later stage mean "handed over to sales".
LIFECYCLE_RANK = {"subscriber": 0, "lead": 1, MQL_STAGE: 2, SQL_STAGE: 3, "opportunity": 4, "customer": 5,
                  "evangelist": 6}  # fmt: skip
HISTORY_PROPERTIES = ("lifecyclestage", "hs_lead_status")


def needs_history(record: dict, choices: PropertyChoices | None = None) -> bool:
    """Whether a contact can have been handed over at all, so its lifecycle history is worth a request.

    True when it has a date entered MQL or SQL, a stage of MQL or later, or a recycled lead status.
    """
    choices = choices or PropertyChoices()
    props = record.get("properties") or {}
    dated = any(props.get(name) for stage in (MQL_STAGE, SQL_STAGE) for name in stage_entered(stage))
    stage = LIFECYCLE_RANK.get(str(props.get("lifecyclestage") or ""), -1)
    return (
        dated
        or stage >= LIFECYCLE_RANK[MQL_STAGE]
        or props.get("hs_lead_status") in choices.recycled_statuses
    )


def merged_ids(records: Sequence[dict]) -> dict[str, list[str]]:
    """Survivor contact id -> the contact ids merged into it (``hs_merged_object_ids``, ";"-separated).

    >>> merged_ids([{"id": "7", "properties": {"hs_merged_object_ids": "3;5"}}, {"id": "8", "properties": {}}])
    {'7': ['3', '5']}
    """
    out = {}
    for record in records:
        raw = (record.get("properties") or {}).get("hs_merged_object_ids") or ""
        ids = [i.strip() for i in str(raw).split(";") if i.strip() and i.strip() != str(record["id"])]
        if ids:
            out[str(record["id"])] = ids
    return out


def handovers_frame(records: Sequence[dict], choices: PropertyChoices | None = None) -> pd.DataFrame:
    """Every handover of the contacts that carry ``propertiesWithHistory``, rebuilt from their history.

    A handover starts each time the contact comes into the "handed over" state —
    lifecycle stage MQL or later and a lead status that is not one of
    ``choices.recycled_statuses`` — from outside it (a first MQL, or a new MQL
    after the stage went back below MQL or the status said recycled). Within a
    handover's window (to the next start): ``sql_at`` is the first entry into SQL
    or later; the disposition is the first decision — the rejected status, an
    accepted status, or SQL (accepted) — and a recycled status before any
    decision rejects it with reason "Recycled". A handover without a decision
    has none here (the read derives it from the lead). Unknown (custom) stages
    leave the state as it was. Columns: source, lead_external_id, mql_at,
    recycled, sql_at, disposition, disposition_at, rejection_reason; contacts
    with history but no handover have no rows.
    """
    choices = choices or PropertyChoices()
    contacts, names, values, stamps = [], [], [], []
    for record in records:
        history = record.get("propertiesWithHistory")
        if history is None:
            continue
        for name in HISTORY_PROPERTIES:
            for item in history.get(name) or []:
                contacts.append(str(record["id"]))
                names.append(name)
                values.append(item.get("value"))
                stamps.append(item.get("timestamp"))
    when, bad = parse_instants(stamps)  # every timestamp at once: a parse per item is 100x slower
    events = pd.DataFrame({"contact": contacts, "name": names, "value": values, "at": when})
    events = events[~np.asarray(bad, dtype=bool) & events["at"].notna().to_numpy()]
    events = events.sort_values(["contact", "at", "name"], kind="stable")
    # Plain Python values for the walk (pandas per-group access costs more than the walk itself).
    at_us = events["at"].dt.as_unit("us").astype("int64").tolist()
    walk = zip(
        events["contact"].tolist(), events["name"].tolist(), events["value"].tolist(), at_us, strict=True
    )
    rows = []
    for contact, group in itertools.groupby(walk, key=lambda e: e[0]):
        rows.extend(_handovers_of(contact, ((n, v, t) for _, n, v, t in group), choices))
    columns = ["source", "lead_external_id", "mql_at", "recycled", "sql_at", "disposition", "disposition_at",
               "rejection_reason"]  # fmt: skip
    frame = pd.DataFrame(rows, columns=columns)
    for name in ("mql_at", "sql_at", "disposition_at"):
        frame[name] = pd.to_datetime(frame[name].astype("Int64"), unit="us", utc=True).astype(UTC_TS)
    frame["recycled"] = frame["recycled"].astype(BOOL)
    for name in ("source", "lead_external_id", "disposition", "rejection_reason"):
        frame[name] = frame[name].astype(STR)
    return frame


def _handovers_of(contact: str, events, choices: PropertyChoices) -> list[dict]:
    """The handovers of one contact from its history events (name, value, epoch µs), in time order."""
    stage, status, inside = -1, None, False
    out: list[dict] = []
    for name, value, at in events:
        if name == "lifecyclestage":
            stage = -1 if not value else LIFECYCLE_RANK.get(str(value), stage)
            if out and out[-1]["sql_at"] is None and stage >= LIFECYCLE_RANK[SQL_STAGE] and inside:
                out[-1]["sql_at"] = at
                _decide(out[-1], "accepted", at)
        else:
            status = value
            if out and inside:
                if value == choices.rejected_status:
                    _decide(out[-1], "rejected", at)
                elif value in choices.accepted_statuses:
                    _decide(out[-1], "accepted", at)
                elif value in choices.recycled_statuses:
                    _decide(out[-1], "rejected", at, "Recycled")
        now = stage >= LIFECYCLE_RANK[MQL_STAGE] and status not in choices.recycled_statuses
        if now and not inside:
            start = {"source": SOURCE, "lead_external_id": contact, "mql_at": at, "recycled": bool(out),
                     "sql_at": None, "disposition": None, "disposition_at": None, "rejection_reason": None}  # fmt: skip
            if stage >= LIFECYCLE_RANK[SQL_STAGE]:
                start["sql_at"] = at
                _decide(start, "accepted", at)
            out.append(start)
        inside = now
    return out


def _decide(handover: dict, disposition: str, at, reason: str | None = None) -> None:
    """The first decision of a handover stands; later ones do not change it."""
    if handover["disposition"] is None:
        handover.update(disposition=disposition, disposition_at=at, rejection_reason=reason)
