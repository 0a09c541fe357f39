"""Hostile agreements: alias bombs, huge and deep documents, odd keys — refused in one line, never a crash.

The same parser reads agreement files (``cli.py agreement validate/import``), the
Agreement editor and the database, so each attack is tried through the parser, and
the worst through the CLI (and the editor, in tests/pages/test_agreement_page.py).
Every attack is generated here; no bomb is committed as a file.
"""

from __future__ import annotations

import pytest

import cli
from analytics import agreement
from analytics.agreement import AgreementError, parse_agreement
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
