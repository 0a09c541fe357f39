"""Who is using Accord and what they may do.

Without an ``[auth]`` section in ``.streamlit/secrets.toml`` Accord runs open:
everyone is an admin (the demo and single-user default; the Data page says so).
"""

from __future__ import annotations

from dataclasses import dataclass

# What each action needs; pages ask ``can(action)`` before showing the control.
ADMIN_ACTIONS = frozenset({"edit_agreement", "run_sync", "run_import", "see_rejected_rows"})


@dataclass(frozen=True)
class User:
    email: str
    name: str
    role: str
    signed_in: bool


OPEN_USER = User(email="local user", name="local user", role="admin", signed_in=False)


def auth_configured() -> bool:
    """True when sign-in is configured (an ``[auth]`` section in secrets)."""
    return False


def current_user() -> User:
    """The user of this session (the open-mode admin when sign-in is not configured)."""
    return OPEN_USER


def can(action: str) -> bool:
    """Whether the current user may do ``action`` (one of :data:`ADMIN_ACTIONS`)."""
    if action not in ADMIN_ACTIONS:
        raise ValueError(f"unknown action {action!r}; known: {sorted(ADMIN_ACTIONS)}")
    return current_user().role == "admin"
