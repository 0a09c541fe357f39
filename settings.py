"""Every setting Accord reads, declared once with its default and a help line.

A value comes from the environment first, then from ``.streamlit/secrets.toml``
(git-ignored; ``secrets.example.toml`` shows the shape), then the default.
Secret values are never printed: use :func:`mask` to show one back.

>>> mask("pat-na1-0123456789abcdef")
'pat-…cdef'
>>> masked_url("postgresql+psycopg://accord:s3cret@db:5432/accord")
'postgresql+psycopg://accord:***@db:5432/accord'
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from errors import AccordError

ROOT = Path(__file__).resolve().parent
SECRETS_FILE = ROOT / ".streamlit" / "secrets.toml"


@dataclass(frozen=True)
class Setting:
    name: str
    default: str | None
    help: str
    secret: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "ACCORD_DATABASE_URL",
        None,
        "SQLAlchemy URL of the database. Default: a SQLite file var/accord.db in the repository. "
        "PostgreSQL: postgresql+psycopg://user:password@host:5432/accord",
        secret=True,
    ),
    Setting(
        "HUBSPOT_ACCESS_TOKEN",
        None,
        "Token of a HubSpot private app (see README, 'Connect HubSpot').",
        secret=True,
    ),
    Setting(
        "HUBSPOT_BASE_URL",
        "https://api.hubapi.com",
        "Base URL of HubSpot's API; another URL serves tests, proxies and regional hosts.",
    ),
    Setting(
        "HUBSPOT_REQUESTS_PER_10S",
        "190",
        "Requests per 10 seconds the HubSpot sync paces itself to: 190 for Professional and Enterprise "
        "private apps, 100 for Free and Starter, 250 with the API limit increase pack.",
    ),
    Setting(
        "HUBSPOT_SEGMENT_PROPERTY",
        "accord_segment",
        "HubSpot contact property that holds the lead's segment (e.g. SMB, Mid-Market, Enterprise).",
    ),
    Setting(
        "HUBSPOT_REJECTION_REASON_PROPERTY",
        "accord_rejection_reason",
        "HubSpot contact property with the reason sales gave when rejecting a lead (lead status UNQUALIFIED).",
    ),
    Setting(
        "HUBSPOT_DISPOSITION_DATE_PROPERTY",
        "accord_disposition_date",
        "HubSpot contact date property set when sales accepts or rejects a lead (e.g. by a workflow); "
        "without it an accepted lead's disposition time is its SQL date and a rejected lead's is unknown.",
    ),
    Setting(
        "HUBSPOT_ACCEPTED_LEAD_STATUSES",
        "OPEN_DEAL,CONNECTED",
        "Comma-separated hs_lead_status values that mean sales accepted the lead (an SQL is always accepted).",
    ),
    Setting(
        "ACCORD_DEMO_LEADS",
        "12000",
        "How many leads the demo company has when the app starts on an empty database.",
    ),
    Setting(
        "ACCORD_MAPPINGS_DIR",
        "var/mappings",
        "Folder of the saved CSV/Excel import mappings (YAML); a relative path is taken from the repository.",
    ),
    Setting(
        "ACCORD_NOW",
        None,
        "Pin Accord's clock to this instant (ISO 8601, e.g. 2026-11-18T10:00Z): the dashboard's default "
        "as-of, the CLI and the demo company's 'today' use it. For demos and tests; default: the real time.",
    ),
    # Alerts (cli.py alerts): e-mail over SMTP, Slack, and how early a rep is warned.
    Setting(
        "ACCORD_SMTP_HOST", None, "SMTP server that sends alert e-mails; without it no e-mail alert goes out."
    ),
    Setting("ACCORD_SMTP_PORT", "587", "Port of the SMTP server (587: submission with STARTTLS)."),
    Setting("ACCORD_SMTP_USER", None, "User name to log in to the SMTP server (no login when unset)."),
    Setting("ACCORD_SMTP_PASSWORD", None, "Password of the SMTP user.", secret=True),
    Setting("ACCORD_SMTP_FROM", "accord@localhost", "Sender address of alert e-mails."),
    Setting(
        "ACCORD_SMTP_STARTTLS",
        "true",
        "Whether to switch the SMTP connection to TLS (STARTTLS) before login.",
    ),
    Setting(
        "ACCORD_SLACK_WEBHOOK_URL",
        None,
        "Slack incoming webhook of the default channel (breaches of teams without their own, the digest).",
        secret=True,
    ),
    Setting(
        "ACCORD_SLACK_BOT_TOKEN",
        None,
        "Slack bot token (xoxb-...) for chat.postMessage to the channels named in [accord.alerts].",
        secret=True,
    ),
    Setting(
        "ACCORD_ALERT_LEAD_TIME",
        "1",
        "Business hours before a follow-up window ends at which the lead's owner is warned.",
    ),
    # Lifecycle (issue 19): recycled leads
    Setting(
        "HUBSPOT_RECYCLED_LEAD_STATUSES",
        "RECYCLED,NURTURE",
        "Comma-separated hs_lead_status values that send a lead back to marketing: its handover ends there, "
        "and its next MQL is a new handover.",
    ),
    # Salesforce connector (connectors/salesforce; README "Connect Salesforce")
    Setting(
        "SALESFORCE_LOGIN_URL",
        None,
        "The org's My Domain URL, e.g. https://acme.my.salesforce.com; the token endpoint is "
        "{SALESFORCE_LOGIN_URL}/services/oauth2/token.",
    ),
    Setting("SALESFORCE_CLIENT_ID", None, "Consumer key of the connected app (client credentials flow)."),
    Setting(
        "SALESFORCE_CLIENT_SECRET",
        None,
        "Consumer secret of the connected app; never printed or shown back in full.",
        secret=True,
    ),
    Setting("SALESFORCE_API_VERSION", "62.0", "Salesforce REST API version the sync speaks."),
    Setting("SALESFORCE_TEAM_FIELD", "Department", "User field that names the rep's team."),
    Setting(
        "SALESFORCE_MQL_DATE_FIELD",
        "MQL_Date__c",
        "Lead date field holding the handover to sales; without it, the first Status change into "
        "SALESFORCE_MQL_STATUSES (LeadHistory).",
    ),
    Setting(
        "SALESFORCE_MQL_STATUSES",
        "Marketing Qualified",
        "Comma-separated Lead Status values that mean the lead was handed over to sales.",
    ),
    Setting(
        "SALESFORCE_ACCEPTED_STATUSES",
        "Working - Contacted,Qualified",
        "Comma-separated Lead Status values that mean sales accepted the lead (a converted lead always is).",
    ),
    Setting(
        "SALESFORCE_REJECTED_STATUSES",
        "Closed - Not Converted,Unqualified",
        "Comma-separated Lead Status values that mean sales rejected the lead.",
    ),
    Setting(
        "SALESFORCE_REJECTION_REASON_FIELD",
        "Rejection_Reason__c",
        "Lead field with the reason sales gave when rejecting a lead (ignored when the org has no such "
        "field and the setting was left at its default).",
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}


class SettingError(AccordError, ValueError):
    """A setting is unknown or its value cannot be used."""


def get(name: str, secrets_file: Path | None = None) -> str | None:
    """The value of setting ``name``: environment, then secrets.toml, then the default."""
    if name not in _BY_NAME:
        raise SettingError(f"unknown setting {name!r}; known: {', '.join(_BY_NAME)}")
    value = os.environ.get(name)
    if value:
        return value
    from_file = _secrets(secrets_file or SECRETS_FILE).get(name)
    if from_file not in (None, ""):
        return str(from_file)
    return _BY_NAME[name].default


def source_of(name: str, secrets_file: Path | None = None) -> str:
    """Where the value of ``name`` comes from: "environment", "secrets.toml", "default" or "unset"."""
    if os.environ.get(name):
        return "environment"
    if _secrets(secrets_file or SECRETS_FILE).get(name) not in (None, ""):
        return "secrets.toml"
    return "default" if _BY_NAME[name].default is not None else "unset"


def mask(secret: str | None) -> str:
    """Show a secret as its first 4 and last 4 characters, or '(not set)'."""
    if not secret:
        return "(not set)"
    if len(secret) <= 12:
        return "…" + secret[-2:]
    return f"{secret[:4]}…{secret[-4:]}"


def masked_url(url: str) -> str:
    """A database URL with its password replaced by ***."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparseable URL)"


def database_url() -> str:
    """ACCORD_DATABASE_URL, or the default SQLite file ``var/accord.db`` in the repository."""
    return get("ACCORD_DATABASE_URL") or f"sqlite:///{ROOT / 'var' / 'accord.db'}"


def mappings_dir() -> Path:
    """ACCORD_MAPPINGS_DIR as an absolute path (a relative one is taken from the repository)."""
    path = Path(get("ACCORD_MAPPINGS_DIR") or "var/mappings")
    return path if path.is_absolute() else ROOT / path


def _secrets(path: Path) -> dict:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise SettingError(f"{path}: not valid TOML: {exc}") from exc
