"""A local Salesforce over HTTPS, speaking the wire format simple-salesforce and the connector use.

``FakeSalesforce`` holds an org in memory (User, Lead, LeadHistory, Opportunity,
Task, Event) and serves, on ``https://127.0.0.1:<port>`` with a certificate
from a ``trustme`` CA (trusted by the client through ``REQUESTS_CA_BUNDLE``):

- ``POST /services/oauth2/token``: OAuth 2.0 client credentials; a wrong client
  id or secret gets ``invalid_client``; the answer names the ``instance_url``
  (this same server);
- ``GET .../query/?q=`` and ``.../queryAll/?q=``: a small SOQL subset (``SELECT
  fields FROM object [WHERE a AND b ...] [ORDER BY f1, f2]``, conditions
  ``=``, ``>=``, ``<=``, ``IN (...)``), paged by ``nextRecordsUrl``;
  ``query`` leaves deleted records out, ``queryAll`` keeps them (``IsDeleted``);
- Bulk API 2.0 query jobs: create (``POST .../jobs/query``), poll, and CSV
  results paged by ``Sforce-Locator``;
- ``GET .../sobjects/{object}/describe/`` (so a missing field can be detected),
  ``.../sobjects/{object}/deleted/?start=&end=``, ``.../limits/``;
- errors as Salesforce sends them: ``INVALID_SESSION_ID`` (401; tokens can be
  expired mid-run), ``REQUEST_LIMIT_EXCEEDED`` (403, when the daily API
  requests run out), ``API_DISABLED_FOR_ORG``, ``INVALID_FIELD``.

Every API request (not the token endpoint) counts against ``daily_max``.
Record changes take their ``SystemModstamp`` from ``clock`` (set by tests).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import json
import random
import re
import secrets
import ssl
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

OBJECT_FIELDS: dict[str, list[str]] = {
    "User": ["Id", "Name", "Email", "IsActive", "Department", "SystemModstamp"],
    "Lead": [
        "Id", "CreatedDate", "OwnerId", "Status", "LeadSource", "IsConverted", "ConvertedDate",
        "ConvertedOpportunityId", "ConvertedContactId", "IsDeleted", "SystemModstamp", "MQL_Date__c",
        "Rejection_Reason__c", "FirstName", "LastName", "Company", "Email",
    ],
    "LeadHistory": ["Id", "LeadId", "Field", "OldValue", "NewValue", "CreatedDate", "IsDeleted"],
    "Opportunity": [
        "Id", "Name", "CreatedDate", "CloseDate", "Amount", "StageName", "IsClosed", "IsWon", "OwnerId",
        "LeadSource", "IsDeleted", "SystemModstamp",
    ],
    "Task": ["Id", "WhoId", "OwnerId", "TaskSubtype", "CreatedDate", "CompletedDateTime", "IsDeleted",
             "SystemModstamp"],
    "Event": ["Id", "WhoId", "OwnerId", "StartDateTime", "CreatedDate", "IsDeleted", "SystemModstamp"],
    "CampaignMember": ["Id", "LeadId", "CreatedDate", "Campaign.Name", "IsDeleted"],  # Campaign.Name: a lookup
}  # fmt: skip
PREFIX = {"User": "005", "Lead": "00Q", "LeadHistory": "017", "Opportunity": "006", "Task": "00T",
          "Event": "00U", "Contact": "003", "CampaignMember": "00v"}  # fmt: skip
DATE_FIELDS = {"ConvertedDate", "CloseDate"}
_STATEMENT = re.compile(r"^SELECT (.+?) FROM (\w+)(?: WHERE (.+?))?(?: ORDER BY (.+))?$", re.S)
_CONDITION = re.compile(r"^(\w+) (>=|<=|=|IN) (.+)$", re.S)


def fictitious_person(n: int) -> dict:
    """The n-th seeded lead's FirstName, LastName, Company and Email (made up, at reserved .example domains).

    Every seventh has no first name (Salesforce requires only LastName and Company)."""
    first = None if n % 7 == 3 else ["Ada", "Bo", "Cleo", "Dev", "Eli"][n % 5]
    return {"FirstName": first, "LastName": f"Tester{n}", "Company": f"Company {n % 11}",
            "Email": f"lead{n}@company{n % 11}.example"}  # fmt: skip


def sf_id(obj: str, n: int) -> str:
    """An 18-character id with the object's key prefix."""
    return f"{PREFIX[obj]}{n:012d}AAA"


def rest_value(value):
    """A stored value as Salesforce's REST JSON sends it."""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def csv_value(value) -> str:
    """A stored value as a Bulk API 2.0 CSV cell (empty for null)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _nested(row: dict) -> dict:
    """Relationship fields as REST sends them: ``Campaign.Name`` becomes ``{"Campaign": {"Name": ...}}``."""
    out: dict = {}
    for name, value in row.items():
        if "." in name:
            parent, child = name.split(".", 1)
            if out.get(parent, {}) is not None:
                out.setdefault(parent, {"attributes": {"type": parent}})[child] = value
        else:
            out[name] = value
    return out


def _literal(text: str):
    text = text.strip()
    if text.startswith("'"):
        return text[1:-1].replace("\\'", "'").replace("\\\\", "\\")
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    if re.match(r"^\d{4}-\d\d-\d\dT", text):
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    raise ValueError(text)


class _Error(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class FakeSalesforce:
    """An org in memory behind an HTTPS server; see the module docstring."""

    def __init__(
        self, ca, client_id: str, client_secret: str, daily_max: int = 100_000, version: str = "62.0"
    ):
        self.ca = ca
        self.client_id, self.client_secret = client_id, client_secret
        self.version = version
        self.daily_max = daily_max
        self.used = 0  # API requests counted against daily_max
        self.clock = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)
        self.page_size = 2_000  # REST query batch size
        self.bulk_page_cap: int | None = None  # Bulk results pages at most this big, whatever maxRecords says
        self.delay = 0.0  # seconds every API answer takes (drills use it to kill mid-run)
        self.api_enabled = True
        self.fields = {obj: list(names) for obj, names in OBJECT_FIELDS.items()}
        self.records: dict[str, dict[str, dict]] = {obj: {} for obj in OBJECT_FIELDS}
        self.deleted_log: dict[str, list[tuple[str, dt.datetime]]] = {obj: [] for obj in OBJECT_FIELDS}
        self.tokens: set[str] = set()
        self.issued: list[str] = []  # every access token handed out
        self.expire_at_request: int | None = None  # invalidate every token when this request count is reached
        self.log: list[tuple[str, str]] = []  # (method, path) of every request
        self._cursors: dict[str, tuple[list[dict], list[str], int]] = {}
        self._jobs: dict[str, dict] = {}
        self._numbers = {obj: itertools.count(1) for obj in PREFIX}
        self._lock = threading.RLock()
        self._version = 0  # bumped by every change: the lookup index is rebuilt after one
        self._indexes: dict[tuple[str, str], tuple] = {}
        self._server: ThreadingHTTPServer | None = None

    # ------------------------------------------------------------------ server

    def start(self) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, payload = fake.handle(method, self.path, self.headers, body)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):  # noqa: N802
                self._serve("GET")

            def do_POST(self):  # noqa: N802
                self._serve("POST")

            def do_PATCH(self):  # noqa: N802
                self._serve("PATCH")

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self.base_url

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # ------------------------------------------------------------------ the org

    def new_id(self, obj: str) -> str:
        return sf_id(obj, next(self._numbers[obj]))

    def add(self, obj: str, values: dict, at: dt.datetime | None = None) -> str:
        """Insert a record (missing fields null, IsDeleted false); returns its id."""
        with self._lock:
            at = at or self.clock
            record = dict.fromkeys(OBJECT_FIELDS[obj])
            defaults = {"IsDeleted": False, "SystemModstamp": at, "CreatedDate": at}
            record.update({k: v for k, v in defaults.items() if k in record} | values)
            record["Id"] = record.get("Id") or self.new_id(obj)
            self.records[obj][record["Id"]] = record
            self._version += 1
            return record["Id"]

    def update(self, obj: str, record_id: str, values: dict, at: dt.datetime | None = None) -> None:
        """Change a record; a Lead's Status change writes a LeadHistory row, as field history tracking does."""
        with self._lock:
            at = at or self.clock
            record = self.records[obj][record_id]
            if obj == "Lead" and "Status" in values and values["Status"] != record["Status"]:
                self.add(
                    "LeadHistory",
                    {"LeadId": record_id, "Field": "Status", "OldValue": record["Status"],
                     "NewValue": values["Status"], "CreatedDate": at},
                )  # fmt: skip
            record.update(values)
            record["SystemModstamp"] = at
            self._version += 1

    def delete(self, obj: str, record_id: str, at: dt.datetime | None = None, purge: bool = False) -> None:
        """Delete a record: into the recycle bin (IsDeleted, queryAll still sees it) or purged outright."""
        with self._lock:
            at = at or self.clock
            if purge:
                self.records[obj].pop(record_id)
            else:
                self.records[obj][record_id].update({"IsDeleted": True, "SystemModstamp": at})
            self.deleted_log[obj].append((record_id, at))
            self._version += 1

    def remove_field(self, obj: str, name: str) -> None:
        """The org has no such field: describe leaves it out and a query naming it is refused."""
        self.fields[obj].remove(name)

    def expire_tokens(self) -> None:
        with self._lock:
            self.tokens.clear()

    def seed(self, leads: int, opportunities: int, users: int = 12, seed: int = 7) -> None:
        """A random but reproducible org: users, leads with Status history, opportunities, tasks, events."""
        rng = random.Random(seed)
        start = self.clock - dt.timedelta(days=120)
        teams = ["EMEA", "NA", "APAC", None]
        owners = [
            self.add("User", {"Name": f"Rep {i}", "Email": f"rep{i}@example.com", "IsActive": i % 7 != 0,
                              "Department": teams[i % 4], "SystemModstamp": start})
            for i in range(users)
        ]  # fmt: skip
        sources = ["Web", "Partner Referral", "Advertisement", "Trade Show", None]
        statuses = ["Open - Not Contacted", "Marketing Qualified", "Working - Contacted", "Qualified",
                    "Unqualified", "Closed - Not Converted"]  # fmt: skip
        lead_ids = []
        for _ in range(leads):
            created = start + dt.timedelta(
                minutes=rng.randrange(0, 150_000), milliseconds=rng.randrange(1000)
            )
            lead = self.add(
                "Lead",
                {"OwnerId": rng.choice(owners), "Status": "Open - Not Contacted", "LeadSource": rng.choice(sources),
                 "IsConverted": False, "CreatedDate": created, "SystemModstamp": created,
                 **fictitious_person(len(lead_ids))},
            )  # fmt: skip
            lead_ids.append(lead)
            final = rng.choice(statuses)
            at = created
            for status in statuses[1 : statuses.index(final) + 1][:3] if final != statuses[0] else []:
                at = at + dt.timedelta(hours=rng.randrange(1, 72))
                if status == "Marketing Qualified":
                    self.records["Lead"][lead]["MQL_Date__c"] = at
                self.update("Lead", lead, {"Status": status}, at=at)
            if final in ("Unqualified", "Closed - Not Converted"):
                self.update("Lead", lead, {"Status": final, "Rejection_Reason__c": "No budget"}, at=at)
        converted = rng.sample(lead_ids, min(opportunities // 2, len(lead_ids)))
        for i in range(opportunities):
            created = start + dt.timedelta(minutes=rng.randrange(0, 150_000))
            closed = rng.random() < 0.4
            opp = self.add(
                "Opportunity",
                {"Name": f"Deal {i}", "Amount": None if i % 9 == 0 else float(rng.randrange(1, 90)) * 1000,
                 "StageName": ("Closed Won" if rng.random() < 0.5 else "Closed Lost") if closed else "Prospecting",
                 "IsClosed": closed, "OwnerId": rng.choice(owners), "LeadSource": rng.choice(sources),
                 "CloseDate": (created + dt.timedelta(days=30)).date(), "CreatedDate": created,
                 "SystemModstamp": created},
            )  # fmt: skip
            record = self.records["Opportunity"][opp]
            record["IsWon"] = record["StageName"] == "Closed Won"
            if i < len(converted):
                lead = self.records["Lead"][converted[i]]
                contact = self.new_id("Contact")
                lead.update({"IsConverted": True, "ConvertedDate": created.date(), "ConvertedOpportunityId": opp,
                             "ConvertedContactId": contact, "Status": "Qualified",
                             "SystemModstamp": max(lead["SystemModstamp"], created)})  # fmt: skip
                self.add("Task", {"WhoId": contact, "OwnerId": record["OwnerId"], "TaskSubtype": "Email",
                                  "CreatedDate": created, "SystemModstamp": created})  # fmt: skip
        campaigns = ["Spring Webinar", "Pricing Ebook", "Trade Show Berlin"]
        for lead in rng.sample(lead_ids, len(lead_ids) // 3):
            joined = self.records["Lead"][lead]["CreatedDate"]
            for _ in range(rng.randrange(1, 3)):
                self.add(
                    "CampaignMember",
                    {"LeadId": lead, "Campaign.Name": rng.choice(campaigns), "CreatedDate": joined},
                )
                joined += dt.timedelta(days=rng.randrange(1, 9))
        for lead in rng.sample(lead_ids, len(lead_ids) // 2):
            at = self.records["Lead"][lead]["CreatedDate"] + dt.timedelta(hours=rng.randrange(1, 48))
            self.add("Task", {"WhoId": lead, "OwnerId": rng.choice(owners), "TaskSubtype": rng.choice(["Call", "Task"]),
                              "CompletedDateTime": at, "CreatedDate": at, "SystemModstamp": at})  # fmt: skip
            if rng.random() < 0.3:
                self.add("Event", {"WhoId": lead, "OwnerId": rng.choice(owners), "StartDateTime": at,
                                   "CreatedDate": at, "SystemModstamp": at})  # fmt: skip

    # ------------------------------------------------------------------ HTTP

    def handle(self, method: str, raw_path: str, headers, body: bytes):
        parsed = urllib.parse.urlsplit(raw_path)
        query = dict(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True))
        path = parsed.path
        with self._lock:
            self.log.append((method, path))
        try:
            if path == "/services/oauth2/token" and method == "POST":
                return self._token(dict(urllib.parse.parse_qsl(body.decode())))
            prefix = f"/services/data/v{self.version}/"
            if not path.startswith(prefix):
                raise _Error(404, "NOT_FOUND", f"The requested resource does not exist: {path}")
            self._authorize(headers)
            if self.delay:
                time.sleep(self.delay)
            return self._api(method, path[len(prefix) :].rstrip("/"), query, body)
        except _Error as exc:
            if exc.status == 400 and exc.code in ("invalid_client", "invalid_grant", "invalid_client_id"):
                return (
                    exc.status,
                    {"Content-Type": "application/json"},
                    {"error": exc.code, "error_description": exc.message},
                )
            return (
                exc.status,
                {"Content-Type": "application/json"},
                [{"message": exc.message, "errorCode": exc.code}],
            )

    def _token(self, form: dict):
        if form.get("grant_type") != "client_credentials":
            raise _Error(400, "invalid_grant", "unsupported grant type")
        if form.get("client_id") != self.client_id:
            raise _Error(400, "invalid_client_id", "client identifier invalid")
        if form.get("client_secret") != self.client_secret:
            raise _Error(400, "invalid_client", "invalid client credentials")
        token = "00D000000000001!" + secrets.token_urlsafe(40)
        with self._lock:
            self.tokens.add(token)
            self.issued.append(token)
        answer = {"access_token": token, "instance_url": self.base_url, "id": f"{self.base_url}/id/00D/005",
                  "token_type": "Bearer", "issued_at": "1780300800000", "signature": "x"}  # fmt: skip
        return 200, {"Content-Type": "application/json"}, answer

    def _authorize(self, headers) -> None:
        with self._lock:
            self.used += 1
            if self.expire_at_request is not None and self.used >= self.expire_at_request:
                self.tokens.clear()
                self.expire_at_request = None
            token = (headers.get("Authorization") or "").removeprefix("Bearer ").strip()
            if token not in self.tokens:
                raise _Error(401, "INVALID_SESSION_ID", "Session expired or invalid")
            if not self.api_enabled:
                raise _Error(
                    403, "API_DISABLED_FOR_ORG", "API is not enabled for this Organization or Partner"
                )
            if self.used > self.daily_max:
                raise _Error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")

    def _api(self, method: str, path: str, query: dict, body: bytes):
        json_headers = {"Content-Type": "application/json"}
        parts = path.split("/")
        if path == "limits":
            remaining = max(self.daily_max - self.used, 0)
            return 200, json_headers, {"DailyApiRequests": {"Max": self.daily_max, "Remaining": remaining}}
        if parts[0] in ("query", "queryAll") and len(parts) == 1:
            return 200, json_headers, self._query(query.get("q", ""), include_deleted=parts[0] == "queryAll")
        if parts[0] in ("query", "queryAll") and len(parts) == 2:
            return 200, json_headers, self._more(parts[0], parts[1])
        if parts[0] == "sobjects" and len(parts) == 3 and parts[2] == "describe":
            obj = self._object(parts[1])
            return 200, json_headers, {"name": obj, "fields": [{"name": f} for f in self.fields[obj]]}
        if parts[0] == "sobjects" and len(parts) == 3 and parts[2] == "deleted":
            return 200, json_headers, self._deleted(self._object(parts[1]), query)
        if parts[:2] == ["jobs", "query"]:
            return self._bulk(method, parts[2:], query, body)
        raise _Error(404, "NOT_FOUND", f"The requested resource does not exist: {path}")

    def _object(self, name: str) -> str:
        if name not in self.records:
            raise _Error(400, "INVALID_TYPE", f"sObject type '{name}' is not supported.")
        return name

    # ------------------------------------------------------------------ SOQL

    def select(self, soql: str, include_deleted: bool) -> tuple[list[dict], list[str]]:
        """The records a SOQL statement selects (copies of the chosen fields) and the field names."""
        match = _STATEMENT.match(" ".join(soql.split()))
        if not match:
            raise _Error(400, "MALFORMED_QUERY", f"unexpected query: {soql[:80]}")
        names = [n.strip() for n in match.group(1).split(",")]
        obj = self._object(match.group(2))
        for name in names:
            if name not in self.fields[obj]:
                raise _Error(400, "INVALID_FIELD", f"No such column '{name}' on entity '{obj}'.")
        tests = []
        for condition in (match.group(3) or "").split(" AND ") if match.group(3) else []:
            found = _CONDITION.match(condition.strip())
            if not found or found.group(1) not in self.fields[obj]:
                raise _Error(400, "MALFORMED_QUERY", f"unexpected condition: {condition[:80]}")
            name, op, raw = found.groups()
            if op == "IN":
                wanted = {_literal(v) for v in re.findall(r"'(?:[^'\\]|\\.)*'", raw)}
                tests.append(lambda r, n=name, w=wanted: r.get(n) in w)
                continue
            value = _literal(raw)
            if op == "=":
                tests.append(lambda r, n=name, v=value: r.get(n) == v)
            elif op == ">=":
                tests.append(lambda r, n=name, v=value: r.get(n) is not None and r[n] >= v)
            else:
                tests.append(lambda r, n=name, v=value: r.get(n) is not None and r[n] <= v)
        with self._lock:
            candidates = self._indexed(obj, match.group(3) or "")
            rows = [
                r
                for r in (self.records[obj].values() if candidates is None else candidates)
                if (include_deleted or not r.get("IsDeleted")) and all(t(r) for t in tests)
            ]
        if match.group(4):
            keys = [k.strip() for k in match.group(4).split(",")]
            rows.sort(key=lambda r: tuple((r.get(k) is None, r.get(k) or 0) for k in keys))
        return [{n: r.get(n) for n in names} | {"_type": obj} for r in rows], names

    def _indexed(self, obj: str, where: str) -> list[dict] | None:
        """The records an ``Id-like IN (...)`` condition can match, from an index (as Salesforce's own
        indexes on ids and lookups answer them), or None to scan everything."""
        found = re.search(r"\b(Id|LeadId|ConvertedOpportunityId|ConvertedContactId) IN \(([^)]*)\)", where)
        if not found:
            return None
        name = found.group(1)
        version, index = self._indexes.get((obj, name), (None, None))
        if version != (self._version, len(self.records[obj])):
            index = {}
            for record in self.records[obj].values():
                index.setdefault(record.get(name), []).append(record)
            self._indexes[(obj, name)] = ((self._version, len(self.records[obj])), index)
        wanted = [_literal(v) for v in re.findall(r"'(?:[^'\\]|\\.)*'", found.group(2))]
        return [r for value in dict.fromkeys(wanted) for r in index.get(value, [])]

    def _query(self, soql: str, include_deleted: bool) -> dict:
        rows, names = self.select(soql, include_deleted)
        return self._page("queryAll" if include_deleted else "query", rows, names, 0)

    def _page(self, endpoint: str, rows: list[dict], names: list[str], offset: int) -> dict:
        chunk = rows[offset : offset + self.page_size]
        answer = {
            "totalSize": len(rows),
            "done": offset + self.page_size >= len(rows),
            "records": [
                {"attributes": {"type": r["_type"], "url": f"/services/data/v{self.version}/sobjects/{r['_type']}/{r.get('Id')}"}}
                | _nested({n: rest_value(r[n]) for n in names})
                for r in chunk
            ],
        }  # fmt: skip
        if not answer["done"]:
            cursor = f"01g{secrets.token_hex(6)}"
            with self._lock:
                self._cursors[cursor] = (rows, names, offset + self.page_size)
            answer["nextRecordsUrl"] = (
                f"/services/data/v{self.version}/{endpoint}/{cursor}-{offset + self.page_size}"
            )
        return answer

    def _more(self, endpoint: str, locator: str) -> dict:
        cursor = locator.split("-")[0]
        with self._lock:
            saved = self._cursors.pop(cursor, None)
        if saved is None:
            raise _Error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        rows, names, offset = saved
        return self._page(endpoint, rows, names, offset)

    def _deleted(self, obj: str, query: dict) -> dict:
        start = dt.datetime.fromisoformat(query["start"].replace("Z", "+00:00"))
        end = dt.datetime.fromisoformat(query["end"].replace("Z", "+00:00"))
        if start < self.clock - dt.timedelta(days=30):
            raise _Error(400, "INVALID_REPLICATION_DATE", "startDate cannot be more than 30 days ago")
        found = [(i, at) for i, at in self.deleted_log[obj] if start <= at <= end]
        return {
            "deletedRecords": [{"id": i, "deletedDate": rest_value(at)} for i, at in found],
            "earliestDateAvailable": rest_value(self.clock - dt.timedelta(days=30)),
            "latestDateCovered": rest_value(end),
        }

    # ------------------------------------------------------------------ Bulk API 2.0

    def _bulk(self, method: str, rest: list[str], query: dict, body: bytes):
        json_headers = {"Content-Type": "application/json"}
        if method == "POST" and not rest:
            spec = json.loads(body)
            if spec.get("operation") not in ("query", "queryAll"):
                raise _Error(400, "INVALIDJOB", "operation must be query or queryAll")
            rows, names = self.select(spec["query"], include_deleted=spec["operation"] == "queryAll")
            job = f"750{secrets.token_hex(7)}"
            with self._lock:
                self._jobs[job] = {"rows": rows, "names": names, "polls": 0, "pages": {}}
            return 200, json_headers, {"id": job, "operation": spec["operation"], "state": "UploadComplete"}
        job = self._jobs.get(rest[0]) if rest else None
        if job is None:
            raise _Error(404, "NOT_FOUND", "The requested resource does not exist")
        if len(rest) == 1:
            job["polls"] += 1
            state = "InProgress" if job["polls"] < 2 else "JobComplete"
            return (
                200,
                json_headers,
                {"id": rest[0], "state": state, "numberRecordsProcessed": len(job["rows"])},
            )
        if rest[1] == "results":
            offset = int(query.get("locator") or 0)
            size = int(query.get("maxRecords") or 50_000)
            size = min(size, self.bulk_page_cap or size)
            chunk = job["rows"][offset : offset + size]
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(job["names"])
            for r in chunk:
                writer.writerow([csv_value(r[n]) for n in job["names"]])
            following = offset + size
            headers = {
                "Content-Type": "text/csv",
                "Sforce-Locator": str(following) if following < len(job["rows"]) else "null",
                "Sforce-NumberOfRecords": str(len(chunk)),
            }
            return 200, headers, out.getvalue().encode()
        raise _Error(404, "NOT_FOUND", "The requested resource does not exist")


# ----------------------------------------------------------------------------- standalone (bench/bench_salesforce.py)


def serve(argv: list[str] | None = None) -> None:
    """Run a seeded org in this process: prints {"url", "ca"} as one JSON line, then obeys stdin.

    Commands, one a line: ``change <share>`` (that share of leads and opportunities changes an hour
    later), ``used`` (API requests so far), ``quit``. Every answer is one JSON line.
    """
    import argparse
    import sys
    import tempfile

    import trustme

    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--opportunities", type=int, default=1_500)
    args = parser.parse_args(argv)
    ca = trustme.CA()
    folder = tempfile.mkdtemp(prefix="fake-salesforce-")
    bundle = f"{folder}/ca.pem"
    ca.cert_pem.write_to_path(bundle)
    fake = FakeSalesforce(ca, "bench-client", "bench-secret-0123456789", daily_max=10_000_000)
    fake.clock = fake.clock.replace(year=2020)
    fake.seed(leads=args.leads, opportunities=args.opportunities)
    fake.start()
    print(json.dumps({"url": fake.base_url, "ca": bundle}), flush=True)
    rng = random.Random(11)
    for line in sys.stdin:
        command = line.split()
        if not command or command[0] == "quit":
            break
        if command[0] == "change":
            share = float(command[1])
            fake.clock = dt.datetime.now(dt.UTC)  # the sync's cursor comes from the real clock here
            changed = 0
            for obj, field, value in (
                ("Lead", "LeadSource", "Webinar"),
                ("Opportunity", "StageName", "Negotiation"),
            ):
                ids = list(fake.records[obj])
                for record_id in rng.sample(ids, int(len(ids) * share)):
                    fake.update(obj, record_id, {field: value})
                    changed += 1
            print(json.dumps({"changed": changed}), flush=True)
        elif command[0] == "used":
            print(json.dumps({"used": fake.used}), flush=True)
    fake.stop()


if __name__ == "__main__":
    serve()
