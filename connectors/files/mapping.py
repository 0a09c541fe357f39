"""Mappings: which column of an export feeds which canonical field, and how its values read.

A mapping is a small YAML document (see ``connectors/mappings/*.yaml`` and the
README)::

    table: deals
    source: pipedrive              # rows are keyed on (source, external_id)
    owner_reference: name          # owner columns hold names (or e-mails), not ids
    timezone: Europe/Berlin        # naive date-times are local times there
    dayfirst: true                 # 03/04/2024 is 3 April (default: detected)
    columns:
      external_id: Deal ID
      created_at: [Created, Deal created]   # the first one the file has
      owner_external_id: Owner
      stage: Stage
    join:
      name: [First name, Last name]         # "Ada" and "Lovelace" -> "Ada Lovelace"
    stages: {won: [Won], lost: [Lost]}      # sets is_won / is_closed from stage
    values:
      channel: {"Web form": Inbound, "*": Other}
    constants: {currency: EUR}

Built-in presets (HubSpot and Salesforce exports, the Maven CRM sample) are
found from a file's headers by :func:`propose_mapping`; mappings a user saves
go to the folder the caller passes in (``settings.mappings_dir()``: ``ACCORD_MAPPINGS_DIR``,
default ``var/mappings``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from analytics.schema import ACTIVITY_KINDS, BOOL, COLUMNS, DISPOSITIONS, STR, UTC_TS, input_columns
from connectors.files.reading import FileImportError

TABLES = ("leads", "deals", "owners", "activities")
PRESETS_DIR = Path(__file__).resolve().parent.parent / "mappings"

# A file must have these columns; a row must have these values (the others may be blank).
REQUIRED_COLUMNS = {
    "owners": ("external_id",),
    "leads": ("external_id", "created_at"),
    "deals": ("external_id", "created_at"),
    "activities": ("external_id", "occurred_at"),
}
REQUIRED_VALUES = {
    "owners": ("external_id",),
    "leads": ("external_id", "created_at"),
    "deals": ("external_id",),
    "activities": ("external_id", "occurred_at"),
}
ENUMERATIONS = {"disposition": DISPOSITIONS, "kind": ACTIVITY_KINDS}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.\-]{0,63}$")
_SOURCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,47}$")


class MappingError(FileImportError):
    """A mapping that cannot be used: bad YAML, an unknown field, a column the file lacks."""


def mappable_fields(table: str) -> list[str]:
    """The canonical fields a file can fill for ``table`` (``source`` comes from the import, not a column).

    >>> mappable_fields("owners")
    ['external_id', 'name', 'email', 'team', 'active', 'updated_at']
    """
    if table not in TABLES:
        raise MappingError(f"unknown table {table!r}; choose one of {', '.join(TABLES)}")
    return [c for c in input_columns(table) if c != "source"]


def field_kind(table: str, name: str) -> str:
    """``date``, ``number``, ``whole number``, ``yes/no`` or ``text``: how a field's values are read."""
    return {UTC_TS: "date", "float64": "number", "Int64": "whole number", BOOL: "yes/no"}.get(
        COLUMNS[table][name], "text"
    )


class Stages(BaseModel):
    """Stage names that mean a deal is won or lost; any other stage is open."""

    model_config = ConfigDict(extra="forbid")
    won: list[str] = []
    lost: list[str] = []


class Mapping(BaseModel):
    """One mapping document (see the module docstring); build it with :meth:`from_yaml` or keywords."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    description: str | None = None
    table: Literal["leads", "deals", "owners", "activities"]
    source: str | None = None
    owner_reference: Literal["id", "name"] = "id"
    timezone: str | None = None
    date_format: str | None = None
    dayfirst: bool | None = None
    decimal: Literal[".", ","] | None = None
    columns: dict[str, str | list[str]] = {}
    join: dict[str, list[str]] = {}
    stages: Stages | None = None
    values: dict[str, dict[str, Any]] = {}
    constants: dict[str, Any] = {}
    sheet: str | None = None
    encoding: str | None = None
    delimiter: str | None = None

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value):
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(
                    f"unknown timezone {value!r}; use an IANA name such as Europe/Berlin"
                ) from None
        return value

    @field_validator("source")
    @classmethod
    def _source_name(cls, value):
        if value is not None and not _SOURCE.match(value):
            raise ValueError(
                f"source {value!r} must be 1-48 letters, digits, '-', '_', '.' or ':', starting with a letter or digit"
            )
        return value

    @field_validator("date_format")
    @classmethod
    def _strptime_format(cls, value):
        if value is not None and "%" not in value:
            raise ValueError(f"date_format {value!r} is not a strptime format such as %d.%m.%Y %H:%M")
        return value

    @model_validator(mode="after")
    def _fields_fit_table(self):
        fields = mappable_fields(self.table)
        known = ", ".join(fields)
        for part, names in (
            ("columns", self.columns),
            ("join", self.join),
            ("values", self.values),
            ("constants", self.constants),
        ):
            for name in names:
                if name not in fields:
                    hint = " (derived from the owner; import owners with a team)" if name == "team" else ""
                    raise _Invalid(
                        [part, name], f"{name!r} is not a field of {self.table}{hint}; fields: {known}"
                    )
        for name, header in self.columns.items():
            if header in ("", []) or (
                isinstance(header, list) and not all(isinstance(h, str) and h for h in header)
            ):
                raise _Invalid(["columns", name], f"{name!r} names no column")
        for name, headers in self.join.items():
            if name in self.columns or name in self.constants:
                where = "columns" if name in self.columns else "constants"
                raise _Invalid(["join", name], f"{name!r} is also in {where}; keep one")
            if COLUMNS[self.table][name] != STR:
                raise _Invalid(
                    ["join", name],
                    f"{name!r} is a {field_kind(self.table, name)}; only text fields are joined",
                )
            if len(headers) < 2 or not all(isinstance(h, str) and h.strip() for h in headers):
                raise _Invalid(
                    ["join", name], f"{name!r} joins two or more columns, e.g. [First name, Last name]"
                )
        for name in self.constants:
            if name in self.columns:
                raise _Invalid(["constants", name], f"{name!r} is also in columns; keep one")
            if name == "external_id":
                raise _Invalid(
                    ["constants", name], "external_id must come from a column (each row needs its own)"
                )
        for name, table in self.values.items():
            kind = COLUMNS[self.table][name]
            if kind not in (STR, BOOL):
                raise _Invalid(
                    ["values", name],
                    f"{name!r} is a {field_kind(self.table, name)}; value maps are "
                    "for text and yes/no fields",
                )
            for key, value in table.items():
                if kind == BOOL and value is not None and not isinstance(value, bool):
                    raise _Invalid(["values", name, key], f"{key!r} must map to true or false, not {value!r}")
                if (
                    name in ENUMERATIONS
                    and value is not None
                    and str(value).casefold() not in ENUMERATIONS[name]
                ):
                    raise _Invalid(
                        ["values", name, key],
                        f"{key!r} maps to {value!r}; use one of {', '.join(ENUMERATIONS[name])}",
                    )
        if self.stages is not None:
            if self.table != "deals":
                raise _Invalid(["stages"], "only deals have stages")
            if "stage" not in self.columns and "stage" not in self.constants:
                raise _Invalid(["stages"], "needs a column for stage (columns: {stage: ...})")
        return self

    # ------------------------------------------------------------------ YAML

    def to_yaml(self) -> str:
        """The mapping as a YAML document (only what is set), ready to save."""
        data = self.model_dump(exclude_none=True)
        data = {
            k: v for k, v in data.items() if v not in ({}, []) and not (k == "owner_reference" and v == "id")
        }
        if "stages" in data:
            data["stages"] = {k: v for k, v in data["stages"].items() if v}
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)

    @classmethod
    def from_yaml(cls, text: str, where: str = "mapping", table: str | None = None) -> Mapping:
        """Parse and check a YAML mapping; :class:`MappingError` names ``where``, the line and the key.

        ``table`` stands in for a missing ``table:`` key (the table the command imports into)."""
        try:
            node = yaml.compose(text, Loader=_Loader)
            data = yaml.load(text, Loader=_Loader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            problem = getattr(exc, "problem", None) or str(exc)
            raise MappingError(
                f"not valid YAML: {problem}", file=where, line=mark.line + 1 if mark else None
            ) from None
        if not isinstance(data, dict):
            raise MappingError("a mapping is a YAML document of keys (table:, columns:, ...)", file=where)
        data = _stringify_keys(data)
        if table is not None and "table" not in data:
            data["table"] = table
        return cls.from_dict(data, where, node)

    @classmethod
    def from_dict(cls, data: dict, where: str = "mapping", node=None) -> Mapping:
        """Check a mapping given as a dict (e.g. from a page's form)."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            error = exc.errors()[0]
            loc = [str(p) for p in error["loc"]]
            message = error["msg"].removeprefix("Value error, ")
            cause = (error.get("ctx") or {}).get("error")
            if isinstance(cause, _Invalid):
                loc, message = cause.path, f"{cause.path[0]}: {cause.message}"
            if error["type"] == "extra_forbidden":
                message = f"unknown key {loc[-1]!r}"
            elif error["type"] == "literal_error" or loc and not message.startswith(loc[0]):
                message = f"{'.'.join(loc)}: {message}"
            raise MappingError(message, file=where, line=_line_of(node, loc)) from None


class _Invalid(ValueError):
    """A rule of the mapping is broken at ``path`` (keys from the document's top)."""

    def __init__(self, path: list[str], message: str):
        super().__init__(message)
        self.path, self.message = [str(p) for p in path], message


class _Loader(yaml.SafeLoader):
    """YAML with only true/false as booleans: a stage called "Yes" or "No" stays text."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _stringify_keys(value):
    if isinstance(value, dict):
        return {
            (k if isinstance(k, str) else str(k).lower() if isinstance(k, bool) else str(k)): _stringify_keys(
                v
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_stringify_keys(v) for v in value]
    return value


def _line_of(node, loc: list[str]) -> int | None:
    """The 1-based line of the YAML key at path ``loc`` (as deep as it exists), or None."""
    line = None
    for part in loc:
        if not isinstance(node, yaml.MappingNode):
            break
        for key, value in node.value:
            if str(key.value) == part:
                line, node = key.start_mark.line + 1, value
                break
        else:
            break
    return line


# ----------------------------------------------------------------------------- headers


def normalize_header(header: str) -> str:
    """A header reduced for matching: case, spaces and punctuation do not count.

    >>> normalize_header(" Became a Marketing Qualified Lead Date "), normalize_header("deal_stage")
    ('became_a_marketing_qualified_lead_date', 'deal_stage')
    """
    return re.sub(r"[^0-9a-z]+", "_", str(header).casefold()).strip("_")


def _find_header(wanted: str | list[str], headers: list[str]) -> str | None:
    options = [wanted] if isinstance(wanted, str) else list(wanted)
    for option in options:
        if option in headers:
            return option
    by_key = {}
    for header in headers:
        by_key.setdefault(normalize_header(header), header)
    for option in options:
        found = by_key.get(normalize_header(option))
        if found is not None:
            return found
    return None


@dataclass
class MappingCheck:
    """A mapping held against a file's headers: ``columns`` (field -> header found), errors, warnings and
    ``joins`` (field -> the headers found for a ``join:``)."""

    mapping: Mapping
    columns: dict[str, str]
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    joins: dict[str, list[str]] = field(default_factory=dict)  # field -> the headers joined into it

    @property
    def ok(self) -> bool:
        return not self.errors


def check_mapping(mapping: Mapping, headers: list[str]) -> MappingCheck:
    """Find each mapped column among ``headers`` (exactly, else ignoring case and punctuation).

    A missing required column is an error; a missing optional one a warning
    (that field is left as stored). The error lists what is missing and what
    the file has.
    """
    columns, missing, warnings = {}, [], []
    required = REQUIRED_COLUMNS[mapping.table]
    joins = resolve_joins(mapping, headers)
    for name, wanted in mapping.join.items():
        if name in joins:
            continue
        absent = ", ".join(repr(w) for w in wanted if _find_header(w, headers) is None)
        if name in required:
            missing.append(f"{absent} (joined into {name})")
        else:
            warnings.append(
                f"column {absent} (joined into {name}) is not in the file; {name} is not imported"
            )
    for name, wanted in mapping.columns.items():
        header = _find_header(wanted, headers)
        if header is not None:
            columns[name] = header
            if f"{header}.1" in headers:
                warnings.append(f"the file has the column {header!r} more than once; the first one is used")
            continue
        label = " or ".join(repr(w) for w in ([wanted] if isinstance(wanted, str) else wanted))
        if name in required:
            missing.append(f"{label} (for {name})")
        else:
            warnings.append(f"column {label} (for {name}) is not in the file; {name} is not imported")
    for name in required:
        if name not in mapping.columns and name not in mapping.constants and name not in mapping.join:
            missing.append(f"a column for {name}, which {mapping.table} require")
    errors = []
    if missing:
        errors.append(
            f"the file lacks what the mapping{f' {mapping.name!r}' if mapping.name else ''} needs: "
            f"{'; '.join(missing)}. The file's columns: {', '.join(repr(h) for h in headers) or '(none)'}"
        )
    if mapping.owner_reference == "name" and "owner_external_id" not in columns and mapping.table != "owners":
        warnings.append("owner_reference is name, but no owner column is mapped")
    return MappingCheck(mapping, columns, errors, warnings, joins)


def resolve_joins(mapping: Mapping, headers: list[str]) -> dict[str, list[str]]:
    """Field -> the file's headers it joins, for each ``join:`` of ``mapping`` whose every column is in ``headers``.

    >>> m = Mapping(table="leads", columns={"external_id": "Id"}, join={"name": ["first name", "Last Name"]})
    >>> resolve_joins(m, ["Id", "First Name", "Last Name"])
    {'name': ['First Name', 'Last Name']}
    """
    out = {}
    for name, wanted in mapping.join.items():
        found = [_find_header(w, headers) for w in wanted]
        if all(h is not None for h in found):
            out[name] = found
    return out


def join_label(headers: list[str]) -> str:
    """How a joined field's columns are named in previews and rejected rows.

    >>> join_label(["First name", "Last name"])
    'First name + Last name'
    """
    return " + ".join(headers)


# ----------------------------------------------------------------------------- presets and proposals

_ENTITY = {
    "leads": ("lead", "contact"),
    "deals": ("deal", "opportunity", "opp"),
    "owners": ("owner", "user", "agent", "rep", "sales_agent", "employee"),
    "activities": ("activity", "engagement", "task", "event"),
}
# Header spellings (normalized) that a field is guessed from when no preset fits.
_GUESSES = {
    "external_id": ("external_id", "id", "record_id", "{entity}_id", "{entity}id"),
    "name": ("name", "{entity}_name", "full_name", "title"),
    "email": ("email", "e_mail", "email_address"),
    "company": ("company", "company_name", "account_name", "organization"),
    "team": ("team", "regional_office", "office", "region", "team_name"),
    "active": ("active", "is_active", "enabled"),
    "created_at": (
        "created_at",
        "created",
        "create_date",
        "created_date",
        "creation_date",
        "date_created",
        "created_on",
        "createdate",
    ),
    "mql_at": ("mql_at", "mql_date", "became_a_marketing_qualified_lead_date", "marketing_qualified_date"),
    "sql_at": ("sql_at", "sql_date", "became_a_sales_qualified_lead_date", "converted_date"),
    "owner_external_id": (
        "owner_external_id",
        "owner",
        "owner_id",
        "{entity}_owner",
        "owner_name",
        "sales_agent",
        "assigned_to",
        "sales_rep",
        "rep",
    ),
    "owner_assigned_at": ("owner_assigned_at", "owner_assigned_date", "assigned_date"),
    "channel": ("channel", "original_source", "lead_source", "source"),
    "campaign": ("campaign", "campaign_name"),
    "lifecycle_stage": ("lifecycle_stage",),
    "lead_status": ("lead_status", "status"),
    "first_touch_at": ("first_touch_at", "first_touch", "date_of_first_engagement", "first_contacted"),
    "touches": ("touches", "number_of_sales_activities"),
    "disposition": ("disposition",),
    "disposition_at": ("disposition_at", "disposition_date"),
    "rejection_reason": ("rejection_reason", "reject_reason", "disqualification_reason"),
    "segment": ("segment",),
    "archived": ("archived", "is_deleted", "deleted"),
    "updated_at": ("updated_at", "last_modified_date", "last_modified", "updated", "modified"),
    "closed_at": ("closed_at", "close_date", "closed_date", "closedate", "date_closed"),
    "amount": ("amount", "close_value", "deal_value", "value", "revenue"),
    "currency": ("currency", "currency_code"),
    "stage": ("stage", "deal_stage", "dealstage"),
    "pipeline": ("pipeline",),
    "is_closed": ("is_closed", "closed"),
    "is_won": ("is_won", "won"),
    "lead_external_id": ("lead_external_id", "lead_id", "contact_id"),
    "kind": ("kind", "activity_type", "type"),
    "occurred_at": ("occurred_at", "activity_date", "date", "timestamp", "created_at", "create_date"),
}


def guess_columns(headers: list[str], table: str) -> dict[str, str]:
    """Field -> header, guessed from the headers' names (canonical names always match themselves).

    >>> guess_columns(["ID", "Created", "Owner", "Stage"], "deals")
    {'external_id': 'ID', 'created_at': 'Created', 'stage': 'Stage', 'owner_external_id': 'Owner'}
    """
    by_key = {}
    for header in headers:
        by_key.setdefault(normalize_header(header), header)
    taken, out = set(), {}
    for name in mappable_fields(table):
        spellings = (
            [s.format(entity=e) for s in _GUESSES.get(name, (name,)) for e in _ENTITY[table]]
            if name in _GUESSES
            else [name]
        )
        for spelling in dict.fromkeys([name, *spellings]):
            header = by_key.get(spelling)
            if header is not None and header not in taken:
                out[name] = header
                taken.add(header)
                break
    return out


_FIRST_NAMES = ("first_name", "firstname", "given_name", "forename", "first")
_LAST_NAMES = ("last_name", "lastname", "surname", "family_name", "last")


def guess_name_join(headers: list[str], table: str, columns: dict[str, str]) -> dict[str, list[str]]:
    """``{"name": [first, last]}`` when the file has first- and last-name columns and no name column.

    >>> guess_name_join(["Id", "First Name", "Last Name"], "leads", {"external_id": "Id"})
    {'name': ['First Name', 'Last Name']}
    >>> guess_name_join(["Id", "Name", "First Name", "Last Name"], "leads", {"name": "Name"})
    {}
    """
    if "name" in columns or "name" not in mappable_fields(table):
        return {}
    by_key = {}
    for header in headers:
        by_key.setdefault(normalize_header(header), header)
    first = next((by_key[k] for k in _FIRST_NAMES if k in by_key), None)
    last = next((by_key[k] for k in _LAST_NAMES if k in by_key), None)
    return {"name": [first, last]} if first and last else {}


def preset_names() -> list[str]:
    """Names of the built-in mappings in ``connectors/mappings/``."""
    return sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))


def load_preset(name: str) -> Mapping:
    """The built-in mapping ``name`` (see :func:`preset_names`)."""
    path = PRESETS_DIR / f"{name}.yaml"
    if not path.is_file():
        raise MappingError(f"no built-in mapping {name!r}; built-in: {', '.join(preset_names())}")
    return Mapping.from_yaml(path.read_text(encoding="utf-8"), where=f"connectors/mappings/{path.name}")


@dataclass
class Proposal:
    """A mapping proposed for a file: from a preset, or guessed from the headers.

    ``mapping`` names only columns the file has; ``check`` holds what is still
    missing; ``alternatives`` are other presets that also fit.
    """

    mapping: Mapping
    preset: str | None
    check: MappingCheck
    unused_headers: list[str]
    alternatives: list[str] = field(default_factory=list)


def propose_mapping(headers: list[str], table: str | None = None) -> Proposal:
    """The best mapping for a file with ``headers``: the preset matching most columns (all its
    required ones present), else columns guessed from the header names (for ``table``, default leads).
    """
    if table is not None:
        mappable_fields(table)  # checks the table name
    scored = []
    for name in preset_names():
        preset = load_preset(name)
        if table is not None and preset.table != table:
            continue
        check = check_mapping(preset, headers)
        if check.ok and len(check.columns) >= 2:
            scored.append(
                (len(check.columns) / max(len(preset.columns), 1) + len(check.columns), name, check)
            )
    scored.sort(key=lambda item: -item[0])
    if scored:
        _, name, check = scored[0]
        data = check.mapping.model_dump(exclude_none=True)
        data["columns"] = dict(check.columns)
        data["join"] = dict(check.joins)
        data["values"] = {
            k: v for k, v in data.get("values", {}).items() if k in check.columns or k in check.joins
        }
        mapping = Mapping.from_dict(data, where=f"preset {name}")
        preset, alternatives = name, [n for _, n, _ in scored[1:]]
    else:
        chosen = table or _best_table(headers)
        columns = guess_columns(headers, chosen)
        mapping = Mapping(table=chosen, columns=columns, join=guess_name_join(headers, chosen, columns))
        preset, alternatives = None, []
    check = check_mapping(mapping, headers)
    used = set(check.columns.values()) | {h for headers in check.joins.values() for h in headers}
    return Proposal(mapping, preset, check, [h for h in headers if h not in used], alternatives)


def _best_table(headers: list[str]) -> str:
    best = max(
        TABLES,
        key=lambda t: (
            all(f in guess_columns(headers, t) for f in REQUIRED_COLUMNS[t]),
            len(guess_columns(headers, t)),
        ),
    )
    return best


# ----------------------------------------------------------------------------- saved mappings


def _file_for(name: str, folder) -> Path:
    if not _NAME.match(name or ""):
        raise MappingError(
            f"mapping name {name!r} must be 1-64 letters, digits, spaces, '-', '_' or '.', starting with a letter or digit"
        )
    stem = re.sub(r"\s+", "-", name.strip().casefold())
    return Path(folder) / f"{stem}.yaml"


def save_mapping(mapping: Mapping, name: str, folder: str | Path) -> Path:
    """Save ``mapping`` under ``name`` in ``folder`` (replacing one of that name); returns the file written."""
    path = _file_for(name, folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    named = mapping.model_copy(update={"name": name.strip()})
    path.write_text(named.to_yaml(), encoding="utf-8")
    return path


def list_mappings(folder: str | Path | None) -> list[str]:
    """Names of the mappings saved in ``folder``, sorted (none without a folder)."""
    directory = Path(folder) if folder is not None else None
    names = []
    for path in sorted(directory.glob("*.yaml")) if directory is not None and directory.is_dir() else []:
        try:
            names.append(Mapping.from_yaml(path.read_text(encoding="utf-8"), str(path)).name or path.stem)
        except MappingError:
            names.append(path.stem)
    return sorted(names, key=str.casefold)


def delete_mapping(name: str, folder: str | Path) -> bool:
    """Delete the mapping ``name`` saved in ``folder``; False if there was none."""
    path = _file_for(name, folder)
    if path.is_file():
        path.unlink()
        return True
    return False


def load_mapping(ref: str | Path, folder: str | Path | None = None, table: str | None = None) -> Mapping:
    """A mapping by file path, name saved in ``folder`` (when given), or built-in preset name, in that order.

    ``table`` is the table the mapping is used for (``import leads``): a mapping file that does not say
    ``table:`` is for it; one that names another table is refused by the importer.
    """
    path = Path(ref)
    if path.suffix.lower() in (".yaml", ".yml") or path.is_file():
        if not path.is_file():
            raise MappingError("no such mapping file", file=str(ref))
        return Mapping.from_yaml(path.read_text(encoding="utf-8"), where=str(ref), table=table)
    if _NAME.match(str(ref)):
        saved = _file_for(str(ref), folder) if folder is not None else None
        if saved is not None and saved.is_file():
            return Mapping.from_yaml(saved.read_text(encoding="utf-8"), where=str(saved), table=table)
        if str(ref) in preset_names():
            return load_preset(str(ref))
    raise MappingError(
        f"no mapping {str(ref)!r}: not a file, and neither saved ({', '.join(list_mappings(folder)) or 'none'}) "
        f"nor built in ({', '.join(preset_names())})"
    )
