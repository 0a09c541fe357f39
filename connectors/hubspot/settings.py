"""What the HubSpot connector reads, and the knobs of how fast and how far it reads it.

Constants name the objects, their properties, their cursor properties and
HubSpot's limits; :class:`HubSpotConfig` bundles what one sync uses (token,
base URL, pacing, page sizes, which properties carry the SLA's custom facts).
The token is passed in explicitly; :meth:`HubSpotConfig.from_settings` is the
one place that reads it from Accord's settings.

>>> config = HubSpotConfig(token="pat-na1-0123456789abcdef")
>>> "0123456789" in repr(config)
False
>>> config.search_page_size, config.search_cap
(200, 10000)
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import settings as accord_settings

CONNECTOR = "hubspot"  # sync_state / sync_runs connector name
SOURCE = "hubspot"  # the canonical rows' source
DEFAULT_BASE_URL = "https://api.hubapi.com"

# HubSpot's limits (see shared/reference/hubspot-api.md §2 and §4).
PAGE_SIZE = 100  # list endpoints: documented and practical maximum
SEARCH_PAGE_SIZE = 200  # search endpoint maximum
SEARCH_RESULT_CAP = 10_000  # a search query cannot page past this many results (HTTP 400)
BATCH_SIZE = 100  # batch reads and v4 association batch reads take at most 100 ids
REQUESTS_PER_WINDOW = 190  # Professional / Enterprise private apps; Free / Starter: 100
WINDOW_SECONDS = 10.0
SEARCH_REQUESTS_PER_SECOND = 5
LOOKBACK_SECONDS = 3_600.0  # search is eventually consistent: re-read the last hour of changes
REQUEST_TIMEOUT = (10.0, 60.0)  # (connect, read) seconds, passed on every call as _request_timeout
MAX_ATTEMPTS = 8  # per request, for 429, 5xx, timeouts and dropped connections

# Engagement objects Accord counts as touches, and the activity kind each becomes.
ACTIVITY_OBJECTS: dict[str, str] = {
    "calls": "call",
    "emails": "email",
    "meetings": "meeting",
    "tasks": "task",
}
# The objects synced through list (full load) and search (incremental), in sync order.
CRM_OBJECTS: tuple[str, ...] = ("contacts", "deals", *ACTIVITY_OBJECTS)
# Contacts' hs_lastmodifieddate is reported to misbehave in search; every other object uses it.
CURSOR_PROPERTY: dict[str, str] = {
    obj: ("lastmodifieddate" if obj == "contacts" else "hs_lastmodifieddate") for obj in CRM_OBJECTS
}
# Canonical table each CRM object becomes.
TABLE: dict[str, str] = {
    "contacts": "leads",
    "deals": "deals",
    **dict.fromkeys(ACTIVITY_OBJECTS, "activities"),
}

# The scope a private app needs for each endpoint (HubSpot's 403 body names the missing one).
SCOPES: dict[str, str] = {
    "owners": "crm.objects.owners.read",
    "contacts": "crm.objects.contacts.read",
    "deals": "crm.objects.deals.read",
    "calls": "crm.objects.contacts.read",
    "emails": "sales-email-read",
    "meetings": "crm.objects.contacts.read",
    "tasks": "crm.objects.contacts.read",
}


def stage_entered(stage: str) -> tuple[str, str]:
    """The current and the legacy name of the "date entered lifecycle stage" property.

    >>> stage_entered("marketingqualifiedlead")
    ('hs_v2_date_entered_marketingqualifiedlead', 'hs_lifecyclestage_marketingqualifiedlead_date')
    """
    return f"hs_v2_date_entered_{stage}", f"hs_lifecyclestage_{stage}_date"


MQL_STAGE = "marketingqualifiedlead"
SQL_STAGE = "salesqualifiedlead"

# Readable labels of hs_analytics_source; an unknown code becomes Title Case ("AI_REFERRALS" -> "Ai Referrals").
CHANNEL_LABELS: dict[str, str] = {
    "ORGANIC_SEARCH": "Organic Search",
    "PAID_SEARCH": "Paid Search",
    "EMAIL_MARKETING": "Email Marketing",
    "SOCIAL_MEDIA": "Organic Social",
    "PAID_SOCIAL": "Paid Social",
    "REFERRALS": "Referrals",
    "OTHER_CAMPAIGNS": "Other Campaigns",
    "DIRECT_TRAFFIC": "Direct Traffic",
    "OFFLINE": "Offline Sources",
    "AI_REFERRALS": "AI Referrals",
}


@dataclass(frozen=True)
class PropertyChoices:
    """Which HubSpot properties carry the facts HubSpot has no standard property for.

    ``accepted_statuses``: values of ``hs_lead_status`` that mean sales accepted the lead
    (a lead with a date entered ``salesqualifiedlead`` is accepted whatever its status).
    ``rejected_status``: the ``hs_lead_status`` value that means sales rejected it.
    ``recycled_statuses``: ``hs_lead_status`` values that send the lead back to marketing
    (its handover ends; the next entry into MQL is a new handover).
    ``disposition_date``: a date property set when the lead is accepted or rejected
    (e.g. by a workflow "set to date of enrollment"); without it an accepted lead's
    disposition time is its SQL date and a rejected lead's is unknown.
    """

    campaign: str = "hs_analytics_source_data_2"
    segment: str = "accord_segment"
    rejection_reason: str = "accord_rejection_reason"
    disposition_date: str = "accord_disposition_date"
    accepted_statuses: tuple[str, ...] = ("OPEN_DEAL", "CONNECTED")
    rejected_status: str = "UNQUALIFIED"
    recycled_statuses: tuple[str, ...] = ("RECYCLED", "NURTURE")


def contact_properties(choices: PropertyChoices) -> list[str]:
    """The contact properties a sync asks for (standard ones first, then the configured ones)."""
    names = [
        "createdate",
        "lastmodifieddate",
        "hs_object_id",
        "lifecyclestage",
        "hs_lead_status",
        "hubspot_owner_id",
        "hubspot_owner_assigneddate",
        *stage_entered(MQL_STAGE),
        *stage_entered(SQL_STAGE),
        "hs_first_outreach_date",
        "hs_sa_first_engagement_date",
        "hs_analytics_source",
        choices.campaign,
        choices.segment,
        choices.rejection_reason,
        choices.disposition_date,
        "hs_merged_object_ids",
        # Who the contact is, for the records behind a figure.
        "firstname",
        "lastname",
        "company",
        "email",
    ]
    return list(dict.fromkeys(names))


DEAL_PROPERTIES: list[str] = [
    "dealname",
    "createdate",
    "closedate",
    "hs_lastmodifieddate",
    "hs_object_id",
    "amount",
    "deal_currency_code",
    "dealstage",
    "pipeline",
    "hs_is_closed",
    "hs_is_closed_won",
    "hubspot_owner_id",
    "hs_analytics_source",
]
ACTIVITY_PROPERTIES: list[str] = ["hs_timestamp", "hubspot_owner_id", "hs_lastmodifieddate", "hs_object_id"]


def properties_for(obj: str, choices: PropertyChoices) -> list[str]:
    """The properties a sync requests for CRM object ``obj``."""
    if obj == "contacts":
        return contact_properties(choices)
    if obj == "deals":
        return list(DEAL_PROPERTIES)
    if obj in ACTIVITY_OBJECTS:
        return list(ACTIVITY_PROPERTIES)
    raise ValueError(f"unknown HubSpot object {obj!r}; known: {', '.join(CRM_OBJECTS)}")


@dataclass(frozen=True)
class HubSpotConfig:
    """Everything one sync needs to know; the token never shows in ``repr``."""

    token: str | None = field(default=None, repr=False)
    base_url: str = DEFAULT_BASE_URL
    requests_per_window: int = REQUESTS_PER_WINDOW
    window_seconds: float = WINDOW_SECONDS
    search_per_second: int = SEARCH_REQUESTS_PER_SECOND
    page_size: int = PAGE_SIZE
    search_page_size: int = SEARCH_PAGE_SIZE
    search_cap: int = SEARCH_RESULT_CAP
    batch_size: int = BATCH_SIZE
    lookback_seconds: float = LOOKBACK_SECONDS
    timeout: tuple[float, float] = REQUEST_TIMEOUT
    max_attempts: int = MAX_ATTEMPTS
    backoff_seconds: float = (
        1.0  # first wait after a 5xx / 429 without Retry-After; doubles, capped at the window
    )
    flush_rows: int = 5_000  # the writer commits an object's rows once this many wait...
    flush_seconds: float = 1.0  # ...or when it has caught up with the fetchers and this long passed
    properties: PropertyChoices = PropertyChoices()

    def with_(self, **changes) -> HubSpotConfig:
        """A copy with ``changes`` applied (tests use small windows and pages)."""
        return replace(self, **changes)

    @classmethod
    def from_settings(
        cls, token: str | None = None, base_url: str | None = None, **overrides
    ) -> HubSpotConfig:
        """The configuration from Accord's settings (environment, then secrets.toml, then defaults).

        ``token`` and ``base_url``, when given, win over the settings.
        """
        get = accord_settings.get
        statuses = tuple(
            s.strip() for s in (get("HUBSPOT_ACCEPTED_LEAD_STATUSES") or "").split(",") if s.strip()
        )
        defaults = PropertyChoices()
        choices = PropertyChoices(
            segment=get("HUBSPOT_SEGMENT_PROPERTY") or defaults.segment,
            rejection_reason=get("HUBSPOT_REJECTION_REASON_PROPERTY") or defaults.rejection_reason,
            disposition_date=get("HUBSPOT_DISPOSITION_DATE_PROPERTY") or defaults.disposition_date,
            accepted_statuses=statuses or defaults.accepted_statuses,
            recycled_statuses=tuple(
                s.strip() for s in (get("HUBSPOT_RECYCLED_LEAD_STATUSES") or "").split(",") if s.strip()
            ),
        )
        limit = get("HUBSPOT_REQUESTS_PER_10S") or str(REQUESTS_PER_WINDOW)
        try:
            requests_per_window = int(limit)
            if requests_per_window < 1:
                raise ValueError
        except ValueError:
            raise accord_settings.SettingError(
                f"HUBSPOT_REQUESTS_PER_10S must be a positive whole number (190 for Professional and "
                f"Enterprise, 100 for Free and Starter), not {limit!r}"
            ) from None
        values = {
            "token": token or get("HUBSPOT_ACCESS_TOKEN"),
            "base_url": (base_url or get("HUBSPOT_BASE_URL") or DEFAULT_BASE_URL).rstrip("/"),
            "requests_per_window": requests_per_window,
            "properties": choices,
        }
        values.update(overrides)
        return cls(**values)


@dataclass(frozen=True)
class TokenStatus:
    """Whether a HubSpot token is configured, where it comes from, and how to show it."""

    configured: bool
    source: str  # "environment", "secrets.toml" or "unset"
    masked: str  # e.g. "pat-…cdef", or "(not set)"
    base_url: str


def token_status() -> TokenStatus:
    """The configured token as the Data page may show it: never the token itself."""
    token = accord_settings.get("HUBSPOT_ACCESS_TOKEN")
    return TokenStatus(
        configured=bool(token),
        source=accord_settings.source_of("HUBSPOT_ACCESS_TOKEN"),
        masked=accord_settings.mask(token),
        base_url=(accord_settings.get("HUBSPOT_BASE_URL") or DEFAULT_BASE_URL).rstrip("/"),
    )
