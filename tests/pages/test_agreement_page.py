"""The Agreement page under AppTest: read it, edit it (form and YAML), history, review, baselines, consequences."""

from __future__ import annotations

import datetime as dt
import shutil

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import settings
from agreements import store
from analytics.agreement import version_in_force
from analytics.periods import period_of
from analytics.revisions import plain_language, with_changes
from data import journal
from data.engine import make_engine
from pages.components import loaders
from pages.components.agreement_view import (
    effective_key,
    form_prefix,
    param_key,
    reason_key,
    target_key,
    yaml_key,
)
from tests.conftest import signed_in_as
from tests.security.conftest import alias_chain

APP = str(settings.ROOT / "app.py")
NAME = "Sales and Marketing SLA"
V1 = form_prefix(NAME, 1)


@pytest.fixture
def writable_url(demo_db_url, tmp_path, monkeypatch) -> str:
    """A private copy of the demo database, used by the app (tests that save must not touch the shared one)."""
    target = tmp_path / "agreement.db"
    shutil.copyfile(demo_db_url.removeprefix("sqlite:///"), target)
    url = f"sqlite:///{target}"
    monkeypatch.setenv("ACCORD_DATABASE_URL", url)
    monkeypatch.setattr(settings, "SECRETS_FILE", tmp_path / "no-secrets.toml")
    return url


@pytest.fixture
def shared_url(demo_db_url, monkeypatch, tmp_path) -> str:
    """The shared demo database, for tests that only read."""
    monkeypatch.setenv("ACCORD_DATABASE_URL", demo_db_url)
    monkeypatch.setattr(settings, "SECRETS_FILE", tmp_path / "no-secrets.toml")
    return demo_db_url


def open_tab(section: str, as_of: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    at.switch_page("pages/agreement.py")
    at.query_params["section"] = section
    if as_of:
        at.query_params["as_of"] = as_of
    at.run()
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["Agreement"]
    return at


def texts(at: AppTest) -> str:
    kinds = ("markdown", "caption", "info", "warning", "error", "success", "subheader")
    return "\n".join(str(e.value) for kind in kinds for e in getattr(at, kind))


def table_with(at: AppTest, column: str) -> pd.DataFrame:
    """The one table on the page that has ``column`` (st.dataframe keeps no key unless it is selectable)."""
    tables = [d.value for d in at.dataframe if column in d.value.columns]
    assert len(tables) == 1, f"{len(tables)} tables with a {column!r} column"
    return tables[0]


def stored(url: str):
    return store.versions(make_engine(url), NAME)


# --- reading ---------------------------------------------------------------------------------------------


def test_the_version_in_force_reads_in_plain_language_per_party(shared_url):
    at = open_tab("In force")
    doc = stored(shared_url)[-1].document
    shown = texts(at).replace("\\", "")
    assert "Marketing commits to" in shown and "Sales commits to" in shown
    for sentence in plain_language(doc)["sentence"]:
        assert sentence in shown
    assert "Sales follows up every MQL within 4 business hours, Mon–Fri 09:00–17:30 Europe/Berlin" in shown
    assert "version 1, in force since the start of its history" in shown
    assert at.get("download_button")[0].proto.label == "Download this version (YAML)"


def test_review_baselines_and_consequences_show_their_numbers(shared_url):
    review = open_tab("Review")
    assert any(m.value.startswith(("Next review on", "The review is due", "The review was due")) for m in
               [*review.info, *review.warning, *review.error])  # fmt: skip
    checklist = table_with(review, "missed periods")
    doc = stored(shared_url)[-1].document
    assert checklist["commitment"].tolist() == [c.id for c in doc.commitments]
    assert (checklist["met"] + checklist["missed"] + checklist["not judged"] == checklist["periods"]).all()

    baselines = open_tab("Baselines")
    table = table_with(baselines, "current target")
    assert table["commitment"].tolist() == [c.id for c in doc.commitments]
    assert table.set_index("commitment").loc["speed-to-lead", "current target"] == "90%"
    assert (table["periods"] == 6).all()
    funnel = table_with(baselines, "needed per month")
    assert funnel["step"].tolist() == ["revenue from marketing", "won deals", "opportunities", "SQLs", "MQLs"]
    assert "marketing needs to hand over" in texts(baselines) and "the agreement asks for 750" in texts(
        baselines
    )
    # an assumption set by hand changes the answer
    before = funnel["needed per month"].iloc[-1]
    baselines.number_input(key="funnel_mql_to_sql").set_value(5.0).run()  # percent
    after_table = table_with(baselines, "needed per month").set_index("step")["needed per month"]
    after = after_table["MQLs"]
    assert int(after.replace(",", "")) > int(before.replace(",", ""))
    sqls, mqls = (float(after_table[step].replace(",", "")) for step in ("SQLs", "MQLs"))
    assert abs(mqls - sqls / 0.05) <= 11  # 5 (percent) is a 0.05 share; SQLs are shown rounded

    consequences = open_tab("Consequences")
    shown = texts(consequences)
    assert "Sales funds two extra webinar slots next quarter" in shown
    assert "(judged by version 1)" in shown


def test_suggested_targets_fill_the_form_and_nothing_is_saved_until_a_reason_is_given(writable_url):
    at = open_tab("Baselines")
    suggested = table_with(at, "current target").set_index("commitment")["suggested"]
    at.button(key="agreement_use_suggestions").click().run()
    assert not at.exception, at.exception
    assert at.success[0].value.startswith("The suggested targets are filled in below")
    rate = at.number_input(key=target_key(V1, "speed-to-lead")).value
    shown_rate = float(suggested["speed-to-lead"].removesuffix(" (provisional)").rstrip("%"))
    assert rate == round(rate) and abs(rate - shown_rate) <= 0.51  # in percent, rounded to whole points
    count = at.number_input(key=target_key(V1, "mql-volume")).value
    assert count == round(float(suggested["mql-volume"].replace(",", "")))
    assert [v.version for v in stored(writable_url)] == [1]
    at.text_input(key=reason_key(V1, "targets")).set_value("targets from the last six months")
    at.button(key=f"{V1}-targets-save").click().run()
    saved = stored(writable_url)[-1].document
    assert (
        saved.commitment("mql-volume").target == count
        and saved.commitment("speed-to-lead").target == rate / 100
    )


def test_only_an_admin_may_change_the_agreement(shared_url):
    at = AppTest.from_file(APP, default_timeout=90)
    at.switch_page("pages/agreement.py")
    at.query_params["section"] = "Edit"
    signed_in_as(at, "mia@example.com", "marketing")
    at.run()
    assert not at.exception, at.exception
    assert [i.value for i in at.info] == ["Only an admin can change the agreement. Ask whoever owns it."]
    assert not at.number_input and not at.text_area
    at.query_params["section"] = "Baselines"
    at.run()
    assert table_with(at, "current target").shape[0] == 6
    assert not [b for b in at.button if b.key == "agreement_use_suggestions"]


# --- editing with the form --------------------------------------------------------------------------------


def test_editing_a_target_saves_a_new_version_and_history_shows_it(writable_url):
    at = open_tab("Edit")
    at.number_input(key=target_key(V1, "speed-to-lead")).set_value(85.0)  # percent: stored as 0.85
    at.text_input(key=reason_key(V1, "targets")).set_value("Two reps on leave until January")
    at.button(key=f"{V1}-targets-save").click().run()
    assert not at.exception, at.exception
    assert at.success[0].value.startswith(f"Saved {NAME} version 2, in force from ")
    versions = stored(writable_url)
    assert [v.version for v in versions] == [1, 2]
    second = versions[-1]
    assert second.document.commitment("speed-to-lead").target == 0.85
    assert (second.author, second.reason) == ("local user", "Two reps on leave until January")
    start = period_of(pd.Timestamp.now(tz="UTC"), "month", "Europe/Berlin")["period_end"]
    assert pd.Timestamp(second.effective_from) == start  # default: the start of the next period
    audit = journal.read_audit(make_engine(writable_url))
    assert audit.iloc[0]["action"] == "agreement.save" and audit.iloc[0]["detail"]["version"] == 2
    # the form now starts from version 2
    assert at.number_input(key=target_key(form_prefix(NAME, 2), "speed-to-lead")).value == 85.0

    history = open_tab("History")
    table = table_with(history, "reason")
    assert table["version"].tolist() == [2, 1]
    assert table.iloc[0]["reason"] == "Two reps on leave until January"
    assert table.iloc[0]["state"] == "scheduled" and table.iloc[1]["state"] == "in force"
    assert "commitments[speed-to-lead].target: 0.90 -> 0.85" in table.iloc[0]["changes"]
    shown = texts(history)
    assert "`commitments[speed-to-lead].target`: 0.90 → 0.85" in shown
    assert "-  target: 0.9\n+  target: 0.85" in history.code[0].value


def test_a_params_window_is_edited_too(writable_url):
    at = open_tab("Edit")
    at.number_input(key=param_key(V1, "touches", "touches")).set_value(4)
    at.multiselect(key=param_key(V1, "touches", "kinds")).set_value(["call", "email"])
    at.text_input(key=reason_key(V1, "targets")).set_value("calls and emails only")
    at.button(key=f"{V1}-targets-save").click().run()
    assert not at.exception, at.exception
    params = stored(writable_url)[-1].document.commitment("touches").params
    assert params == {"touches": 4, "business_days": 5, "kinds": ["call", "email"]}


def test_the_business_days_reading_is_chosen_in_the_form(writable_url):
    at = open_tab("Edit")
    at.selectbox(key=param_key(V1, "disposition", "reading")).set_value("end_of_day")
    at.text_input(key=reason_key(V1, "targets")).set_value("by the end of the day, as people say it")
    at.button(key=f"{V1}-targets-save").click().run()
    assert not at.exception, at.exception
    saved = stored(writable_url)[-1].document
    assert saved.commitment("disposition").params == {"business_days": 2, "reading": "end_of_day"}
    assert "reading" not in saved.commitment("touches").params  # left at its default: not written


def test_form_errors_show_under_the_field_and_nothing_is_saved(writable_url):
    at = open_tab("Edit")
    at.number_input(key=param_key(V1, "speed-to-lead", "business_hours")).set_value(0.0)
    at.text_input(key=reason_key(V1, "targets")).set_value("faster")
    at.button(key=f"{V1}-targets-save").click().run()
    assert not at.exception
    assert [e.value for e in at.error] == ["Input should be greater than 0"]
    assert (
        error_under(at, param_key(V1, "speed-to-lead", "business_hours")) == "Input should be greater than 0"
    )
    assert [v.version for v in stored(writable_url)] == [1]


def test_a_reason_is_required(writable_url):
    at = open_tab("Edit")
    at.number_input(key=target_key(V1, "mql-volume")).set_value(800.0)
    at.button(key=f"{V1}-targets-save").click().run()
    assert error_under(at, reason_key(V1, "targets")).startswith("required; say why the agreement changes")
    assert [v.version for v in stored(writable_url)] == [1]


def test_nothing_changed_is_not_a_new_version(writable_url):
    at = open_tab("Edit")
    at.text_input(key=reason_key(V1, "targets")).set_value("just because")
    at.button(key=f"{V1}-targets-save").click().run()
    assert [e.value for e in at.error] == ["Nothing changed: edit a target, a window or the document first."]
    assert [v.version for v in stored(writable_url)] == [1]


def test_an_effective_date_before_an_existing_versions_is_refused(writable_url):
    engine = make_engine(writable_url)
    later = (pd.Timestamp.now(tz="Europe/Berlin").normalize().replace(day=1) + pd.DateOffset(months=3)).date()
    base = stored(writable_url)[-1].document
    store.save(engine, with_changes(base, targets={"mql-volume": 700}), later, "ana", "planned change")
    at = open_tab("Edit")
    v2 = form_prefix(NAME, 2)
    at.number_input(key=target_key(v2, "mql-volume")).set_value(650.0)
    at.text_input(key=reason_key(v2, "targets")).set_value("even lower")
    at.date_input(key=effective_key(v2, "targets")).set_value(later - dt.timedelta(days=31))
    at.button(key=f"{v2}-targets-save").click().run()
    message = error_under(at, effective_key(v2, "targets"))
    assert message.startswith(
        f"{(later - dt.timedelta(days=31)):%Y-%m-%d} is before version 2's effective date"
    )
    assert f"pick {later:%Y-%m-%d} or later" in message
    assert [v.version for v in stored(writable_url)] == [1, 2]
    # and a date inside a closed period is refused for the same reason: history is never rewritten
    at.date_input(key=effective_key(v2, "targets")).set_value(dt.date(2020, 1, 1))
    at.button(key=f"{v2}-targets-save").click().run()
    assert "is before version 2's effective date" in error_under(at, effective_key(v2, "targets"))


def error_under(at: AppTest, key: str) -> str:
    """The text of the first error drawn right after the widget with ``key`` in its container."""
    found = False
    for node in at.main:
        if getattr(node, "key", None) == key:
            found = True
            continue
        if found and node.type == "error":
            return node.value
    raise AssertionError(f"no error under {key}: {[e.value for e in at.error]}")


# --- editing the YAML -------------------------------------------------------------------------------------

TEXT = (settings.ROOT / "agreements" / "sales-marketing.yaml").read_text()
YAML_CASES = {
    "does not parse": ("period: [month", "YAML syntax error at line"),
    "missing field": ("name: Sales and Marketing SLA\nparties: [marketing, sales]\n", "commitments: required field"),
    "unknown metric": ("metric: mql_count", "Line 36 — commitments[0].metric: unknown metric 'mql_total'"),
    "target of the wrong type": ("target: 0.90", "Line 54 — commitments[3].target: must be a number, got '90%'"),
    "holiday not a date": ("2026-12-25", "— calendar.holidays[16]: '2026-12-32' is not a date; use YYYY-MM-DD"),
    "alias bomb": ("", "the document expands to more than 50,000 values"),
}  # fmt: skip
REPLACEMENTS = {
    "does not parse": lambda t: t.replace("period: month", "period: [month"),
    "missing field": lambda t: "name: Sales and Marketing SLA\nparties: [marketing, sales]\n",
    "unknown metric": lambda t: t.replace("metric: mql_count", "metric: mql_total"),
    "target of the wrong type": lambda t: t.replace("target: 0.90", 'target: "90%"'),
    "holiday not a date": lambda t: t.replace("2026-12-25", "2026-12-32"),
    "alias bomb": lambda t: alias_chain(9) + t,  # one admin must not be able to stop the server
}


@pytest.mark.parametrize("case", YAML_CASES)
def test_bad_yaml_is_shown_with_its_line_and_nothing_is_saved(writable_url, case):
    at = open_tab("Edit")
    at.text_area(key=yaml_key(V1)).set_value(REPLACEMENTS[case](TEXT))
    at.text_input(key=reason_key(V1, "yaml")).set_value("try")
    expected = YAML_CASES[case][1]
    at.button(key=f"{V1}-yaml-check").click().run()
    assert any(expected in e.value for e in at.error), [e.value for e in at.error]
    at.button(key=f"{V1}-yaml-save").click().run()
    assert any(expected in e.value for e in at.error), [e.value for e in at.error]
    assert [v.version for v in stored(writable_url)] == [1]
    assert not at.success


def test_a_good_yaml_edit_is_checked_then_saved(writable_url):
    at = open_tab("Edit")
    edited = stored(writable_url)[-1].document.to_yaml().replace("every: quarter", "every: month")
    at.text_area(key=yaml_key(V1)).set_value(edited)
    at.button(key=f"{V1}-yaml-check").click().run()
    assert at.success[0].value == "The document is valid: 1 change from the latest version."
    assert [v.version for v in stored(writable_url)] == [1]
    at.text_input(key=reason_key(V1, "yaml")).set_value("monthly reviews while we ramp up")
    at.button(key=f"{V1}-yaml-save").click().run()
    assert at.success[0].value.startswith(f"Saved {NAME} version 2")
    assert stored(writable_url)[-1].document.review.every == "month"


# --- history is never rewritten ---------------------------------------------------------------------------


def test_a_period_is_judged_by_the_version_in_force_at_its_start_after_a_later_change(writable_url):
    """Through the loader the pages use: a change in force from this period leaves the last one as it was."""
    engine = make_engine(writable_url)
    now = pd.Timestamp.now(tz="UTC").floor("min")
    this = period_of(now, "month", "Europe/Berlin")
    last = period_of(this["period_start"] - pd.Timedelta(days=1), "month", "Europe/Berlin")
    args = (
        writable_url,
        NAME,
        last["period_start"].isoformat(),
        this["period_end"].isoformat(),
        now.isoformat(),
    )
    loaders.clear()
    before = loaders.evaluation(*args).set_index(["commitment", "period"])
    base = stored(writable_url)[-1].document
    store.save(engine, with_changes(base, targets={"mql-volume": 100}), this["period_start"], "ana", "easier")
    loaders.clear()
    # As of an instant after the save: a version saved after the as-of instant is not used as of it.
    args = (*args[:-1], (stored(writable_url)[-1].created_at + pd.Timedelta(seconds=1)).isoformat())
    after = loaders.evaluation(*args).set_index(["commitment", "period"])
    old, new = after.loc[("mql-volume", last["period"])], after.loc[("mql-volume", this["period"])]
    assert (old["version"], old["target"], old["status"]) == (
        1,
        750.0,
        before.loc[("mql-volume", last["period"]), "status"],
    )
    assert (new["version"], new["target"]) == (2, 100.0)
    pd.testing.assert_series_equal(
        after.loc[("speed-to-lead", last["period"])], before.loc[("speed-to-lead", last["period"])]
    )
    assert version_in_force(stored(writable_url), now).version == 2

    # and on the page: the version in force now is 2, the last closed periods were judged by version 1
    loaders.clear()
    in_force = open_tab("In force")
    assert "version 2, in force since" in texts(in_force)
    consequences = open_tab("Consequences")
    assert "(judged by version 1)" in texts(consequences) and "(judged by version 2)" not in texts(
        consequences
    )


# --- the editor reads plainly -----------------------------------------------------------------------------


def test_the_edit_form_names_each_commitment_in_plain_words_and_asks_rates_in_percent(shared_url):
    at = open_tab("Edit")
    shown = texts(at).replace("\\", "")
    assert "**speed-to-lead** — First touch within 4 business hours" in shown
    assert "**touches** — 3+ touches within 5 business days" in shown
    assert "**mql-volume** — MQLs handed over" in shown
    rate = at.number_input(key=target_key(V1, "speed-to-lead"))
    assert rate.label == "Target (% of leads)" and rate.value == 90.0  # stored as 0.90
    assert at.number_input(key=target_key(V1, "mql-volume")).value == 750.0  # counts stay as they are
    in_force = texts(open_tab("In force"))
    assert "**First touch within 4 business hours** (`followed_up_within`)" in in_force
    review = texts(open_tab("Review")).replace("\\", "")
    assert "**speed-to-lead** — First touch within 4 business hours (sales): missed in" in review
    baselines = table_with(open_tab("Baselines"), "current target").set_index("commitment")
    assert baselines.loc["disposition", "what"] == "Accepted or rejected within 2 business days"
    consequences = texts(open_tab("Consequences")).replace("\\", "")
    assert "**mql-volume** — MQLs handed over (marketing):" in consequences


def test_a_rate_target_outside_0_to_100_percent_is_refused_under_its_field(writable_url):
    at = open_tab("Edit")
    at.number_input(key=target_key(V1, "speed-to-lead")).set_value(150.0)
    at.text_input(key=reason_key(V1, "targets")).set_value("more")
    at.button(key=f"{V1}-targets-save").click().run()
    assert not at.exception, at.exception
    message = error_under(at, target_key(V1, "speed-to-lead"))
    assert message == "Enter the target as a percentage between 0 and 100 % (not 150)."
    assert [v.version for v in stored(writable_url)] == [1]


def test_the_saved_confirmation_appears_beside_the_save_button_not_at_the_top(writable_url):
    at = open_tab("Edit")
    at.number_input(key=param_key(V1, "speed-to-lead", "business_hours")).set_value(3.0)
    at.text_input(key=reason_key(V1, "targets")).set_value("faster follow-up")
    at.button(key=f"{V1}-targets-save").click().run()
    assert not at.exception, at.exception
    nodes = list(at.main)
    position = {id(n): i for i, n in enumerate(nodes)}
    [saved] = [n for n in nodes if n.type == "success"]
    assert saved.value.startswith(f"Saved {NAME} version 2, in force from ")
    button = next(n for n in nodes if getattr(n, "key", None) == f"{form_prefix(NAME, 2)}-targets-save")
    yaml_heading = next(n for n in at.subheader if n.value == "Everything else (YAML)")
    assert position[id(button)] < position[id(saved)] < position[id(yaml_heading)]
    at.run()  # said once
    assert not at.success


def test_a_review_date_that_has_passed_is_flagged_overdue(shared_url):
    # The demo agreement plans its review for 2026-07-01; the suite runs on 2026-11-18.
    version = stored(shared_url)[-1]
    assert version.document.review.next == dt.date(2026, 7, 1)
    review = open_tab("Review")
    [flag] = [e.value for e in review.error]
    assert flag.startswith("The review was due on 1 July 2026, 140 days ago: it is overdue.")
    assert "every quarter: 1 January 2027 would be next" in flag
    in_force = open_tab("In force")
    assert any("it is overdue" in w.value for w in in_force.warning)


def test_the_reverse_funnel_uses_the_scheduled_version(writable_url):
    engine = make_engine(writable_url)
    later = (pd.Timestamp.now(tz="Europe/Berlin").normalize().replace(day=1) + pd.DateOffset(months=2)).date()
    base = stored(writable_url)[-1].document
    store.save(engine, with_changes(base, targets={"mql-volume": 700}), later, "ana", "planned change")
    at = open_tab("Baselines")
    shown = texts(at)
    assert "the agreement asks for 700" in shown and "asks for 750" not in shown
    assert f"Targets of version 2, which takes effect on {later.day} {later:%B %Y}." in shown
