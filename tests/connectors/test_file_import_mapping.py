"""Mappings: YAML documents and their errors, presets and proposals, saved mappings."""

from __future__ import annotations

import pytest

import settings
from connectors.files.mapping import (
    Mapping,
    MappingError,
    check_mapping,
    delete_mapping,
    guess_columns,
    list_mappings,
    load_mapping,
    load_preset,
    mappable_fields,
    preset_names,
    propose_mapping,
    save_mapping,
)

EXAMPLE = """\
name: pipedrive deals
table: deals
source: pipedrive
owner_reference: name
timezone: Europe/Berlin
dayfirst: true
columns:
  external_id: Deal ID
  created_at: [Created, Deal created]
  owner_external_id: Owner
  stage: Stage
  amount: Value
stages:
  won: [Won]
  lost: [Lost]
values:
  channel: {Yes: Inbound, No: Outbound, "*": Other}
constants:
  currency: EUR
"""


def test_a_mapping_document_round_trips_through_yaml():
    mapping = Mapping.from_yaml(EXAMPLE)
    assert mapping.columns["created_at"] == ["Created", "Deal created"]
    assert mapping.stages.won == ["Won"]
    assert Mapping.from_yaml(mapping.to_yaml()) == mapping


def test_yes_and_no_keys_stay_text():
    mapping = Mapping.from_yaml(EXAMPLE)
    assert mapping.values["channel"] == {"Yes": "Inbound", "No": "Outbound", "*": "Other"}


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("table: leads\ncolumns: {external_id: [a\n", "not valid YAML", None),
        ("table: contacts\n", "table: Input should be 'leads', 'deals', 'owners' or 'activities'", 1),
        (
            "table: leads\ncolumns:\n  external_id: id\n  colour: Colour\n",
            "'colour' is not a field of leads",
            4,
        ),
        ("table: leads\ncolumns:\n  team: Team\n", "derived from the owner", 3),
        ("table: leads\ntimezone: Mars/Olympus\n", "unknown timezone 'Mars/Olympus'", 2),
        ("table: leads\nvalues:\n  created_at: {x: y}\n", "value maps are for text and yes/no fields", 3),
        ("table: deals\nvalues:\n  is_won: {Won: yes}\n", "must map to true or false", 3),
        ("table: leads\nvalues:\n  disposition: {Open: maybe}\n", "use one of open, accepted, rejected", 3),
        ("table: leads\nstages: {won: [Won]}\n", "only deals have stages", 2),
        ("table: deals\nstages: {won: [Won]}\n", "needs a column for stage", 2),
        (
            "table: deals\ncolumns: {currency: Cur}\nconstants: {currency: EUR}\n",
            "constants: 'currency' is also in columns",
            3,
        ),
        ("table: deals\ncolor: red\n", "unknown key 'color'", 2),
        ("table: leads\nsource: 'has spaces'\n", "source 'has spaces' must be", 2),
        ("table: leads\ndate_format: DD.MM.YYYY\n", "not a strptime format", 2),
        ("- just\n- a list\n", "a mapping is a YAML document of keys", None),
    ],
)
def test_bad_mappings_say_what_and_where(text, message, line):
    with pytest.raises(MappingError) as error:
        Mapping.from_yaml(text, where="m.yaml")
    assert message in str(error.value)
    assert str(error.value).startswith("m.yaml")
    if line is not None:
        assert error.value.line == line


def test_the_yaml_syntax_error_names_its_line():
    with pytest.raises(MappingError, match=r"m\.yaml, line 4: not valid YAML"):
        Mapping.from_yaml("table: leads\ncolumns:\n  external_id: [a\n  b: c\n", where="m.yaml")


# ----------------------------------------------------------------------------- against a file's headers


def test_missing_required_columns_list_what_is_missing_and_what_was_found():
    mapping = Mapping(table="leads", columns={"external_id": "Record ID", "created_at": "Create Date"})
    check = check_mapping(mapping, ["Email", "Created"])
    assert not check.ok
    assert "'Record ID' (for external_id)" in check.errors[0]
    assert "'Create Date' (for created_at)" in check.errors[0]
    assert "The file's columns: 'Email', 'Created'" in check.errors[0]


def test_a_required_field_without_any_column_is_an_error():
    check = check_mapping(Mapping(table="activities", columns={"external_id": "id"}), ["id"])
    assert "a column for occurred_at, which activities require" in check.errors[0]


def test_missing_optional_columns_are_warnings_and_headers_match_loosely():
    mapping = Mapping(
        table="leads",
        columns={
            "external_id": "Record ID",
            "created_at": "create date",
            "campaign": ["Campaign", "Campaign Name"],
        },
    )
    check = check_mapping(mapping, ["record_id", "Create Date"])
    assert check.ok
    assert check.columns == {"external_id": "record_id", "created_at": "Create Date"}
    assert check.warnings == [
        "column 'Campaign' or 'Campaign Name' (for campaign) is not in the file; campaign is not imported"
    ]


def test_a_repeated_header_is_a_warning():
    check = check_mapping(Mapping(table="owners", columns={"external_id": "id"}), ["id", "id.1"])
    assert "more than once" in check.warnings[0]


# ----------------------------------------------------------------------------- presets and proposals


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_is_a_valid_mapping_named_like_its_file(name):
    preset = load_preset(name)
    assert preset.name == name and preset.source and preset.description


HUBSPOT_CONTACTS = [
    "Record ID",
    "First Name",
    "Last Name",
    "Email",
    "Contact owner",
    "Create Date",
    "Lifecycle Stage",
    "Lead Status",
    "Original Source",
    "Became a Marketing Qualified Lead Date",
    "Became a Sales Qualified Lead Date",
]
HUBSPOT_DEALS = [
    "Record ID",
    "Deal Name",
    "Deal Stage",
    "Amount",
    "Close Date",
    "Create Date",
    "Deal owner",
    "Pipeline",
]
SALESFORCE_LEADS = [
    "Lead ID",
    "First Name",
    "Last Name",
    "Company / Account",
    "Lead Owner",
    "Lead Source",
    "Status",
    "Created Date",
]
SALESFORCE_OPPORTUNITIES = [
    "Opportunity ID",
    "Opportunity Name",
    "Opportunity Owner",
    "Stage",
    "Amount",
    "Close Date",
    "Created Date",
    "Won",
    "Closed",
    "Lead Source",
]
MAVEN_PIPELINE = [
    "opportunity_id",
    "sales_agent",
    "product",
    "account",
    "deal_stage",
    "engage_date",
    "close_date",
    "close_value",
]


@pytest.mark.parametrize(
    ("headers", "table", "preset"),
    [
        (HUBSPOT_CONTACTS, "leads", "hubspot-contacts"),
        (HUBSPOT_CONTACTS, None, "hubspot-contacts"),
        (HUBSPOT_DEALS, "deals", "hubspot-deals"),
        (HUBSPOT_DEALS, None, "hubspot-deals"),
        (SALESFORCE_LEADS, None, "salesforce-leads"),
        (SALESFORCE_OPPORTUNITIES, None, "salesforce-opportunities"),
        (MAVEN_PIPELINE, None, "maven-crm-deals"),
        (["sales_agent", "manager", "regional_office"], "owners", "maven-crm-owners"),
    ],
)
def test_presets_are_recognised_from_the_headers(headers, table, preset):
    proposal = propose_mapping(headers, table)
    assert proposal.preset == preset
    assert proposal.check.ok
    assert set(proposal.mapping.columns.values()) <= set(headers)  # only columns the file has


def test_a_proposed_preset_drops_value_maps_of_columns_the_file_lacks():
    proposal = propose_mapping(["Record ID", "Create Date", "Contact owner"], "leads")
    assert proposal.preset == "hubspot-contacts"
    assert "disposition" not in proposal.mapping.values
    assert proposal.mapping.owner_reference == "name"


def test_unknown_exports_get_columns_guessed_from_their_names():
    proposal = propose_mapping(["Lead Id", "Created On", "Owner Email", "Channel", "Whatever"], "leads")
    assert proposal.preset is None
    assert proposal.mapping.columns == {
        "external_id": "Lead Id",
        "created_at": "Created On",
        "channel": "Channel",
    }
    assert proposal.unused_headers == ["Owner Email", "Whatever"]


def test_canonical_headers_map_to_themselves():
    fields = mappable_fields("deals")
    assert guess_columns(fields, "deals") == {f: f for f in fields}


def test_the_table_is_guessed_when_not_given():
    assert propose_mapping(["activity_id", "type", "occurred_at"]).mapping.table == "activities"


def test_an_unknown_table_is_refused():
    with pytest.raises(MappingError, match="unknown table 'contacts'"):
        propose_mapping(["a"], "contacts")


# ----------------------------------------------------------------------------- saved mappings


def test_mappings_are_saved_listed_loaded_and_deleted_by_name(tmp_path):
    mapping = Mapping.from_yaml(EXAMPLE)
    path = save_mapping(mapping, "Pipedrive Deals", folder=tmp_path)
    assert path == tmp_path / "pipedrive-deals.yaml"
    assert list_mappings(tmp_path) == ["Pipedrive Deals"]
    loaded = load_mapping("Pipedrive Deals", folder=tmp_path)
    assert loaded == mapping.model_copy(update={"name": "Pipedrive Deals"})
    assert load_mapping(path) == loaded
    assert delete_mapping("Pipedrive Deals", folder=tmp_path)
    assert not delete_mapping("Pipedrive Deals", folder=tmp_path)
    assert list_mappings(tmp_path) == []


def test_load_mapping_finds_presets_and_names_what_exists(tmp_path):
    assert load_mapping("hubspot-deals", folder=tmp_path).table == "deals"
    save_mapping(Mapping(table="owners", columns={"external_id": "id"}), "mine", folder=tmp_path)
    with pytest.raises(MappingError, match=r"no mapping 'nope'.*saved \(mine\).*hubspot-deals"):
        load_mapping("nope", folder=tmp_path)
    with pytest.raises(MappingError, match="no such mapping file"):
        load_mapping(tmp_path / "missing.yaml")


@pytest.mark.parametrize("name", ["", "../etc", "a/b", "x" * 65, ".hidden"])
def test_mapping_names_cannot_escape_the_folder(tmp_path, name):
    with pytest.raises(MappingError, match="mapping name"):
        save_mapping(Mapping(table="owners", columns={"external_id": "id"}), name, folder=tmp_path)


def test_the_mappings_folder_the_callers_pass_comes_from_the_setting(monkeypatch, tmp_path):
    monkeypatch.setenv("ACCORD_MAPPINGS_DIR", str(tmp_path / "maps"))
    assert settings.mappings_dir() == tmp_path / "maps"
    monkeypatch.setenv("ACCORD_MAPPINGS_DIR", "relative/maps")
    folder = settings.mappings_dir()
    assert folder.parts[-2:] == ("relative", "maps") and folder.is_absolute()


def test_without_a_folder_only_files_and_built_in_mappings_are_found(tmp_path, monkeypatch):
    save_mapping(Mapping(table="owners", columns={"external_id": "id"}), "mine", folder=tmp_path)
    monkeypatch.setenv("ACCORD_MAPPINGS_DIR", str(tmp_path))  # not read: the folder is passed in, or none
    assert list_mappings(None) == []
    with pytest.raises(MappingError, match="neither saved \\(none\\)"):
        load_mapping("mine")
    assert load_mapping("mine", tmp_path).table == "owners"
    assert load_mapping("hubspot-deals").table == "deals"
