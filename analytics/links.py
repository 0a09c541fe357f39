"""Links to a record in its CRM: one pure function from (source, kind, id, what the sync stored).

HubSpot needs the account's portal id and UI domain (``GET /account-info/v3/details``, read at each
sync); Salesforce the org's instance URL (from the OAuth token answer). Imported and demo rows have
no CRM to link to: their link is missing, never a made-up address.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

import numpy as np
import pandas as pd

# HubSpot's object type ids in record URLs; Salesforce's object names.
HUBSPOT_TYPES = {"lead": "0-1", "deal": "0-3"}  # contacts, deals
SALESFORCE_TYPES = {"lead": "Lead", "deal": "Opportunity"}
KINDS = ("lead", "deal")


def record_link(
    source: str | None, kind: str, external_id: str | None, bases: Mapping[str, Mapping]
) -> str | None:
    """Return the URL of one record in its CRM, or None where there is none (a file, the demo, no stored base).

    ``kind``: "lead" or "deal". ``bases``: source -> what its sync stored (:func:`data.record_links`):
    HubSpot ``{"portal_id", "ui_domain"}``, Salesforce ``{"instance_url"}``.

    >>> record_link("hubspot", "lead", "101", {"hubspot": {"portal_id": 4242, "ui_domain": "app-eu1.hubspot.com"}})
    'https://app-eu1.hubspot.com/contacts/4242/record/0-1/101'
    >>> record_link("salesforce", "deal", "006A", {"salesforce": {"instance_url": "https://acme.my.salesforce.com/"}})
    'https://acme.my.salesforce.com/lightning/r/Opportunity/006A/view'
    >>> record_link("demo", "lead", "lead-000001", {}) is None
    True
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if not isinstance(external_id, str) or not external_id:
        return None
    base = bases.get(source or "") or {}
    record = quote(external_id, safe="")
    if source == "hubspot" and base.get("portal_id") and base.get("ui_domain"):
        domain = str(base["ui_domain"]).removeprefix("https://").strip("/")
        return f"https://{domain}/contacts/{quote(str(base['portal_id']), safe='')}/record/{HUBSPOT_TYPES[kind]}/{record}"
    if source == "salesforce" and base.get("instance_url"):
        return f"{str(base['instance_url']).rstrip('/')}/lightning/r/{SALESFORCE_TYPES[kind]}/{record}/view"
    return None


def record_links(
    sources: pd.Series, external_ids: pd.Series, kind: str, bases: Mapping[str, Mapping]
) -> pd.Series:
    """Return :func:`record_link` of each row as a "str" Series (missing where a row has no link)."""
    links = [
        record_link(s if isinstance(s, str) else None, kind, e if isinstance(e, str) else None, bases)
        for s, e in zip(sources.tolist(), external_ids.tolist(), strict=True)
    ] if bases else [None] * len(sources)  # fmt: skip
    return pd.Series(np.array(links, dtype=object), index=sources.index, dtype="str")
