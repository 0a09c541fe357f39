"""Who is using Accord and what they may do.

Without an ``[auth]`` section in ``.streamlit/secrets.toml`` Accord runs open:
everyone is an admin (the demo and single-user default; the Data page says so).

With ``[auth]`` configured, people sign in with OpenID Connect (``st.login``)
and their role comes from the ``[accord]`` section of the same secrets file::

    [accord]
    role_claim = "groups"      # optional: the ID-token claim that holds groups or roles
    default_role = "viewer"    # optional: the role of anyone signed in no rule names; default "none"

    [accord.roles]             # e-mail addresses (or "@domain") per role; these win over the claim
    admin = ["ops@example.com"]
    marketing = ["mia@example.com", "@marketing.example.com"]

    [accord.groups]            # optional: claim values per role, when they are not the role names
    sales = ["Sales EMEA", "Sales US"]

The rule (:func:`resolve_role`, pure and unit-tested): a verified e-mail (``email_verified`` true) on a
role's list wins; else a claim value of the role; else the default role. When
several roles match at the same step the most privileged one wins
(:data:`PRIVILEGE`). "none" means no access: such a user sees only a page that
says so and a "Sign out" button. Anything wrong in the configuration stops the
app with a message naming the key — it never falls back to open mode.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NoReturn

import streamlit as st

import settings
from errors import AccordError
from pages.components import navigation
from pages.components.navigation import ROLES

# The roles allowed each action; pages ask ``can(action)`` before showing the control.
ACTIONS: Mapping[str, frozenset[str]] = {
    "edit_agreement": frozenset({"admin"}),
    "run_sync": frozenset({"admin"}),
    "run_import": frozenset({"admin"}),
    "see_rejected_rows": frozenset({"admin"}),
    "remove_demo": frozenset({"admin"}),
    # Freezing a week on demand (the lazy freeze on opening Overview and the cron freeze need no one).
    "freeze_week": frozenset({"admin", "executive"}),
}
NO_ROLE = "none"
# Most privileged first: when one person matches several roles at the same step, the first wins.
PRIVILEGE = ("admin", "executive", "marketing", "sales", "viewer")
assert set(PRIVILEGE) == set(ROLES)
SECRETS_SECTION = "accord"


class AuthConfigError(AccordError, ValueError):
    """The sign-in or role configuration in secrets.toml cannot be used; the message names the key."""


@dataclass(frozen=True)
class User:
    email: str
    name: str
    role: str
    signed_in: bool


OPEN_USER = User(email="local user", name="local user", role="admin", signed_in=False)
SIGNED_OUT = User(email="", name="not signed in", role=NO_ROLE, signed_in=False)


@dataclass(frozen=True)
class RoleRules:
    """How a signed-in person's role is decided; built from secrets by :func:`role_rules`.

    ``emails``: role -> lower-cased addresses and ``@domain`` entries;
    ``claim``: the claim holding groups/roles (None: claims are not used);
    ``claim_values``: role -> lower-cased claim values that grant it;
    ``default_role``: the role when nothing matches (``"none"``: no access);
    ``trust_unverified_email``: use e-mails the provider does not mark verified (for providers that
    never send ``email_verified``, setting ACCORD_AUTH_TRUST_UNVERIFIED_EMAIL).
    """

    emails: Mapping[str, frozenset[str]]
    claim: str | None = None
    claim_values: Mapping[str, frozenset[str]] | None = None
    default_role: str = NO_ROLE
    trust_unverified_email: bool = False


def role_rules(section: Mapping | None, trust_unverified_email: bool = False) -> RoleRules:
    """The :class:`RoleRules` of an ``[accord]`` secrets section; raises :class:`AuthConfigError`.

    >>> rules = role_rules({"default_role": "viewer", "roles": {"admin": ["Ops@Example.com"]}})
    >>> rules.emails["admin"], rules.default_role, rules.claim
    (frozenset({'ops@example.com'}), 'viewer', None)
    >>> role_rules({"roles": {"admins": ["a@x.com"]}})
    Traceback (most recent call last):
    ...
    pages.components.auth.AuthConfigError: secrets.toml [accord.roles]: unknown role 'admins'; roles are viewer, marketing, sales, executive, admin
    """
    section = dict(section or {})
    where = f"secrets.toml [{SECRETS_SECTION}]"
    known = {"roles", "groups", "role_claim", "default_role"}
    unknown = sorted(set(section) - known)
    if unknown:
        raise AuthConfigError(f"{where}: unknown key {unknown[0]!r}; known keys: {', '.join(sorted(known))}")
    default_role = _text(section.get("default_role", NO_ROLE), f"{where} default_role").lower()
    if default_role not in (*ROLES, NO_ROLE):
        raise AuthConfigError(
            f"{where} default_role: {default_role!r} is not a role; use one of {', '.join(ROLES)} "
            f"or {NO_ROLE!r} (no access)"
        )
    claim = section.get("role_claim")
    claim = _text(claim, f"{where} role_claim") if claim not in (None, "") else None
    emails = _lists(section.get("roles"), f"secrets.toml [{SECRETS_SECTION}.roles]")
    for role, entries in emails.items():
        for entry in entries:
            if "@" not in entry or entry.endswith("@") or " " in entry:
                raise AuthConfigError(
                    f"secrets.toml [{SECRETS_SECTION}.roles] {role}: {entry!r} is neither an e-mail address "
                    "nor an @domain"
                )
    groups = _lists(section.get("groups"), f"secrets.toml [{SECRETS_SECTION}.groups]")
    if groups and claim is None:
        raise AuthConfigError(
            f"secrets.toml [{SECRETS_SECTION}.groups] is set but role_claim is not: name the claim that "
            'holds the groups (e.g. role_claim = "groups")'
        )
    claim_values = {role: groups.get(role, frozenset({role})) for role in ROLES} if claim else None
    return RoleRules(
        emails=emails,
        claim=claim,
        claim_values=claim_values,
        default_role=default_role,
        trust_unverified_email=trust_unverified_email,
    )


def resolve_role(claims: Mapping, rules: RoleRules) -> str:
    """The role of a signed-in person with identity ``claims`` under ``rules``; ``"none"`` = no access.

    >>> rules = role_rules({"role_claim": "groups", "default_role": "viewer",
    ...                     "roles": {"admin": ["ops@example.com"], "marketing": ["@mkt.example.com"]},
    ...                     "groups": {"sales": ["Sales EMEA"]}})
    >>> resolve_role({"email": "OPS@example.com", "email_verified": True, "groups": ["sales EMEA"]}, rules)
    'admin'
    >>> resolve_role({"email": "lee@mkt.example.com", "email_verified": True}, rules)
    'marketing'
    >>> resolve_role({"email": "sam@example.com", "groups": ["Sales EMEA", "staff"]}, rules)
    'sales'
    >>> resolve_role({"email": "ops@example.com"}, rules)  # no email_verified claim: not trusted
    'viewer'
    >>> resolve_role({"email": "ops@example.com", "email_verified": False}, rules)  # unverified: not trusted
    'viewer'
    >>> resolve_role({"email": "ops@example.com", "email_verified": "true"}, rules)
    'admin'
    """
    email = claims.get("email")
    trusted = rules.trust_unverified_email or email_verified(claims)
    if trusted and isinstance(email, str) and "@" in email:
        address = email.strip().lower()
        domain = "@" + address.rsplit("@", 1)[1]
        matched = [role for role in PRIVILEGE if {address, domain} & rules.emails.get(role, frozenset())]
        if matched:
            return matched[0]
    if rules.claim and rules.claim_values:
        values = _claim_values(claims.get(rules.claim))
        matched = [role for role in PRIVILEGE if values & rules.claim_values.get(role, frozenset())]
        if matched:
            return matched[0]
    return rules.default_role


def email_verified(claims: Mapping) -> bool:
    """True only when the provider says the e-mail is verified: ``True`` or the text ``"true"`` (Cognito).

    A missing claim, ``None``, ``0``, ``"false"`` or anything else is not a verification.

    >>> [email_verified({"email_verified": v}) for v in (True, "TRUE", "false", 1, None)], email_verified({})
    ([True, True, False, False, False], False)
    """
    value = claims.get("email_verified")
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _claim_values(value) -> frozenset[str]:
    """A claim as a set of lower-cased strings: a string is one value, a list many; anything else none."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple):
        return frozenset()
    return frozenset(v.strip().lower() for v in value if isinstance(v, str) and v.strip())


def _text(value, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise AuthConfigError(f"{where}: expected a text value, not {value!r}")
    return value.strip()


def _lists(section, where: str) -> dict[str, frozenset[str]]:
    """``role = ["a", "b"]`` entries of a secrets table, checked and lower-cased."""
    if section is None:
        return {}
    if not isinstance(section, Mapping):
        raise AuthConfigError(f"{where}: expected a table of role = [list], not {type(section).__name__}")
    out = {}
    for role, entries in section.items():
        if role not in ROLES:
            raise AuthConfigError(f"{where}: unknown role {role!r}; roles are {', '.join(ROLES)}")
        if isinstance(entries, str):
            entries = [entries]
        if not isinstance(entries, list | tuple) or not all(isinstance(e, str) for e in entries):
            raise AuthConfigError(f"{where} {role}: expected a list of text values")
        out[role] = frozenset(e.strip().lower() for e in entries if e.strip())
    return out


# ----------------------------------------------------------------------------- the session's user


def _secrets_section(name: str):
    """A section of Streamlit's secrets (None when absent, or when there is no secrets file at all)."""
    secrets = st.secrets
    if not secrets.load_if_toml_exists():
        return None
    return secrets.get(name)


def auth_configured() -> bool:
    """True when sign-in is configured (an ``[auth]`` section in secrets)."""
    return bool(_secrets_section("auth"))


def sign_in_providers() -> list[str | None]:
    """The providers ``st.login`` can use: ``[None]`` for a plain ``[auth]``, else the named ``[auth.NAME]``s."""
    section = _secrets_section("auth") or {}
    named = [name for name, value in section.items() if isinstance(value, Mapping)]
    return [None] if "client_id" in section or not named else named


def current_user() -> User:
    """The user of this session (the open-mode admin when sign-in is not configured).

    Raises :class:`AuthConfigError` when the ``[accord]`` role configuration is unusable.
    """
    if not auth_configured():
        return OPEN_USER
    if not st.user.get("is_logged_in"):
        return SIGNED_OUT
    claims = st.user.to_dict()
    trust = _on(settings.get("ACCORD_AUTH_TRUST_UNVERIFIED_EMAIL"), "ACCORD_AUTH_TRUST_UNVERIFIED_EMAIL")
    role = resolve_role(claims, role_rules(_secrets_section(SECRETS_SECTION), trust_unverified_email=trust))
    email = claims.get("email") if isinstance(claims.get("email"), str) else ""
    name = claims.get("name") if isinstance(claims.get("name"), str) and claims.get("name") else None
    return User(email=email, name=name or email or str(claims.get("sub", "")), role=role, signed_in=True)


def _on(value: str | None, name: str) -> bool:
    """A yes/no setting's value as a bool; anything but the usual spellings stops with the setting's name."""
    text = (value or "").strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("", "0", "false", "no", "off"):
        return False
    raise AuthConfigError(f"{name}: expected true or false, not {value!r}")


def may_enter(user: User) -> bool:
    """Whether ``user`` may open any page of Accord (open mode, or signed in with a role that has pages)."""
    return bool(navigation.specs_for(user.role))


def can(action: str) -> bool:
    """Whether the current user may do ``action`` (one of :data:`ACTIONS`)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; known: {sorted(ACTIONS)}")
    return current_user().role in ACTIONS[action]


def plain(text: str) -> str:
    r"""``text`` (a name or address from the identity provider) shown as itself in Markdown, never as markup.

    >>> plain("[click](http://evil.example) *x*")
    '\\[click\\]\\(http://evil\\.example\\) \\*x\\*'
    """
    return re.sub(r"([\\`*_\[\](){}<>#+!|~$@.-])", r"\\\1", text)


def sign_out() -> NoReturn:
    """Sign the person out and end this run (nothing after it is drawn).

    ``st.logout`` clears the session's user and queues a message sending the browser to Streamlit's logout
    route, which deletes the sign-in cookie. The run must end with ``st.stop``, not ``st.rerun``: a rerun
    empties the session's outgoing queue of everything but lifecycle messages, so whenever the rerun started
    before the queue was flushed (4 runs in 6 in the sign-out browser test), the redirect was dropped, the
    page showed the sign-in screen, and the cookie stayed: a reload signed the person back in.
    """
    st.logout()
    st.stop()


def account_sidebar(user: User) -> None:
    """Who is signed in, as which role, and a "Sign out" button (nothing in open mode)."""
    if not user.signed_in:
        return
    with st.sidebar:
        st.divider()
        shown = user.name if user.name == user.email or not user.email else f"{user.name} ({user.email})"
        st.caption(f"Signed in as **{plain(shown)}** · role: {user.role}")
        if st.button("Sign out", key="sign_out", icon=":material/logout:"):
            sign_out()
