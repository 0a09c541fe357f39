"""A local HubSpot-compatible server, for the connector's tests and benchmark.

It speaks the parts of HubSpot's CRM API the connector uses, with HubSpot's JSON
shapes, so the real ``hubspot-api-client`` talks to it over HTTP (nothing is
mocked):

- ``GET /crm/v3/objects/{contacts,deals,calls,emails,meetings,tasks}``: pages of
  at most 100, ``paging.next.after`` except on the last page, repeated (or
  comma-joined) ``properties=``, ``associations=contacts``, ``archived=true``;
- ``POST .../search``: filter groups (EQ, NEQ, LT, LTE, GT, GTE, BETWEEN, IN,
  NOT_IN, HAS_PROPERTY, NOT_HAS_PROPERTY), one sort, ``total``, at most 200 a
  page, HTTP 400 past the result cap (10,000, configurable), no archived records;
- ``POST .../batch/read`` (at most 100 ids), ``GET /crm/v3/owners``,
  ``GET /crm/v3/pipelines/deals``, v4 associations (``GET`` per object and
  ``POST`` batch read of at most 100 ids, 207 with errors for ids without any);
- HubSpot's limits: a rolling window of N requests (190 per 10 s by default,
  window length configurable) and the search endpoint's own per-second limit,
  answered with 429 and HubSpot's body; 401 for a wrong token; 403 with a
  MISSING_SCOPES body for scopes taken away (:attr:`FakeHubSpot.missing_scopes`);
- switchable faults: :meth:`FakeHubSpot.fail_next` (429 with or without
  Retry-After, 502, ...), :meth:`FakeHubSpot.storm`, :attr:`FakeHubSpot.delay`,
  :meth:`FakeHubSpot.slow_next`; and a mutation API (:meth:`FakeHubSpot.add`,
  :meth:`FakeHubSpot.update`, :meth:`FakeHubSpot.archive`) that stamps
  ``lastmodifieddate`` like HubSpot does. Malformed records are plain updates,
  e.g. ``update("contacts", id, {"createdate": "not-a-date"})``.

:meth:`FakeHubSpot.seed` turns canonical frames (``connectors.demo.generate``)
into HubSpot records and returns the id map, so a test can compare a sync's
result with the seed. Run as a script it serves a seeded company in its own
process (the benchmark does that), with ``/_fake/...`` control endpoints.

>>> fake = FakeHubSpot()
>>> contact = fake.add("contacts", {"lifecyclestage": "lead"})
>>> fake.record("contacts", contact)["properties"]["lifecyclestage"]
'lead'
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import json
import math
import random
import sys
import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pandas as pd

CRM_OBJECTS = ("contacts", "deals", "calls", "emails", "meetings", "tasks")
HISTORY_KEPT = {"lifecyclestage", "hs_lead_status"}  # properties whose every change is kept as history
HISTORY_PAGE = 50  # HubSpot's page and batch limit when propertiesWithHistory is asked for
ENGAGEMENTS = {"call": "calls", "email": "emails", "meeting": "meetings", "task": "tasks"}
CURSOR = {obj: ("lastmodifieddate" if obj == "contacts" else "hs_lastmodifieddate") for obj in CRM_OBJECTS}
CREATED = {obj: ("createdate" if obj in ("contacts", "deals") else "hs_createdate") for obj in CRM_OBJECTS}
DEFAULT_PROPERTIES = {
    "contacts": ["createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"],
    "deals": [
        "amount",
        "closedate",
        "createdate",
        "dealname",
        "dealstage",
        "hs_lastmodifieddate",
        "hs_object_id",
        "pipeline",
    ],
}
SCOPES = {
    "contacts": "crm.objects.contacts.read",
    "deals": "crm.objects.deals.read",
    "calls": "crm.objects.contacts.read",
    "emails": "sales-email-read",
    "meetings": "crm.objects.contacts.read",
    "tasks": "crm.objects.contacts.read",
    "owners": "crm.objects.owners.read",
}
FIRST_ID = {"contacts": 1001, "deals": 2_000_001, "engagements": 50_000_001, "owners": 101}
DEFAULT_STAGES = (
    ("appointmentscheduled", False, 0.2),
    ("qualifiedtobuy", False, 0.4),
    ("presentationscheduled", False, 0.6),
    ("decisionmakerboughtin", False, 0.8),
    ("contractsent", False, 0.9),
    ("closedwon", True, 1.0),
    ("closedlost", True, 0.0),
)
CHANNEL_CODES = {
    "Organic Search": "ORGANIC_SEARCH",
    "Paid Search": "PAID_SEARCH",
    "Email Marketing": "EMAIL_MARKETING",
    "Organic Social": "SOCIAL_MEDIA",
    "Paid Social": "PAID_SOCIAL",
    "Referrals": "REFERRALS",
    "Other Campaigns": "OTHER_CAMPAIGNS",
    "Direct Traffic": "DIRECT_TRAFFIC",
    "Offline Sources": "OFFLINE",
}


def iso(moment) -> str | None:
    """A HubSpot datetime string (``2024-05-01T07:10:12.688Z``), or None.

    >>> iso(pd.Timestamp("2024-05-01 07:10:12.688", tz="UTC"))
    '2024-05-01T07:10:12.688Z'
    """
    if moment is None or moment is pd.NaT or (isinstance(moment, float) and math.isnan(moment)):
        return None
    stamp = pd.Timestamp(moment)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def channel_code(label) -> str | None:
    """The hs_analytics_source code of a channel label (inverse of the connector's labels)."""
    if not isinstance(label, str):
        return None
    return CHANNEL_CODES.get(label, label.upper().replace(" ", "_").replace("-", "_"))


def _iso_series(series: pd.Series) -> list[str | None]:
    stamps = pd.to_datetime(series, utc=True)
    text = stamps.dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str[:-3] + "Z"
    return [None if pd.isna(v) else v for v in text.tolist()]


def _text(value) -> str | None:
    return (
        None
        if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA
        else str(value)
    )


def _amount(value) -> str | None:
    if value is None or pd.isna(value):
        return None
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _comparable(value):
    """A property value as something ordered: a number (ids, amounts, epoch ms of dates) or the string."""
    if value is None:
        return None
    text = str(value)
    try:
        return float(text)
    except ValueError:
        pass
    if not text[:4].isdigit():  # not a date: compare as text (and keep pd.Timestamp("now") out)
        return text
    try:
        stamp = pd.Timestamp(text)
    except ValueError:
        return text
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return float(stamp.value // 1_000_000)


@dataclass
class Record:
    """One CRM record as HubSpot keeps it: string property values, created/updated, archived."""

    id: int
    properties: dict
    created_at: str
    updated_at: str
    archived: bool = False
    archived_at: str | None = None
    _sortable: dict = field(default_factory=dict, repr=False)
    history: dict = field(default_factory=dict, repr=False)  # property -> [(value, stamp)], oldest first

    def value(self, name: str):
        if name not in self._sortable:
            self._sortable[name] = _comparable(self.properties.get(name))
        return self._sortable[name]

    def as_json(self, properties: list[str], associations: dict | None = None, with_history=()) -> dict:
        out = {
            "id": str(self.id),
            "properties": {name: self.properties.get(name) for name in properties},
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "archived": self.archived,
        }
        if with_history:
            out["propertiesWithHistory"] = {name: self.history_of(name) for name in with_history}
        if self.archived:
            out["archivedAt"] = self.archived_at
        if associations:
            out["associations"] = associations
        return out

    def history_of(self, name: str) -> list[dict]:
        """HubSpot's ``propertiesWithHistory`` entries of ``name``, newest first.

        A seeded record has no recorded history: its lifecycle stage's history is made from its
        "date entered" properties, any other property's is its value at creation.
        """
        entries = self.history.get(name)
        if entries is None:
            entries = []
            if name == "lifecyclestage":
                for stage in LIFECYCLE_ORDER:
                    entered = self.properties.get(f"hs_v2_date_entered_{stage}") or self.properties.get(
                        f"hs_lifecyclestage_{stage}_date"
                    )
                    if entered:
                        entries.append((stage, entered))
            if not entries and self.properties.get(name) is not None:
                entries = [(self.properties[name], self.created_at)]
        return [
            {
                "value": value,
                "timestamp": stamp,
                "sourceType": "CRM_UI",
                "sourceId": None,
                "sourceLabel": None,
            }
            for value, stamp in reversed(entries)
        ]


LIFECYCLE_ORDER = ("subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity",
                   "customer", "evangelist")  # fmt: skip


@dataclass
class SeedMap:
    """Canonical external id -> HubSpot id, per canonical table, for the records :meth:`FakeHubSpot.seed` made."""

    owners: dict[str, str] = field(default_factory=dict)
    leads: dict[str, str] = field(default_factory=dict)
    deals: dict[str, str] = field(default_factory=dict)
    activities: dict[str, str] = field(default_factory=dict)


@dataclass
class LoggedRequest:
    method: str
    path: str
    status: int
    query: dict
    body: dict | None
    at: float


class _Fault:
    def __init__(
        self,
        count: int,
        status: int | None,
        retry_after,
        method,
        path,
        seconds: float = 0.0,
        policy: str = "TEN_SECONDLY_ROLLING",
    ):
        self.count, self.status, self.retry_after = count, status, retry_after
        self.method, self.path, self.seconds, self.policy = method, path, seconds, policy

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.path is None or path.startswith(self.path)
        )


class FakeHubSpot:
    """HubSpot's CRM API in memory, served on a free 127.0.0.1 port by :meth:`start`."""

    def __init__(
        self,
        token: str = "pat-na1-fake-0000-token",
        *,
        requests_per_window: int = 190,
        window_seconds: float = 10.0,
        search_per_second: int = 5,
        search_cap: int = 10_000,
        clock=None,
    ):
        self.token = token
        self.requests_per_window = requests_per_window
        self.window_seconds = window_seconds
        self.search_per_second = search_per_second
        self.search_cap = search_cap
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.delay = 0.0  # seconds added to every API answer
        self.hold: threading.Event | None = None  # while set and not yet released, API answers wait for it
        self.missing_scopes: set[str] = set()
        self.log: list[LoggedRequest] = []
        self.objects: dict[str, dict[int, Record]] = {obj: {} for obj in CRM_OBJECTS}
        self.owners: dict[int, dict] = {}
        self.links: dict[str, dict[int, list[int]]] = {obj: {} for obj in CRM_OBJECTS if obj != "contacts"}
        self.pipelines: list[dict] = []
        self._next = dict(FIRST_ID)
        self._sorted: dict[tuple[str, bool], list[int]] = {}
        self._cursor_index: dict[str, tuple[list[float], list[int]]] = {}
        self._lock = threading.RLock()
        self._window: deque[float] = deque()
        self._second: deque[float] = deque()
        self._faults: list[_Fault] = []
        self._storm_until = 0.0
        self._storm_seconds = 0.0
        self._storm_retry_after = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url: str | None = None
        self.portal_id = 24681357  # GET /account-info/v3/details: what record links need
        self.ui_domain = "app-eu1.hubspot.com"

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> str:
        """Serve on a free 127.0.0.1 port in a daemon thread; returns the base URL."""
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        self.base_url = f"http://127.0.0.1:{server.server_address[1]}"
        return self.base_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeHubSpot:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ inspection

    def record(self, obj: str, record_id) -> dict:
        """A record as the API would send it, with every property."""
        with self._lock:
            rec = self.objects[obj][int(record_id)]
            return rec.as_json(sorted(rec.properties))

    def requests(self, method: str | None = None, path: str | None = None) -> list[LoggedRequest]:
        """Logged API requests (control endpoints excluded), optionally only one method / path prefix."""
        with self._lock:
            return [
                r
                for r in self.log
                if (method is None or r.method == method) and (path is None or r.path.startswith(path))
            ]

    def count(self, obj: str, archived: bool | None = None) -> int:
        with self._lock:
            return sum(1 for r in self.objects[obj].values() if archived is None or r.archived == archived)

    # ------------------------------------------------------------------ faults

    def fail_next(
        self,
        count: int = 1,
        status: int = 429,
        retry_after: float | None = None,
        method: str | None = None,
        path: str | None = None,
        policy: str = "TEN_SECONDLY_ROLLING",
    ) -> None:
        """The next ``count`` API requests (matching method / path prefix) get ``status`` instead.

        ``status=0`` drops the connection without an answer; a 429's body names ``policy``
        (TEN_SECONDLY_ROLLING, SECONDLY or DAILY).
        """
        with self._lock:
            self._faults.append(_Fault(count, status, retry_after, method, path, policy=policy))

    def slow_next(
        self, count: int, seconds: float, method: str | None = None, path: str | None = None
    ) -> None:
        """The next ``count`` matching requests are answered after ``seconds`` (for client timeouts)."""
        with self._lock:
            self._faults.append(_Fault(count, None, None, method, path, seconds))

    def storm(self, seconds: float, retry_after: float | None = None) -> None:
        """Every API request gets 429 for ``seconds``, starting with the next request."""
        with self._lock:
            self._storm_seconds = seconds
            self._storm_retry_after = retry_after

    # ------------------------------------------------------------------ mutations

    def _stamp(self, at=None) -> str:
        return iso(at if at is not None else self.clock())

    def _new_id(self, obj: str) -> int:
        space = "engagements" if obj in ENGAGEMENTS.values() else obj
        value = self._next[space]
        self._next[space] += 1
        return value

    def add(self, obj: str, properties: dict, contact=None, at=None, record_id: int | None = None) -> str:
        """Create a record (optionally associated with contact id ``contact``); returns its id."""
        with self._lock:
            rid = record_id if record_id is not None else self._new_id(obj)
            stamp = self._stamp(at)
            props = {k: _text(v) for k, v in properties.items()}
            props.setdefault(CREATED[obj], stamp)
            props.setdefault(CURSOR[obj], stamp)
            props["hs_object_id"] = str(rid)
            self.objects[obj][rid] = Record(rid, props, props[CREATED[obj]], props[CURSOR[obj]])
            self.objects[obj][rid].history = {
                k: [(v, stamp)] for k, v in props.items() if k in HISTORY_KEPT and v is not None
            }
            if contact is not None:
                self.links[obj][rid] = [int(contact)]
            self._changed(obj)
            return str(rid)

    def update(self, obj: str, record_id, properties: dict, at=None) -> None:
        """Change properties of a record; its last-modified date becomes now (or ``at``)."""
        with self._lock:
            rec = self.objects[obj][int(record_id)]
            stamp = self._stamp(at)
            for k, v in properties.items():
                if k in HISTORY_KEPT:
                    if k not in rec.history:  # a seeded record: its made-up history becomes real first
                        rec.history[k] = [(e["value"], e["timestamp"]) for e in reversed(rec.history_of(k))]
                    rec.history[k].append((_text(v), stamp))
            rec.properties.update({k: _text(v) for k, v in properties.items()})
            rec.properties[CURSOR[obj]] = stamp
            rec.updated_at = stamp
            rec._sortable.clear()
            self._changed(obj)

    def archive(self, obj: str, record_id, at=None) -> None:
        """Archive (delete) a record: it leaves the default list and search, and shows with archived=true."""
        with self._lock:
            rec = self.objects[obj][int(record_id)]
            stamp = self._stamp(at)
            rec.archived, rec.archived_at, rec.updated_at = True, stamp, stamp
            self._changed(obj)

    def restore(self, obj: str, record_id, at=None) -> None:
        """Restore an archived record: it is back in the default list and search, modified now."""
        with self._lock:
            rec = self.objects[obj][int(record_id)]
            stamp = self._stamp(at)
            rec.archived, rec.archived_at, rec.updated_at = False, None, stamp
            rec.properties[CURSOR[obj]] = stamp
            rec._sortable.clear()
            self._changed(obj)

    def merge(self, survivor, absorbed, at=None) -> None:
        """Merge contact ``absorbed`` into ``survivor`` as HubSpot does.

        The absorbed id leaves every list (archived included) and search; the survivor's
        ``hs_merged_object_ids`` names it (";"-joined, with earlier merges), the survivor is
        modified now, and deals and engagements of the absorbed contact move to the survivor
        without their own modified dates changing.
        """
        with self._lock:
            keep, gone = int(survivor), int(absorbed)
            del self.objects["contacts"][gone]
            rec = self.objects["contacts"][keep]
            merged = [m for m in (rec.properties.get("hs_merged_object_ids") or "").split(";") if m]
            stamp = self._stamp(at)
            rec.properties["hs_merged_object_ids"] = ";".join([*merged, str(gone)])
            rec.properties[CURSOR["contacts"]] = stamp
            rec.updated_at = stamp
            rec._sortable.clear()
            for links in self.links.values():
                for rid, contacts in links.items():
                    if gone in contacts:
                        links[rid] = list(dict.fromkeys(keep if c == gone else c for c in contacts))
            self._changed("contacts")

    def link(self, obj: str, record_id, contact_ids: list) -> None:
        """Associate a deal or engagement with contacts (replacing earlier associations).

        Like HubSpot, moving an association does not change the record's modified date.
        """
        with self._lock:
            self.links[obj][int(record_id)] = [int(c) for c in contact_ids]

    def add_owner(
        self, first: str, last: str, email: str, team: str | None = None, archived: bool = False, at=None
    ) -> str:
        with self._lock:
            oid = self._new_id("owners")
            stamp = self._stamp(at)
            self.owners[oid] = {
                "id": str(oid),
                "email": email,
                "type": "PERSON",
                "firstName": first,
                "lastName": last,
                "userId": oid * 10,
                "userIdIncludingInactive": oid * 10,
                "createdAt": stamp,
                "updatedAt": stamp,
                "archived": archived,
                "teams": [{"id": str(abs(hash(team)) % 10_000), "name": team, "primary": True}]
                if team
                else [],
            }
            return str(oid)

    def add_pipeline(self, pipeline_id: str, label: str, stages: list[tuple[str, str, bool, float]]) -> None:
        """Add a deal pipeline: stages as (id, label, is_closed, probability)."""
        with self._lock:
            self.pipelines.append(
                {
                    "id": pipeline_id,
                    "label": label,
                    "displayOrder": len(self.pipelines),
                    "archived": False,
                    "stages": [
                        {
                            "id": sid,
                            "label": slabel,
                            "displayOrder": order,
                            "archived": False,
                            "metadata": {"isClosed": "true" if closed else "false", "probability": str(prob)},
                        }
                        for order, (sid, slabel, closed, prob) in enumerate(stages)
                    ],
                }
            )

    # ------------------------------------------------------------------ seeding

    def seed(self, frames: dict[str, pd.DataFrame], legacy_share: float = 0.25) -> SeedMap:
        """Load canonical frames (owners, leads, deals, activities) as HubSpot records; returns the id map.

        Contacts carry HubSpot's property names; a share of them (every 4th by
        default) has its lifecycle dates only under the legacy
        ``hs_lifecyclestage_*_date`` names. Open deals get an expected close
        date (HubSpot's ``closedate``), which the connector must not read as
        closed. Stage and pipeline ids and labels are the canonical values.
        """
        ids = SeedMap()
        owners, leads = frames["owners"], frames["leads"]
        deals, activities = frames["deals"], frames["activities"]
        with self._lock:
            for row in owners.itertuples(index=False):
                first, _, last = str(row.name).partition(" ")
                oid = self.add_owner(
                    first, last, row.email, row.team, archived=not bool(row.active), at=row.updated_at
                )
                ids.owners[row.external_id] = oid

            touches = activities.loc[activities["kind"] != "task"]
            outreach = touches.groupby("lead_external_id")["occurred_at"].agg(["min", "count"])
            first_outreach = outreach["min"].reindex(leads["external_id"])
            contacted = outreach["count"].reindex(leads["external_id"]).fillna(0).astype(int)
            columns = {
                name: _iso_series(leads[name])
                for name in (
                    "created_at",
                    "mql_at",
                    "sql_at",
                    "owner_assigned_at",
                    "first_touch_at",
                    "disposition_at",
                    "updated_at",
                )
            }
            columns["first_outreach"] = _iso_series(first_outreach.reset_index(drop=True))
            for i, row in enumerate(leads.itertuples(index=False)):
                rid = self._new_id("contacts")
                ids.leads[row.external_id] = str(rid)
                legacy = legacy_share > 0 and i % round(1 / legacy_share) == 0
                mql_name = (
                    "hs_lifecyclestage_marketingqualifiedlead_date"
                    if legacy
                    else "hs_v2_date_entered_marketingqualifiedlead"
                )
                sql_name = (
                    "hs_lifecyclestage_salesqualifiedlead_date"
                    if legacy
                    else "hs_v2_date_entered_salesqualifiedlead"
                )
                decided = columns["disposition_at"][i]
                props = {
                    "createdate": columns["created_at"][i],
                    "lastmodifieddate": columns["updated_at"][i] or columns["created_at"][i],
                    "hs_object_id": str(rid),
                    # The demo's fictitious person, as HubSpot holds it: first and last name apart.
                    "email": _text(row.email),
                    "firstname": _text(row.name).split(" ", 1)[0] if _text(row.name) else None,
                    "lastname": _text(row.name).split(" ", 1)[1] if _text(row.name) else None,
                    "company": _text(row.company),
                    "lifecyclestage": _text(row.lifecycle_stage),
                    "hs_lead_status": _text(row.lead_status),
                    "hubspot_owner_id": ids.owners.get(row.owner_external_id)
                    if isinstance(row.owner_external_id, str)
                    else None,
                    "hubspot_owner_assigneddate": columns["owner_assigned_at"][i],
                    mql_name: columns["mql_at"][i],
                    sql_name: columns["sql_at"][i],
                    "hs_first_outreach_date": columns["first_outreach"][i],
                    "hs_sa_first_engagement_date": columns["first_touch_at"][i],
                    "num_contacted_notes": str(int(contacted.iloc[i])),
                    "hs_analytics_source": channel_code(row.channel),
                    "hs_analytics_source_data_2": _text(row.campaign),
                    "accord_segment": _text(row.segment),
                    "accord_rejection_reason": _text(row.rejection_reason),
                    # An accepted lead's disposition date is its SQL date: leave the property to the rejected.
                    "accord_disposition_date": decided if decided != columns["sql_at"][i] else None,
                }
                rec = Record(rid, props, props["createdate"], props["lastmodifieddate"])
                rec.archived = bool(row.archived) if not pd.isna(row.archived) else False
                rec.archived_at = props["lastmodifieddate"] if rec.archived else None
                self.objects["contacts"][rid] = rec

            stages: dict[str, dict[str, tuple[bool, bool]]] = {}
            for row in (
                deals[["pipeline", "stage", "is_closed", "is_won"]].drop_duplicates().itertuples(index=False)
            ):
                stages.setdefault(row.pipeline, {})[row.stage] = (bool(row.is_closed), bool(row.is_won))
            for pipeline, known in stages.items():
                listed = [(sid, sid, closed, prob) for sid, closed, prob in DEFAULT_STAGES]
                extra = [
                    (s, s, c, 1.0 if w else 0.0)
                    for s, (c, w) in known.items()
                    if s not in {d[0] for d in DEFAULT_STAGES}
                ]
                self.add_pipeline(pipeline, pipeline, listed + extra)
            if not self.pipelines:
                self.add_pipeline("default", "default", [(s, s, c, p) for s, c, p in DEFAULT_STAGES])

            created = _iso_series(deals["created_at"])
            closed = _iso_series(deals["closed_at"])
            expected = _iso_series(deals["created_at"] + pd.Timedelta(days=30))
            updated = _iso_series(deals["updated_at"])
            for i, row in enumerate(deals.itertuples(index=False)):
                rid = self._new_id("deals")
                ids.deals[row.external_id] = str(rid)
                is_closed = bool(row.is_closed)
                props = {
                    "dealname": _text(row.name),
                    "createdate": created[i],
                    "closedate": closed[i] if is_closed else expected[i],
                    "hs_lastmodifieddate": updated[i] or created[i],
                    "hs_object_id": str(rid),
                    "amount": _amount(row.amount),
                    "deal_currency_code": _text(row.currency),
                    "dealstage": _text(row.stage),
                    "pipeline": _text(row.pipeline),
                    "hs_is_closed": "true" if is_closed else "false",
                    "hs_is_closed_won": "true" if bool(row.is_won) else "false",
                    "hubspot_owner_id": ids.owners.get(row.owner_external_id)
                    if isinstance(row.owner_external_id, str)
                    else None,
                    "hs_analytics_source": channel_code(row.channel),
                }
                rec = Record(rid, props, props["createdate"], props["hs_lastmodifieddate"])
                rec.archived = bool(row.archived) if not pd.isna(row.archived) else False
                rec.archived_at = props["hs_lastmodifieddate"] if rec.archived else None
                self.objects["deals"][rid] = rec
                if isinstance(row.lead_external_id, str) and row.lead_external_id in ids.leads:
                    self.links["deals"][rid] = [int(ids.leads[row.lead_external_id])]

            occurred = _iso_series(activities["occurred_at"])
            for i, row in enumerate(activities.itertuples(index=False)):
                obj = ENGAGEMENTS[row.kind]
                rid = self._new_id(obj)
                ids.activities[row.external_id] = str(rid)
                props = {
                    "hs_timestamp": occurred[i],
                    "hs_createdate": occurred[i],
                    "hs_lastmodifieddate": occurred[i],
                    "hs_object_id": str(rid),
                    "hubspot_owner_id": ids.owners.get(row.owner_external_id)
                    if isinstance(row.owner_external_id, str)
                    else None,
                }
                rec = Record(rid, props, occurred[i], occurred[i])
                rec.archived = bool(row.archived) if not pd.isna(row.archived) else False
                rec.archived_at = occurred[i] if rec.archived else None
                self.objects[obj][rid] = rec
                if isinstance(row.lead_external_id, str) and row.lead_external_id in ids.leads:
                    self.links[obj][rid] = [int(ids.leads[row.lead_external_id])]
            for obj in CRM_OBJECTS:
                self._prime(obj)
                self._changed(obj)
        return ids

    def _prime(self, obj: str) -> None:
        """Parse every record's last-modified date at once (searches filter on it)."""
        records = list(self.objects[obj].values())
        stamps = pd.to_datetime(
            pd.Series([r.properties.get(CURSOR[obj]) for r in records], dtype=object),
            format="ISO8601",
            utc=True,
            errors="coerce",
        )
        for record, stamp in zip(records, stamps, strict=True):
            record._sortable[CURSOR[obj]] = None if pd.isna(stamp) else float(stamp.value // 1_000_000)

    def _changed(self, obj: str) -> None:
        self._sorted.clear()
        self._cursor_index.pop(obj, None)

    def _candidates(self, obj: str, groups: list) -> list[Record]:
        """Records a search may match: by the cursor index when the only filter group bounds the
        last-modified date from below (the connector's incremental query), else all of them."""
        bounds = [
            f
            for f in (groups[0].get("filters", []) if len(groups) == 1 else [])
            if f.get("propertyName") == CURSOR[obj] and str(f.get("operator")).upper() in ("GT", "GTE")
        ]
        records = self.objects[obj]
        if not bounds or not isinstance(_comparable(bounds[0].get("value")), float):
            return [r for r in records.values() if not r.archived]
        if obj not in self._cursor_index:
            keyed = sorted(
                (r.value(CURSOR[obj]), r.id)
                for r in records.values()
                if not r.archived and isinstance(r.value(CURSOR[obj]), float)
            )
            self._cursor_index[obj] = ([k for k, _ in keyed], [i for _, i in keyed])
        values, ids = self._cursor_index[obj]
        start = bisect.bisect_left(values, _comparable(bounds[0].get("value")))
        return [records[i] for i in ids[start:]]

    # ------------------------------------------------------------------ request handling

    def handle(self, method: str, raw_path: str, headers, body: bytes) -> tuple[int, dict, dict]:
        """Answer one request: (status, headers, JSON body). Runs in the server's handler threads."""
        parts = urlsplit(raw_path)
        path = parts.path.rstrip("/") or "/"
        query = parse_qs(parts.query, keep_blank_values=True)
        payload = None
        if body:
            try:
                payload = json.loads(body)
            except ValueError:
                return 400, {}, _error("Invalid input JSON", "VALIDATION_ERROR")
        if path.startswith("/_fake/"):
            return self._control(method, path, payload)
        status, extra, answer = self._api(method, path, query, headers, payload)
        with self._lock:
            self.log.append(LoggedRequest(method, path, status, query, payload, time.monotonic()))
        return status, extra, answer

    def _api(self, method, path, query, headers, payload):
        pause, fault = self.delay, None
        with self._lock:
            if self._storm_seconds:
                self._storm_until, self._storm_seconds = time.monotonic() + self._storm_seconds, 0.0
            if time.monotonic() < self._storm_until:
                return self._rate_limited("TEN_SECONDLY_ROLLING", self._storm_retry_after)
            for candidate in self._faults:
                if candidate.count > 0 and candidate.matches(method, path):
                    candidate.count -= 1
                    fault = candidate
                    break
            self._faults = [f for f in self._faults if f.count > 0]
        if fault is not None and fault.seconds:
            pause += fault.seconds
        if pause:
            time.sleep(pause)
        hold = self.hold
        if hold is not None:  # a test holds the answer until it has seen what it waits for
            hold.wait(timeout=120)
        if fault is not None and fault.status is not None:
            return self._fault_answer(fault.status, fault.retry_after, fault.policy)
        if headers.get("Authorization") != f"Bearer {self.token}":
            return (
                401,
                {},
                _error(
                    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
                    "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                    "INVALID_AUTHENTICATION",
                ),
            )
        scope = self._scope(path)
        if scope in self.missing_scopes:
            return (
                403,
                {},
                {
                    "status": "error",
                    "message": "This app hasn't been granted all required scopes to make this call. Read more "
                    "about required scopes here: https://developers.hubspot.com/scopes.",
                    "correlationId": str(uuid.uuid4()),
                    "errors": [
                        {
                            "message": "One or more of the following scopes are required.",
                            "context": {"requiredGranularScopes": [scope]},
                        }
                    ],
                    "links": {"scopes": "https://developers.hubspot.com/scopes"},
                    "category": "MISSING_SCOPES",
                },
            )
        search = method == "POST" and path.endswith("/search")
        limited = self._count_request(search)
        if limited is not None:
            return limited
        return self._route(method, path, query, payload)

    def _scope(self, path: str) -> str | None:
        segments = path.strip("/").split("/")
        if segments[:2] == ["crm", "v3"] and len(segments) > 2:
            if segments[2] == "owners":
                return SCOPES["owners"]
            if segments[2] == "pipelines":
                return SCOPES["deals"]
            if segments[2] == "objects" and len(segments) > 3:
                return SCOPES.get(segments[3])
        if segments[:2] == ["crm", "v4"] and len(segments) > 3:
            return SCOPES.get(segments[3] if segments[2] == "associations" else segments[3])
        return None

    def _count_request(self, search: bool):
        now = time.monotonic()
        with self._lock:
            if search:
                while self._second and self._second[0] <= now - 1.0:
                    self._second.popleft()
                if len(self._second) >= self.search_per_second:
                    return self._rate_limited("SECONDLY", None)
                self._second.append(now)
                return None
            while self._window and self._window[0] <= now - self.window_seconds:
                self._window.popleft()
            if len(self._window) >= self.requests_per_window:
                return self._rate_limited("TEN_SECONDLY_ROLLING", None)
            self._window.append(now)
            return None

    def _rate_limited(self, policy: str, retry_after):
        message = {
            "TEN_SECONDLY_ROLLING": "You have reached your ten_secondly_rolling limit.",
            "SECONDLY": "You have reached your secondly limit.",
            "DAILY": "You have reached your daily limit.",
        }[policy]
        extra = {
            "X-HubSpot-RateLimit-Max": str(self.requests_per_window),
            "X-HubSpot-RateLimit-Remaining": "0",
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(self.window_seconds * 1000)),
        }
        if retry_after is not None:
            extra["Retry-After"] = f"{retry_after:g}"
        return (
            429,
            extra,
            {
                "status": "error",
                "message": message,
                "errorType": "RATE_LIMIT",
                "correlationId": str(uuid.uuid4()),
                "policyName": policy,
                "groupName": "accord-private-app",
            },
        )

    def _fault_answer(self, status: int, retry_after, policy: str):
        if status == 429:
            return self._rate_limited(policy, retry_after)
        if status == 0:
            return 0, {}, {}
        extra = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
        return (
            status,
            extra,
            {
                "status": "error",
                "message": f"fault injected: {status}",
                "correlationId": str(uuid.uuid4()),
                "category": "INTERNAL_ERROR",
            },
        )

    def _route(self, method, path, query, payload):
        seg = path.strip("/").split("/")
        if method == "GET" and seg == ["account-info", "v3", "details"]:
            return 200, {}, {"portalId": self.portal_id, "accountType": "STANDARD", "timeZone": "Europe/Berlin",
                             "companyCurrency": "EUR", "additionalCurrencies": [], "utcOffset": "+01:00",
                             "utcOffsetMilliseconds": 3600000, "uiDomain": self.ui_domain,
                             "dataHostingLocation": "eu1"}  # fmt: skip
        if method == "GET" and seg[:3] == ["crm", "v3", "owners"] and len(seg) == 3:
            return self._owners_page(query)
        if method == "GET" and seg[:3] == ["crm", "v3", "pipelines"] and len(seg) == 4:
            if seg[3] != "deals":
                return 404, {}, _error(f"Unable to infer object type from: {seg[3]}", "OBJECT_NOT_FOUND")
            with self._lock:
                return 200, {}, {"results": json.loads(json.dumps(self.pipelines))}
        if seg[:3] == ["crm", "v3", "objects"] and len(seg) >= 4:
            obj = seg[3]
            if obj not in self.objects:
                return 404, {}, _error(f"Unable to infer object type from: {obj}", "OBJECT_NOT_FOUND")
            if method == "GET" and len(seg) == 4:
                return self._list_page(obj, query)
            if method == "GET" and len(seg) == 5:
                return self._get_one(obj, seg[4], query)
            if method == "POST" and seg[4:] == ["search"]:
                return self._search(obj, payload or {})
            if method == "POST" and seg[4:] == ["batch", "read"]:
                return self._batch_read(obj, payload or {})
        if (
            method == "GET"
            and seg[:3] == ["crm", "v4", "objects"]
            and len(seg) == 7
            and seg[5] == "associations"
        ):
            return self._associations_of(seg[3], seg[4], seg[6], query)
        if method == "POST" and seg[:3] == ["crm", "v4", "associations"] and seg[5:] == ["batch", "read"]:
            return self._batch_associations(seg[3], seg[4], payload or {})
        return 404, {}, _error(f"No route for {method} {path}", "RESOURCE_NOT_FOUND")

    # ------------------------------------------------------------------ endpoints

    @staticmethod
    def _props(query: dict, obj: str) -> list[str]:
        asked = [p for value in query.get("properties", []) for p in value.split(",") if p]
        return asked or DEFAULT_PROPERTIES.get(obj, ["hs_createdate", "hs_lastmodifieddate", "hs_object_id"])

    def _ids(self, obj: str, archived: bool) -> list[int]:
        key = (obj, archived)
        if key not in self._sorted:
            self._sorted[key] = sorted(i for i, r in self.objects[obj].items() if r.archived == archived)
        return self._sorted[key]

    @staticmethod
    def _limit(query: dict, default: int, maximum: int):
        try:
            limit = int(query.get("limit", [default])[0])
        except ValueError:
            return None
        return limit if 1 <= limit <= maximum else None

    def _contact_links(self, obj: str, rid: int) -> dict | None:
        linked = self.links.get(obj, {}).get(rid)
        if not linked:
            return None
        kind = {"deals": "deal"}.get(obj, obj[:-1])
        return {"contacts": {"results": [{"id": str(c), "type": f"{kind}_to_contact"} for c in linked]}}

    def _list_page(self, obj: str, query: dict):
        history = [p for value in query.get("propertiesWithHistory", []) for p in value.split(",") if p]
        maximum = HISTORY_PAGE if history else 100
        limit = self._limit(query, 10, maximum)
        if limit is None:
            return 400, {}, _error(f"limit must be between 1 and {maximum}", "VALIDATION_ERROR")
        archived = query.get("archived", ["false"])[0].lower() == "true"
        props = self._props(query, obj)
        wants = {a for value in query.get("associations", []) for a in value.split(",")}
        with self._lock:
            ids = self._ids(obj, archived)
            after = query.get("after", [None])[0]
            start = bisect.bisect_left(ids, int(after)) if after else 0
            chosen = ids[start : start + limit]
            results = [
                self.objects[obj][i].as_json(
                    props, self._contact_links(obj, i) if "contacts" in wants else None, history
                )
                for i in chosen
            ]
            more = start + limit < len(ids)
            next_id = ids[start + limit] if more else None
        answer = {"results": results}
        if more:
            answer["paging"] = {"next": {"after": str(next_id), "link": f"?after={next_id}"}}
        return 200, {}, answer

    def _get_one(self, obj: str, rid: str, query: dict):
        with self._lock:
            rec = self.objects[obj].get(int(rid)) if rid.isdigit() else None
            if rec is None or rec.archived:
                return 404, {}, _error("Object not found. objectId are usually numeric.", "OBJECT_NOT_FOUND")
            return 200, {}, rec.as_json(self._props(query, obj))

    def _search(self, obj: str, body: dict):
        limit = body.get("limit", 10)
        if not isinstance(limit, int) or not 1 <= limit <= 200:
            return 400, {}, _error("limit must be between 1 and 200", "VALIDATION_ERROR")
        after = int(body.get("after") or 0)
        if after + limit > self.search_cap:
            return (
                400,
                {},
                _error(
                    f"There was a problem with the request. Paging past {self.search_cap} results is not supported.",
                    "VALIDATION_ERROR",
                ),
            )
        groups = body.get("filterGroups") or []
        props = body.get("properties") or DEFAULT_PROPERTIES.get(
            obj, ["hs_createdate", "hs_lastmodifieddate", "hs_object_id"]
        )
        sorts = body.get("sorts") or [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]
        sort = (
            sorts[0]
            if isinstance(sorts[0], dict)
            else {"propertyName": str(sorts[0]), "direction": "ASCENDING"}
        )
        with self._lock:
            matched = [
                r
                for r in self._candidates(obj, groups)
                if not groups or any(_matches(r, g.get("filters", [])) for g in groups)
            ]
            key = sort["propertyName"]
            matched.sort(
                key=lambda r: (r.value(key) is None, r.value(key) if r.value(key) is not None else 0, r.id),
                reverse=str(sort.get("direction", "ASCENDING")).upper().startswith("DESC"),
            )
            page = [r.as_json(props) for r in matched[after : after + limit]]
            total = len(matched)
        answer = {"total": total, "results": page}
        if after + limit < total:
            answer["paging"] = {"next": {"after": str(after + limit), "link": None}}
        return 200, {}, answer

    def _batch_read(self, obj: str, body: dict):
        inputs = body.get("inputs") or []
        history = body.get("propertiesWithHistory") or []
        maximum = HISTORY_PAGE if history else 100
        if len(inputs) > maximum:
            return 400, {}, _error(f"Batch input limit of {maximum} exceeded", "VALIDATION_ERROR")
        props = body.get("properties") or DEFAULT_PROPERTIES.get(obj, ["hs_object_id"])
        with self._lock:
            found = [self.objects[obj].get(int(i["id"])) for i in inputs if str(i.get("id", "")).isdigit()]
            results = [r.as_json(props, None, history) for r in found if r is not None and not r.archived]
        stamp = self._stamp()
        return 200, {}, {"status": "COMPLETE", "results": results, "startedAt": stamp, "completedAt": stamp}

    def _owners_page(self, query: dict):
        limit = self._limit(query, 100, 500)
        if limit is None:
            return 400, {}, _error("limit must be between 1 and 500", "VALIDATION_ERROR")
        archived = query.get("archived", ["false"])[0].lower() == "true"
        with self._lock:
            ids = sorted(i for i, o in self.owners.items() if o["archived"] == archived)
            after = query.get("after", [None])[0]
            start = bisect.bisect_left(ids, int(after)) if after else 0
            results = [dict(self.owners[i]) for i in ids[start : start + limit]]
            more = start + limit < len(ids)
            next_id = ids[start + limit] if more else None
        answer = {"results": results}
        if more:
            answer["paging"] = {"next": {"after": str(next_id), "link": f"?after={next_id}"}}
        return 200, {}, answer

    def _association_items(self, from_obj: str, rid: int, to_obj: str) -> list[dict]:
        if to_obj != "contacts" or from_obj not in self.links:
            return []
        type_id = {"deals": 3}.get(from_obj, 200)
        return [
            {
                "toObjectId": c,
                "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None}],
            }
            for c in self.links[from_obj].get(rid, [])
        ]

    def _associations_of(self, from_obj: str, rid: str, to_obj: str, query: dict):
        limit = self._limit(query, 500, 500)
        with self._lock:
            items = self._association_items(from_obj, int(rid), to_obj) if rid.isdigit() else []
        return 200, {}, {"results": items[: limit or 500]}

    def _batch_associations(self, from_obj: str, to_obj: str, body: dict):
        inputs = body.get("inputs") or []
        if len(inputs) > 100:
            return 400, {}, _error("Batch input limit of 100 exceeded", "VALIDATION_ERROR")
        results, errors = [], []
        with self._lock:
            for item in inputs:
                rid = str(item.get("id", ""))
                linked = self._association_items(from_obj, int(rid), to_obj) if rid.isdigit() else []
                if linked:
                    results.append({"from": {"id": rid}, "to": linked})
                else:
                    errors.append(
                        {
                            "status": "error",
                            "category": "OBJECT_NOT_FOUND",
                            "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                            "message": f"No {to_obj} is associated with {from_obj} {rid}.",
                            "context": {"fromObjectId": [rid]},
                        }
                    )
        stamp = self._stamp()
        answer = {"status": "COMPLETE", "results": results, "startedAt": stamp, "completedAt": stamp}
        if errors:
            answer.update(numErrors=len(errors), errors=errors)
        return (207 if errors else 200), {}, answer

    # ------------------------------------------------------------------ control (script mode)

    def _control(self, method: str, path: str, payload: dict | None):
        if path == "/_fake/stats":
            with self._lock:
                routes = Counter(f"{r.method} {_route_name(r.path)}" for r in self.log)
                return (
                    200,
                    {},
                    {
                        "requests": len(self.log),
                        "by_route": dict(routes),
                        "rate_limited": sum(1 for r in self.log if r.status == 429),
                    },
                )
        if path == "/_fake/reset" and method == "POST":
            with self._lock:
                self.log.clear()
            return 200, {}, {"ok": True}
        if path == "/_fake/change" and method == "POST":
            return 200, {}, self.change_share(**(payload or {}))
        return 404, {}, _error(f"no control endpoint {path}", "RESOURCE_NOT_FOUND")

    def change_share(self, share: float = 0.01, archive_share: float = 0.0, seed: int = 1) -> dict:
        """Modify ``share`` of the contacts and deals (and archive ``archive_share``), as a day of CRM work."""
        rng = random.Random(seed)
        counts = {}
        with self._lock:
            for obj in ("contacts", "deals"):
                ids = sorted(i for i, r in self.objects[obj].items() if not r.archived)
                changed = rng.sample(ids, max(1, int(len(ids) * share)))
                for rid in changed:
                    if obj == "contacts":
                        self.update(obj, rid, {"hs_lead_status": rng.choice(["CONNECTED", "IN_PROGRESS"])})
                    else:
                        self.update(obj, rid, {"amount": str(rng.randint(1_000, 90_000))})
                archived = rng.sample(ids, int(len(ids) * archive_share))
                for rid in archived:
                    self.archive(obj, rid)
                counts[obj] = {"changed": len(changed), "archived": len(archived)}
        return counts


def _route_name(path: str) -> str:
    seg = path.strip("/").split("/")
    return "/".join("{id}" if s.isdigit() else s for s in seg)


def _matches(record: Record, filters: list[dict]) -> bool:
    for f in filters:
        name, op = f.get("propertyName"), str(f.get("operator", "EQ")).upper()
        value = record.value(name)
        if op == "HAS_PROPERTY":
            ok = value is not None
        elif op == "NOT_HAS_PROPERTY":
            ok = value is None
        elif op in ("IN", "NOT_IN"):
            options = {_comparable(v) for v in f.get("values", [])}
            ok = (value in options) == (op == "IN")
        elif value is None:
            ok = op == "NEQ"
        else:
            target = _comparable(f.get("value"))
            if type(target) is not type(value):
                value, target = str(record.properties.get(name)), str(f.get("value"))
            if op == "BETWEEN":
                high = _comparable(f.get("highValue"))
                ok = target <= value <= high
            else:
                ok = {
                    "EQ": value == target,
                    "NEQ": value != target,
                    "LT": value < target,
                    "LTE": value <= target,
                    "GT": value > target,
                    "GTE": value >= target,
                }.get(op, False)
        if not ok:
            return False
    return True


def _error(message: str, category: str) -> dict:
    return {"status": "error", "message": message, "correlationId": str(uuid.uuid4()), "category": category}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: FakeHubSpot

    def handle_error(self, request, client_address):
        # A client killed mid-request (the kill -9 test) resets its connection: not the server's problem.
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, *args) -> None:  # quiet: tests print what matters
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, extra, answer = self.server.fake.handle(self.command, self.path, self.headers, body)
        if status == 0:  # injected dropped connection
            self.close_connection = True
            self.connection.shutdown(2)
            return
        data = json.dumps(answer, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = _serve
    do_POST = _serve


# ---------------------------------------------------------------------- script mode (benchmark)


def seeded_frames(leads: int, deals: int | None = None, seed: int = 7, today: dt.date | None = None) -> dict:
    """Demo frames with ``leads`` leads and, when ``deals`` is larger than the demo makes, extra deals
    (copies of existing ones under new external ids) up to ``deals``."""
    from connectors.demo import generate

    frames = generate(leads=leads, seed=seed, today=today or dt.date(2026, 6, 30))
    if deals is not None and deals > len(frames["deals"]):
        base = frames["deals"]
        extra = base.sample(n=deals - len(base), replace=True, random_state=seed).reset_index(drop=True)
        extra["external_id"] = [f"deal-x-{i:07d}" for i in range(len(extra))]
        frames["deals"] = pd.concat([base, extra], ignore_index=True)
    return frames


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve a seeded fake HubSpot until killed.")
    parser.add_argument("--leads", type=int, default=1_000)
    parser.add_argument("--deals", type=int, default=None)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--token", default="pat-na1-fake-0000-token")
    parser.add_argument("--requests-per-window", type=int, default=190)
    parser.add_argument("--window", type=float, default=10.0)
    args = parser.parse_args(argv)
    fake = FakeHubSpot(args.token, requests_per_window=args.requests_per_window, window_seconds=args.window)
    started = time.monotonic()
    frames = seeded_frames(args.leads, args.deals, args.seed)
    fake.seed(frames)
    url = fake.start()
    counts = {obj: fake.count(obj) for obj in CRM_OBJECTS}
    print(
        json.dumps({"url": url, "seconds": round(time.monotonic() - started, 1), "records": counts}),
        flush=True,
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
    sys.exit(main())


# ---------------------------------------------------------------------- what a faithful sync yields


def expected_canonical(frames: dict[str, pd.DataFrame], ids: SeedMap) -> dict[str, pd.DataFrame]:
    """The canonical rows a correct sync of a server seeded with ``frames`` must store (ids as HubSpot's).

    Columns are the connector-input columns plus ``team`` (resolved through the
    owner), sorted by external id; timestamps are cut to HubSpot's milliseconds.
    """
    from analytics.schema import input_columns

    def remap(series: pd.Series, mapping: dict[str, str]) -> pd.Series:
        return series.map(lambda v: mapping.get(v) if isinstance(v, str) else None).astype("str")

    out = {}
    for table, key in (
        ("owners", ids.owners),
        ("leads", ids.leads),
        ("deals", ids.deals),
        ("activities", ids.activities),
    ):
        frame = frames[table].copy()
        frame["source"] = "hubspot"
        frame["external_id"] = remap(frame["external_id"], key)
        if "owner_external_id" in frame:
            frame["owner_external_id"] = remap(frame["owner_external_id"], ids.owners)
        if "lead_external_id" in frame:
            frame["lead_external_id"] = remap(frame["lead_external_id"], ids.leads)
        columns = input_columns(table) + (["team"] if table in ("leads", "deals") else [])
        frame = frame[columns]
        for name in frame.columns:
            if isinstance(frame[name].dtype, pd.DatetimeTZDtype):
                frame[name] = frame[name].dt.floor("ms")
        out[table] = frame.sort_values("external_id").reset_index(drop=True)
    return out
