"""The Agreement page's sections: in force, edit, history, review, baselines, consequences.

Each ``render_*`` function draws one tab from the shared filters and the
agreement's versions; the text, diffs, checks and numbers come from
:mod:`analytics.revisions` and :mod:`analytics.baseline`, saving goes through
:func:`agreements.store.save`. Widget keys are built by the ``*_key`` helpers
so tests find them.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import typing
from typing import Any

import pandas as pd
import streamlit as st

import clock
from agreements import store
from analytics.agreement import Agreement, AgreementError, AgreementVersion, version_in_force
from analytics.baseline import (
    BaselineError,
    FunnelAssumptions,
    default_revenue_goal,
    mql_target,
    reverse_funnel,
    rounded_target,
    suggest_targets,
)
from analytics.charts import AMBER, GREEN, RED, STATUS_COLORS, STATUS_LABELS
from analytics.metrics import GLOSSARY, METRICS
from analytics.periods import period_of
from analytics.revisions import (
    commitment_field,
    commitment_label,
    consequences_table,
    default_effective_from,
    describe_terms,
    diff,
    earliest_effective_from,
    line_of,
    plain_language,
    problems,
    review_checklist,
    review_state,
    target_text,
    triggered_consequences,
    unified_yaml_diff,
    with_changes,
)
from data.transactions import StorageError
from pages.components import auth, exports, loaders
from pages.components.filters import Filters

TABS = ("In force", "Edit", "History", "Review", "Baselines", "Consequences")
TAB_KEY = "section"  # the tabs' widget key, bound to ?section= in the URL
FLASH_KEY = "agreement-flash"
SAVED_KEY = "agreement-saved"  # {"form": "targets" | "yaml", "message": ...}: shown beside that Save button
ERRORS_KEY = (
    "agreement-errors"  # {"form": prefix, "fields": {(commitment id, field): [message]}, "general": [...]}
)
YAML_PROBLEMS_KEY = "agreement-yaml-problems"
TRIGGER_PERIODS = 3
ROW_LAYOUT = [1.6, 1.2, 1, 1, 1.3, 1.2]  # commitment, target, up to four params


# --- keys -------------------------------------------------------------------------------------------------


def slug(name: str) -> str:
    """'Sales and Marketing SLA' -> 'sales-and-marketing-sla' (usable in a widget key and a CSS class)."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "agreement"


def form_prefix(agreement: str, version: int) -> str:
    """Key prefix of the edit forms for ``version`` of ``agreement`` (a new version gets fresh inputs)."""
    return f"edit-{slug(agreement)}-v{version}"


def target_key(prefix: str, commitment: str) -> str:
    return f"{prefix}-{commitment}-target"


def param_key(prefix: str, commitment: str, param: str) -> str:
    return f"{prefix}-{commitment}-{param}"


def reason_key(prefix: str, form: str) -> str:
    return f"{prefix}-{form}-reason"


def effective_key(prefix: str, form: str) -> str:
    return f"{prefix}-{form}-effective"


def yaml_key(prefix: str) -> str:
    return f"{prefix}-yaml"


# --- shared pieces ------------------------------------------------------------------------------------------


def _now() -> pd.Timestamp:
    # Saving is judged against the real clock, not ?as_of=: a past as_of must not open closed periods.
    return pd.Timestamp(clock.now())


def _local_date(moment: Any, timezone: str) -> str:
    return f"{pd.Timestamp(moment).tz_convert(timezone):%Y-%m-%d}"


def _long_date(moment: Any, timezone: str) -> str:
    return f"{pd.Timestamp(moment).tz_convert(timezone):%d %B %Y}".lstrip("0")


def in_force(f: Filters, versions: list[AgreementVersion]) -> AgreementVersion:
    """The version in force at the filters' as_of (the earliest when none had started yet)."""
    return version_in_force(versions, f.as_of) or versions[0]


def _closed_evaluation(f: Filters) -> pd.DataFrame | None:
    """Evaluation of every closed period the filters offer (whole company), or None before the first one."""
    doc = f.document
    current_start = period_of(f.as_of, doc.period, doc.timezone)["period_start"]
    if current_start <= f.history_start:
        return None
    return loaders.evaluation(f.url, f.agreement, f.history_start.isoformat(), current_start.isoformat(),
                              f.as_of.isoformat())  # fmt: skip


def _author() -> str:
    user = auth.current_user()
    return user.email if user.signed_in and user.email else "local user"


def _escape(text: str) -> str:
    """Text shown as Markdown without it being read as Markdown."""
    return re.sub(r"([\\`*_\[\]<>$~|])", r"\\\1", text)


def flash() -> None:
    """Show (once) the message a save left behind."""
    message = st.session_state.pop(FLASH_KEY, None)
    if message:
        st.success(message, icon=":material/check_circle:")


# --- in force -------------------------------------------------------------------------------------------------


def render_in_force(f: Filters, versions: list[AgreementVersion]) -> None:
    current = in_force(f, versions)
    doc = current.document
    tz = doc.timezone
    started = "since the start of its history" if current.effective_from.year <= 1970 else (
        f"since {_long_date(current.effective_from, tz)}")  # fmt: skip
    st.markdown(
        f"**{_escape(doc.name)}**, version {current.version}, in force {started} ({tz}). "
        f"Saved by {_escape(current.author or 'unknown')} on {_long_date(current.created_at, tz)}: "
        f"“{_escape(current.reason or 'no reason given')}”"
    )
    latest = versions[-1]
    if latest.version != current.version and latest.effective_from > f.as_of:
        changes = diff(doc, latest.document)
        st.info(
            f"Version {latest.version} takes effect on {_long_date(latest.effective_from, tz)} "
            f"({len(changes)} change{'s' if len(changes) != 1 else ''}: see History).",
            icon=":material/event_upcoming:",
        )
    sentences = plain_language(doc)
    columns = st.columns(len(doc.parties))
    for column, party in zip(columns, doc.parties, strict=True):
        with column:
            st.subheader(f"{party[:1].upper()}{party[1:]} commits to")
            mine = sentences[sentences["party"] == party]
            if mine.empty:
                st.write(f"No commitment of {party} in this agreement.")
            for row in mine.itertuples():
                st.markdown(f"- {_escape(row.sentence)}")
                if row.description and row.description != row.sentence:
                    st.caption(f"In the agreement's words: {row.description}")
    st.subheader("Terms")
    st.markdown("\n".join(f"- {_escape(line)}" for line in describe_terms(doc)))
    review = review_state(versions[-1], f.as_of)
    if review.state == "overdue":
        st.warning(f"{review.message} See the Review tab.", icon=":material/event_busy:")
    else:
        st.caption(f"{review.message} See the Review tab.")
    with st.expander("What the metrics mean"):
        used = {c.metric: commitment_label(c) for c in doc.commitments}
        st.markdown("\n".join(f"- **{label}** (`{name}`): {GLOSSARY[name]}" for name, label in used.items()))
    st.download_button(
        "Download this version (YAML)", doc.to_yaml().encode("utf-8"),
        file_name=f"{slug(doc.name)}-v{current.version}.yaml", mime="application/x-yaml",
        key="agreement_download_yaml", on_click="ignore", icon=":material/download:",
    )  # fmt: skip


# --- edit -------------------------------------------------------------------------------------------------------


def render_edit(f: Filters, versions: list[AgreementVersion]) -> None:
    if not auth.can("edit_agreement"):
        st.info("Only an admin can change the agreement. Ask whoever owns it.", icon=":material/lock:")
        return
    base = versions[-1]  # a new version builds on the latest, even one that is not in force yet
    doc = base.document
    tz = doc.timezone
    prefix = form_prefix(base.agreement, base.version)
    now = _now()
    default = default_effective_from(doc, now).tz_convert(tz).date()
    earliest = earliest_effective_from(versions, now, doc)
    rule = f"no earlier than {_local_date(earliest, tz)}" if earliest is not None else "any date"
    st.caption(
        f"Changes start from version {base.version} (the latest) and are saved as version {base.version + 1}, "
        f"with your reason. Effective dates are local midnight in {tz}: by default the start of the next "
        f"period, {rule}. Earlier periods keep the version they were judged by."
    )
    errors = st.session_state.get(ERRORS_KEY) or {}
    if errors.get("form") != prefix:
        errors = {}
    fields: dict[tuple[str, str], list[str]] = errors.get("fields", {})

    st.subheader("Targets and windows")
    with st.form(key=f"{prefix}-targets-form", border=True):
        for message in errors.get("general", []):
            st.error(message)
        for c in doc.commitments:
            metric = METRICS[c.metric]
            row = st.columns(ROW_LAYOUT, vertical_alignment="top")
            row[0].markdown(
                f"**{_escape(c.id)}** — {_escape(commitment_label(c))}  \n{c.owner} · `{c.metric}`"
            )
            with row[1]:
                _target_input(prefix, c.id, c.target, metric.kind, metric.unit, doc.currency, doc.period)
                _errors_under(fields, c.id, "target")
            for column, (name, info) in zip(row[2:], metric.params.model_fields.items(), strict=False):
                with column:
                    _param_input(prefix, c.id, name, info, c.params.get(name))
                    _errors_under(fields, c.id, f"params.{name}")
            _errors_under(fields, c.id, "params", "")
            leftover = [m for (cid, field), ms in fields.items() if cid == c.id
                        and field not in ("target", "params", "") and not field.startswith("params.") for m in ms]  # fmt: skip
            for message in leftover:
                st.error(message)
        _save_inputs(prefix, "targets", default, fields)
        button, saved = st.columns([1, 3], vertical_alignment="center")
        button.form_submit_button(
            "Save as new version", type="primary", key=f"{prefix}-targets-save", on_click=_save_targets,
            args=(f.url, prefix, base.agreement, base.version),
        )  # fmt: skip
        with saved:
            _saved_message("targets")

    st.subheader("Everything else (YAML)")
    st.caption("Parties, calendar, teams, filters, descriptions, consequences and review: edit the document "
               "itself. Check shows every problem with its line; nothing is saved until you save.")  # fmt: skip
    with st.form(key=f"{prefix}-yaml-form", border=True):
        st.text_area("Agreement (YAML)", value=doc.to_yaml(), height=420, key=yaml_key(prefix))
        report = st.session_state.get(YAML_PROBLEMS_KEY)
        if report and report.get("form") == prefix:
            for message in report["problems"]:
                st.error(message)
            if report.get("ok"):
                st.success(report["ok"])
        _save_inputs(prefix, "yaml", default, fields)
        left, right, saved = st.columns([1, 1, 3], vertical_alignment="center")
        left.form_submit_button("Check", key=f"{prefix}-yaml-check", on_click=_check_yaml, args=(prefix, doc))
        right.form_submit_button(
            "Save as new version", type="primary", key=f"{prefix}-yaml-save", on_click=_save_yaml,
            args=(f.url, prefix, base.agreement, base.version),
        )  # fmt: skip
        with saved:
            _saved_message("yaml")


def _saved_message(form: str) -> None:
    """Show (once) the confirmation a save of ``form`` left behind, beside its Save button."""
    saved = st.session_state.get(SAVED_KEY)
    if saved and saved["form"] == form:
        st.session_state.pop(SAVED_KEY)
        st.success(saved["message"], icon=":material/check_circle:")


def _target_input(
    prefix: str,
    commitment: str,
    target: float | None,
    kind: str,
    unit: str,
    currency: str | None,
    period: str,
) -> None:
    shown = {"rate": "% of leads", "amount": f"{currency or 'amount'} a {period}", "duration": "business hours",
             "count": f"{unit} a {period}"}[kind]  # fmt: skip
    key = target_key(prefix, commitment)
    # Suggestions pre-fill the state; passing value= as well would make Streamlit warn about two sources.
    default = (
        {} if key in st.session_state else {"value": None if target is None else _shown_target(target, kind)}
    )
    st.number_input(
        f"Target ({shown})", key=key, **default,
        step=1.0, format="%g" if kind == "rate" else "%.0f" if kind in ("count", "amount") else "%.1f",
        help="Leave empty to track the commitment without a target."
        + (" A percentage from 0 to 100: 90 means 90 % of leads." if kind == "rate" else ""),
    )  # fmt: skip


def _shown_target(target: float, kind: str) -> float:
    """A target as the form shows it: rates in percent (0.9 -> 90), the rest as stored."""
    return round(float(target) * 100, 6) if kind == "rate" else float(target)


def _stored_target(value: float | None, kind: str) -> float | None:
    """A target typed into the form as the agreement stores it: percent back to a share (90 -> 0.9)."""
    if value is None or kind != "rate":
        return value
    return round(float(value) / 100, 8)


def _param_input(prefix: str, commitment: str, name: str, info: Any, value: Any) -> None:
    key = param_key(prefix, commitment, name)
    label = name.replace("_", " ").capitalize()
    annotation = info.annotation
    choices = _literal_choices(annotation)
    if typing.get_origin(annotation) is typing.Literal:  # one of a few readings, e.g. business days'
        options = list(typing.get_args(annotation))
        st.selectbox(label, options, index=options.index(value or info.default), key=key,
                     help="business_time: N working days of business time from the handover; end_of_day: by the "
                     "close of the Nth working day after the handover's day.")  # fmt: skip
    elif choices:
        st.multiselect(label, choices, default=list(value or []), key=key, placeholder="any kind",
                       help="Which activities count; none chosen = every kind.")  # fmt: skip
    elif _is_int(annotation):
        st.number_input(label, value=None if value is None else int(value), step=1, key=key)
    else:
        st.number_input(
            label, value=None if value is None else float(value), step=0.5, format="%.1f", key=key
        )


def _literal_choices(annotation: Any) -> list[str]:
    for arg in [annotation, *typing.get_args(annotation)]:
        for inner in [arg, *typing.get_args(arg)]:
            if typing.get_origin(inner) is typing.Literal:
                return list(typing.get_args(inner))
    return []


def _is_int(annotation: Any) -> bool:
    return annotation is int or int in typing.get_args(annotation)


def _errors_under(fields: dict, commitment: str, *names: str) -> None:
    for name in names:
        for message in fields.get((commitment, name), []):
            st.error(message)


def _save_inputs(prefix: str, form: str, default: dt.date, fields: dict) -> None:
    left, right = st.columns([3, 1])
    with left:
        st.text_input("Reason for the change (required)", key=reason_key(prefix, form),
                      placeholder="e.g. Q3 review: follow-up target lowered while two reps are hired")  # fmt: skip
        for message in fields.get((form, "reason"), []):
            st.error(message)
    with right:
        st.date_input("Takes effect on", value=default, key=effective_key(prefix, form), format="YYYY-MM-DD")
        for message in fields.get((form, "effective_from"), []):
            st.error(message)


def _form_values(prefix: str, doc: Agreement) -> tuple[dict, dict]:
    """The targets and params the form changed (a value equal to the document's is left as written there)."""
    state = st.session_state
    targets, params = {}, {}
    for c in doc.commitments:
        target = _stored_target(state.get(target_key(prefix, c.id)), METRICS[c.metric].kind)
        if target != c.target:
            targets[c.id] = target
        changed = {}
        for name, info in METRICS[c.metric].params.model_fields.items():
            value = state.get(param_key(prefix, c.id, name))
            value = (list(value) or None) if isinstance(value, list | tuple) else value
            if name not in c.params and value == info.default:
                continue  # left at the default the document does not write out
            if value != c.params.get(name):
                changed[name] = value
        if changed:
            params[c.id] = changed
    return targets, params


def _save_targets(url: str, prefix: str, agreement: str, version: int) -> None:
    """Form callback: validate the edited targets and windows, then save them as a new version."""
    base = store.version(loaders.engine(), agreement, version)
    targets, params = _form_values(prefix, base.document)
    fields: dict[tuple[str, str], list[str]] = {}
    general: list[str] = []
    for c in base.document.commitments:
        typed = st.session_state.get(target_key(prefix, c.id))
        if METRICS[c.metric].kind == "rate" and typed is not None and not 0 <= typed <= 100:
            fields[(c.id, "target")] = [
                f"Enter the target as a percentage between 0 and 100 % (not {typed:g})."
            ]
    if fields:
        st.session_state[ERRORS_KEY] = {"form": prefix, "fields": fields, "general": general}
        return
    try:
        changed = with_changes(base.document, targets, params)
    except AgreementError as exc:
        for path, message in problems(exc):
            index, field = commitment_field(path)
            if index is not None and index < len(base.document.commitments):
                fields.setdefault((base.document.commitments[index].id, field), []).append(message)
            else:
                general.append(f"{path}: {message}" if path else message)
        st.session_state[ERRORS_KEY] = {"form": prefix, "fields": fields, "general": general}
        return
    _save(prefix, "targets", base, changed)


def _check_yaml(prefix: str, doc: Agreement) -> None:
    """Form callback: validate the YAML and say what is wrong, with lines, or what would change."""
    text = st.session_state.get(yaml_key(prefix), "")
    try:
        parsed = store.parse(text)
    except AgreementError as exc:
        st.session_state[YAML_PROBLEMS_KEY] = {"form": prefix, "problems": _yaml_problems(exc, text)}
        return
    changes = diff(doc, parsed)
    ok = f"The document is valid: {len(changes)} change{'s' if len(changes) != 1 else ''} from the latest version."
    st.session_state[YAML_PROBLEMS_KEY] = {"form": prefix, "problems": [], "ok": ok}


def _yaml_problems(error: AgreementError, text: str) -> list[str]:
    out = []
    for path, message in problems(error):
        line = line_of(text, path)
        where = f"Line {line} — " if line else ""
        out.append(f"{where}{path}: {message}" if path else message)
    return out


def _save_yaml(url: str, prefix: str, agreement: str, version: int) -> None:
    """Form callback: validate the YAML and save it as a new version."""
    base = store.version(loaders.engine(), agreement, version)
    text = st.session_state.get(yaml_key(prefix), "")
    try:
        parsed = store.parse(text)
    except AgreementError as exc:
        st.session_state[YAML_PROBLEMS_KEY] = {"form": prefix, "problems": _yaml_problems(exc, text)}
        return
    st.session_state.pop(YAML_PROBLEMS_KEY, None)
    _save(prefix, "yaml", base, parsed)


def _save(prefix: str, form: str, base: AgreementVersion, document: Agreement) -> None:
    """Save ``document`` after ``base`` with the form's reason and date; leave errors or a message behind."""
    state = st.session_state
    fields: dict[tuple[str, str], list[str]] = {}
    general: list[str] = []
    if document.name == base.agreement and not diff(base.document, document):
        general.append("Nothing changed: edit a target, a window or the document first.")
    else:
        try:
            saved = store.save(loaders.engine(), document, state.get(effective_key(prefix, form)), _author(),
                               state.get(reason_key(prefix, form)) or "", as_of=_now())  # fmt: skip
        except StorageError as exc:
            general.append(str(exc))
        except AgreementError as exc:
            for path, message in problems(exc):
                if path in ("reason", "effective_from", "author"):
                    fields.setdefault((form, path), []).append(message)
                else:
                    general.append(f"{path}: {message}" if path else message)
        else:
            loaders.clear()
            state.pop(ERRORS_KEY, None)
            state.pop(YAML_PROBLEMS_KEY, None)
            new_name = (
                "" if saved.agreement == base.agreement else " (a new agreement: pick it in the sidebar)"
            )
            state[SAVED_KEY] = {"form": form, "message": (
                f"Saved {saved.agreement} version {saved.version}{new_name}, in force from "
                f"{_long_date(saved.effective_from, saved.document.timezone)}. Earlier periods keep their version."
            )}  # fmt: skip
            return
    state[ERRORS_KEY] = {"form": prefix, "fields": fields, "general": general}
    if form == "yaml":
        state[YAML_PROBLEMS_KEY] = {
            "form": prefix,
            "problems": general + [m for ms in fields.values() for m in ms],
        }


# --- history -------------------------------------------------------------------------------------------------------


def render_history(f: Filters, versions: list[AgreementVersion]) -> None:
    current = in_force(f, versions)
    tz = versions[-1].document.timezone
    rows = []
    for i, v in enumerate(versions):
        changes = diff(versions[i - 1].document, v.document) if i else []
        rows.append(
            {
                "version": v.version,
                "in force from": "start of history" if v.effective_from.year <= 1970 else _local_date(v.effective_from, tz),
                "state": "in force" if v.version == current.version else
                ("scheduled" if v.effective_from > f.as_of else "superseded"),
                "saved": f"{pd.Timestamp(v.created_at).tz_convert(tz):%Y-%m-%d %H:%M}",
                "author": v.author or "unknown",
                "reason": v.reason or "",
                "changes": "first version" if not i else (f"{len(changes)}: " + "; ".join(c.text for c in changes[:3])
                                                        + (" …" if len(changes) > 3 else "") if changes else "none"),
            }
        )  # fmt: skip
    st.subheader("Versions")
    st.dataframe(
        pd.DataFrame(rows[::-1]), hide_index=True, width="stretch", key="agreement_history_table",
        column_config={"saved": st.column_config.TextColumn(f"saved ({tz})"),
                       "reason": st.column_config.TextColumn(width="large"),
                       "changes": st.column_config.TextColumn(width="large")},
    )  # fmt: skip
    if len(versions) < 2:
        st.info("Only one version so far: a change saved on the Edit tab appears here with what changed.")
        return
    st.subheader("What changed")
    numbers = [v.version for v in versions]
    left, right = st.columns(2)
    old_number = left.selectbox("From version", numbers, index=len(numbers) - 2, key="agreement_diff_from")
    new_number = right.selectbox("To version", numbers, index=len(numbers) - 1, key="agreement_diff_to")
    old = next(v for v in versions if v.version == old_number)
    new = next(v for v in versions if v.version == new_number)
    changes = diff(old.document, new.document)
    if not changes:
        st.write(f"Version {old_number} and version {new_number} hold the same document.")
        return
    st.markdown("\n".join(_change_line(c) for c in changes))
    with st.expander("YAML diff", expanded=False):
        st.code(unified_yaml_diff(old.document, new.document, f"version {old_number}", f"version {new_number}"),
                language="diff")  # fmt: skip


def _change_line(change) -> str:
    rest = change.text[len(change.path) + 2 :].replace(" -> ", " → ")
    return f"- `{change.path}`: {_escape(rest)}"


# --- review -----------------------------------------------------------------------------------------------------------


def render_review(f: Filters, versions: list[AgreementVersion]) -> None:
    latest = versions[-1]
    state = review_state(latest, f.as_of)
    show = {"overdue": st.error, "due": st.warning, "scheduled": st.info, "no cadence": st.info}[state.state]
    show(state.message, icon=":material/event_busy:" if state.state == "overdue" else ":material/event:")
    current = in_force(f, versions)
    tz = current.document.timezone
    since = max(pd.Timestamp(current.effective_from), f.history_start)
    st.subheader("Review checklist")
    evaluation = _closed_evaluation(f)
    if evaluation is None or evaluation.empty:
        st.write("No closed period yet: the checklist fills in once the first period has ended.")
        return
    checklist = review_checklist(evaluation, since=since)
    doc = current.document
    start_text = (
        "the oldest period shown" if since == f.history_start else f"version {current.version} took effect"
    )
    st.caption(f"Closed periods since {start_text} ({_local_date(since, tz)}), whole company.")
    for row in checklist.itertuples():
        st.markdown(f"- {_named(row.commitment, doc)} ({row.party}): {_escape(row.check)}")
    st.markdown(
        "- Are the targets still what history supports? Compare them on the **Baselines** tab.\n"
        "- Did the consequences happen? See **Consequences**.\n"
        "- Set the next review date (review.next) when you save the reviewed version."
    )
    table = checklist.rename(columns={"not_judged": "not judged", "missed_periods": "missed periods"})
    st.dataframe(
        table, hide_index=True, width="stretch", key="agreement_review_table",
        column_config={"missed periods": st.column_config.TextColumn(width="medium"),
                       "check": st.column_config.TextColumn(width="large")},
    )  # fmt: skip


# --- baselines ---------------------------------------------------------------------------------------------------------


def render_baselines(f: Filters, versions: list[AgreementVersion]) -> None:
    doc = f.document
    st.subheader("Targets from history")
    evaluation = _closed_evaluation(f)
    if evaluation is None or evaluation.empty:
        st.write("No closed period yet: suggestions appear once the first period has ended.")
    else:
        suggestions = suggest_targets(evaluation)
        by_id = {c.id: c for c in doc.commitments}
        rows = []
        for row in suggestions.itertuples():
            c = by_id.get(row.commitment)
            kind = row.kind
            if row.periods:
                basis = f"{row.note} ({row.first_period} to {row.last_period})"
                suggested = target_text(row.suggested, kind, doc.currency)
                span = f"{target_text(row.low, kind, doc.currency)} – {target_text(row.high, kind, doc.currency)}"
            else:
                basis, suggested, span = row.note, "—", "—"
            rows.append(
                {
                    "commitment": row.commitment,
                    "what": commitment_label(c) if c else "",
                    "party": c.owner if c else "",
                    "current target": target_text(c.target if c else None, kind, doc.currency),
                    "suggested": suggested + (" (provisional)" if row.provisional and row.periods else ""),
                    "range (p25–p75)": span,
                    "periods": int(row.periods),
                    "basis": basis,
                }
            )
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="agreement_baselines_table")
        usable = {
            row.commitment: _shown_target(rounded_target(row.suggested, row.kind), row.kind)
            for row in suggestions.itertuples()
            if row.periods and not math.isnan(row.suggested) and row.commitment in by_id
        }
        if usable and auth.can("edit_agreement"):
            latest = versions[-1]
            st.button(
                "Start a new version from these suggestions", key="agreement_use_suggestions",
                icon=":material/edit_note:", on_click=_use_suggestions,
                args=(form_prefix(latest.agreement, latest.version), usable),
                help="Fills the suggested targets (rounded) into the form on the Edit tab; nothing is saved "
                "until you give a reason and save.",
            )  # fmt: skip
        st.caption("Suggested target: the median actual of the last closed periods (up to 6); the range is the "
                   "middle half of them. Fewer than 3 periods: provisional.")  # fmt: skip
    render_reverse_funnel(f, versions)


def _use_suggestions(prefix: str, targets: dict[str, float]) -> None:
    """Button callback: put the suggested targets into the edit form and open the Edit tab."""
    for commitment, value in targets.items():
        st.session_state[target_key(prefix, commitment)] = value
    st.session_state[TAB_KEY] = "Edit"
    st.session_state[FLASH_KEY] = (
        "The suggested targets are filled in below. Check them, give a reason and save; nothing is saved yet."
    )


ASSUMPTION_LABELS = {
    "average_deal_size": "Average deal size",
    "win_rate": "Win rate (won / closed)",
    "sql_to_opportunity": "SQL → opportunity",
    "mql_to_sql": "MQL → SQL",
    "marketing_share": "Marketing's share of revenue",
}


def render_reverse_funnel(f: Filters, versions: list[AgreementVersion]) -> None:
    latest = versions[-1]
    # Planning looks ahead: a scheduled version's targets are the ones this funnel is for.
    upcoming = latest if latest.effective_from > f.as_of else in_force(f, versions)
    doc = upcoming.document
    st.subheader("Reverse funnel: from a revenue goal to MQLs")
    current_start = period_of(f.as_of, doc.period, doc.timezone)["period_start"]
    start = f.history_start if current_start > f.history_start else current_start - pd.Timedelta(days=1)
    assumptions: FunnelAssumptions = loaders.funnel_assumptions(
        f.url, f.agreement, start.isoformat(), current_start.isoformat(), f.as_of.isoformat()
    )
    scheduled = (
        f" Targets of version {upcoming.version}, which takes effect on "
        f"{_long_date(upcoming.effective_from, doc.timezone)}."
        if upcoming.effective_from > f.as_of
        else ""
    )
    st.caption(
        f"Assumptions from the last closed periods (whole company); change any of them. Per {doc.period}."
        + scheduled
    )
    goal_default = default_revenue_goal(doc, assumptions.average_deal_size, assumptions.win_rate)
    goal = st.columns([1, 2])[0].number_input(f"Revenue goal per {doc.period} ({doc.currency or 'amount'})", value=goal_default,
                           min_value=0.0, step=10_000.0, format="%.0f", key="funnel_goal")  # fmt: skip
    columns = st.columns(len(ASSUMPTION_LABELS))
    overrides: dict[str, float | None] = {}
    for column, (name, label) in zip(columns, ASSUMPTION_LABELS.items(), strict=True):
        value = getattr(assumptions, name)
        known = value is not None and not math.isnan(value)
        with column:
            share = name != "average_deal_size"  # shares are typed in percent, like rate targets
            typed = st.number_input(
                f"{label} (%)" if share else label, key=f"funnel_{name}",
                value=(round(float(value) * 100, 1) if share else float(value)) if known else None,
                step=1.0 if share else 1_000.0, format="%.1f" if share else "%.0f",
                help=None if known else "No history to compute this from: set it by hand.",
            )  # fmt: skip
            overrides[name] = typed / 100 if share and typed is not None else typed
    try:
        funnel = reverse_funnel(goal, assumptions, **overrides)
    except BaselineError as exc:
        st.warning(f"Cannot work the funnel back yet: {exc}.")
        return
    shown = funnel.assign(
        needed=[target_text(v, "amount", doc.currency) if i == 0 else f"{v:,.0f}"
                for i, v in enumerate(funnel["needed"])],
        value=[target_text(v, "amount", doc.currency) if a == "average_deal_size" else f"{v:.1%}"
               for a, v in zip(funnel["assumption"], funnel["value"], strict=True)],
    ).rename(columns={"step": "step", "needed": f"needed per {doc.period}", "value": "assumption value"})  # fmt: skip
    st.dataframe(shown, hide_index=True, width="stretch", key="agreement_funnel_table")
    mqls = int(funnel["needed"].iloc[-1])
    target = mql_target(doc)
    asks = f"; the agreement asks for {target:,.0f}" if target is not None else ""
    st.markdown(f"To reach {target_text(goal, 'amount', doc.currency)} a {doc.period}, marketing needs to hand "
                f"over **{mqls:,} MQLs a {doc.period}**{asks}.")  # fmt: skip


# --- consequences ---------------------------------------------------------------------------------------------------------


def render_consequences(f: Filters, versions: list[AgreementVersion]) -> None:
    doc = in_force(f, versions).document
    st.subheader("What each side agreed happens")
    table = consequences_table(doc)
    if table.empty:
        st.write("The agreement names no consequences. Add them under consequences: in the YAML editor.")
    for row in table.itertuples():
        parts = [f"{_badge('missed')} {_escape(row.on_miss)}" if row.on_miss else "",
                 f"{_badge('met')} {_escape(row.on_meet)}" if row.on_meet else ""]  # fmt: skip
        st.markdown(f"- {_named(row.commitment, doc)} ({row.party}): " + " ".join(p for p in parts if p))
    st.subheader(f"Triggered in the last {TRIGGER_PERIODS} closed periods")
    evaluation = _closed_evaluation(f)
    if evaluation is None or evaluation.empty:
        st.write("No closed period yet.")
        return
    triggered = triggered_consequences(versions, evaluation, periods=TRIGGER_PERIODS)
    if triggered.empty:
        st.write(f"No consequence was triggered in the last {TRIGGER_PERIODS} closed periods.")
        return
    st.caption("Each period is judged by the version in force when it started.")
    for period, group in triggered.groupby("period", sort=False):
        versions_used = ", ".join(str(v) for v in dict.fromkeys(group["version"]))
        lines = [f"- {_badge(r.status)} {_named(r.commitment, doc)} ({r.party}): {_escape(r.consequence)}"
                 for r in group.itertuples()]  # fmt: skip
        st.markdown(f"**{period}** (judged by version {versions_used})\n" + "\n".join(lines))
    st.download_button(
        "Download triggered consequences (CSV)", exports.csv_bytes(triggered),
        file_name=f"{slug(f.agreement)}-consequences.csv", mime="text/csv", key="agreement_triggered_csv",
        on_click="ignore", icon=":material/download:",
    )  # fmt: skip


def _named(commitment: str, doc: Agreement) -> str:
    """A commitment id in bold with its plain label, e.g. '**speed-to-lead** — First touch within 4 business
    hours' (the id alone when the document no longer has it)."""
    found = next((c for c in doc.commitments if c.id == commitment), None)
    label = f" — {_escape(commitment_label(found))}" if found is not None else ""
    return f"**{_escape(commitment)}**{label}"


def _badge(status: str) -> str:
    """The status as a coloured Markdown badge, in the colours every page uses."""
    color = {GREEN: "green", AMBER: "orange", RED: "red"}.get(STATUS_COLORS.get(status, ""), "gray")
    return f":{color}-badge[{STATUS_LABELS.get(status, status)}]"


RENDER = {
    "In force": render_in_force,
    "Edit": render_edit,
    "History": render_history,
    "Review": render_review,
    "Baselines": render_baselines,
    "Consequences": render_consequences,
}
