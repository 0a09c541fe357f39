"""One small company for the alert tests (dispatch, CLI, drills): an agreement, owners, leads, routing.

Monday 7 December 2026, Berlin (Mon-Fri 09:00-17:00, 4 business hours to follow up); team US works
New York hours. At 12:30 Berlin:

- lead L1 (Ann, EMEA): handed over Mon 09:00, half an hour left: due soon;
- lead L2 (Ann, EMEA): handed over Fri 14:00, due Mon 10:00: breached;
- lead L3 (Cy, EMEA, no e-mail address): due soon, nobody to tell;
- lead L4 (Bob, US): handed over Fri 14:00 New York, due Mon 10:00 there; 06:30 in New York: held;
- lead D1 (demo data): due soon, never alerted unless asked.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from data import journal, upserts

AGREEMENT = {
    "name": "SLA",
    "parties": ["marketing", "sales"],
    "timezone": "Europe/Berlin",
    "calendar": {"workdays": ["mon", "tue", "wed", "thu", "fri"], "hours": ["09:00", "17:00"]},
    "teams": {"US": {"timezone": "America/New_York"}},
    "commitments": [
        {"id": "mql-volume", "owner": "marketing", "metric": "mql_count", "target": 10},
        {"id": "speed-to-lead", "owner": "sales", "metric": "followed_up_within", "target": 0.9,
         "params": {"business_hours": 4}},
    ],
}  # fmt: skip
AT_1230 = pd.Timestamp("2026-12-07 12:30", tz="Europe/Berlin").tz_convert("UTC")
AT_1600 = pd.Timestamp("2026-12-07 16:00", tz="Europe/Berlin").tz_convert("UTC")


def _at(text: str, tz: str = "Europe/Berlin") -> pd.Timestamp:
    return pd.Timestamp(text, tz=tz).tz_convert("UTC")


def seed_company(engine, extra_leads: int = 0) -> None:
    """Write the agreement, owners and leads described above (``extra_leads`` more due-soon leads of Ann's)."""
    journal.add_agreement_version(
        engine, "SLA", AGREEMENT, dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "test", "seed"
    )
    owners = pd.DataFrame({
        "source": ["hubspot"] * 3 + ["demo"],
        "external_id": ["o-ann", "o-bob", "o-cy", "o-demo"],
        "name": ["Ann", "Bob", "Cy", "Dee"],
        "email": ["ann@example.com", "bob@example.com", None, "ann@example.com"],
        "team": ["EMEA", "US", "EMEA", "EMEA"],
        "active": True,
    })  # fmt: skip
    upserts.upsert_owners(engine, owners)
    rows = [
        ("hubspot", "L1", "o-ann", _at("2026-12-07 09:00")),
        ("hubspot", "L2", "o-ann", _at("2026-12-04 14:00")),
        ("hubspot", "L3", "o-cy", _at("2026-12-07 09:00")),
        ("hubspot", "L4", "o-bob", _at("2026-12-04 14:00", "America/New_York")),
        ("demo", "D1", "o-demo", _at("2026-12-07 09:00")),
    ]
    rows += [
        ("hubspot", f"X{i}", "o-ann", _at("2026-12-07 09:00") + pd.Timedelta(seconds=i))
        for i in range(extra_leads)
    ]
    leads = pd.DataFrame(rows, columns=["source", "external_id", "owner_external_id", "mql_at"])
    leads["created_at"] = leads["mql_at"]
    leads["channel"] = "Events"
    upserts.upsert_leads(engine, leads)


def routing_toml(emea_webhook: str, default_webhook: str | None = None) -> str:
    """The ``[accord.alerts]`` section used by the CLI tests (and the settings around it)."""
    return f'''
[accord.alerts]
digest_to = ["ceo@example.com"]
daily_queue_at = "08:30"
digest_at = "08:00"
crm_record_url = "https://app.hubspot.com/contacts/42/record/0-1/{{external_id}}"

[accord.alerts.teams.EMEA]
managers = ["lead.emea@example.com"]
slack_webhook_url = "{emea_webhook}"

[accord.alerts.teams.US]
slack_channel = "#us-sales"
'''
