"""The Data page's file import: upload, table, mapping (proposed, saved or built in, then edited), preview,
dry run, import, save the mapping.

Everything about reading and checking files lives in :mod:`connectors.files`;
this module only asks it and draws the answers. Imports and dry runs run as
background jobs (:mod:`pages.components.jobs`) so a large file shows progress
and a click elsewhere does not cut it off. The pure helpers
(:func:`edited_mapping`, :func:`mapped_preview`, :func:`report_lines`) are
unit-tested.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

import settings
from analytics.charts import RED
from analytics.wording import literal
from connectors.files import (
    REQUIRED_COLUMNS,
    TABLES,
    FileImportError,
    ImportReport,
    Mapping,
    MappingError,
    Proposal,
    check_first_rows,
    check_mapping,
    field_kind,
    import_file,
    join_label,
    joined_text,
    list_mappings,
    load_mapping,
    load_preset,
    mappable_fields,
    preset_names,
    propose_mapping,
    read_preview,
    save_mapping,
)
from data import journal, syncs, transactions
from pages.components import auth, errors, jobs, loaders

NOT_MAPPED = "— not imported —"
PROPOSAL = "proposal"
PREVIEW_ROWS = 10
OWNER_REFERENCES = {"id": "owner ids", "name": "owner names or e-mails"}
REJECTED_COLUMN = "will be rejected"
REFUSED_CELL = f"background-color: #fde8e8; color: {RED}; font-weight: 600"
JOINABLE = ("name",)  # fields the page lets join several columns (a first and a last name)


# ----------------------------------------------------------------------------- pure helpers


def edited_mapping(
    base: Mapping, columns: dict[str, str], source: str = "", owner_reference: str = "id", timezone: str = "",
    join: dict[str, list[str]] | None = None,
) -> Mapping:  # fmt: skip
    """``base`` with the columns, joined columns, source, owner reference and timezone chosen on the page.

    ``join``: field -> the columns joined into it (a first and a last name); such a field is not in ``columns``.

    Constants of fields now read from a column are dropped, as are value maps
    of fields no longer read and a stage rule without a stage. Raises
    :class:`MappingError` (naming the field) when the result is not a valid mapping.

    >>> base = Mapping(table="deals", columns={"external_id": "ID", "stage": "Stage"},
    ...                stages={"won": ["Won"]}, constants={"currency": "EUR"})
    >>> m = edited_mapping(base, {"external_id": "Deal", "currency": "Cur"}, source="acme")
    >>> m.columns, m.constants, m.stages, m.source
    ({'external_id': 'Deal', 'currency': 'Cur'}, {}, None, 'acme')
    """
    join = {name: list(headers) for name, headers in (join or {}).items()}
    data = base.model_dump(exclude_none=True)
    data["columns"] = dict(columns)
    data["join"] = join
    read = {*columns, *join}
    data["constants"] = {k: v for k, v in data.get("constants", {}).items() if k not in read}
    data["values"] = {k: v for k, v in data.get("values", {}).items() if k in read}
    if "stage" not in columns and "stage" not in data["constants"]:
        data.pop("stages", None)
    data["owner_reference"] = owner_reference
    for name, value in (("source", source.strip()), ("timezone", timezone.strip())):
        if value:
            data[name] = value
        else:
            data.pop(name, None)
    return Mapping.from_dict(data, where="the mapping on this page")


def mapped_preview(
    frame: pd.DataFrame, columns: dict[str, str], rows: int = PREVIEW_ROWS, joins: dict[str, list[str]] | None = None
) -> pd.DataFrame:  # fmt: skip
    """The first ``rows`` rows of the file as the mapping reads them: one column per field, headed
    ``field ← file column`` (``field ← First + Last`` for joined columns, their values joined), values as
    text (the dry run checks them).

    >>> raw = pd.DataFrame({"Record ID": ["7"], "First": ["Ada"], "Last": ["Lovelace"], "Other": ["x"]})
    >>> mapped_preview(raw, {"external_id": "Record ID"}, joins={"name": ["First", "Last"]}).to_dict("records")
    [{'external_id ← Record ID': '7', 'name ← First + Last': 'Ada Lovelace'}]
    """
    shown = {f"{name} ← {header}": frame[header].head(rows) for name, header in columns.items()}
    for name, headers in (joins or {}).items():
        shown[f"{name} ← {join_label(headers)}"] = joined_text(frame.head(rows), headers)
    return pd.DataFrame(shown).reset_index(drop=True)


def marked_preview(
    frame: pd.DataFrame, lines: list[int], columns: dict[str, str], rejections: pd.DataFrame,
    rows: int = PREVIEW_ROWS, joins: dict[str, list[str]] | None = None,
) -> tuple[pd.DataFrame, list[tuple[int, str]]]:  # fmt: skip
    """:func:`mapped_preview` with a first column ``will be rejected`` (the import's reasons for that row,
    '' for a good row), and the (row, column) cells whose values the import refuses.

    ``lines`` are the file lines of ``frame``'s rows; ``rejections`` is what
    :func:`connectors.files.check_first_rows` found (line, reasons, headers).

    >>> raw = pd.DataFrame({"Id": ["7", "8"], "Created": ["2026-01-02", "soon"]})
    >>> bad = pd.DataFrame({"line": [3], "reasons": ["Created: 'soon' is not a date"], "headers": [["Created"]]})
    >>> table, cells = marked_preview(raw, [2, 3], {"external_id": "Id", "created_at": "Created"}, bad)
    >>> table["will be rejected"].tolist(), cells
    (['', "Created: 'soon' is not a date"], [(1, 'created_at ← Created')])
    """
    table = mapped_preview(frame, columns, rows, joins)
    fed = {**columns, **{name: join_label(headers) for name, headers in (joins or {}).items()}}
    by_line = {int(r.line): r for r in rejections.itertuples()}
    reasons, cells = [], []
    for i, line in enumerate(list(lines)[: len(table)]):
        found = by_line.get(int(line))
        reasons.append(found.reasons if found is not None else "")
        if found is not None:
            cells += [(i, f"{name} ← {header}") for name, header in fed.items()
                      if header in found.headers or name in found.headers]  # fmt: skip
    table.insert(0, REJECTED_COLUMN, pd.Series(reasons, index=table.index, dtype="str"))
    return table, cells


def style_preview(table: pd.DataFrame, cells: list[tuple[int, str]]):
    """A Styler that marks the refused cells and the reasons in red (the status colour of "missed")."""

    def css(frame: pd.DataFrame) -> pd.DataFrame:
        styles = pd.DataFrame("", index=frame.index, columns=frame.columns)
        for i, column in cells:
            styles.iloc[i, frame.columns.get_loc(column)] = REFUSED_CELL
        styles[REJECTED_COLUMN] = [f"color: {RED}" if v else "" for v in frame[REJECTED_COLUMN]]
        return styles

    return table.style.apply(css, axis=None)


def report_lines(report: ImportReport) -> list[str]:
    """The report of a dry run or an import as Markdown lines (counts first, then the choices made).

    >>> r = ImportReport(file="a.csv", table="leads", source="file", dry_run=True, read=12, imported=9,
    ...                  updated=1, rejected=2, format="CSV, utf-8, comma-separated")
    >>> report_lines(r)[:2]
    ['**Dry run of a.csv** into leads (CSV, utf-8, comma-separated; source `file`): nothing was written.', '- **12** rows read']
    """
    would = "would be " if report.dry_run else ""
    head = (
        f"**Dry run of {report.file}** into {report.table}"
        if report.dry_run
        else f"**Imported {report.file}** into {report.table}"
    )
    how = f"; mapping `{report.mapping_name}`" if report.mapping_name else ""
    tail = "nothing was written." if report.dry_run else f"done in {report.seconds:.1f} s."
    lines = [
        f"{head} ({report.format}{how}; source `{report.source}`): {tail}",
        f"- **{report.read:,}** rows read",
        f"- **{report.imported:,}** {would}added (new)",
        f"- **{report.updated:,}** {would}updated (already imported before)",
        f"- **{report.rejected:,}** rejected"
        + (
            ""
            if report.dry_run or not report.rejected
            else " — kept with their reasons under *Rejected rows*"
        ),
    ]
    if report.duplicates:
        lines.append(f"- **{report.duplicates:,}** earlier rows with a repeated id (the last row wins)")
    if report.owners_created:
        lines.append(f"- **{report.owners_created:,}** owners {would}created from owner names")
    if report.blank_lines:
        lines.append(f"- {report.blank_lines:,} blank lines skipped")
    return lines


# ----------------------------------------------------------------------------- state kept per upload


def _file_state(upload) -> dict:
    """Preview and proposals of the uploaded file, computed once per upload (kept in session state)."""
    state = st.session_state.get("import_state")
    if state is None or state["file_id"] != upload.file_id:
        preview = read_preview(upload, rows=PREVIEW_ROWS)
        first = propose_mapping(preview.headers)
        state = {"file_id": upload.file_id, "preview": preview, "proposals": {first.mapping.table: first}}
        st.session_state["import_state"] = state
        st.session_state["import_table"] = first.mapping.table
        st.session_state.pop("import_job", None)  # an earlier file's report no longer applies
    return state


def _proposal(state: dict, table: str) -> Proposal:
    if table not in state["proposals"]:
        state["proposals"][table] = propose_mapping(state["preview"].headers, table)
    return state["proposals"][table]


def _starting_points(table: str) -> dict[str, Mapping | None]:
    """Choice -> mapping of every starting point for ``table``: the proposal, saved mappings, built-in ones."""
    points: dict[str, Mapping | None] = {PROPOSAL: None}
    folder = settings.mappings_dir()
    for name in list_mappings(folder):
        try:
            mapping = load_mapping(name, folder)
        except MappingError:
            continue  # a broken file in the mappings folder: the CLI names it when used
        if mapping.table == table:
            points[f"saved:{name}"] = mapping
    for name in preset_names():
        preset = load_preset(name)
        if preset.table == table:
            points[f"preset:{name}"] = preset
    return points


def _choice_label(choice: str, proposal: Proposal) -> str:
    if choice == PROPOSAL:
        return (
            f"Proposed: built-in {proposal.preset}"
            if proposal.preset
            else "Proposed: matched by column names"
        )
    kind, _, name = choice.partition(":")
    return f"Saved: {name}" if kind == "saved" else f"Built-in: {name}"


def _agreement_timezone(url: str) -> str:
    """The timezone of the agreement(s) in the database when they share one, else "" (a date in a file is
    a day of the business's calendar, so that is the zone to propose)."""
    zones = {
        versions[-1].document.timezone
        for name in loaders.agreement_names(url)
        if (versions := loaders.agreement_versions(url, name))
    }
    return zones.pop() if len(zones) == 1 else ""


def _reset_editor(table: str, base: Mapping, headers: list[str], zone: str = "") -> None:
    """Put the base mapping's choices into the editor's widgets (before they are drawn); ``zone`` is the
    timezone proposed when the mapping names none."""
    check = check_mapping(base, headers)
    for name in mappable_fields(table):
        joined = check.joins.get(name, [])
        st.session_state[f"import_col_{name}"] = check.columns.get(name, joined[0] if joined else NOT_MAPPED)
        if name in JOINABLE:
            st.session_state[f"import_join_{name}"] = joined[1:]
    st.session_state["import_source"] = base.source or ""
    st.session_state["import_owner_reference"] = base.owner_reference
    st.session_state["import_timezone"] = base.timezone or zone


# ----------------------------------------------------------------------------- the panel


def import_panel(url: str) -> None:
    """Upload -> table -> mapping -> preview -> dry run / import -> report; admins only."""
    st.subheader("Import a file")
    if not auth.can("run_import"):
        st.caption("Only admins can import files.")
        return
    st.caption(
        "A CSV or Excel (.xlsx) export of leads, deals, owners or activities from any CRM. Rows are keyed on "
        "(source, id): importing the same file again adds nothing, and bad rows are kept with their reasons."
    )
    upload = st.file_uploader(
        "CSV or Excel file", type=["csv", "tsv", "txt", "xlsx", "xlsm"], key="import_file",
        help="Any common encoding (UTF-8, UTF-16, Windows-1252) and delimiter (, ; tab |).",
    )  # fmt: skip
    if upload is None:
        for name in ("import_state", "import_basis", "import_base_for", "import_job"):
            st.session_state.pop(name, None)
        return
    try:
        state = _file_state(upload)
    except FileImportError as exc:
        st.session_state.pop("import_basis", None)
        errors.show(exc)
        return
    preview = state["preview"]
    st.caption(
        f"{literal(preview.name)}: {literal(preview.format.describe())}, {len(preview.headers)} columns."
    )

    table = st.selectbox(
        "Import into", TABLES, key="import_table", format_func=str.capitalize,
        help="The canonical table the rows become.",
    )  # fmt: skip
    proposal = _proposal(state, table)
    _describe_proposal(proposal, preview.headers)

    points = _starting_points(table)
    if st.session_state.get("import_base_for") != (upload.file_id, table):
        st.session_state["import_base_for"] = (upload.file_id, table)
        st.session_state["import_base"] = PROPOSAL
    choice = st.selectbox(
        "Start from", list(points), key="import_base", format_func=lambda c: _choice_label(c, proposal),
        help="The proposal for this file, a mapping you saved, or a built-in one; then adjust the columns below.",
    )  # fmt: skip
    base = points[choice] or proposal.mapping
    if st.session_state.get("import_basis") != (upload.file_id, table, choice):
        st.session_state["import_basis"] = (upload.file_id, table, choice)
        _reset_editor(table, base, preview.headers, _agreement_timezone(url))

    mapping = _mapping_editor(table, base, preview.headers)
    if mapping is None:
        return
    check = check_mapping(mapping, preview.headers)
    for error in check.errors:  # they quote the file's column names
        st.error(literal(error))
    for warning in check.warnings:
        st.warning(literal(warning))
    if check.columns:
        _preview(state, upload, mapping, check)
    with st.expander("The mapping as YAML", icon=":material/code:"):
        st.code(mapping.to_yaml(), language="yaml")

    if not _run_buttons(url, upload, table, mapping, ok=check.ok):
        _show_outcome(url)
    _save_mapping_form(mapping)


def _preview(state: dict, upload, mapping: Mapping, check) -> None:
    """The first rows as the mapping reads them, with what the import would refuse marked in red."""
    preview = state["preview"]
    rejections = pd.DataFrame({"line": [], "reasons": [], "headers": []})
    if check.ok:  # judged by the import's own conversion, once per mapping
        wanted = mapping.to_yaml()
        if state.get("checked_mapping") != wanted:
            try:
                # the import's own clock, so "in the future" means the same here as in the import
                state["checked_rows"] = check_first_rows(upload, mapping, PREVIEW_ROWS)
            except FileImportError as exc:
                state["checked_rows"] = exc
            state["checked_mapping"] = wanted
        if isinstance(state["checked_rows"], FileImportError):
            st.error(str(state["checked_rows"]))
        else:
            rejections = state["checked_rows"]
    table, cells = marked_preview(preview.frame, preview.lines, check.columns, rejections, joins=check.joins)
    st.markdown("**Preview** — the first rows as the mapping reads them")
    st.dataframe(
        style_preview(table, cells), key="import_preview", hide_index=True, width="stretch",
        column_config={REJECTED_COLUMN: st.column_config.TextColumn(width="medium")},
    )  # fmt: skip
    bad = int((table[REJECTED_COLUMN] != "").sum())
    if not check.ok:
        st.caption("Fix the mapping above to see which values the import would refuse.")
    elif bad:
        st.caption(
            f"{bad} of these {len(table)} rows would be rejected: the values in red cannot be used, and "
            f"'{REJECTED_COLUMN}' says why. A dry run checks every row."
        )
    else:
        st.caption(f"These {len(table)} rows would all be imported. A dry run checks every row.")


def _describe_proposal(proposal: Proposal, headers: list[str]) -> None:
    if proposal.preset:
        st.success(
            f"Recognised: the built-in mapping **{proposal.preset}** fits this file "
            f"({len(headers) - len(proposal.unused_headers)} of its {len(headers)} columns are used).",
            icon=":material/auto_awesome:",
        )
    else:
        st.info(
            "No built-in mapping fits these headers: columns were matched by their names. Check them below.",
            icon=":material/edit_note:",
        )
    if proposal.alternatives:
        st.caption(f"Other built-in mappings that also fit: {', '.join(proposal.alternatives)}.")


def _mapping_editor(table: str, base: Mapping, headers: list[str]) -> Mapping | None:
    """One selectbox per field (required ones marked *), plus source, owner reference and timezone."""
    st.markdown("**Columns** — which column of the file feeds each field (* = required)")
    required = REQUIRED_COLUMNS[table]
    options = [NOT_MAPPED, *headers]
    # Required fields and those the starting point reads come first; the split follows the starting
    # point, not the current choices, so a field does not jump away while it is being edited.
    check = check_mapping(base, headers)
    found = {**check.columns, **check.joins}
    fields = mappable_fields(table)
    first = [name for name in fields if name in required or name in found]
    others = [name for name in fields if name not in first]

    def draw(names: list[str]) -> None:
        grid = st.columns(3)
        for position, name in enumerate(names):
            label = f"{name} *" if name in required else name
            cell = grid[position % 3]
            cell.selectbox(
                label, options, key=f"import_col_{name}", help=f"Read as {field_kind(table, name)}."
            )
            if name in JOINABLE:
                cell.multiselect(
                    f"{name}, followed by", headers, key=f"import_join_{name}", placeholder="nothing more",
                    help=f"Columns whose text follows the one above, after a space: a first name followed by a "
                    f"last name makes the {name}. Blank parts are left out.",
                )  # fmt: skip

    draw(first)
    if others:
        with st.expander(f"More fields ({len(others)} not read by this mapping)", icon=":material/add:"):
            draw(others)
    source_col, owner_col, zone_col = st.columns(3)
    source_col.text_input(
        "Source name", key="import_source", placeholder="file",
        help="Rows are keyed on (source, id): keep one source name per CRM so re-imports update, not duplicate.",
    )  # fmt: skip
    owner_col.selectbox(
        "Owner column holds", list(OWNER_REFERENCES), key="import_owner_reference",
        format_func=OWNER_REFERENCES.get, disabled=table == "owners",
    )  # fmt: skip
    zone_col.text_input(
        "Timezone of the file's times", key="import_timezone", placeholder="UTC",
        help="IANA name such as Europe/Berlin: times without an offset are local times there, and a date "
        "without a time is a day there (proposed: the agreement's timezone). Times with an offset keep it.",
    )  # fmt: skip
    columns = {
        name: st.session_state[f"import_col_{name}"]
        for name in mappable_fields(table)
        if st.session_state.get(f"import_col_{name}", NOT_MAPPED) != NOT_MAPPED
    }
    join = {
        name: [columns.pop(name), *st.session_state[f"import_join_{name}"]]
        for name in JOINABLE
        if name in columns and st.session_state.get(f"import_join_{name}")
    }
    try:
        return edited_mapping(
            base,
            columns,
            source=st.session_state.get("import_source", ""),
            owner_reference=st.session_state.get("import_owner_reference", "id"),
            timezone=st.session_state.get("import_timezone", ""),
            join=join,
        )
    except MappingError as exc:
        errors.show(exc)
        return None


def _import_work(engine, upload, table: str, mapping: Mapping, dry_run: bool, actor: str):
    """What the background job does: the import (or dry run), its audit entry, clearing the caches."""

    def work(job: jobs.Job) -> ImportReport:
        try:
            report = import_file(engine, upload, table, mapping, dry_run=dry_run, progress=job.progress)
        except BaseException as exc:
            if not dry_run:
                detail = {"status": "failed", "source": mapping.source or "file", "error": str(exc)[:500]}
                journal.add_audit(engine, actor, f"import.{table}", upload.name, detail)
            raise
        finally:
            loaders.clear()  # a dry run records its run too
        if not dry_run:
            status = "ok" if report.accepted else "failed"
            detail = {"status": status, "source": report.source, "run_id": report.run_id, **report.counts()}
            journal.add_audit(engine, actor, f"import.{table}", report.file, detail)
        return report

    return work


def _run_buttons(url: str, upload, table: str, mapping: Mapping, ok: bool) -> bool:
    """Dry run and Import; True while an import of this database runs (its progress box is drawn)."""
    key = f"file-import:{url}"
    running = jobs.current(key)
    busy = running is not None and running.running
    dry_col, run_col, _ = st.columns([1, 1, 4])
    dry = dry_col.button(
        "Dry run", key="import_dry_run", icon=":material/fact_check:", disabled=busy or not ok,
        help="Read and check every row; write nothing.",
    )  # fmt: skip
    run = run_col.button(
        "Import", key="import_run", type="primary", icon=":material/upload:", disabled=busy or not ok,
        help="Write the good rows (new ones added, known ones updated) and keep the bad ones with reasons.",
    )  # fmt: skip
    if (dry or run) and not busy:
        user = auth.current_user()
        label = f"{'Checking' if dry else 'Importing'} {upload.name}"
        work = _import_work(loaders.engine(), upload, table, mapping, dry, user.email)
        try:
            job = jobs.start(key, label, work, user.email)
        except jobs.JobBusyError as exc:
            st.warning(str(exc))
            return False
        st.session_state["import_job"] = job
        jobs.follow(job)
        return True
    if busy:
        jobs.progress_box(key)
    return busy


def _show_outcome(url: str) -> None:
    job = st.session_state.get("import_job")
    if job is None or job.key != f"file-import:{url}":
        return
    if job.error is not None:
        if isinstance(job.error, FileImportError | transactions.StorageError):  # a bad file; a full disk
            errors.show(job.error)
            return
        if isinstance(job.error, syncs.RunBusyError):  # another import of the same source is going
            st.warning(str(job.error), icon=":material/sync_lock:")
            return
        st.session_state.pop("import_job", None)  # shown once: the next run starts clean
        raise job.error
    report: ImportReport = job.result
    box = st.container(border=True, key="import_report")
    box.markdown("\n".join(report_lines(report)))
    for note in report.notes:
        box.info(note, icon=":material/info:")
    for warning in report.warnings:
        box.warning(warning)
    if report.duplicate_examples:
        box.caption("Repeated ids: " + "; ".join(report.duplicate_examples))
    if report.first_reasons:
        box.markdown(
            "**First rejected rows**\n" + "\n".join(f"- {reason}" for reason in report.first_reasons)
        )
    if not report.dry_run and report.accepted:
        box.caption("The counts above and every dashboard page now include these rows.")


def _save_mapping_form(mapping: Mapping) -> None:
    name_col, button_col = st.columns([3, 1], vertical_alignment="bottom")
    name = name_col.text_input(
        "Save mapping as…", key="import_mapping_name", placeholder="e.g. Acme CRM leads",
        help="Saved mappings are offered under 'Start from' next time (and work with `cli.py import --mapping`).",
    )  # fmt: skip
    if button_col.button("Save mapping", key="import_save_mapping", icon=":material/save:"):
        try:
            path = save_mapping(mapping, name, settings.mappings_dir())
        except MappingError as exc:
            errors.show(exc)
        else:
            st.success(
                f"Mapping saved as '{name.strip()}' ({path.name}); pick it under 'Start from' next time."
            )
