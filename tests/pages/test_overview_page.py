"""The Overview page under AppTest: the numbers are the analytics layer's, filters change them, frozen weeks stay."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import settings
from analytics import wording
from analytics.agreement import parse_agreement, versions_from_rows
from analytics.commitments import document_in_force, evaluate
from analytics.periods import last_closed_week, period_of, week_of
from analytics.slicing import slice_frames
from analytics.snapshots import evaluate_weeks, overview_window
from analytics.wording import commitment_title
from analytics.wording import period_name as period_title
from bootstrap import DEFAULT_AGREEMENT
from data import journal, upserts
from data.engine import make_engine
from data.frames import read_window
from pages.components import loaders

APP = str(settings.ROOT / "app.py")
AGREEMENT = "Sales and Marketing SLA"
COMMITMENTS = ("mql-volume", "sourced-pipeline", "mql-acceptance", "speed-to-lead", "touches", "disposition")


@pytest.fixture
def demo_copy(demo_db_url, tmp_path) -> str:
    """A writable copy of the demo database: the Overview freezes last week when it opens."""
    path = tmp_path / "accord.db"
    shutil.copy(demo_db_url.removeprefix("sqlite:///"), path)
    return f"sqlite:///{path}"


def open_overview(monkeypatch, url: str, **params) -> AppTest:
    monkeypatch.setenv("ACCORD_DATABASE_URL", url)
    at = AppTest.from_file(APP, default_timeout=120)
    for name, value in params.items():
        at.query_params[name] = value
    # At /overview, as a link to the page opens it (a switch after a first run at / would be a second page,
    # which starts without the first one's week).
    at.switch_page("pages/overview.py").run()
    assert not at.exception, at.exception
    return at


def shown(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def expected(url: str, as_of: pd.Timestamp, teams: tuple = ()) -> dict[str, str]:
    """The cards' numbers straight from the analytics layer: this week (at its close) and this period."""
    engine = make_engine(url)
    versions = versions_from_rows(journal.read_agreement_versions(engine, AGREEMENT))
    doc = document_in_force(versions, as_of)
    week = week_of(as_of, doc.timezone)
    period = period_of(as_of, doc.period, doc.timezone)
    start, end = overview_window(versions, week, as_of)
    frames = slice_frames(read_window(engine, min(start, period["period_start"]), end), teams=teams)
    weekly = evaluate_weeks(versions, frames, [week], as_of)
    monthly = evaluate(versions, frames, period["period_start"], period["period_end"], as_of)
    out = {}
    for row in weekly.to_dict("records"):
        out[f"**{commitment_title(row['commitment'])}** · {week}"] = wording.format_value(
            row["actual"], row["kind"], row["unit"], doc.currency, compact=True, beside=row["target"]
        )  # beside its target: never rounded onto it
    for row in monthly.to_dict("records"):
        out[f"{commitment_title(row['commitment'])} · {period_title(period['period'])}"] = (
            wording.format_value(
                row["actual"], row["kind"], row["unit"], doc.currency, compact=True, beside=row["target"]
            )
        )
    return out


@pytest.fixture
def as_of() -> pd.Timestamp:
    """An hour ago, to the minute: inside the demo company's data, which runs until today."""
    return (pd.Timestamp.now(tz="UTC") - pd.Timedelta(hours=1)).floor("min")


def test_the_cards_show_the_analytics_numbers_and_filters_change_them(monkeypatch, demo_copy, as_of):
    at = open_overview(monkeypatch, demo_copy, as_of=f"{as_of:%Y-%m-%dT%H:%MZ}")
    everyone = shown(at)
    assert everyone == expected(demo_copy, as_of)
    assert len(everyone) == 12  # six commitments, this week and this period
    assert [h.value for h in at.subheader][:3] == ["The three biggest gaps", "Marketing", "Sales"]
    chart = json.loads(at.get("plotly_chart")[0].proto.spec)
    first_gap = at.selectbox(key="overview_chart").value
    assert chart["layout"]["title"]["text"].startswith(commitment_title(first_gap))
    grid = next(d.value for d in at.dataframe if any(str(c).startswith("W") for c in d.value.columns))
    assert grid["Commitment"].tolist() == [commitment_title(c) for c in COMMITMENTS]

    emea = open_overview(monkeypatch, demo_copy, as_of=f"{as_of:%Y-%m-%dT%H:%MZ}", team="EMEA")
    assert shown(emea) == expected(demo_copy, as_of, teams=("EMEA",))
    assert shown(emea) != everyone
    assert any("Filtered by team" in c.value for c in emea.caption)


def test_a_frozen_week_stays_as_frozen_and_the_correction_is_flagged(monkeypatch, demo_copy):
    engine = make_engine(demo_copy)
    tz = document_in_force(
        versions_from_rows(journal.read_agreement_versions(engine)), pd.Timestamp.now(tz="UTC")
    ).timezone
    open_overview(monkeypatch, demo_copy)  # live: opening it freezes the last closed week
    last = last_closed_week(pd.Timestamp.now(tz="UTC"), tz)
    snapshot = journal.read_snapshots(engine, AGREEMENT)
    assert snapshot["week"].tolist() == [last] and snapshot["final"].all()
    frozen = {r["commitment"]: r["actual"] for r in snapshot["figures"].iloc[0] if r["scope"] == "week"}

    # Two late leads of that week arrive; a sync clears the cached figures.
    start = pd.Timestamp(snapshot["figures"].iloc[0][0]["period_start"])
    late = pd.DataFrame({"source": "late", "external_id": ["x", "y"], "created_at": start + pd.Timedelta(hours=33),
                         "mql_at": start + pd.Timedelta(hours=34)})  # fmt: skip
    upserts.upsert_leads(engine, late)
    loaders.clear()  # as a sync does

    period = period_of(start + pd.Timedelta(days=3), "month", tz)["period"]
    again = open_overview(monkeypatch, demo_copy, period=period, week=last)
    label = f"**MQL volume** · {last}"
    assert shown(again)[label] == f"{frozen['mql-volume']:,.0f} leads"
    corrected = f"{last} MQL volume was {frozen['mql-volume']:,.0f} leads when frozen, {frozen['mql-volume'] + 2:,.0f} leads now."
    assert any(corrected in w.value for w in again.warning)
    assert any(f"{last} shows the figures frozen on" in c.value for c in again.caption)
    assert len(journal.read_snapshots(engine, AGREEMENT)) == 1  # nothing frozen twice


def test_freeze_this_week_now_takes_a_provisional_snapshot(monkeypatch, demo_copy):
    at = open_overview(monkeypatch, demo_copy)
    week = at.selectbox(key="week").value
    at.button(key="overview_freeze").click().run()
    assert not at.exception, at.exception
    stored = journal.read_snapshots(make_engine(demo_copy), AGREEMENT).set_index("week")
    assert not stored.loc[week, "final"]
    assert any("frozen (provisional)" in s.value for s in at.success)


def test_no_data_and_no_target_are_sentences(monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    engine = make_engine(url)
    from data.engine import upgrade

    upgrade(engine)
    document = parse_agreement(DEFAULT_AGREEMENT.read_text()).to_document()
    document["commitments"][0]["target"] = None  # MQL volume tracked without a target
    journal.add_agreement_version(
        engine, AGREEMENT, document, pd.Timestamp("1970-01-01", tz="UTC"), "test", "test"
    )
    upserts.upsert_owners(engine, pd.DataFrame({"source": ["crm"], "external_id": ["o1"], "name": ["Ann"]}))
    at = open_overview(monkeypatch, url)
    assert any("No leads or deals in" in i.value for i in at.info)
    assert any(b.proto.label == "No target" for b in at.get("badge")) or any(
        "no target" in c.value for c in at.caption
    )
    values = shown(at)
    week = at.selectbox(key="week").value
    assert values[f"**MQL volume** · {week}"] == "0 leads"
    assert values[f"**Speed to lead** · {week}"] == "–"


def test_a_deep_link_to_a_week_outside_the_period_falls_back_to_the_latest(monkeypatch, demo_copy, as_of):
    at = open_overview(monkeypatch, demo_copy, as_of=f"{as_of:%Y-%m-%dT%H:%MZ}", week="2019-W99")
    picker = at.selectbox(key="week")
    assert picker.value == picker.options[0] == week_of(as_of, "Europe/Berlin")
    assert len(shown(at)) == 12
