"""Saving and reading agreement versions: the one path by which an agreement changes.

Used by both the Agreement page and ``cli.py agreement``. :func:`save` validates
the document, refuses a missing reason or an effective date that would rewrite
history (see :func:`analytics.revisions.check_effective_from`), then inserts the
new version and its audit entry in one transaction. There is no update and no
delete: every change is a new version.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine

import clock
from analytics.agreement import (
    Agreement,
    AgreementError,
    AgreementVersion,
    parse_agreement,
    parse_document,
    versions_from_rows,
)
from analytics.periods import period_of
from analytics.revisions import check_effective_from, default_effective_from
from data import fact_upkeep, journal, queries, transactions

AUDIT_ACTION = "agreement.save"


# --- reading documents --------------------------------------------------------------------------------


def parse(text: str) -> Agreement:
    """Return the agreement in YAML ``text``; :class:`AgreementError` names the field and the fix."""
    return parse_agreement(text)


def read_file(path: str | Path) -> tuple[str, Agreement]:
    """Return the text of the YAML file at ``path`` and the agreement in it (AgreementError when unreadable)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AgreementError(f"no such file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AgreementError(f"cannot read {path}: {exc}") from None
    return text, parse(text)


def as_document(document_or_yaml: Agreement | str | Mapping[str, Any]) -> Agreement:
    """Return an :class:`Agreement` from a document, YAML text or already-parsed data."""
    if isinstance(document_or_yaml, Agreement):
        return document_or_yaml
    if isinstance(document_or_yaml, str):
        return parse(document_or_yaml)
    return parse_document(document_or_yaml)


# --- reading versions ---------------------------------------------------------------------------------


def names(bind: Engine | Connection) -> list[str]:
    """Return the names of the stored agreements, alphabetically."""
    return sorted(journal.read_agreement_versions(bind)["agreement"].unique().tolist())


def versions(bind: Engine | Connection, name: str) -> list[AgreementVersion]:
    """Return every saved version of agreement ``name``, oldest first (empty when there is none)."""
    return versions_from_rows(journal.read_agreement_versions(bind, name))


def version(bind: Engine | Connection, name: str, number: int | None = None) -> AgreementVersion:
    """Return version ``number`` of agreement ``name`` (the latest when None); AgreementError if there is none."""
    found = versions(bind, name)
    if not found:
        known = names(bind)
        raise AgreementError(
            f"no agreement named {name!r}; stored agreements: {', '.join(known) if known else 'none'}"
        )
    if number is None:
        return found[-1]
    for v in found:
        if v.version == number:
            return v
    raise AgreementError(f"{name!r} has no version {number}; versions: 1 to {found[-1].version}")


# --- saving -------------------------------------------------------------------------------------------


def first_effective_from(bind: Engine | Connection, document: Agreement, as_of: Any) -> pd.Timestamp:
    """When a new agreement's first version takes effect by default: the start of the period holding the
    first handover, lead or deal stored, or of the period holding ``as_of`` when there are none."""
    first = queries.first_data_instant(bind)
    moment = pd.Timestamp(first) if first is not None else pd.Timestamp(as_of)
    moment = moment.tz_localize("UTC") if moment.tzinfo is None else moment
    return period_of(min(moment, pd.Timestamp(as_of)), document.period, document.timezone)["period_start"]


def save(
    bind: Engine | Connection,
    document_or_yaml: Agreement | str | Mapping[str, Any],
    effective_from: dt.date | dt.datetime | pd.Timestamp | str | None,
    author: str,
    reason: str,
    *,
    as_of: dt.datetime | pd.Timestamp | None = None,
) -> AgreementVersion:
    """Save the document as the next version of its agreement (named by its ``name``); return that version.

    ``effective_from``: a date (local midnight in the agreement's timezone), an
    aware instant, or None: for a new agreement's first version the start of the
    period of the first data stored (the current period's without data), so
    every period of the data has a target; for a later version the start of the
    next period as of ``as_of`` (default: now). Refused with :class:`AgreementError` (nothing saved) when
    the document is invalid, ``reason`` or ``author`` is blank, or the effective
    date is before the latest version's or before the current period. The
    version and an audit entry (``agreement.save``: version, reason,
    effective_from) are written in one transaction.
    """
    document = as_document(document_or_yaml)
    reason = (reason or "").strip()
    author = (author or "").strip()
    if not reason:
        raise AgreementError("reason: required; say why the agreement changes (it is kept with the version)")
    if not author:
        raise AgreementError("author: required; say who makes the change")
    moment = pd.Timestamp(clock.now()) if as_of is None else pd.Timestamp(as_of)
    # One transaction: the version and its audit entry, or neither.
    with transactions.transaction(bind) as conn:
        existing = versions(conn, document.name)
        if effective_from is None:
            effective_from = (
                default_effective_from(document, moment)
                if existing
                else first_effective_from(conn, document, moment)
            )
        start = check_effective_from(effective_from, existing, moment, document)
        number = journal.add_agreement_version(
            conn, document.name, document.to_document(), start.to_pydatetime(), author, reason
        )
        journal.add_audit(
            conn, author, AUDIT_ACTION, document.name,
            {"version": number, "reason": reason, "effective_from": start.isoformat()},
        )  # fmt: skip
        saved = versions(conn, document.name)
    fact_upkeep.after_agreement_saved(bind, document.name, number)  # the new version's facts
    return next(v for v in saved if v.version == number)
