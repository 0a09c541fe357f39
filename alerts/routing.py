"""Who gets which alert where: the ``[accord.alerts]`` section of ``.streamlit/secrets.toml``.

It lives with the secrets because team webhooks are secrets. The shape (every key optional)::

    [accord.alerts]
    daily_queue_at = "08:30"                 # local time of each team's calendar
    digest_at = "08:00"                      # local time of the agreement's calendar, first working day
    digest_to = ["ceo@example.com"]
    after_hours = ["night.owl@example.com"]  # these people also get messages outside working hours
    crm_record_url = "https://app.hubspot.com/contacts/1234567/record/0-1/{external_id}"

    [accord.alerts.opt_out]                  # a person's address -> the kinds they do not want
    "rep@example.com" = ["due_soon"]

    [accord.alerts.teams.EMEA]
    managers = ["lead.emea@example.com"]
    slack_webhook_url = "https://hooks.slack.com/services/..."   # or:
    slack_channel = "#emea-sales"                                # with ACCORD_SLACK_BOT_TOKEN
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alerts.rules import KINDS, RuleError, _clock
from errors import AccordError

SECTION = "[accord.alerts]"


class RoutingError(AccordError, ValueError):
    """The ``[accord.alerts]`` section cannot be used; the message names the key."""


@dataclass(frozen=True)
class TeamRoute:
    """Where a team's alerts go besides the owner: its managers' addresses and its Slack channel."""

    managers: tuple[str, ...] = ()
    slack_webhook_url: str | None = field(default=None, repr=False)  # a secret
    slack_channel: str | None = None


@dataclass(frozen=True)
class Routing:
    """The routing in force (see the module docstring for the TOML it is read from)."""

    teams: Mapping[str, TeamRoute] = field(default_factory=dict)
    digest_to: tuple[str, ...] = ()
    after_hours: frozenset[str] = frozenset()
    opt_out: Mapping[str, frozenset[str]] = field(default_factory=dict)
    daily_queue_at: str = "08:30"
    digest_at: str = "08:00"
    crm_record_url: str | None = None

    def wants(self, address: str, kind: str) -> bool:
        """Whether ``address`` still wants alerts of ``kind`` (not opted out)."""
        return kind not in self.opt_out.get(address.lower(), frozenset())

    def any_hour(self, address: str) -> bool:
        """Whether ``address`` opted in to messages outside working hours."""
        return address.lower() in self.after_hours

    def team(self, name: str | None) -> TeamRoute:
        """The route of team ``name`` (an empty route when it has none)."""
        return self.teams.get(name, TeamRoute()) if name is not None else TeamRoute()

    def describe(self) -> list[str]:
        """Return the routing as lines for people: no webhook URL, only whether one is set."""
        lines = [
            f"daily queue at {self.daily_queue_at} (team's local time); digest at {self.digest_at} "
            f"to {', '.join(self.digest_to) or 'nobody'}"
        ]
        for name, route in sorted(self.teams.items()):
            slack = "webhook" if route.slack_webhook_url else (route.slack_channel or "default channel")
            lines.append(f"team {name}: managers {', '.join(route.managers) or 'none'}; Slack {slack}")
        for address, kinds in sorted(self.opt_out.items()):
            lines.append(f"{address} opted out of {', '.join(sorted(kinds))}")
        if self.after_hours:
            lines.append(f"outside working hours too: {', '.join(sorted(self.after_hours))}")
        return lines


def load_routing(secrets_file: Path) -> Routing:
    """Return the routing of ``secrets_file`` (an empty one when the file or section is missing)."""
    try:
        with secrets_file.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        return Routing()
    except tomllib.TOMLDecodeError as exc:
        raise RoutingError(f"{secrets_file}: not valid TOML: {exc}") from exc
    return parse_routing(data.get("accord", {}).get("alerts", {}))


def parse_routing(section: Mapping[str, Any]) -> Routing:
    """Return the :class:`Routing` of a parsed ``[accord.alerts]`` table; RoutingError names a bad key.

    >>> parse_routing({"teams": {"EMEA": {"managers": ["A@x.com"]}}}).team("EMEA").managers
    ('a@x.com',)
    >>> parse_routing({"digest_at": "8h"})
    Traceback (most recent call last):
    alerts.routing.RoutingError: [accord.alerts] digest_at: a time of day must be HH:MM (e.g. 08:30), got '8h'
    """
    if not isinstance(section, Mapping):
        raise RoutingError(f"{SECTION} must be a table")
    known = {"teams", "digest_to", "after_hours", "opt_out", "daily_queue_at", "digest_at", "crm_record_url"}
    for key in section:
        if key not in known:
            raise RoutingError(f"{SECTION} {key}: unknown key; known keys: {', '.join(sorted(known))}")
    teams = {}
    for name, spec in dict(section.get("teams", {})).items():
        if not isinstance(spec, Mapping):
            raise RoutingError(f"{SECTION} teams.{name}: must be a table")
        for key in spec:
            if key not in ("managers", "slack_webhook_url", "slack_channel"):
                raise RoutingError(f"{SECTION} teams.{name}.{key}: unknown key; known keys: managers, "
                                   "slack_webhook_url, slack_channel")  # fmt: skip
        teams[str(name)] = TeamRoute(
            managers=_addresses(spec.get("managers", []), f"teams.{name}.managers"),
            slack_webhook_url=_text(spec.get("slack_webhook_url"), f"teams.{name}.slack_webhook_url"),
            slack_channel=_text(spec.get("slack_channel"), f"teams.{name}.slack_channel"),
        )
    opt_out = {}
    for address, kinds in dict(section.get("opt_out", {})).items():
        kinds = [kinds] if isinstance(kinds, str) else list(kinds)
        for kind in kinds:
            if kind not in KINDS:
                raise RoutingError(
                    f"{SECTION} opt_out.{address}: unknown kind {kind!r}; kinds: {', '.join(KINDS)}"
                )
        opt_out[address.strip().lower()] = frozenset(kinds)
    times = {}
    for key, default in (("daily_queue_at", "08:30"), ("digest_at", "08:00")):
        try:
            times[key] = _clock(section.get(key, default))
        except RuleError as exc:
            raise RoutingError(f"{SECTION} {key}: {exc}") from None
    return Routing(
        teams=teams,
        digest_to=_addresses(section.get("digest_to", []), "digest_to"),
        after_hours=frozenset(_addresses(section.get("after_hours", []), "after_hours")),
        opt_out=opt_out,
        crm_record_url=_text(section.get("crm_record_url"), "crm_record_url"),
        **times,
    )


def _addresses(value: Any, key: str) -> tuple[str, ...]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list | tuple) or not all(isinstance(v, str) for v in values):
        raise RoutingError(f"{SECTION} {key}: expected a list of e-mail addresses")
    bad = [v for v in values if "@" not in v]
    if bad:
        raise RoutingError(f"{SECTION} {key}: not an e-mail address: {bad[0]!r}")
    return tuple(v.strip().lower() for v in values)


def _text(value: Any, key: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise RoutingError(f"{SECTION} {key}: expected text")
    return value.strip()
