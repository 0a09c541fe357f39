"""Pure mapping from Salesforce's raw records (REST JSON or Bulk CSV rows) to canonical rows.

No HTTP, no database, no clock: records in, a frame of connector-input columns
out, plus the records that could not be used, each with its reasons, for
``rejected_rows``. REST sends JSON types (``true``, ``1200.5``); Bulk API 2.0
sends CSV text (``"true"``, ``"1200.5"``, empty for null): both read the same.

How the SLA's facts are read from Salesforce (decisions, documented here once):

- ``owners``: User; ``team`` from the configured field (``Department``),
  ``active`` from ``IsActive``.
- ``leads.mql_at``: the configured date field (``MQL_Date__c``) when the org has
  it; otherwise the first ``LeadHistory`` change of ``Status`` into an MQL
  status, else the lead's ``CreatedDate`` when it was created in an MQL status
  (its current status is one, or its first recorded change left one).
- ``leads.disposition``: "rejected" when the current ``Status`` is a rejected
  status; else "accepted" when the lead is converted or its status is an
  accepted status; else "open". ``disposition_at``: a rejected lead's last
  change into a rejected status (the decision that stands); an accepted lead's
  first change into an accepted status, else its ``ConvertedDate``; dated by
  ``LeadHistory``, so unknown when the org does not track Status history.
  ``rejection_reason``: the configured field, for rejected leads only.
- ``leads.sql_at``: ``ConvertedDate`` (a date: midnight UTC).
- ``leads.channel`` / ``deals.channel``: ``LeadSource``. ``leads.campaign``: the
  name of the first campaign the lead joined (its earliest ``CampaignMember``),
  when the run-as user may read campaign members.
- ``deals``: Opportunity; ``amount`` as sent (empty stays empty, never 0);
  ``closed_at`` is ``CloseDate`` of closed opportunities only (on an open one
  it is the expected close); the lead is the one whose
  ``ConvertedOpportunityId`` names the opportunity.
- ``activities``: Task (a call or an email by ``TaskSubtype``, else a task) and
  Event (a meeting), on the lead (``WhoId`` a Lead id) or on the contact it was
  converted into (``Lead.ConvertedContactId``). Tasks happen at
  ``CompletedDateTime``, else ``CreatedDate``; events at ``StartDateTime``.
- Deleted records (``IsDeleted``) are kept and flagged ``archived``.
- A record without an ``Id``, or with a date, number or flag that does not
  parse, or text with a NUL or too long for its column, is rejected whole.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analytics.schema import BOOL, STR, UTC_TS, full_names
from connectors.hubspot.mapping import parse_instants, parse_numbers
from connectors.salesforce.settings import SOURCE, TASK_KINDS, FieldChoices
from data.models import CANONICAL_MODELS

NUL = "\x00"
LEAD_PREFIX = "00Q"  # the key prefix of Lead ids
CONTACT_PREFIX = "003"  # ... and of Contact ids
_SHOWN = 40


@dataclass
class Mapped:
    """Canonical rows of one batch, and the records kept aside (dicts for ``add_rejected_rows``)."""

    frame: pd.DataFrame
    rejected: list[dict] = field(default_factory=list)


class _Problems:
    """Reasons per row of a batch; rows with any reason are rejected whole."""

    def __init__(self, records: Sequence[dict], obj: str):
        self.records, self.obj = records, obj
        self.reasons: dict[int, list[str]] = {}
        for row, record in enumerate(records):
            if not _text_of(record.get("Id")):
                self.reject(row, "Id", "missing: a record without an Id cannot be kept up to date")

    def reject(self, row: int, prop: str, reason: str) -> None:
        self.reasons.setdefault(row, []).append(f"{prop}: {reason}")

    def add(self, bad: np.ndarray, values: Sequence, prop: str, what: str) -> None:
        for row in np.flatnonzero(bad):
            self.reject(int(row), prop, f"{_shown(values[row])} is not {what}")

    def keep(self) -> np.ndarray:
        mask = np.ones(len(self.records), dtype=bool)
        mask[list(self.reasons)] = False
        return mask

    def rejected(self) -> list[dict]:
        return [
            {
                "source": SOURCE,
                "object": self.obj,
                "external_id": str(self.records[row].get("Id")).replace(NUL, "\ufffd"),
                "column_name": reasons[0].split(":")[0],
                "reasons": reasons,
                "raw": self.records[row],
            }
            for row, reasons in sorted(self.reasons.items())
        ]


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN + 2 else text[:_SHOWN] + "..."


def _text_of(value) -> str | None:
    if value is None or value == "" or (isinstance(value, float) and value != value):
        return None
    return value if isinstance(value, str) else str(value)


def _column(records: Sequence[dict], name: str | None) -> list:
    return [r.get(name) for r in records] if name else [None] * len(records)


def _texts(records: Sequence[dict], name: str | None) -> pd.Series:
    return pd.Series([_text_of(v) for v in _column(records, name)], dtype=object).astype(STR)


def _dates(records: Sequence[dict], name: str, problems: _Problems) -> pd.Series:
    values = _column(records, name)
    parsed, bad = parse_instants([_text_of(v) for v in values])
    problems.add(bad, values, name, "a date")
    return parsed.reset_index(drop=True)


def _flags(records: Sequence[dict], name: str, problems: _Problems) -> pd.Series:
    """A true/false field (JSON booleans or CSV "true"/"false"); anything else rejects the record."""
    values = _column(records, name)
    out: list[bool | None] = []
    for row, value in enumerate(values):
        if value is None or value == "" or isinstance(value, bool):
            out.append(None if value == "" else value)
            continue
        flag = {"true": True, "false": False}.get(str(value).strip().lower())
        if flag is None:
            problems.reject(row, name, f"{_shown(value)} is not true or false")
        out.append(flag)
    return pd.Series(out, dtype=object).astype(BOOL)


def _finish(frame: pd.DataFrame, problems: _Problems, table: str, sources: dict[str, str]) -> Mapped:
    """The good rows, once text is checked: a NUL or text longer than its column rejects the record."""
    columns = CANONICAL_MODELS[table].__table__.c
    for name, prop in sources.items():
        values = frame[name]
        for row in np.flatnonzero(values.str.contains(NUL, regex=False).fillna(False).to_numpy(dtype=bool)):
            problems.reject(int(row), prop, "contains a NUL character (\\x00), which cannot be stored")
        limit = columns[name].type.length
        if limit:
            too_long = (values.str.len() > limit).fillna(False).to_numpy(dtype=bool)
            for row in np.flatnonzero(too_long):
                problems.reject(
                    int(row), prop, f"{_shown(values.iloc[row])} is longer than {limit} characters"
                )
    keep = problems.keep()
    return Mapped(frame.loc[keep].reset_index(drop=True), problems.rejected())


def _base(records: Sequence[dict]) -> dict[str, pd.Series]:
    return {
        "source": pd.Series([SOURCE] * len(records), dtype=STR),
        "external_id": _texts(records, "Id"),
    }


# ----------------------------------------------------------------------------- objects


def owners_frame(records: Sequence[dict], team_field: str = "Department") -> Mapped:
    """Users as canonical owner rows, and the unusable ones.

    >>> mapped = owners_frame([{"Id": "005A", "Name": "Ada Byron", "Email": "ada@x.example",
    ...     "IsActive": True, "Department": "EMEA", "SystemModstamp": "2024-01-02T03:04:05.000+0000"},
    ...     {"Id": "005B", "Name": "Bo", "IsActive": "maybe"}])
    >>> mapped.frame[["external_id", "name", "team", "active"]].to_dict("records")
    [{'external_id': '005A', 'name': 'Ada Byron', 'team': 'EMEA', 'active': True}]
    >>> mapped.rejected[0]["reasons"]
    ["IsActive: 'maybe' is not true or false"]
    """
    problems = _Problems(records, "User")
    frame = pd.DataFrame(
        {
            **_base(records),
            "name": _texts(records, "Name"),
            "email": _texts(records, "Email"),
            "team": _texts(records, team_field),
            "active": _flags(records, "IsActive", problems),
            "updated_at": _dates(records, "SystemModstamp", problems),
        }
    )
    sources = {"external_id": "Id", "name": "Name", "email": "Email", "team": team_field}
    return _finish(frame, problems, "owners", sources)


@dataclass(frozen=True)
class StatusChanges:
    """A lead's Status changes from LeadHistory, oldest first: (when, old value, new value)."""

    changes: tuple[tuple[pd.Timestamp, str | None, str | None], ...]

    def first_into(self, statuses: Iterable[str]) -> pd.Timestamp | None:
        wanted = set(statuses)
        return next((at for at, _, new in self.changes if new in wanted), None)

    def last_into(self, statuses: Iterable[str]) -> pd.Timestamp | None:
        wanted = set(statuses)
        return next((at for at, _, new in reversed(self.changes) if new in wanted), None)

    def started_in(self, statuses: Iterable[str]) -> bool:
        return bool(self.changes) and self.changes[0][1] in set(statuses)


def status_changes(history: Sequence[dict]) -> dict[str, StatusChanges]:
    """LeadHistory rows (any fields) -> lead id -> its Status changes, oldest first.

    Rows of other fields, without a lead or with a date that does not parse are left out.

    >>> changes = status_changes([
    ...     {"LeadId": "00Q1", "Field": "Status", "OldValue": "Open", "NewValue": "Qualified",
    ...      "CreatedDate": "2024-03-02T10:00:00.000+0000"},
    ...     {"LeadId": "00Q1", "Field": "Status", "OldValue": None, "NewValue": "Marketing Qualified",
    ...      "CreatedDate": "2024-03-01T09:00:00.000+0000"},
    ...     {"LeadId": "00Q1", "Field": "Owner", "NewValue": "005A", "CreatedDate": "2024-03-01T09:00:00Z"}])
    >>> str(changes["00Q1"].first_into(["Qualified"]))
    '2024-03-02 10:00:00+00:00'
    """
    rows = [h for h in history if h.get("Field") == "Status" and _text_of(h.get("LeadId"))]
    stamps, _ = parse_instants([_text_of(h.get("CreatedDate")) for h in rows])
    grouped: dict[str, list] = {}
    for h, at in zip(rows, stamps.tolist(), strict=True):
        if at is pd.NaT or at is None or at != at:
            continue
        grouped.setdefault(str(h["LeadId"]), []).append(
            (at, _text_of(h.get("OldValue")), _text_of(h.get("NewValue")))
        )
    return {lead: StatusChanges(tuple(sorted(items, key=lambda c: c[0]))) for lead, items in grouped.items()}


def first_campaigns(members: Sequence[dict]) -> dict[str, str]:
    """CampaignMember rows (REST JSON, ``Campaign`` nested) -> lead id -> name of its earliest campaign.

    >>> first_campaigns([
    ...     {"LeadId": "00Q1", "CreatedDate": "2026-03-02T00:00:00.000+0000", "Campaign": {"Name": "Webinar"}},
    ...     {"LeadId": "00Q1", "CreatedDate": "2026-03-01T00:00:00.000+0000", "Campaign": {"Name": "Ebook"}},
    ...     {"LeadId": "00Q2", "CreatedDate": "yesterday", "Campaign": None}])
    {'00Q1': 'Ebook'}
    """
    stamps, _ = parse_instants([_text_of(m.get("CreatedDate")) for m in members])
    found: dict[str, tuple] = {}
    for member, at in zip(members, stamps.tolist(), strict=True):
        lead, campaign = _text_of(member.get("LeadId")), member.get("Campaign")
        name = _text_of(campaign.get("Name")) if isinstance(campaign, dict) else None
        if lead is None or name is None or at is pd.NaT or at != at:
            continue
        if lead not in found or at < found[lead][0]:
            found[lead] = (at, name)
    return {lead: name for lead, (_, name) in found.items()}


def leads_frame(
    records: Sequence[dict],
    history: dict[str, StatusChanges] | None = None,
    choices: FieldChoices | None = None,
    lead_fields: frozenset[str] | None = None,
    campaigns: dict[str, str] | None = None,
) -> Mapped:
    """Leads as canonical lead rows (without touches; see :func:`touch_updates`).

    ``history``: their Status changes (:func:`status_changes`); ``lead_fields``:
    the Lead fields the org has (None: all configured ones), which decides
    whether the MQL date comes from its field or from the history;
    ``campaigns``: lead id -> the name of its first campaign (:func:`first_campaigns`).
    """
    campaigns = campaigns or {}
    choices = choices or FieldChoices()
    history = history or {}
    has = (
        (lambda name: bool(name))
        if lead_fields is None
        else (lambda name: bool(name) and name in lead_fields)
    )
    problems = _Problems(records, "Lead")
    created = _dates(records, "CreatedDate", problems)
    converted_on = _dates(records, "ConvertedDate", problems)
    stamp = _dates(records, "SystemModstamp", problems)
    field_mql = _dates(records, choices.mql_date, problems) if has(choices.mql_date) else None
    converted = _flags(records, "IsConverted", problems).fillna(False).astype(bool)
    deleted = _flags(records, "IsDeleted", problems).fillna(False).astype(bool)
    status = _texts(records, "Status")
    ids = _texts(records, "Id").tolist()
    rejected_now = status.isin(choices.rejected_statuses).fillna(False).astype(bool)
    accepted_now = ~rejected_now & (
        converted | status.isin(choices.accepted_statuses).fillna(False).astype(bool)
    )
    mql, decided = [], []
    # Plain lists: a Python loop over pandas' per-row indexing would dominate the whole sync.
    field_values = field_mql.tolist() if field_mql is not None else None
    created_values, converted_values = created.tolist(), converted_on.tolist()
    statuses, rejected_flags, accepted_flags = status.tolist(), rejected_now.tolist(), accepted_now.tolist()
    none = StatusChanges(())
    for row, lead in enumerate(ids):
        changes = (history.get(lead) if isinstance(lead, str) else None) or none
        if field_values is not None:
            mql.append(field_values[row])
        else:
            first = changes.first_into(choices.mql_statuses)
            began_mql = changes.started_in(choices.mql_statuses) or (
                not changes.changes and statuses[row] in choices.mql_statuses
            )
            mql.append(first if first is not None else created_values[row] if began_mql else pd.NaT)
        if rejected_flags[row]:
            decided.append(changes.last_into(choices.rejected_statuses))
        elif accepted_flags[row]:
            first = changes.first_into(choices.accepted_statuses)
            decided.append(first if first is not None else converted_values[row])
        else:
            decided.append(pd.NaT)
    disposition = pd.Series(
        np.select([rejected_now.to_numpy(), accepted_now.to_numpy()], ["rejected", "accepted"], "open"),
        dtype=STR,
    )
    reason = _texts(records, choices.rejection_reason if has(choices.rejection_reason) else None)
    frame = pd.DataFrame(
        {
            **_base(records),
            "created_at": created,
            "mql_at": _utc(mql),
            "sql_at": converted_on.where(converted),
            "owner_external_id": _texts(records, "OwnerId"),
            "owner_assigned_at": pd.Series(pd.NaT, index=range(len(records)), dtype=UTC_TS),
            "channel": _texts(records, "LeadSource"),
            "campaign": pd.Series([campaigns.get(i) for i in ids], dtype=object).astype(STR),
            "lifecycle_stage": pd.Series(
                np.where(converted.to_numpy(), "converted", "lead"), dtype=object
            ).astype(STR),
            "lead_status": status,
            "disposition": disposition,
            "disposition_at": _utc(decided),
            "rejection_reason": reason.where(rejected_now),
            "segment": pd.Series([None] * len(records), dtype=object).astype(STR),
            "archived": pd.Series(deleted, dtype=BOOL),
            "updated_at": stamp,
            "name": full_names(_column(records, "FirstName"), _column(records, "LastName")),
            "company": _texts(records, "Company"),
            "email": _texts(records, "Email"),
        }
    )
    sources = {
        "external_id": "Id",
        "owner_external_id": "OwnerId",
        "name": "FirstName",
        "company": "Company",
        "email": "Email",
        "channel": "LeadSource",
        "lead_status": "Status",
        "rejection_reason": choices.rejection_reason or "",
        "campaign": "CampaignMember.Campaign.Name",
    }
    return _finish(frame, problems, "leads", sources)


def deals_frame(records: Sequence[dict], lead_of: dict[str, str] | None = None) -> Mapped:
    """Opportunities as canonical deal rows; ``lead_of`` maps an opportunity id to its converted lead.

    >>> mapped = deals_frame([{"Id": "006A", "Name": "Acme", "Amount": None, "StageName": "Closed Won",
    ...     "IsClosed": "true", "IsWon": "true", "CloseDate": "2024-05-31", "CreatedDate": "2024-05-01T00:00:00Z"},
    ...     {"Id": "006B", "Amount": "12,5x"}], lead_of={"006A": "00Q1"})
    >>> row = mapped.frame.iloc[0]
    >>> bool(pd.isna(row["amount"])), str(row["closed_at"]), row["lead_external_id"]
    (True, '2024-05-31 00:00:00+00:00', '00Q1')
    >>> mapped.rejected[0]["reasons"]
    ["Amount: '12,5x' is not a number"]
    """
    lead_of = lead_of or {}
    problems = _Problems(records, "Opportunity")
    created = _dates(records, "CreatedDate", problems)
    close = _dates(records, "CloseDate", problems)
    amounts = _column(records, "Amount")
    amount, bad = parse_numbers([_text_of(v) for v in amounts])
    problems.add(bad, amounts, "Amount", "a number")
    closed = _flags(records, "IsClosed", problems)
    won = _flags(records, "IsWon", problems)
    deleted = _flags(records, "IsDeleted", problems).fillna(False).astype(bool)
    ids = _texts(records, "Id")
    frame = pd.DataFrame(
        {
            **_base(records),
            "name": _texts(records, "Name"),
            "created_at": created,
            "closed_at": close.where(closed.fillna(False).astype(bool)).astype(UTC_TS),
            "amount": amount.reset_index(drop=True),
            "currency": pd.Series([None] * len(records), dtype=object).astype(STR),
            "stage": _texts(records, "StageName"),
            "pipeline": pd.Series([None] * len(records), dtype=object).astype(STR),
            "is_closed": closed,
            "is_won": won,
            "owner_external_id": _texts(records, "OwnerId"),
            "channel": _texts(records, "LeadSource"),
            "lead_external_id": pd.Series(
                [lead_of.get(i) if isinstance(i, str) else None for i in ids], dtype=object
            ).astype(STR),
            "archived": pd.Series(deleted, dtype=BOOL),
            "updated_at": _dates(records, "SystemModstamp", problems),
        }
    )
    sources = {
        "external_id": "Id",
        "name": "Name",
        "stage": "StageName",
        "owner_external_id": "OwnerId",
        "channel": "LeadSource",
    }
    return _finish(frame, problems, "deals", sources)


def activities_frame(
    records: Sequence[dict], obj: str, lead_of_contact: dict[str, str] | None = None
) -> Mapped:
    """Tasks or Events (``obj``) as canonical activity rows, linked to their lead.

    ``lead_of_contact`` maps a contact id to the lead converted into it.

    >>> mapped = activities_frame([{"Id": "00TA", "WhoId": "003C", "TaskSubtype": "Call",
    ...     "CreatedDate": "2024-05-01T09:00:00.000+0000"}], "Task", {"003C": "00Q1"})
    >>> mapped.frame[["lead_external_id", "kind"]].to_dict("records")
    [{'lead_external_id': '00Q1', 'kind': 'call'}]
    """
    lead_of_contact = lead_of_contact or {}
    problems = _Problems(records, obj)
    created = _dates(records, "CreatedDate", problems)
    if obj == "Task":
        occurred = _dates(records, "CompletedDateTime", problems).fillna(created)
        kinds = [TASK_KINDS.get(_text_of(r.get("TaskSubtype")) or "", "task") for r in records]
    else:
        occurred = _dates(records, "StartDateTime", problems).fillna(created)
        kinds = ["meeting"] * len(records)
    leads = []
    for who in _column(records, "WhoId"):
        who = _text_of(who)
        if who is None:
            leads.append(None)
        elif who.startswith(LEAD_PREFIX):
            leads.append(who)
        else:
            leads.append(lead_of_contact.get(who))
    frame = pd.DataFrame(
        {
            **_base(records),
            "lead_external_id": pd.Series(leads, dtype=object).astype(STR),
            "owner_external_id": _texts(records, "OwnerId"),
            "kind": pd.Series(kinds, dtype=object).astype(STR),
            "occurred_at": occurred.astype(UTC_TS),
            "archived": pd.Series(
                _flags(records, "IsDeleted", problems).fillna(False).astype(bool), dtype=BOOL
            ),
        }
    )
    sources = {"external_id": "Id", "lead_external_id": "WhoId", "owner_external_id": "OwnerId"}
    return _finish(frame, problems, "activities", sources)


def contact_ids(records: Sequence[dict]) -> list[str]:
    """The contact ids activities are on (``WhoId`` starting 003), each once."""
    ids = (_text_of(r.get("WhoId")) for r in records)
    return list(dict.fromkeys(i for i in ids if i and i.startswith(CONTACT_PREFIX)))


def latest_per_id(records: Sequence[dict]) -> list[dict]:
    """Records de-duplicated on ``Id``, keeping the last one read (queries re-read the cursor's second)."""
    out: dict[object, dict] = {}
    for record in records:
        key = record.get("Id")
        out.pop(key, None)
        out[key] = record
    return list(out.values())


def _utc(values: list) -> pd.Series:
    return pd.Series(pd.to_datetime(pd.Series(values, dtype=object), utc=True), dtype=UTC_TS).reset_index(
        drop=True
    )


def touch_updates(leads: pd.DataFrame, activities: pd.DataFrame) -> pd.DataFrame:
    """Leads whose ``touches`` or ``first_touch_at`` differ from their not deleted activities.

    ``leads`` and ``activities`` are canonical frames of one source. A lead's
    touches are its activities not deleted, its first touch the earliest of
    them (none: no first touch). Returns rows (source, external_id,
    first_touch_at, touches) to upsert.

    >>> t = pd.Timestamp
    >>> leads = pd.DataFrame({"source": ["salesforce"] * 2, "external_id": ["00Q1", "00Q2"],
    ...     "first_touch_at": [pd.NaT, t("2024-01-05", tz="UTC")], "touches": pd.array([None, 1], "Int64")})
    >>> acts = pd.DataFrame({"lead_external_id": ["00Q1", "00Q1"], "archived": [False, False],
    ...     "occurred_at": [t("2024-01-03", tz="UTC"), t("2024-01-09", tz="UTC")]})
    >>> touch_updates(leads, acts)[["external_id", "touches"]].to_dict("records")
    [{'external_id': '00Q1', 'touches': 2}, {'external_id': '00Q2', 'touches': 0}]
    """
    live = activities.loc[
        ~activities["archived"].fillna(False).astype(bool) & activities["lead_external_id"].notna()
    ]
    grouped = live.groupby("lead_external_id", sort=False)["occurred_at"]
    keyed = leads.set_index("external_id")
    counts = grouped.size().reindex(keyed.index).fillna(0).astype("Int64")
    firsts = pd.to_datetime(grouped.min(), utc=True).reindex(keyed.index).astype(UTC_TS)
    stored = keyed["first_touch_at"].astype(UTC_TS)
    stored_touches = keyed["touches"].astype("Int64")
    same_first = (firsts.isna() & stored.isna()) | (firsts == stored).fillna(False)
    changed = (stored_touches != counts).fillna(True) | ~same_first.astype(bool)
    out = pd.DataFrame(
        {
            "source": keyed["source"].astype(STR),
            "external_id": keyed.index.astype(STR),
            "first_touch_at": firsts,
            "touches": counts,
        },
        index=keyed.index,
    )
    return out.loc[changed.to_numpy(dtype=bool)].reset_index(drop=True)
