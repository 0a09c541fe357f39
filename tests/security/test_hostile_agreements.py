"""Hostile agreements: alias bombs, huge and deep documents, odd keys — refused in one line, never a crash.

The same parser reads agreement files (``cli.py agreement validate/import``), the
Agreement editor and the database, so each attack is tried through the parser, and
the worst through the CLI (and the editor, in tests/pages/test_agreement_page.py).
Every attack is generated here; no bomb is committed as a file.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import text

import cli
import settings
from analytics import agreement
from analytics.agreement import AgreementError, parse_agreement
from data.engine import make_engine, upgrade
from tests.security.conftest import alias_chain

HEAD = "name: X\nparties: [marketing]\n"
ONE = "commitments:\n  - {id: c, owner: marketing, metric: mql_count, target: 1}\n"
MESSAGE_LIMIT = 2_000  # an error message is a few lines, whatever the document holds


def refused(text: str) -> str:
    with pytest.raises(AgreementError) as error:
        parse_agreement(text)
    message = str(error.value)
    assert len(message) < MESSAGE_LIMIT, message[:300]
    return message


def test_the_billion_laughs_is_refused_before_it_is_expanded():
    # The attack as found: a nine-level chain used as a commitment's description (521 bytes of it).
    text = alias_chain(9, key="x-anchors") + HEAD
    text += "commitments:\n  - {id: c, owner: marketing, metric: mql_count, target: 1, description: *a9}\n"
    assert "expands to more than 50,000 values" in refused(text)


@pytest.mark.parametrize("levels", [2, 3, 4])
@pytest.mark.parametrize(
    "field",
    ["description: *aN", "filters: {channel: *aN}", "params: {x: *aN}", "target: *aN"],
)
def test_a_smaller_alias_chain_anywhere_gives_a_short_message(levels, field):
    # Under the expansion limit the value reaches validation, which quotes at most a bounded piece of it.
    line = "{id: c, owner: marketing, metric: mql_count, target: 1, " + field.replace("N", str(levels)) + "}"
    line = line.replace("target: 1, target:", "target:")
    text = alias_chain(levels, key="anchors") + HEAD + f"commitments:\n  - {line}\n"
    refused(text)


def test_too_many_aliases_are_refused():
    anchors = 'x: &x "v"\n'
    text = "extra:\n  " + anchors + "".join(f"  k{i}: *x\n" for i in range(agreement.MAX_ALIASES + 1))
    assert f"more than {agreement.MAX_ALIASES} YAML aliases" in refused(text + HEAD + ONE)


def test_a_document_over_the_size_limit_is_refused_in_one_line():
    text = HEAD + ONE + "review_note: " + "x" * agreement.MAX_DOCUMENT_BYTES + "\n"
    message = refused(text)
    assert "bytes; an agreement may have at most 262,144" in message and "\n" not in message


def test_too_many_commitments_are_refused_in_one_line():
    rows = "".join(
        f"  - {{id: c{i}, owner: marketing, metric: mql_count, target: 1}}\n"
        for i in range(agreement.MAX_COMMITMENTS + 1)
    )
    message = refused(HEAD + "commitments:\n" + rows)
    assert (
        message
        == "commitments: 101 commitments; an agreement holds at most 100 (split it into several agreements)"
    )
    rows = rows.split("\n", 1)[1]  # exactly the limit is fine
    assert len(parse_agreement(HEAD + "commitments:\n" + rows).commitments) == agreement.MAX_COMMITMENTS


def test_a_huge_description_is_refused():
    text = HEAD + "commitments:\n  - {id: c, owner: marketing, metric: mql_count, target: 1, description: "
    message = refused(text + "y" * (agreement.MAX_TEXT + 1) + "}\n")
    assert "commitments[0].description: too long: at most 5,000 characters" in message
    assert "yyyyyyyyyy" not in message


def test_a_huge_bad_value_is_quoted_only_in_part():
    message = refused(HEAD + "commitments:\n  - {id: c, owner: marketing, metric: mql_count, target: "
                      + "z" * 100_000 + "}\n")  # fmt: skip
    assert "commitments[0].target: must be a number, got 'zzz" in message


def test_the_cli_refuses_a_bomb_file_in_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ACCORD_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_chain(9) + HEAD + ONE)
    assert cli.main(["agreement", "validate", str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "expands to more than 50,000 values" in err


def test_a_list_or_mapping_as_a_key_is_one_line():
    for key in ("[a, b]", "{a: 1}"):
        message = refused(HEAD + ONE + f"? {key}\n: c\n")
        assert "cannot be a field name" in message and "line 5" in message


@pytest.mark.parametrize("opening", ["[", "{", "- ", "[{"])
def test_a_hundred_thousand_nested_levels_are_one_line(opening):
    message = refused(opening * min(100_000, agreement.MAX_DOCUMENT_BYTES // len(opening)))
    assert f"nested more than {agreement.MAX_DEPTH} deep" in message


def test_a_value_that_contains_itself_is_refused_instead_of_looping():
    # Found by the Hypothesis test below: an alias inside the value its anchor names.
    message = refused("x-anchor: &a [[], {? 1 : *a}]\n" + HEAD + ONE)
    assert message == "line 1: a YAML alias is used inside the value it names (a value that contains itself)"


# ----------------------------------------------------------------------------- Hypothesis

SCALARS = st.sampled_from(
    ["1", "-0", "1e400", ".inf", "-.inf", ".nan", "null", "~", "true", "'x'", "2026-13-45", "2026-01-01",
     "17:30", "*a", "!!binary aGk=", "!!set {a, b}", '"\\u0000"', "0x1F", "''", "'" + "w" * 300 + "'"]
) | st.text(max_size=12).map(lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"')  # fmt: skip
SNIPPETS = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4).map(lambda items: "[" + ", ".join(items) + "]")
        | st.lists(st.tuples(SCALARS | inner, inner), max_size=3).map(
            lambda pairs: "{" + ", ".join(f"? {k} : {v}" for k, v in pairs) + "}"
        )
    ),
    max_leaves=12,
)
FIELDS = ["name", "parties", "period", "timezone", "currency", "teams", "calendar", "review", "consequences",
          "target", "description", "params", "filters", "id", "owner", "metric"]  # fmt: skip


def document(field: str, value: str) -> str:
    top = {"name": "X", "parties": "[marketing]"}
    commitment = {"id": "c", "owner": "marketing", "metric": "mql_count", "target": "1"}
    (commitment if field in ("target", "description", "params", "filters", "id", "owner", "metric") else top)[
        field
    ] = value
    lines = [f"{k}: {v}" for k, v in top.items()]
    inner = ", ".join(f"{k}: {v}" for k, v in commitment.items())
    return "\n".join(lines) + f"\ncommitments:\n  - {{{inner}}}\n"


@hypothesis_settings(max_examples=400, deadline=None)
@given(anchor=SNIPPETS, field=st.sampled_from(FIELDS), value=SNIPPETS)
def test_any_value_anchor_or_key_in_any_field_parses_or_is_refused_in_a_few_lines(anchor, field, value):
    text = f"x-anchor: &a {anchor}\n" + document(field, value)
    try:
        parse_agreement(text)
    except AgreementError as error:
        assert len(str(error)) < MESSAGE_LIMIT


@hypothesis_settings(max_examples=60, deadline=None)
@given(levels=st.integers(1, 14), width=st.integers(2, 12), field=st.sampled_from(["description", "params",
       "filters", "parties", "teams", "target"]))  # fmt: skip
def test_alias_chains_of_any_size_in_any_field_never_blow_up(levels, width, field):
    value = f"*a{levels}"
    if field in ("params", "filters", "teams"):
        value = f"{{x: {value}}}"
    text = alias_chain(levels, key="x-anchors", width=width) + document(field, value)
    try:
        parse_agreement(text)
    except AgreementError as error:
        assert len(str(error)) < MESSAGE_LIMIT


def test_the_readme_states_the_limits_the_code_sets():
    from connectors.files import reading
    from pages.components.filters import AS_OF_RANGE

    readme = (settings.ROOT / "README.md").read_text()
    section = readme.split("## Security model", 1)[1].split("\n## ", 1)[0]
    for stated in (
        f"{agreement.MAX_DOCUMENT_BYTES // 1024} KiB",
        f"{agreement.MAX_ALIASES} YAML aliases",
        f"{agreement.MAX_DEPTH} levels of nesting",
        f"{agreement.MAX_NODES:,} values",
        f"{agreement.MAX_COMMITMENTS} commitments",
        f"{agreement.MAX_TEXT:,} characters per description",
        f"quoted to {agreement.QUOTED_CHARS} characters",
        f"{reading.MAX_XLSX_UNCOMPRESSED // 2**20} MB unpacked",
        f"{reading.MAX_CELL_CHARS:,} characters per cell",
        f"{AS_OF_RANGE[0]:%Y-%m-%d} to {AS_OF_RANGE[1]:%Y-%m-%d}",
    ):
        assert stated in section, f"README 'Security model' should say {stated!r}"


SMALLER = {
    "target .inf": ("target: 1", "target: .inf", "commitments[0].target: must be a finite number, got inf"),
    "target .nan": ("target: 1", "target: .nan", "commitments[0].target: must be a finite number, got nan"),
    "business_hours .inf": (
        "metric: mql_count, target: 1",
        "metric: followed_up_within, target: 0.8, params: {business_hours: .inf}",
        "commitments[0].params.business_hours: must be a finite number, got inf",
    ),
    "timezone localtime": (
        "parties:",
        "timezone: localtime\nparties:",
        "timezone: 'localtime' depends on the machine",
    ),
    "timezone posixrules": (
        "parties:",
        "timezone: posixrules\nparties:",
        "timezone: 'posixrules' depends on",
    ),
    "timezone right/UTC": ("parties:", "timezone: right/UTC\nparties:", "timezone: 'right/UTC' depends on"),
}


@pytest.mark.parametrize("case", SMALLER)
def test_validate_and_import_refuse_the_same_with_the_same_line(tmp_path, capsys, monkeypatch, case):
    old, new, expected = SMALLER[case]
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("ACCORD_DATABASE_URL", url)
    upgrade(make_engine(url))
    path = tmp_path / "a.yaml"
    path.write_text((HEAD + ONE).replace(old, new, 1))
    lines = []
    for command in (["validate", str(path)], ["import", str(path), "--reason", "try"]):
        assert cli.main(["agreement", *command]) == 1
        out, err = capsys.readouterr()
        assert expected in err and err.count("\n") == 1, err
        lines.append(err)
    assert lines[0] == lines[1]

    with make_engine(url).connect() as conn:  # nothing stored, least of all a JSON Infinity
        assert conn.execute(text("SELECT count(*) FROM agreement_versions")).scalar() == 0
