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

import json
import os
import re
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
    # Hardening (sign-in): e-mails the identity provider does not mark verified
    Setting(
        "ACCORD_AUTH_TRUST_UNVERIFIED_EMAIL",
        "false",
        "true: role rules use a signed-in person's e-mail even without email_verified = true. Only for "
        "providers that never send the claim (Microsoft Entra ID work accounts) and that you trust to "
        "own every address they issue.",
    ),
    # Scaling (issue 15): the dashboard reads through a read replica
    Setting(
        "ACCORD_READ_DATABASE_URL",
        None,
        "SQLAlchemy URL of a read replica (a PostgreSQL standby) the dashboard's pages read from; every "
        "write still goes to ACCORD_DATABASE_URL (see docs/scaling.md). Default: read from ACCORD_DATABASE_URL.",
        secret=True,
    ),
    # Scaling (issue 15): the Sales page's clock figures from the SLA facts
    Setting(
        "ACCORD_SALES_FROM_FACTS",
        "false",
        "true: the Sales page takes its follow-up, touches and disposition figures from the SLA facts "
        "(data/fact_views.py) instead of the period's rows. Off: while the page still reads those rows "
        "for its histogram, delays and queue, it measured slower (bench/bench_sales_facts.py).",
    ),
    # Scaling (issue 15): the Overview's figures from aggregate queries
    Setting(
        "ACCORD_FIGURES_FROM_DATABASE",
        "true",
        "true: where the database keeps its SLA facts current, the Overview and the meeting pack take every "
        "figure from aggregate queries (data/stored_evaluation.py) instead of reading the weeks' rows. "
        "false: always from the rows.",
    ),
    # Scaling (issue 15): one "as of" instant per data generation, its views reused across tabs
    Setting(
        "ACCORD_AS_OF_REUSE_MINUTES",
        "5",
        "Minutes the pages keep showing the figures as of one instant while the data have not changed, so "
        "every tab reuses the same computed views; a sync, an import, an agreement save or a frozen week "
        "starts a new instant at once, and 'Recompute now' does on demand. 0: now, to the minute, every time.",
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}


class SettingError(AccordError, ValueError):
    """A setting is unknown or its value cannot be used."""


def get(name: str, secrets_file: Path | None = None) -> str | None:
    """The value of setting ``name``: environment, then secrets.toml, then the default."""
    if name not in _BY_NAME:
        raise SettingError(f"unknown setting {name!r}; known: {', '.join(_BY_NAME)}")
    # Stripped: a secrets file with CRLF line ends or a pasted token with a trailing space must not
    # send "Bearer pat-…\r" (which fails, and whose error message carries the escaped token).
    value = (os.environ.get(name) or "").strip()
    if value:
        return value
    from_file = _secrets(secrets_file or SECRETS_FILE).get(name)
    if from_file is not None and str(from_file).strip():
        return str(from_file).strip()
    return _BY_NAME[name].default


def switch(name: str) -> bool:
    """Setting ``name`` as a bool; a value that is neither true nor false stops with the setting's name."""
    value = (get(name) or "").strip().lower()
    if value not in ("true", "false", "1", "0", "yes", "no", "on", "off", ""):
        raise SettingError(f"{name}: expected true or false, not {value!r}")
    return value in ("true", "1", "yes", "on")


def source_of(name: str, secrets_file: Path | None = None) -> str:
    """Where the value of ``name`` comes from: "environment", "secrets.toml", "default" or "unset"."""
    if (os.environ.get(name) or "").strip():
        return "environment"
    if str(_secrets(secrets_file or SECRETS_FILE).get(name) or "").strip():
        return "secrets.toml"
    return "default" if _BY_NAME[name].default is not None else "unset"


def mask(secret: str | None) -> str:
    """Show a secret as its first 4 and last 4 characters, or '(not set)'."""
    secret = (secret or "").strip()
    if not secret:
        return "(not set)"
    if len(secret) <= 12:
        return "…" + secret[-2:]
    return f"{secret[:4]}…{secret[-4:]}"


def masked_url(url: str) -> str:
    """A database URL with its password replaced by ***, also when the URL itself cannot be parsed.

    >>> masked_url("postgresql+psycopg://u:pw@[::1:8699/accord")
    'postgresql+psycopg://u:***@[::1:8699/accord'
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):  # e.g. a bad port or an unclosed [ in the host
        masked, found = re.subn(r"^([^:/]+://[^:/@]*:)[^@]*@", r"\1***@", url.strip())
        return masked if found else "(unparseable URL)"


SCRUB_MIN_LENGTH = 4  # shorter "secrets" would blank out ordinary words; mask() shows as much anyway


def secret_values(secrets_file: Path | None = None) -> list[str]:
    """Every configured secret as set (raw and stripped), and the password inside the database URL."""
    found: list[str] = []
    try:
        from_file = _secrets(secrets_file or SECRETS_FILE)
    except SettingError:
        from_file = {}
    for setting in SETTINGS:
        if setting.secret:
            found += [str(v) for v in (os.environ.get(setting.name), from_file.get(setting.name)) if v]
    for url in list(found):
        found += [p for p in (_password(url),) if p]
    return found + [v.strip() for v in found]


def secret_forms(secret: str) -> set[str]:
    r"""Every way ``secret`` shows up in a message: raw, repr-escaped (str and bytes), JSON, URL-encoded.

    >>> sorted(secret_forms("pw\r"))
    ['pw\r', 'pw%0D', 'pw\\r']
    """
    from urllib.parse import quote, quote_plus

    escaped = repr(secret)[1:-1]
    return {
        secret,
        escaped,
        escaped.replace("\\'", "'").replace('\\"', '"'),
        repr(secret.encode("utf-8"))[2:-1],
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
    }


def scrub(text: str, *secrets: str | None) -> str:
    r"""``text`` with every form (:func:`secret_forms`) of every configured secret and of ``secrets`` masked.

    The one scrubber for anything recorded (sync_runs.error, audit) or shown (pages, CLI stderr).

    >>> scrub("Invalid header value b'Bearer pat-na1-0000-1111\\r'", "pat-na1-0000-1111\r")
    "Invalid header value b'Bearer pat-…1111'"
    """
    if not text:
        return text
    candidates = {s for s in (*secrets, *secret_values()) if s and len(s.strip()) >= SCRUB_MIN_LENGTH}
    replacements = {form: mask(secret) for secret in candidates for form in secret_forms(secret)}
    for form in sorted(replacements, key=len, reverse=True):  # the longest first: "pw\\r" before "pw"
        if len(form.strip()) >= SCRUB_MIN_LENGTH and form in text:
            text = text.replace(form, replacements[form])
    return text


def _password(url: str) -> str | None:
    """The password in a database URL (None when it has none or is not a URL)."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url.strip()).password
    except Exception:  # an unparseable URL: its password cannot be told apart; masked_url hides it
        return None


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
