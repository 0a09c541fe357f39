"""Every page of Accord, declared once: where it lives, its title, its section and who may open it.

app.py builds ``st.navigation`` from :data:`PAGES` for the signed-in user's role,
so a page a role may not open is not registered for that session at all: not
in the menu, and not reachable by URL either.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

ROLES = ("viewer", "marketing", "sales", "executive", "admin")
EVERYONE = frozenset(ROLES)
# Who opens what (README, "Running Accord for a team"); only admins change anything (auth.can).
MARKETING_SIDE = frozenset({"marketing", "executive", "admin"})
SALES_SIDE = frozenset({"sales", "executive", "admin"})
BOTH_SIDES = frozenset({"marketing", "sales", "executive", "admin"})
ADMINS = frozenset({"admin"})
SECTIONS = ("Dashboard", "Agreement", "Setup")
DEFAULT_SUFFIX = "-default"  # the default page's name inside Streamlit: it is served at "/", not at this path


@dataclass(frozen=True)
class PageSpec:
    path: str
    title: str
    icon: str
    url_path: str
    section: str
    roles: frozenset[str] = EVERYONE
    default: bool = False


# Add a page here (one line); the order within a section is the menu order.
PAGES: tuple[PageSpec, ...] = (
    PageSpec("pages/overview.py", "Overview", ":material/dashboard:", "overview", "Dashboard", default=True),
    PageSpec(
        "pages/marketing.py", "Marketing", ":material/campaign:", "marketing", "Dashboard", MARKETING_SIDE
    ),
    PageSpec("pages/sales.py", "Sales", ":material/support_agent:", "sales", "Dashboard", roles=SALES_SIDE),
    PageSpec("pages/funnel.py", "Funnel", ":material/filter_alt:", "funnel", "Dashboard", roles=BOTH_SIDES),
    PageSpec(
        "pages/agreement.py", "Agreement", ":material/handshake:", "agreement", "Agreement", roles=BOTH_SIDES
    ),
    PageSpec("pages/data.py", "Data", ":material/database:", "data", "Setup", roles=ADMINS),
)


def specs_for(role: str) -> list[PageSpec]:
    """The pages ``role`` may open, in :data:`PAGES` order (none for an unknown role)."""
    return [spec for spec in PAGES if role in spec.roles]


def pages_for(role: str) -> dict[str, list[st.Page]]:
    """The ``st.navigation`` dict of the pages ``role`` may open, by section; the first is the default if none is.

    Streamlit serves the default page at ``/`` only; a hidden twin keeps its own
    path working too (``/overview`` as well as ``/``), e.g. for a bookmark.
    """
    allowed = specs_for(role)
    has_default = any(spec.default for spec in allowed)
    sections: dict[str, list[st.Page]] = {}
    for position, spec in enumerate(sorted(allowed, key=lambda s: SECTIONS.index(s.section))):
        default = spec.default or (not has_default and position == 0)
        # The default's own url_path only names it inside Streamlit (its hash); the twin takes the public one.
        page = st.Page(spec.path, title=spec.title, icon=spec.icon, default=default,
                       url_path=f"{spec.url_path}{DEFAULT_SUFFIX}" if default else spec.url_path)  # fmt: skip
        sections.setdefault(spec.section, []).append(page)
        if default:
            twin = st.Page(
                spec.path, title=spec.title, icon=spec.icon, url_path=spec.url_path, visibility="hidden"
            )
            sections[spec.section].append(twin)
    return sections
