"""The agreement: a validated, versioned document of both sides' commitments.

An agreement is YAML on disk (JSON in the database). :func:`parse_agreement`
turns text into an :class:`Agreement`; anything wrong raises
:class:`AgreementError` whose message names the field path and what is allowed.
Versions (:class:`AgreementVersion`) carry an effective date; each period is
judged against the version in force when it started (:func:`version_in_force`).

>>> doc = parse_agreement('''
... name: Demo
... parties: [marketing, sales]
... commitments:
...   - {id: mql-volume, owner: marketing, metric: mql_count, target: 400}
... ''')
>>> doc.commitments[0].target
400.0
>>> parse_agreement(doc.to_yaml()) == doc
True
"""

from __future__ import annotations

import datetime as dt
import re
import reprlib
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal, get_args, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
import yaml
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from analytics.calendar import BusinessCalendar
from analytics.metrics import METRICS, MetricError
from errors import AccordError

# Limits on an agreement document (files, the Agreement editor, the database alike): a real agreement is a
# few kilobytes; these refuse a crafted one before it can fill memory or a browser.
MAX_DOCUMENT_BYTES = 256 * 1024
MAX_ALIASES = 100  # YAML aliases (*name); a real agreement has none or a few
MAX_NODES = 50_000  # values once every alias is expanded (a 521-byte alias chain expands to billions)
MAX_DEPTH = 50  # nesting of lists and mappings
MAX_COMMITMENTS = 100
MAX_TEXT = 5_000  # characters of a description or consequence
QUOTED_CHARS = 80  # at most this much of a bad value is quoted back in an error

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
REVIEW_EVERY: tuple[str, ...] = ("month", "quarter", "half-year", "year")
FILTER_KEYS: tuple[str, ...] = ("channel", "team", "owner", "segment")


class AgreementError(AccordError, ValueError):
    """The agreement document is invalid; the message names the field path and what is allowed."""


# --- field types -----------------------------------------------------------------------------------


def _problem(kind: str, message: str, field: str | None = None) -> PydanticCustomError:
    """A validation error whose message is used as is (``field``: a sub-field the message is about)."""
    return PydanticCustomError(kind, "{message}", {"message": message, "field": field})


# Names the tz database files under that mean the host's own setting (localtime, posixrules) or nothing
# (Factory), and the posix/ and right/ copies some hosts have: the same agreement would judge differently.
HOST_DEPENDENT_ZONES = frozenset({"localtime", "posixrules", "Factory"})
HOST_DEPENDENT_PREFIXES = ("posix/", "right/")


def _check_timezone(name: str) -> str:
    if name in HOST_DEPENDENT_ZONES or name.startswith(HOST_DEPENDENT_PREFIXES):
        raise _problem(
            "timezone",
            f"{quoted(name)} depends on the machine Accord runs on; use an IANA name such as 'Europe/Berlin'",
        )
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise _problem(
            "timezone", f"unknown timezone {quoted(name)}; use an IANA name such as 'Europe/Berlin'"
        ) from None
    return name


def _read_date(value: Any) -> Any:
    # A YAML date is already a date; also take ISO text, but never numbers or datetimes.
    if isinstance(value, dt.datetime):
        raise _problem("date", f"{str(value)!r} is a date and time; give a date YYYY-MM-DD")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise _problem("date", f"{quoted(value)} is not a date; use YYYY-MM-DD")


def _read_clock(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 17:30 as the base-60 number 1050.
        raise _problem("clock", f'{value} is a number; write the time in quotes, e.g. "17:30"')
    if not isinstance(value, str) or not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d|24:00", value):
        raise _problem("clock", f'{quoted(value)} is not a time of day; use "HH:MM" (00:00 to 24:00)')
    return value


def _at_most_commitments(value: Any) -> Any:
    # Checked before each commitment is validated: 5,000 of them took the Overview 335 s.
    if isinstance(value, list | tuple) and len(value) > MAX_COMMITMENTS:
        raise _problem(
            "too_many",
            f"{len(value):,} commitments; an agreement holds at most {MAX_COMMITMENTS} "
            "(split it into several agreements)",
        )
    return value


def quoted(value: Any) -> str:
    """``value`` quoted for an error message, at most :data:`QUOTED_CHARS` long however big it is.

    Never builds the whole repr: a YAML alias chain can make a value of billions of elements.

    >>> quoted("x" * 1000)
    "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'"
    >>> quoted([[1, 2, 3, 4, 5, 6, 7]] * 10_000_000)
    '[[1, 2, 3, 4, ...], [1, 2, 3, 4, ...], [1, 2, 3, 4, ...], [1, 2, 3, 4, ...], ..…'
    """
    text = _REPR.repr(value)
    return text if len(text) <= QUOTED_CHARS else text[: QUOTED_CHARS - 1] + "…"


def _listed(values: Iterable[str], limit: int = 10) -> str:
    """The first ``limit`` of ``values`` joined with commas, and how many more there are."""
    values = list(values)
    more = f" and {len(values) - limit:,} more" if len(values) > limit else ""
    return ", ".join(values[:limit]) + more


_REPR = reprlib.Repr()
for _name, _limit in {"maxlevel": 3, "maxlist": 4, "maxtuple": 4, "maxdict": 4, "maxset": 4,
                      "maxstring": QUOTED_CHARS, "maxother": QUOTED_CHARS, "maxlong": QUOTED_CHARS}.items():  # fmt: skip
    setattr(_REPR, _name, _limit)


TimeZoneName = Annotated[str, Strict(), AfterValidator(_check_timezone)]
IsoDate = Annotated[dt.date, BeforeValidator(_read_date)]
Clock = Annotated[str, BeforeValidator(_read_clock)]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Text = Annotated[str, Strict(), Field(min_length=1, max_length=200)]
LongText = Annotated[str, Field(max_length=MAX_TEXT)]
Number = Annotated[float, Strict(), Field(allow_inf_nan=False)]  # .inf would be stored as JSON Infinity


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- the document ----------------------------------------------------------------------------------


class CalendarSpec(_Model):
    """Working time: weekday names, opening hours ``[start, end]`` (local) and holiday dates."""

    workdays: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")
    hours: tuple[Clock, Clock] = ("09:00", "17:00")
    holidays: tuple[IsoDate, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> CalendarSpec:
        if not self.workdays:
            raise _problem("calendar", "name at least one working day (mon..sun)", "workdays")
        if len(set(self.workdays)) != len(self.workdays):
            raise _problem("calendar", "each day may appear once", "workdays")
        if self.hours[0] == "24:00" or self.hours[0] >= self.hours[1]:
            raise _problem(
                "calendar", f"the start {self.hours[0]} must be before the end {self.hours[1]}", "hours"
            )
        return self


class TeamSpec(_Model):
    """A team's own timezone and/or calendar; what it leaves out comes from the agreement."""

    timezone: TimeZoneName | None = None
    calendar: CalendarSpec | None = None


class Filters(_Model):
    """Which rows a commitment counts: lists of accepted values per field (all given must match).

    ``owner`` matches an owner's name or external id.
    """

    channel: tuple[Text, ...] | None = None
    team: tuple[Text, ...] | None = None
    owner: tuple[Text, ...] | None = None
    segment: tuple[Text, ...] | None = None

    def items(self) -> list[tuple[str, tuple[str, ...]]]:
        """Return the filters that are set, as ``(field, values)`` pairs."""
        return [(k, v) for k in FILTER_KEYS if (v := getattr(self, k)) is not None]


SLICE_KINDS: tuple[str, ...] = ("team", "channel", "owner")
SliceTarget = Annotated[float, Strict(), Field(ge=0)]


class SliceTargets(_Model):
    """Targets of a count or amount for slices of the data, per team, channel or owner (name or external id).

    A company target is not a slice's target: a slice (a filter or a breakdown row)
    of a count or amount is judged only against the target set here for it.
    """

    team: dict[Text, SliceTarget] | None = None
    channel: dict[Text, SliceTarget] | None = None
    owner: dict[Text, SliceTarget] | None = None

    def items(self) -> list[tuple[str, dict[str, float]]]:
        """Return the slice kinds that have targets, as ``(kind, {value: target})`` pairs."""
        return [(k, v) for k in SLICE_KINDS if (v := getattr(self, k))]

    def target_for(self, kind: str, values: Iterable[str]) -> float | None:
        """The target of the slice ``kind`` in ``values``: the sum of theirs when each has one, else None.

        >>> SliceTargets(team={"EMEA": 200.0, "APAC": 50.0}).target_for("team", ["EMEA", "APAC"])
        250.0
        >>> SliceTargets(team={"EMEA": 200.0}).target_for("team", ["EMEA", "APAC"]) is None
        True
        """
        table = getattr(self, kind, None) or {}
        values = list(values)
        if not values or any(v not in table for v in values):
            return None
        return float(sum(table[v] for v in values))


class Commitment(_Model):
    """One promise of one party: a metric with parameters, a target per period and filters."""

    id: Text
    owner: Text
    metric: Text
    params: dict[str, Any] = Field(default_factory=dict)
    target: Number | None = Field(
        description="number per period; rates in [0, 1]; null = tracked without target"
    )
    filters: Filters = Filters()
    slice_targets: SliceTargets | None = Field(
        default=None, description="count/amount targets per team, channel or owner"
    )
    description: LongText | None = None

    def metric_params(self) -> BaseModel:
        """Return the params validated by the metric's own params model."""
        return METRICS[self.metric].params.model_validate(self.params)


class Consequence(_Model):
    """What happens when a commitment is missed or met."""

    commitment: Text
    on_miss: LongText | None = None
    on_meet: LongText | None = None


class Review(_Model):
    """How often the agreement is reviewed and when next."""

    every: Literal["month", "quarter", "half-year", "year"]
    next: IsoDate


class Agreement(_Model):
    """The agreement document (see design.md). Build it with :func:`parse_agreement`."""

    name: Text
    parties: tuple[Text, ...] = Field(min_length=1)
    period: Literal["week", "month", "quarter"] = "month"
    timezone: TimeZoneName = "UTC"
    currency: Annotated[str, Strict(), Field(pattern=r"^[A-Z]{3}$")] | None = None
    calendar: CalendarSpec = CalendarSpec()
    teams: dict[str, TeamSpec] = Field(default_factory=dict)
    commitments: Annotated[tuple[Commitment, ...], BeforeValidator(_at_most_commitments)] = Field(
        min_length=1
    )
    consequences: tuple[Consequence, ...] = ()
    review: Review | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Agreement:
        if len(set(self.parties)) != len(self.parties):
            _fail("parties", f"each party may appear once; got {quoted(list(self.parties))}")
        seen: dict[str, int] = {}
        for i, c in enumerate(self.commitments):
            where = f"commitments[{i}]"
            if c.id in seen:
                _fail(f"{where}.id", f"duplicate id {c.id!r} (also commitments[{seen[c.id]}])")
            seen[c.id] = i
            if c.owner not in self.parties:
                _fail(f"{where}.owner", f"unknown party {c.owner!r}; parties: {_listed(self.parties)}")
            if c.metric not in METRICS:
                _fail(f"{where}.metric", f"unknown metric {c.metric!r}; known metrics: {', '.join(METRICS)}")
            metric = METRICS[c.metric]
            try:
                c.metric_params()
            except ValidationError as exc:
                path, text = _located(exc.errors()[0], metric.params)
                _fail(f"{where}.params{'.' if path and not path.startswith('[') else ''}{path}", text)
            except MetricError as exc:
                _fail(f"{where}.params", str(exc))
            if c.target is not None:
                low, high = metric.target_range
                if not (low <= c.target <= high):
                    shown = f"between {low:g} and {high:g}" if high != float("inf") else f"at least {low:g}"
                    _fail(
                        f"{where}.target",
                        f"{c.target:g} is out of range for a {metric.kind} metric: must be {shown}",
                    )
            if (
                c.slice_targets is not None
                and c.slice_targets.items()
                and metric.kind not in ("count", "amount")
            ):
                kind = c.slice_targets.items()[0][0]
                _fail(
                    f"{where}.slice_targets.{kind}",
                    f"slice targets are for counts and amounts; {c.metric} is a {metric.kind}, "
                    "and its target already holds for every slice",
                )
        for i, q in enumerate(self.consequences):
            if q.commitment not in seen:
                _fail(
                    f"consequences[{i}].commitment",
                    f"unknown commitment {q.commitment!r}; commitments: {', '.join(seen)}",
                )
        return self

    def commitment(self, commitment_id: str) -> Commitment:
        """Return the commitment with ``commitment_id`` (AgreementError if there is none)."""
        for c in self.commitments:
            if c.id == commitment_id:
                return c
        raise AgreementError(
            f"unknown commitment {commitment_id!r}; commitments: {', '.join(c.id for c in self.commitments)}"
        )

    def calendar_for(self, team: str | None = None) -> BusinessCalendar:
        """Return the business calendar for ``team``: the team's own where set, else the agreement's.

        >>> a = parse_agreement('''{name: A, parties: [s], timezone: Europe/Berlin,
        ...   teams: {US: {timezone: America/New_York}},
        ...   commitments: [{id: c, owner: s, metric: mql_count, target: 1}]}''')
        >>> a.calendar_for("US").timezone, a.calendar_for("EMEA").timezone
        ('America/New_York', 'Europe/Berlin')
        """
        spec = self.teams.get(team) if team is not None else None
        timezone = (spec.timezone if spec else None) or self.timezone
        calendar = (spec.calendar if spec else None) or self.calendar
        return BusinessCalendar(
            timezone=timezone,
            workdays=tuple(WEEKDAYS.index(d) for d in calendar.workdays),
            hours=(calendar.hours[0], calendar.hours[1]),
            holidays=tuple(calendar.holidays),
        )

    def team_calendars(self) -> dict[str, BusinessCalendar]:
        """Return ``{team: calendar}`` for every team the agreement names."""
        return {team: self.calendar_for(team) for team in self.teams}

    def _dump(self, mode: str) -> dict[str, Any]:
        # Optional fields left empty are omitted, except a commitment's target: it is required,
        # and null is its meaning "tracked without a target", so it must survive the round trip.
        data = self.model_dump(mode=mode, exclude_none=True)
        for dumped, commitment in zip(data.get("commitments", []), self.commitments, strict=True):
            if commitment.target is None:
                dumped["target"] = None
        return data

    def to_document(self) -> dict[str, Any]:
        """Return the document as JSON-ready data (dates as ISO text), the form stored in the database."""
        return self._dump("json")

    def to_yaml(self) -> str:
        """Return the document as YAML text that :func:`parse_agreement` reads back to an equal agreement."""
        data = _plain(self._dump("python"))
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=None, width=100)


def _fail(path: str, message: str) -> None:
    raise _problem("agreement", message, path)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


# --- parsing and error messages ----------------------------------------------------------------------


class DocumentTooLarge(AgreementError):
    """The document is over one of the limits (size, aliases, values, nesting); refused before it is read."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a mapping with the same key twice (YAML would keep the last silently), and
    counts aliases and nesting while composing, before anything is expanded (see :func:`compose`)."""

    aliases = 0
    depth = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise DocumentTooLarge(
                    f"line {self.peek_event().start_mark.line + 1}: more than {MAX_ALIASES} YAML aliases (*name); "
                    "write the values out instead"
                )
            return super().compose_node(parent, index)
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise DocumentTooLarge(
                    f"line {self.peek_event().start_mark.line + 1}: lists and mappings nested more than "
                    f"{MAX_DEPTH} deep"
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set = set()
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode):  # "? [a, b]": a list or mapping as a key
            kind = "list" if isinstance(key_node, yaml.SequenceNode) else "mapping"
            raise yaml.constructor.ConstructorError(
                None, None, f"a {kind} cannot be a field name; use a plain name", key_node.start_mark
            )
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


def _construct_timestamp(loader: _UniqueKeyLoader, node: yaml.ScalarNode) -> Any:
    # PyYAML raises a bare ValueError for an impossible date such as 2026-13-45, without saying where;
    # keep it as text so validation names its field ("calendar.holidays[3]: ... is not a date").
    try:
        return loader.construct_yaml_timestamp(node)
    except ValueError:
        return loader.construct_scalar(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


def parse_agreement(text: str) -> Agreement:
    """Return the :class:`Agreement` in YAML ``text``; raise :class:`AgreementError` naming what is wrong.

    >>> parse_agreement("name: [")
    Traceback (most recent call last):
    ...
    analytics.agreement.AgreementError: YAML syntax error at line 1, column 8: ...
    """
    loader = _loader(text)
    try:
        node = compose(text, loader)
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        raise AgreementError(_yaml_problem(exc)) from None
    finally:
        loader.dispose()
    return parse_document(data)


def compose(text: str, loader: yaml.SafeLoader | None = None) -> yaml.Node | None:
    """The YAML node tree of ``text`` (None when empty), refused with :class:`DocumentTooLarge` over a limit.

    Checks the byte size, then (while composing, before any alias is expanded) the number of aliases
    and the nesting depth, then the number of values with every alias expanded.
    Raises :class:`AgreementError` for a syntax error.
    """
    own = loader is None
    loader = loader or _loader(text)
    try:
        node = loader.get_single_node()
    except yaml.YAMLError as exc:
        raise AgreementError(_yaml_problem(exc)) from None
    finally:
        if own:
            loader.dispose()
    if node is not None and _expanded_size(node) > MAX_NODES:
        raise DocumentTooLarge(
            f"the document expands to more than {MAX_NODES:,} values (through its YAML aliases); "
            "an agreement is far smaller"
        )
    return node


def _loader(text: str) -> _UniqueKeyLoader:
    """A loader of ``text`` once its size is checked (the reader refuses control characters right away)."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_DOCUMENT_BYTES:
        raise DocumentTooLarge(
            f"the document is {size:,} bytes; an agreement may have at most {MAX_DOCUMENT_BYTES:,}"
        )
    try:
        return _UniqueKeyLoader(text)
    except yaml.YAMLError as exc:
        raise AgreementError(_yaml_problem(exc)) from None


def _expanded_size(root: yaml.Node) -> int:
    """How many nodes ``root`` has with every alias expanded (shared nodes counted each time they are used).

    Raises :class:`DocumentTooLarge` for a recursive document (an alias inside the value it names).
    """
    sizes: dict[int, int] = {}
    open_: set[int] = set()  # nodes whose children are being counted: the current path
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:  # post-order without recursion; composing already bounded the depth
        node, children_done = stack.pop()
        if children_done:
            sizes[id(node)] = min(1 + sum(sizes[id(c)] for c in _children(node)), MAX_NODES + 1)
            open_.discard(id(node))
            continue
        if id(node) in sizes:
            continue
        if id(node) in open_:
            raise DocumentTooLarge(
                f"line {node.start_mark.line + 1}: a YAML alias is used inside the value it names "
                "(a value that contains itself)"
            )
        open_.add(id(node))
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node) if id(c) not in sizes)
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    problem = getattr(exc, "problem", None) or str(exc)
    return f"YAML syntax error{where}: {problem}"


def parse_document(data: Any) -> Agreement:
    """Return the :class:`Agreement` held in already-parsed data (a mapping, e.g. JSON from the database)."""
    if not isinstance(data, Mapping):
        raise AgreementError(
            f"the agreement must be a mapping of fields (name, parties, ...), got {type(data).__name__}"
        )
    try:
        return Agreement.model_validate(dict(data))
    except ValidationError as exc:
        raise AgreementError(_message(exc, Agreement)) from None


def _message(exc: ValidationError, model: type[BaseModel]) -> str:
    lines = []
    for err in exc.errors():
        lines.append(_line(err, model))
    if len(lines) == 1:
        return lines[0]
    return f"{len(lines)} problems in the agreement:\n" + "\n".join(f"- {line}" for line in lines)


def _located(err: Mapping[str, Any], model: type[BaseModel]) -> tuple[str, str]:
    """One problem as ``(field path, what is wrong)``."""
    path = _path(err["loc"])
    field = (err.get("ctx") or {}).get("field")
    if field:  # a model-level check names the field it is about
        path = f"{path}.{field}" if path else field
    return path, _describe(err, model)


def _line(err: Mapping[str, Any], model: type[BaseModel]) -> str:
    path, text = _located(err, model)
    return f"{path}: {text}" if path else text


def _path(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif str(part).startswith(("function-", "tagged-union")) or part in ("float", "str", "none"):
            continue  # pydantic's internal step names, not fields
        else:
            out += f".{part}" if out else str(part)
    return out


def _describe(err: Mapping[str, Any], model: type[BaseModel]) -> str:
    kind = err["type"]
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        allowed = _fields_at(model, err["loc"][:-1])
        if allowed:
            return f"unknown field; allowed fields: {', '.join(allowed)}"
        if len(err["loc"]) == 1 and not model.model_fields:
            return "unknown field; this metric takes no params"
        return "unknown field"
    if kind == "finite_number":
        return f"must be a finite number, got {quoted(err.get('input'))}"
    if kind in ("float_type", "float_parsing"):
        return f"must be a number, got {quoted(err.get('input'))}"
    if kind in ("string_type",):
        return f"must be text, got {quoted(err.get('input'))}"
    if kind in ("list_type", "tuple_type"):
        return f"must be a list, got {quoted(err.get('input'))}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"must be a mapping of fields, got {quoted(err.get('input'))}"
    if kind in ("string_too_long", "too_long"):
        limit = (err.get("ctx") or {}).get("max_length")
        what = "characters" if kind == "string_too_long" else "items"
        return f"too long: at most {limit:,} {what}" if limit is not None else "too long"
    return str(err["msg"])


def _fields_at(model: Any, loc: Iterable[Any]) -> list[str]:
    """Field names of the model reached by following ``loc`` from ``model`` (empty if unknown)."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return []
            current = field.annotation
        elif get_origin(current) in (tuple, list):
            current = get_args(current)[0]
        elif get_origin(current) is dict:
            current = get_args(current)[1]
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    # Optional[X] -> X; Annotated[X, ...] -> X
    for _ in range(4):
        args = [a for a in get_args(annotation) if a is not type(None)]
        origin = get_origin(annotation)
        if origin is Annotated or (
            origin is not None and str(origin) in ("typing.Union", "<class 'types.UnionType'>")
        ):
            annotation = args[0]
        else:
            break
    return annotation


# --- versions ----------------------------------------------------------------------------------------


class AgreementVersion(_Model):
    """One saved version of an agreement, in force from ``effective_from`` on."""

    agreement: Text
    version: Annotated[int, Field(ge=1)]
    effective_from: AwareDatetime
    document: Agreement
    author: str = ""
    reason: str = ""
    created_at: AwareDatetime

    @model_validator(mode="after")
    def _same_name(self) -> AgreementVersion:
        if self.document.name != self.agreement:
            raise _problem(
                "agreement",
                f"{self.document.name!r} differs from the version's agreement {self.agreement!r}",
                "document.name",
            )
        return self


def versions_from_rows(rows: pd.DataFrame | Iterable[Mapping[str, Any]]) -> list[AgreementVersion]:
    """Return :class:`AgreementVersion` objects from stored rows (columns as in ``agreement_versions``).

    ``rows`` is a frame (e.g. the repository's ``read_agreement_versions``) or
    mappings with ``agreement, version, effective_from, document`` (a dict) and
    optionally ``author, reason, created_at``. A bad document raises
    :class:`AgreementError` naming the version.
    """
    records = rows.to_dict("records") if isinstance(rows, pd.DataFrame) else list(rows)
    out = []
    for row in records:
        try:
            document = parse_document(row["document"])
        except AgreementError as exc:
            raise AgreementError(f"{row.get('agreement')} version {row.get('version')}: {exc}") from None
        created = row.get("created_at")
        try:
            out.append(
                AgreementVersion(
                    agreement=row["agreement"],
                    version=int(row["version"]),
                    effective_from=pd.Timestamp(row["effective_from"]).to_pydatetime(),
                    document=document,
                    author=_text(row.get("author")),
                    reason=_text(row.get("reason")),
                    created_at=pd.Timestamp(
                        created if created is not None and not pd.isna(created) else row["effective_from"]
                    ).to_pydatetime(),
                )  # fmt: skip
            )
        except ValidationError as exc:
            raise AgreementError(
                f"{row.get('agreement')} version {row.get('version')}: {_message(exc, AgreementVersion)}"
            ) from None
    return out


def _text(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and value != value) else str(value)


def version_in_force(versions: Iterable[AgreementVersion], instant: Any) -> AgreementVersion | None:
    """Return the version in force at ``instant``: latest ``effective_from <= instant``, ties to the highest version.

    Returns None when no version had started yet. ``instant`` must be timezone-aware.
    """
    moment = pd.Timestamp(instant)
    if moment.tzinfo is None:
        raise AgreementError(f"the instant {instant!r} needs a timezone (e.g. UTC)")
    best: AgreementVersion | None = None
    for v in versions:
        if pd.Timestamp(v.effective_from) > moment:
            continue
        if best is None or (pd.Timestamp(v.effective_from), v.version) > (
            pd.Timestamp(best.effective_from),
            best.version,
        ):
            best = v
    return best
