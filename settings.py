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
    # Hardening (sign-in): e-mails the identity provider does not mark verified
    Setting(
        "ACCORD_AUTH_TRUST_UNVERIFIED_EMAIL",
        "false",
        "true: role rules use a signed-in person's e-mail even without email_verified = true. Only for "
        "providers that never send the claim (Microsoft Entra ID work accounts) and that you trust to "
        "own every address they issue.",
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}


class SettingError(ValueError):
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


def _secrets(path: Path) -> dict:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise SettingError(f"{path}: not valid TOML: {exc}") from exc
