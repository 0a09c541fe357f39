"""Importing an export into the canonical tables: read in chunks, convert, upsert, keep the rejects.

Each chunk is written in one transaction: its good rows upserted on
``(source, external_id)``, owners created for unknown owner names, and its
bad rows kept in ``rejected_rows`` (deduplicated, so importing the same file
again adds nothing). Every run, dry or not, is recorded in ``sync_runs`` as
connector ``file:<source>``, kind ``import`` or ``dry-run``.

Repeated external ids inside one file: the last row wins (as a later export
would overwrite an earlier one); the earlier rows are counted and named in the
report, not kept as rejects. Leads are the exception where the repeated rows
carry different MQL dates: each date is a handover of the lead (recycled, then
re-qualified), kept with its own row's first touch, SQL and disposition (table
``handovers``), while the last row is the lead; two rows on the same MQL day
(in the mapping's timezone) are one handover, the last row winning. A dry run reads and checks everything and writes
nothing but its ``sync_runs`` record.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine

import clock
from analytics.schema import COLUMNS, UTC_TS
from connectors.files.mapping import (
    Mapping,
    MappingError,
    check_mapping,
    join_label,
    load_mapping,
    propose_mapping,
)
from connectors.files.reading import FileFormat, FileImportError, InputFile, iter_chunks, read_headers, sniff
from connectors.files.rows import SAMPLE_ROWS, Plan, convert_chunk, make_plan
from data import journal, queries, syncs, transactions, upserts

log = logging.getLogger(__name__)

Progress = Callable[..., None]
DEFAULT_CHUNK_ROWS = 100_000
DEFAULT_SOURCE = "file"
FIRST_REASONS = 5
_READERS = {
    "owners": queries.read_owners,
    "leads": queries.read_leads,
    "deals": queries.read_deals,
    "activities": queries.read_activities,
}


@dataclass
class ImportReport:
    """What an import did (or, dry, would do): counts, choices made, and the first reasons for rejects.

    ``imported`` counts rows new to the database, ``updated`` rows that were
    already there (same source and external id), ``duplicates`` earlier rows
    of the file overridden by a later row with the same id.
    """

    file: str
    table: str
    source: str
    dry_run: bool
    mapping_name: str | None = None
    preset: str | None = None
    mapping: Mapping | None = None  # as used (a proposed one names only the columns found)
    format: str = ""
    read: int = 0
    imported: int = 0
    updated: int = 0
    rejected: int = 0
    duplicates: int = 0
    blank_lines: int = 0
    owners_created: int = 0
    rejected_new: int = 0  # rejects not already kept from an earlier run
    first_reasons: list[str] = field(default_factory=list)
    duplicate_examples: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    run_id: int | None = None
    seconds: float = 0.0

    @property
    def accepted(self) -> int:
        """Rows that were (or would be) written: new plus updated."""
        return self.imported + self.updated

    def counts(self) -> dict[str, int]:
        """The counts recorded in ``sync_runs``."""
        names = ("read", "imported", "updated", "rejected", "duplicates", "blank_lines", "owners_created")
        return {name: getattr(self, name) for name in names}

    def summary(self) -> list[str]:
        """The report as lines of text, for the command line."""
        verb = "Checked (dry run, nothing written)" if self.dry_run else "Imported"
        how = f"mapping {self.mapping_name!r}" if self.mapping_name else "a mapping guessed from the headers"
        lines = [
            f"{verb} {self.table} from {self.file} ({self.format}; {how}; source {self.source!r}) "
            f"in {self.seconds:.1f} s"
        ]
        would = "would be " if self.dry_run else ""
        lines += [
            f"  rows read   {self.read:>12,}",
            f"  new         {self.imported:>12,}  {would}added",
            f"  updated     {self.updated:>12,}  {would}updated (already imported)",
            f"  rejected    {self.rejected:>12,}"
            + ("" if self.dry_run or not self.rejected else "  kept in rejected_rows with line and reason"),
        ]
        if self.duplicates:
            lines.append(
                f"  duplicates  {self.duplicates:>12,}  earlier rows with a repeated id; the last row wins"
            )
        if self.owners_created:
            lines.append(f"  owners      {self.owners_created:>12,}  {would}created from owner names")
        if self.blank_lines:
            lines.append(f"  blank lines {self.blank_lines:>12,}  skipped")
        lines += [f"Note: {note}" for note in self.notes]
        lines += [f"Warning: {warning}" for warning in self.warnings]
        if self.duplicate_examples:
            lines.append("Repeated ids: " + "; ".join(self.duplicate_examples))
        if self.first_reasons:
            lines.append("First rejected rows:")
            lines += [f"  {reason}" for reason in self.first_reasons]
        return lines


def dry_run(bind: Engine, file, table: str, mapping=None, **options) -> ImportReport:
    """:func:`import_file` without writing: the report of what an import would do."""
    return import_file(bind, file, table, mapping, dry_run=True, **options)


def import_file(
    bind: Engine,
    file,
    table: str,
    mapping: Mapping | str | Path | None = None,
    *,
    source: str | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    chunksize: int = DEFAULT_CHUNK_ROWS,
    as_of: dt.datetime | None = None,
    mappings_folder=None,
) -> ImportReport:
    """Import ``file`` (path, bytes or upload) into ``table``; returns the :class:`ImportReport`.

    ``mapping`` is a :class:`Mapping`, or a path / saved name / preset name;
    without one, the best preset for the file's headers is used, else
    columns guessed from the header names. ``source`` overrides the mapping's
    source (default "file"). ``as_of`` (default: now) is the time dates must
    not lie after. ``progress(stage, done, total, detail)`` is called per chunk.

    Raises :class:`FileImportError` (or its :class:`MappingError`) when the file
    cannot be read at all or lacks required columns; rows that are bad are
    reported, not raised.
    """
    started = time.monotonic()
    source_file = InputFile(file)
    as_of = as_of or clock.now()
    run = _Run(bind, dry_run, source or (mapping.source if isinstance(mapping, Mapping) else None))
    try:
        if isinstance(mapping, str | Path):
            mapping = load_mapping(mapping, mappings_folder, table=table)
            run.source = source or mapping.source
        if isinstance(mapping, Mapping) and mapping.table != table:
            raise MappingError(f"the mapping is for {mapping.table}, not {table}", file=source_file.name)
        fmt = sniff(
            source_file,
            encoding=getattr(mapping, "encoding", None),
            delimiter=getattr(mapping, "delimiter", None),
            sheet=getattr(mapping, "sheet", None),
        )
        headers = read_headers(source_file, fmt)
        preset = None
        if mapping is None:
            proposal = propose_mapping(headers, table)
            mapping, preset = proposal.mapping, proposal.preset
        run.source = source or mapping.source or DEFAULT_SOURCE
        check = check_mapping(mapping, headers)
        if not check.ok:
            raise MappingError(check.errors[0], file=source_file.name)
        report = ImportReport(
            file=source_file.name,
            table=table,
            source=run.source,
            dry_run=dry_run,
            mapping_name=mapping.name or preset,
            preset=preset,
            mapping=mapping,
            format=fmt.describe(),
            warnings=list(check.warnings) + ([fmt.fallback_note()] if fmt.fallback_lines else []),
        )
        run.start()
        report.run_id = run.run_id
        with syncs.keep_alive(bind, run.run_id):  # tells later runs of this source that it is alive
            _import_chunks(bind, source_file, fmt, mapping, check.columns, report, as_of, chunksize, progress)
    except syncs.RunBusyError:
        raise  # another import of this source is going: nothing was started, nothing to record
    except FileImportError as exc:
        run.fail(str(exc))
        raise
    except transactions.StorageError as exc:  # disk full, read-only: the database refuses writes
        run.fail(str(exc), storage=True)
        raise transactions.StorageError(
            f"{source_file.name}: {exc} Rows committed before stay; importing the file again adds none twice."
        ) from exc
    except Exception as exc:
        run.fail(f"unexpected error: {exc!r}")
        raise
    report.seconds = time.monotonic() - started
    if report.read == 0 and not report.rejected:
        report.warnings.append("the file has a header row but no data rows")
    run.finish(report)
    return report


def check_first_rows(
    file, mapping: Mapping, rows: int = 10, *, as_of: dt.datetime | None = None
) -> pd.DataFrame:
    """Judge the first ``rows`` rows of ``file`` as :func:`import_file` would, writing nothing.

    Returns one row per file line that would be rejected: ``line``, ``reasons``
    (as the rejected rows list them) and ``headers`` (the file's columns, or
    field names, whose values are refused); empty when all of them are good.
    The date order and decimal separator are chosen from the same sample rows
    as the import's, so the answer is the import's. Raises
    :class:`FileImportError` when the file cannot be read or the mapping lacks
    a required column.
    """
    source_file = InputFile(file)
    fmt = sniff(source_file, encoding=mapping.encoding, delimiter=mapping.delimiter, sheet=mapping.sheet)
    check = check_mapping(mapping, read_headers(source_file, fmt))
    if not check.ok:
        raise MappingError(check.errors[0], file=source_file.name)
    found: list[tuple[int, str, list[str]]] = []
    first = _sample_rows(source_file, fmt)
    if first is not None:
        plan = make_plan(mapping, check.columns, first.frame, mapping.source or DEFAULT_SOURCE,
                         as_of or clock.now())  # fmt: skip
        joined = {join_label(headers) for headers in check.joins.values()}
        names = sorted({*check.columns.values(), *check.columns, *joined}, key=len, reverse=True)
        for row in convert_chunk(first.frame.head(rows), first.lines[:rows], plan).rejected:
            parts = row["reasons"].split("; ")
            headers = [h for h in names if any(part.startswith(f"{h}: ") for part in parts)]
            found.append((int(row["row_number"]), row["reasons"], headers))
    return pd.DataFrame(found, columns=["line", "reasons", "headers"])


def _sample_rows(source_file: InputFile, fmt: FileFormat):
    """The first rows of the file (a :class:`Chunk` of up to ``SAMPLE_ROWS``), or None when it has none:
    the choices that hold for the whole file (date order, decimal separator) are made from them."""
    sample = iter_chunks(source_file, fmt, SAMPLE_ROWS)
    try:
        return next((c for c in sample if len(c.frame)), None)
    finally:
        sample.close()


class _Run:
    """The ``sync_runs`` record of one import, started once the source is known."""

    def __init__(self, bind: Engine, dry_run: bool, source: str | None):
        self.bind, self.dry_run, self.source, self.run_id = bind, dry_run, source, None

    def start(self) -> None:
        if self.run_id is None:
            kind = "dry-run" if self.dry_run else "import"
            self.run_id = syncs.start_run(self.bind, f"file:{self.source or DEFAULT_SOURCE}", kind)

    def fail(self, error: str, storage: bool = False) -> None:
        """Record the run as failed; ``storage``: the database itself refused a write (full, read-only)."""
        if storage and self.run_id is None:
            return  # starting a run to record it would be refused the same way (and used to try twice)
        self.start()
        try:
            syncs.finish_run(self.bind, self.run_id, "failed", error=error[:2000])
        except transactions.StorageError:
            if not storage:
                raise
            # Not even the run's own row could be updated: it stops beating, and the next run of this
            # source finds its process gone and lists it as interrupted.
            log.warning("could not record import run %s as failed: the database refuses writes", self.run_id)

    def finish(self, report: ImportReport) -> None:
        status = "ok" if report.accepted else "failed"
        error = None if report.accepted else "no row could be imported"
        syncs.finish_run(self.bind, self.run_id, status, counts=report.counts(), error=error)


def _import_chunks(bind, source_file, fmt: FileFormat, mapping, columns, report, as_of, chunksize, progress):
    plan: Plan | None = None
    seen = _SeenKeys()
    owners = _OwnerDirectory(bind, report.source) if _owners_by_name(mapping, columns) else None
    existing = _existing_keys(bind, report.table, report.source) if report.dry_run else None
    naive_times = date_only = False
    shown_total = None
    handovers = _HandoverRows() if report.table == "leads" else None
    stage = "checking" if report.dry_run else "importing"
    first = _sample_rows(source_file, fmt)
    if first is not None:
        plan = make_plan(mapping, columns, first.frame, report.source, as_of)
        if _has_dates(plan):
            report.notes.append(plan.dates.note)
        if plan.decimal.decimal != ".":
            report.notes.append(plan.decimal.note)
    for chunk in iter_chunks(source_file, fmt, chunksize):
        report.blank_lines += chunk.blank
        rejected = [
            {"source": report.source, "object": report.table, "row_number": line, "reasons": reason}
            for line, reason in chunk.bad_lines
        ]
        report.read += len(chunk.frame) + len(chunk.bad_lines)
        good = None
        if len(chunk.frame):
            converted = convert_chunk(chunk.frame, chunk.lines, plan)
            naive_times |= converted.naive_times
            date_only |= converted.date_only
            rejected = sorted(rejected + converted.rejected, key=lambda r: r["row_number"])
            good = converted.frame
            if report.dry_run and len(good):  # new = not stored and not seen earlier in the file
                distinct = pd.unique(_hash(good["external_id"]))
                report.imported += int((~seen.find(distinct)[0] & ~_contains(existing, distinct)).sum())
            if len(good):
                _count_duplicates(good, converted.lines, seen, report)
                if handovers is not None:
                    handovers.add(good)
        new_owners = owners.resolve(good) if owners is not None and good is not None and len(good) else None
        report.rejected += len(rejected)
        report.first_reasons += [
            _reason_line(r) for r in rejected[: FIRST_REASONS - len(report.first_reasons)]
        ]
        if report.dry_run:
            report.owners_created += 0 if new_owners is None else len(new_owners)
        else:
            with transactions.transaction(bind) as conn:  # a full or read-only database: StorageError
                if new_owners is not None and len(new_owners):
                    upserts.upsert_owners(conn, new_owners)
                    report.owners_created += len(new_owners)
                if good is not None and len(good):
                    report.imported += upserts.upsert(conn, report.table, good).inserted
                report.rejected_new += journal.add_rejected_rows(conn, rejected, run_id=report.run_id)
        if progress is not None:
            shown_total = _estimate(report.read, chunk.position, chunk.total)
            progress(stage, report.read, shown_total, report.file)
    good_rows = report.read - report.rejected
    report.updated = good_rows - report.duplicates - report.imported
    if handovers is not None:
        handovers.finish(bind, report)
    if progress is not None and shown_total != report.read:
        progress(stage, report.read, report.read, report.file)
    if naive_times and mapping.timezone is None and _has_dates(plan):
        report.notes.append(
            "date-times without a timezone were read as UTC; set `timezone:` in the mapping "
            "(e.g. Europe/Berlin) if the export shows local times"
        )
    elif naive_times:
        report.notes.append(f"date-times without a timezone were read as {mapping.timezone} local time")
    if date_only and mapping.timezone is None and _has_dates(plan):
        zones = _agreement_timezones(bind)
        hint = zones[0] if len(zones) == 1 else "Europe/Berlin"
        said = f"; your agreement's is {hint}" if len(zones) == 1 and hint != "UTC" else ""
        report.warnings.append(
            "dates without a time were read as days in UTC, and a day starts at another hour in "
            f"your timezone{said}: set `timezone: {hint}` in the mapping so each date is a day of your calendar"
        )
    elif date_only:
        report.notes.append(f"dates without a time were read as days in {mapping.timezone}")


def _agreement_timezones(bind) -> list[str]:
    """The timezones of the stored agreements' newest versions, distinct and sorted."""
    versions = journal.read_agreement_versions(bind)
    if versions.empty:
        return []
    newest = versions.sort_values("version").groupby("agreement").tail(1)
    zones = {doc.get("timezone") for doc in newest["document"] if isinstance(doc, dict)}
    return sorted(z for z in zones if isinstance(z, str))


class _HandoverRows:
    """The MQL dates (and per-row facts) of an import's lead rows, gathered across chunks.

    A lead whose rows carry two or more distinct MQL dates is handed over that many times.
    """

    FACTS = (
        "mql_at",
        "sql_at",
        "first_touch_at",
        "touches",
        "disposition",
        "disposition_at",
        "rejection_reason",
    )

    def __init__(self):
        self.parts: list[pd.DataFrame] = []

    def add(self, good: pd.DataFrame) -> None:
        if "mql_at" not in good.columns:
            return
        rows = good[good["mql_at"].notna().to_numpy()]
        self.parts.append(rows[["source", "external_id", *(c for c in self.FACTS if c in rows.columns)]])

    def finish(self, bind: Engine, report: ImportReport) -> None:
        """Store the handovers of the leads with several MQL dates; a note in ``report`` says how many."""
        if not self.parts:
            return
        rows = pd.concat(self.parts, ignore_index=True)
        # A handover per MQL day (in the mapping's timezone): the same day twice is one handover corrected.
        zone = report.mapping.timezone if report.mapping is not None and report.mapping.timezone else "UTC"
        rows["day"] = rows["mql_at"].dt.tz_convert(zone).dt.date
        rows = rows.drop_duplicates(["external_id", "day"], keep="last")
        dates = rows.groupby("external_id", sort=False)["day"].nunique()
        several = dates.index[dates > 1]
        if not len(several):
            if not report.dry_run and queries.count_handovers(bind, report.source):
                # leads imported again with one MQL date lose a history an earlier file gave them
                keys = pd.DataFrame(
                    {"source": report.source, "lead_external_id": rows["external_id"].unique()}
                )
                upserts.replace_handovers(bind, keys.iloc[:0].assign(mql_at=pd.NaT), leads=keys)
            return
        chosen = rows[rows["external_id"].isin(several)].rename(columns={"external_id": "lead_external_id"})
        chosen = chosen.drop(columns="day")
        ones = pd.DataFrame(
            {"source": report.source, "lead_external_id": dates.index[dates <= 1].astype(str)}
        )
        if not report.dry_run:
            stored = queries.count_handovers(bind, report.source)
            upserts.replace_handovers(bind, chosen, leads=ones if stored else None)
        would = "would be" if report.dry_run else "were"
        report.notes.append(
            f"{len(several):,} leads have rows with different MQL dates: {len(chosen):,} handovers {would} "
            "kept (a recycled lead re-qualified), each counted in its own period; the last row is the lead"
        )


def _has_dates(plan: Plan | None) -> bool:
    return plan is not None and any(COLUMNS[plan.table][f] == UTC_TS for f in plan.columns)


def _reason_line(row: dict) -> str:
    return f"line {row['row_number']}: {row['reasons']}"


def _estimate(rows: int, position: int | None, total: int | None) -> int | None:
    """Total rows, extrapolated from how far into the file the reader is."""
    if not position or not total:
        return None
    return max(rows, int(rows * total / position))


def _hash(values: pd.Series) -> np.ndarray:
    return pd.util.hash_array(values.astype(object).to_numpy())


class _SeenKeys:
    """External ids of the good rows so far, as sorted 64-bit hashes with the line of their last row."""

    def __init__(self):
        self.keys = np.empty(0, dtype=np.uint64)
        self.lines = np.empty(0, dtype=np.int64)

    def find(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each key: was it seen, and at which position of :attr:`keys`."""
        where = np.minimum(np.searchsorted(self.keys, keys), max(len(self.keys) - 1, 0))
        found = self.keys[where] == keys if len(self.keys) else np.zeros(len(keys), dtype=bool)
        return found, where

    def add(self, keys: np.ndarray, lines: np.ndarray) -> None:
        """Record ``keys`` (distinct) at ``lines``."""
        found, where = self.find(keys)
        self.lines[where[found]] = lines[found]
        keys, lines = np.concatenate([self.keys, keys[~found]]), np.concatenate([self.lines, lines[~found]])
        order = np.argsort(keys, kind="stable")
        self.keys, self.lines = keys[order], lines[order]


def _count_duplicates(
    good: pd.DataFrame, lines: np.ndarray, seen: _SeenKeys, report: ImportReport
) -> np.ndarray:
    """Count rows that an earlier row of the file shares an id with; returns the chunk's distinct keys."""
    keys = _hash(good["external_id"])
    earlier_here = pd.Series(keys).duplicated(keep="last").to_numpy()
    last_keys, last_lines = keys[~earlier_here], np.asarray(lines)[~earlier_here]
    found, where = seen.find(last_keys)
    report.duplicates += int(earlier_here.sum() + found.sum())
    wanted = FIRST_REASONS - len(report.duplicate_examples)
    if wanted > 0 and (earlier_here.any() or found.any()):
        seen_before = seen.find(keys)[0]
        later = np.flatnonzero(pd.Series(keys).duplicated(keep="first").to_numpy() | seen_before)[:wanted]
        for i in later:
            same = np.flatnonzero(keys[:i] == keys[i])
            earlier = lines[same[-1]] if len(same) else seen.lines[seen.find(keys[i : i + 1])[1][0]]
            report.duplicate_examples.append(
                f"{good['external_id'].iloc[i]!r} on lines {earlier} and {lines[i]}"
            )
    seen.add(last_keys, last_lines)
    return last_keys


def _existing_keys(bind: Engine, table: str, source: str) -> np.ndarray:
    """Sorted hashes of the external ids already stored for ``source`` (a dry run counts new rows by them)."""
    frame = _READERS[table](bind, source=source)
    return np.sort(pd.unique(_hash(frame["external_id"])))


def _contains(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    if not len(sorted_keys):
        return np.zeros(len(keys), dtype=bool)
    return sorted_keys[np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)] == keys


def _owners_by_name(mapping: Mapping, columns: dict) -> bool:
    return mapping.owner_reference == "name" and mapping.table != "owners" and "owner_external_id" in columns


class _OwnerDirectory:
    """Owner names (or e-mails) -> external ids of the owners of one source; unknown names become owners."""

    def __init__(self, bind: Engine, source: str):
        self.source = source
        owners = queries.read_owners(bind, source=source)
        self.ids: dict[str, str] = {}
        for column in ("external_id", "email", "name"):
            for key, external_id in zip(owners[column], owners["external_id"], strict=True):
                if isinstance(key, str) and key.strip():
                    self.ids.setdefault(key.strip().casefold(), external_id)

    def resolve(self, good: pd.DataFrame) -> pd.DataFrame | None:
        """Replace owner names in ``good`` by owner ids (in place); returns the owners to create."""
        codes, uniques = pd.factorize(good["owner_external_id"])
        created, resolved = [], []
        for name in uniques:
            key = name.strip().casefold()
            if key not in self.ids:
                self.ids[key] = name.strip()
                created.append(name.strip())
            resolved.append(self.ids[key])
        ids = np.array([*resolved, None], dtype=object)[np.where(codes >= 0, codes, len(resolved))]
        good["owner_external_id"] = pd.Series(ids, index=good.index, dtype="str")
        if not created:
            return None
        created = pd.Series(created, dtype="str")
        is_email = created.str.contains("@", regex=False)
        return pd.DataFrame(
            {
                "source": pd.Series([self.source] * len(created), dtype="str"),
                "external_id": created,
                "name": created.where(~is_email),
                "email": created.where(is_email),
            }
        )
