"""What the Salesforce connector reads, and how: objects, fields, cursor, page sizes, configuration.

Constants name the objects, the fields asked for and the cursor field;
:class:`SalesforceConfig` bundles what one sync uses (login URL, client id and
secret, API version, which fields and statuses carry the SLA's facts). The
credentials are passed in explicitly; :meth:`SalesforceConfig.from_settings` is
the one place that reads them from Accord's settings.

>>> config = SalesforceConfig(login_url="https://acme.my.salesforce.com", client_id="3MVG9",
...                           client_secret="0123456789ABCDEF0123")
>>> "0123456789" in repr(config)
False
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import settings as accord_settings

CONNECTOR = "salesforce"  # sync_state / sync_runs connector name
SOURCE = "salesforce"  # the canonical rows' source
DEFAULT_API_VERSION = "62.0"

CURSOR_FIELD = "SystemModstamp"  # changes on every edit, including system ones and deletes
LOOKBACK_SECONDS = 300.0  # re-read the last 5 minutes: long transactions commit with an earlier stamp
QUERY_PAGE_SIZE = 2_000  # REST query: Salesforce's batch size (the server decides; 2,000 at most)
BULK_PAGE_SIZE = 50_000  # Bulk API 2.0 query results: maxRecords per results page
IDS_PER_QUERY = 300  # ids in one "WHERE x IN (...)" query (a GET URL stays well under 16 KB)
DELETED_DAYS = 29  # the deleted endpoint answers for the last 30 days only
BULK_POLL_SECONDS = 0.5  # first wait between Bulk job polls; grows to 5 s
LIMIT_RESERVE_SHARE = 0.10  # stop when less than 10% of the org's daily API requests are left...
LIMIT_RESERVE_MIN = 200  # ...or fewer than this many, whichever is more: other integrations need some
LIMIT_CHECK_EVERY = 200  # read /limits again every this many requests (other integrations use it too)
MAX_ATTEMPTS = 4  # per request, for 5xx answers and dropped connections
REQUEST_TIMEOUT = (10.0, 120.0)  # (connect, read) seconds

# The objects synced, in order (owners first, leads before the deals and activities linking to them).
OBJECTS: tuple[str, ...] = ("User", "Lead", "Opportunity", "Task", "Event")
# Large objects: a full load reads them through Bulk API 2.0 query jobs; the rest through REST queryAll.
BULK_OBJECTS: frozenset[str] = frozenset({"Lead", "Opportunity", "Task", "Event"})
# Canonical table each object becomes.
TABLE: dict[str, str] = {
    "User": "owners",
    "Lead": "leads",
    "Opportunity": "deals",
    "Task": "activities",
    "Event": "activities",
}
# Standard fields asked for (the configured ones are added by :func:`fields_for`).
USER_FIELDS = ["Id", "Name", "Email", "IsActive", "SystemModstamp"]
LEAD_FIELDS = [
    "Id",
    "CreatedDate",
    "OwnerId",
    "Status",
    "LeadSource",
    "IsConverted",
    "ConvertedDate",
    "ConvertedOpportunityId",
    "ConvertedContactId",
    "IsDeleted",
    "SystemModstamp",
    # Who the lead is, for the records behind a figure (standard fields of every org).
    "FirstName",
    "LastName",
    "Company",
    "Email",
]
OPPORTUNITY_FIELDS = [
    "Id",
    "Name",
    "CreatedDate",
    "CloseDate",
    "Amount",
    "StageName",
    "IsClosed",
    "IsWon",
    "OwnerId",
    "LeadSource",
    "IsDeleted",
    "SystemModstamp",
]
TASK_FIELDS = [
    "Id",
    "WhoId",
    "OwnerId",
    "TaskSubtype",
    "CreatedDate",
    "CompletedDateTime",
    "IsDeleted",
    "SystemModstamp",
]
EVENT_FIELDS = ["Id", "WhoId", "OwnerId", "StartDateTime", "CreatedDate", "IsDeleted", "SystemModstamp"]
HISTORY_FIELDS = ["LeadId", "Field", "NewValue", "CreatedDate"]  # LeadHistory rows of Status changes

# Activity kind of a Task by its TaskSubtype (anything else is a "task"); every Event is a "meeting".
TASK_KINDS = {"Call": "call", "Email": "email", "ListEmail": "email", "LinkedIn": "task"}

# What an admin grants the run-as user, by object (Salesforce's errors name the object).
READ_ACCESS = ("Lead", "LeadHistory", "Opportunity", "User", "Task", "Event", "Campaign")


@dataclass(frozen=True)
class FieldChoices:
    """Which fields and Status values carry the SLA's facts (README, "Connect Salesforce")."""

    team: str = "Department"
    mql_date: str = "MQL_Date__c"
    mql_statuses: tuple[str, ...] = ("Marketing Qualified",)
    accepted_statuses: tuple[str, ...] = ("Working - Contacted", "Qualified")
    rejected_statuses: tuple[str, ...] = ("Closed - Not Converted", "Unqualified")
    rejection_reason: str | None = "Rejection_Reason__c"
    # Settings set explicitly: a field they name must exist (a default that does not is just skipped).
    explicit: frozenset[str] = frozenset()


def fields_for(obj: str, choices: FieldChoices, lead_fields: frozenset[str] | None = None) -> list[str]:
    """The fields a sync asks for on ``obj``; Lead's optional fields only when the org has them.

    >>> fields_for("User", FieldChoices())[-1]
    'Department'
    >>> "MQL_Date__c" in fields_for("Lead", FieldChoices(), lead_fields=frozenset({"Id"}))
    False
    """
    if obj == "User":
        return [*USER_FIELDS, choices.team]
    if obj == "Lead":
        optional = [f for f in (choices.mql_date, choices.rejection_reason) if f]
        if lead_fields is not None:
            optional = [f for f in optional if f in lead_fields]
        return list(dict.fromkeys([*LEAD_FIELDS, *optional]))
    if obj == "Opportunity":
        return list(OPPORTUNITY_FIELDS)
    if obj == "Task":
        return list(TASK_FIELDS)
    if obj == "Event":
        return list(EVENT_FIELDS)
    raise ValueError(f"unknown Salesforce object {obj!r}; known: {', '.join(OBJECTS)}")


@dataclass(frozen=True)
class SalesforceConfig:
    """Everything one sync needs to know; the client secret never shows in ``repr``."""

    login_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    api_version: str = DEFAULT_API_VERSION
    fields: FieldChoices = FieldChoices()
    lookback_seconds: float = LOOKBACK_SECONDS
    query_page_size: int = QUERY_PAGE_SIZE
    bulk_page_size: int = BULK_PAGE_SIZE
    ids_per_query: int = IDS_PER_QUERY
    bulk_poll_seconds: float = BULK_POLL_SECONDS
    limit_reserve_share: float = LIMIT_RESERVE_SHARE
    limit_reserve_min: int = LIMIT_RESERVE_MIN
    limit_check_every: int = LIMIT_CHECK_EVERY
    max_attempts: int = MAX_ATTEMPTS
    backoff_seconds: float = 1.0  # first wait after a 5xx or a dropped connection; doubles
    timeout: tuple[float, float] = REQUEST_TIMEOUT
    read_campaigns: bool = True  # leads' first campaign from CampaignMember (one more query per page)

    def with_(self, **changes) -> SalesforceConfig:
        """A copy with ``changes`` applied (tests use small pages and reserves)."""
        return replace(self, **changes)

    @property
    def token_url(self) -> str:
        return f"{(self.login_url or '').rstrip('/')}/services/oauth2/token"

    @classmethod
    def from_settings(cls, **overrides) -> SalesforceConfig:
        """The configuration from Accord's settings (environment, then secrets.toml, then defaults)."""
        get = accord_settings.get
        names = (
            "SALESFORCE_TEAM_FIELD",
            "SALESFORCE_MQL_DATE_FIELD",
            "SALESFORCE_REJECTION_REASON_FIELD",
        )
        explicit = frozenset(n for n in names if accord_settings.source_of(n) != "default")
        choices = FieldChoices(
            team=get("SALESFORCE_TEAM_FIELD") or "Department",
            mql_date=get("SALESFORCE_MQL_DATE_FIELD") or "MQL_Date__c",
            mql_statuses=_statuses(get("SALESFORCE_MQL_STATUSES")),
            accepted_statuses=_statuses(get("SALESFORCE_ACCEPTED_STATUSES")),
            rejected_statuses=_statuses(get("SALESFORCE_REJECTED_STATUSES")),
            rejection_reason=get("SALESFORCE_REJECTION_REASON_FIELD") or None,
            explicit=explicit,
        )
        values = {
            "login_url": (get("SALESFORCE_LOGIN_URL") or "").rstrip("/") or None,
            "client_id": get("SALESFORCE_CLIENT_ID"),
            "client_secret": get("SALESFORCE_CLIENT_SECRET"),
            "api_version": get("SALESFORCE_API_VERSION") or DEFAULT_API_VERSION,
            "fields": choices,
        }
        values.update(overrides)
        return cls(**values)


def _statuses(text: str | None) -> tuple[str, ...]:
    return tuple(s.strip() for s in (text or "").split(",") if s.strip())


@dataclass(frozen=True)
class CredentialStatus:
    """Whether the Salesforce credentials are configured, and how a page may show them."""

    configured: bool
    login_url: str
    client_id: str  # masked
    client_secret: str  # masked
    source: str  # where the secret comes from: "environment", "secrets.toml" or "unset"


def credential_status() -> CredentialStatus:
    """The configured credentials as the Data page may show them: never the secret itself."""
    get = accord_settings.get
    login, client, secret = (
        get("SALESFORCE_LOGIN_URL"),
        get("SALESFORCE_CLIENT_ID"),
        get("SALESFORCE_CLIENT_SECRET"),
    )
    return CredentialStatus(
        configured=bool(login and client and secret),
        login_url=(login or "(not set)").rstrip("/"),
        client_id=accord_settings.mask(client),
        client_secret=accord_settings.mask(secret),
        source=accord_settings.source_of("SALESFORCE_CLIENT_SECRET"),
    )
