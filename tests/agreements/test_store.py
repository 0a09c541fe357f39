"""Saving agreement versions: insert-only, validated, never back-dated, audited in the same transaction."""

from __future__ import annotations

import datetime as dt
import inspect

import pandas as pd
import pytest

import settings
from agreements import store
from analytics.agreement import AgreementError, parse_agreement, version_in_force
from analytics.revisions import with_changes
from data import journal
from data.transactions import StorageError

DEFAULT_FILE = settings.ROOT / "agreements" / "sales-marketing.yaml"
TEXT = DEFAULT_FILE.read_text()
NAME = "Sales and Marketing SLA"
AS_OF = pd.Timestamp("2026-11-27T12:00", tz="UTC")
BERLIN = "Europe/Berlin"


def berlin(day: str) -> pd.Timestamp:
    return pd.Timestamp(day).tz_localize(BERLIN).tz_convert("UTC")


@pytest.fixture
def saved(engine):
    """The default agreement saved as version 1, in force since 2026-01-01."""
    store.save(engine, TEXT, dt.date(2026, 1, 1), "ana@example.com", "first version", as_of=AS_OF)
    return engine


def test_saving_creates_versions_one_after_another(saved):
    doc = parse_agreement(TEXT)
    second = store.save(saved, with_changes(doc, targets={"speed-to-lead": 0.85}), dt.date(2026, 12, 1),
                        "ben@example.com", "two reps on leave", as_of=AS_OF)  # fmt: skip
    third = store.save(saved, with_changes(doc, targets={"speed-to-lead": 0.95}), None, "cy", "reps are back",
                       as_of=AS_OF)  # fmt: skip
    assert (second.version, third.version) == (2, 3)
    assert (second.author, second.reason) == ("ben@example.com", "two reps on leave")
    assert second.effective_from == berlin("2026-12-01")
    assert third.effective_from == berlin("2026-12-01")  # default: start of the next period as of AS_OF
    stored = store.versions(saved, NAME)
    assert [v.version for v in stored] == [1, 2, 3]
    assert [v.document.commitment("speed-to-lead").target for v in stored] == [0.9, 0.85, 0.95]
    assert stored[1] == second


def test_earlier_versions_are_never_changed_and_there_is_no_update_or_delete_path(saved):
    before = journal.read_agreement_versions(saved)
    store.save(saved, with_changes(parse_agreement(TEXT), targets={"mql-volume": 800}), dt.date(2026, 12, 1),
               "ana", "more budget", as_of=AS_OF)  # fmt: skip
    after = journal.read_agreement_versions(saved)
    pd.testing.assert_frame_equal(after.iloc[:1], before)
    writers = [name for name, _ in inspect.getmembers(journal, inspect.isfunction) if "agreement" in name]
    assert sorted(writers) == ["add_agreement_version", "read_agreement_versions"]
    assert [name for name, _ in inspect.getmembers(store, inspect.isfunction)
            if name.startswith(("update", "delete", "remove", "edit"))] == []  # fmt: skip


def test_saving_the_same_document_twice_still_makes_a_new_version(saved):
    again = store.save(saved, TEXT, dt.date(2026, 12, 1), "ana", "reviewed: no change", as_of=AS_OF)
    assert again.version == 2 and again.document == store.version(saved, NAME, 1).document


def test_every_save_records_an_audit_entry(saved):
    store.save(saved, TEXT, "2026-12-01", "ben", "quarterly review", as_of=AS_OF)
    audit = journal.read_audit(saved)
    entries = audit[audit["action"] == "agreement.save"]
    assert entries["actor"].tolist() == ["ben", "ana@example.com"]  # newest first
    assert entries["target"].tolist() == [NAME, NAME]
    assert entries["detail"].iloc[0] == {
        "version": 2,
        "reason": "quarterly review",
        "effective_from": berlin("2026-12-01").isoformat(),
    }


def test_the_version_in_force_at_an_instant(saved):
    store.save(saved, with_changes(parse_agreement(TEXT), targets={"mql-volume": 800}), "2026-12-01", "ana",
               "more budget", as_of=AS_OF)  # fmt: skip
    versions = store.versions(saved, NAME)
    assert version_in_force(versions, berlin("2025-12-31")) is None
    assert version_in_force(versions, berlin("2026-11-30") + pd.Timedelta(hours=23, minutes=59)).version == 1
    assert version_in_force(versions, berlin("2026-12-01")).version == 2
    assert version_in_force(versions, berlin("2030-01-01")).version == 2


def test_another_name_is_another_agreement(saved):
    other = TEXT.replace("name: Sales and Marketing SLA", "name: SDR and AE SLA")
    first = store.save(saved, other, "2026-12-01", "ana", "the SDR team starts", as_of=AS_OF)
    assert (first.agreement, first.version) == ("SDR and AE SLA", 1)
    assert store.names(saved) == ["SDR and AE SLA", NAME]
    assert [v.version for v in store.versions(saved, NAME)] == [1]


def test_version_lookup(saved):
    assert store.version(saved, NAME).version == 1
    with pytest.raises(AgreementError, match="has no version 7; versions: 1 to 1"):
        store.version(saved, NAME, 7)
    with pytest.raises(AgreementError, match=f"no agreement named 'Nope'; stored agreements: {NAME}"):
        store.version(saved, "Nope")
    assert store.versions(saved, "Nope") == []


BAD_DOCUMENTS = {
    "yaml syntax": (TEXT.replace("period: month", "period: [month"), r"YAML syntax error at line \d+"),
    "missing field": (TEXT.replace("name: Sales and Marketing SLA\n", ""), r"^name: required field is missing"),
    "unknown metric": (TEXT.replace("metric: mql_count", "metric: mql_total"),
                       r"commitments\[0\]\.metric: unknown metric 'mql_total'; known metrics: mql_count"),
    "target of the wrong type": (TEXT.replace("target: 750", "target: many"),
                                 r"commitments\[0\]\.target: must be a number, got 'many'"),
    "holiday that is not a date": (TEXT.replace("2026-12-25", "Christmas"),
                                   r"calendar\.holidays\[16\]: 'Christmas' is not a date; use YYYY-MM-DD"),
    "holiday that is no real date": (TEXT.replace("2026-12-25", "2026-12-32"),
                                     r"calendar\.holidays\[16\]: '2026-12-32' is not a date; use YYYY-MM-DD"),
}  # fmt: skip


@pytest.mark.parametrize("case", BAD_DOCUMENTS)
def test_bad_documents_are_refused_and_nothing_is_saved(saved, case):
    text, message = BAD_DOCUMENTS[case]
    with pytest.raises(AgreementError, match=message):
        store.save(saved, text, "2026-12-01", "ana", "try", as_of=AS_OF)
    assert_unchanged(saved)


def test_an_effective_date_before_an_existing_versions_is_refused(saved):
    store.save(saved, TEXT, "2027-01-01", "ana", "planned", as_of=AS_OF)
    with pytest.raises(AgreementError, match="effective_from: 2026-12-01 is before version 2's effective date "
                                             "2027-01-01; pick 2027-01-01 or later"):  # fmt: skip
        store.save(saved, TEXT, "2026-12-01", "ana", "too early", as_of=AS_OF)
    assert [v.version for v in store.versions(saved, NAME)] == [1, 2]


def test_an_effective_date_inside_a_closed_period_is_refused(saved):
    with pytest.raises(AgreementError, match="before the current period 2026-11"):
        store.save(saved, TEXT, "2026-10-01", "ana", "rewrite October", as_of=AS_OF)
    assert_unchanged(saved)


@pytest.mark.parametrize(("reason", "author", "message"), [
    ("", "ana", "^reason: required"), ("   ", "ana", "^reason: required"), ("why", " ", "^author: required"),
])  # fmt: skip
def test_a_reason_and_an_author_are_required(saved, reason, author, message):
    with pytest.raises(AgreementError, match=message):
        store.save(saved, TEXT, "2026-12-01", author, reason, as_of=AS_OF)
    assert_unchanged(saved)


def assert_unchanged(engine) -> None:
    versions = store.versions(engine, NAME)
    assert [v.version for v in versions] == [1]
    assert version_in_force(versions, AS_OF).document == parse_agreement(TEXT)
    assert (journal.read_audit(engine)["action"] == "agreement.save").sum() == 1


def test_a_failed_write_saves_neither_version_nor_audit(saved, monkeypatch):
    def broken(*args, **kwargs):
        raise StorageError(
            "Nothing was saved: the disk holding the database is full; free space and run it again."
        )

    monkeypatch.setattr(journal, "add_audit", broken)
    with pytest.raises(StorageError, match="disk holding the database is full"):
        store.save(saved, TEXT, "2026-12-01", "ana", "x", as_of=AS_OF)
    assert_unchanged(saved)


def test_reading_files_and_documents(tmp_path):
    text, doc = store.read_file(DEFAULT_FILE)
    assert text == TEXT and doc.name == NAME
    with pytest.raises(AgreementError, match="no such file"):
        store.read_file(tmp_path / "missing.yaml")
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(AgreementError, match="cannot read"):
        store.read_file(binary)
    assert store.as_document(doc.to_document()) == doc == store.as_document(doc)
