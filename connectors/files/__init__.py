"""File import: CSV and Excel exports from any CRM into the canonical tables.

What the Data page (and ``python cli.py import``) needs, in the order a user meets it:

- :func:`read_preview` -> :class:`Preview`: format found, headers, first rows;
- :func:`propose_mapping` -> :class:`Proposal`: the preset (HubSpot, Salesforce,
  Maven CRM) that fits the headers, or columns guessed from their names;
- :func:`check_mapping` -> :class:`MappingCheck`: errors and warnings of a
  (corrected) mapping against the headers; :func:`mappable_fields`,
  :func:`field_kind` and ``REQUIRED_COLUMNS`` describe the fields a table offers;
  ``Mapping.from_dict`` / ``Mapping.from_yaml`` build a mapping from a form or text;
- :func:`dry_run` / :func:`import_file` -> :class:`ImportReport`;
- :func:`save_mapping`, :func:`load_mapping`, :func:`list_mappings`,
  :func:`delete_mapping`, :func:`preset_names`: named mappings as YAML.

Errors a user can fix raise :class:`FileImportError` (:class:`MappingError` for
mappings), whose message names the file, line and column.

Modules: ``reading`` (bytes -> text rows), ``values`` (text -> typed values),
``mapping`` (the YAML mapping, presets, proposals), ``rows`` (a chunk of rows ->
canonical rows and rejects), ``importer`` (the run: chunks, upserts, report).
"""

from connectors.files.importer import ImportReport, check_first_rows, dry_run, import_file
from connectors.files.mapping import (
    REQUIRED_COLUMNS,
    TABLES,
    Mapping,
    MappingCheck,
    MappingError,
    Proposal,
    check_mapping,
    delete_mapping,
    field_kind,
    join_label,
    list_mappings,
    load_mapping,
    load_preset,
    mappable_fields,
    preset_names,
    propose_mapping,
    save_mapping,
)
from connectors.files.reading import FileFormat, FileImportError, Preview, read_preview, sniff
from connectors.files.rows import joined_text

__all__ = [
    "REQUIRED_COLUMNS",
    "TABLES",
    "FileFormat",
    "FileImportError",
    "ImportReport",
    "Mapping",
    "MappingCheck",
    "MappingError",
    "Preview",
    "Proposal",
    "check_mapping",
    "delete_mapping",
    "check_first_rows",
    "dry_run",
    "field_kind",
    "import_file",
    "join_label",
    "joined_text",
    "list_mappings",
    "load_mapping",
    "load_preset",
    "mappable_fields",
    "preset_names",
    "propose_mapping",
    "read_preview",
    "save_mapping",
    "sniff",
]
