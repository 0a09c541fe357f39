"""The Marketing page under AppTest on the demo database: what it shows is what the analytics layer computes."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from analytics import wording
from analytics.commitments import (
    daily_progress,
    evaluate,
    row_for,
    rows_for,
    tracked_commitment,
    with_tracked,
)
from analytics.metrics import METRICS
from data import journal, queries
from data.engine import make_engine
from tests.pages.dashboard_oracle import (
    charts,
    copy_database,
    download_keys,
    empty_crm,
    infos,
    metrics,
    open_page,
    repository_frames,
    shown_filters,
    table,
    texts,
    trace_values,
    versions,
)
from views.marketing import acceptance_by, reasons_table, rejection_reasons, volume_by
from views.sales import TRACKED_METRICS

PAGE = "pages/marketing.py"
HEADLINE = {"mql_count": "MQLs", "sql_count": "SQLs", "sourced_pipeline": "Sourced pipeline"}


@pytest.fixture(scope="module")
def marketing(demo_db_url, tmp_path_factory):
    """The page on the demo company, default filters (the current period), as_of pinned."""
    with pytest.MonkeyPatch.context() as patch:
        yield open_page(
            patch, tmp_path_factory.mktemp("marketing"), demo_db_url, PAGE
        )  # the database stays set for reruns


def expected_evaluation(url, f):
    frames = repository_frames(url, f.period_start, f.period_end, f)
    tracked = with_tracked(versions(url), TRACKED_METRICS)
    return frames, tracked, evaluate(tracked, frames, f.period_start, f.period_end, f.as_of)


def assert_headline(at, url):
    f = shown_filters(at)
    _, _, result = expected_evaluation(url, f)
    shown = metrics(at)
    for metric, label in HEADLINE.items():
        row = row_for(result, f.document, metric, f.period)
        assert shown[label] == wording.format_value(row["actual"], METRICS[metric].kind, currency="EUR")
        noun = wording.metric_noun(tracked_commitment(f.document, metric))
        assert wording.result_sentence(row, noun=noun, currency="EUR") in texts(at)
    return result


def test_the_headline_is_the_evaluation_of_the_period(marketing, demo_db_url):
    result = assert_headline(marketing, demo_db_url)
    f = shown_filters(marketing)
    mqls = row_for(result, f.document, "mql_count", f.period)
    assert mqls["actual"] > 0 and mqls["target"] == 750
    # SQLs have no commitment in the default agreement: shown, with a sentence saying so
    assert "SQLs in" in wording.result_sentence(
        row_for(result, f.document, "sql_count", f.period), noun="SQLs"
    )
    assert any("the agreement sets no target for it" in t for t in texts(marketing))


def test_pacing_charts_draw_the_target_and_end_at_the_actual(marketing, demo_db_url):
    f = shown_filters(marketing)
    frames, tracked, result = expected_evaluation(demo_db_url, f)
    shown = charts(marketing)
    mql_chart = next(spec for title, spec in shown.items() if title.startswith("MQLs by day, cumulative"))
    assert [s["y0"] for s in mql_chart["layout"]["shapes"]] == [750]  # the target line
    progress = daily_progress(tracked, frames, "mql-volume", f.period_start, f.as_of)
    actual = next(t for t in mql_chart["data"] if t["name"] == "Actual (cumulative)")
    drawn = trace_values(actual["y"])
    assert drawn.tolist() == progress["cumulative"].dropna().tolist()
    assert drawn[-1] == row_for(result, f.document, "mql_count", f.period)["actual"]
    assert mql_chart["layout"]["xaxis"]["title"]["text"] == "Day"


def assert_volume_shown(shown: pd.DataFrame, volume: pd.DataFrame, by: str) -> None:
    """The page's breakdown starts with ``volume``'s rows (channels of earlier periods follow with 0 MQLs),
    counts as numbers and rates written the one way (analytics.wording), "— (no MQLs)" over no MQLs."""
    head = shown.iloc[: len(volume)].reset_index(drop=True)
    numbers = [by, "mqls", "sqls", "sourced_deals", "sourced_pipeline"]
    pd.testing.assert_frame_equal(head[numbers], volume[numbers], check_dtype=False)
    assert head["mql_to_sql"].tolist() == [
        wording.format_value(r, "rate") if n else "— (no MQLs)"
        for r, n in zip(volume["mql_to_sql"], volume["mqls"], strict=True)
    ]
    assert head["share_of_mqls"].tolist() == [
        wording.format_value(r, "rate") for r in volume["share_of_mqls"]
    ]
    assert (shown.iloc[len(volume) :]["mqls"] == 0).all()
    assert "None" not in shown.to_string() and "nan" not in shown.to_string()


def test_channel_acceptance_and_reason_tables_are_the_breakdowns(marketing, demo_db_url):
    f = shown_filters(marketing)
    frames = repository_frames(demo_db_url, f.period_start, f.period_end, f)
    window = (frames, f.period_start, f.period_end, f.as_of)
    agreement = versions(demo_db_url)
    volume = volume_by(agreement, *window)
    assert_volume_shown(table(marketing, "channel", "mqls"), volume, "channel")
    acceptance = acceptance_by(agreement, *window)
    shown = table(marketing, "channel", "leads", "accepted")
    pd.testing.assert_frame_equal(
        shown.drop(columns="acceptance_rate"), acceptance.drop(columns="acceptance_rate"), check_dtype=False
    )
    assert shown["acceptance_rate"].tolist() == [
        wording.format_value(r, "rate", missing="— (none decided)") for r in acceptance["acceptance_rate"]
    ]
    reasons = reasons_table(rejection_reasons(agreement, *window), "channel")
    pd.testing.assert_frame_equal(table(marketing, "channel", "rejected"), reasons, check_dtype=False)
    assert {"marketing_volume_csv_channel", "marketing_acceptance_csv", "marketing_reasons_csv",
            "marketing_trend_csv"} <= download_keys(marketing)  # fmt: skip
    titles = list(charts(marketing))
    assert any(t.startswith("Accepted vs rejected leads") for t in titles)
    assert any(t.startswith("Why sales rejected leads") for t in titles)


def test_the_conversion_trend_covers_the_offered_periods(marketing, demo_db_url):
    f = shown_filters(marketing)
    frames = repository_frames(demo_db_url, f.history_start, f.period_end, f)
    tracked = with_tracked(versions(demo_db_url), TRACKED_METRICS)
    rows = rows_for(evaluate(tracked, frames, f.history_start, f.period_end, f.as_of), f.document,
                       "mql_to_sql_rate")  # fmt: skip
    shown = table(marketing, "period", "mqls", "sqls", "mql_to_sql")
    assert shown["period"].tolist() == rows["period"].tolist() and len(shown) == 15
    assert shown["mql_to_sql"].tolist() == [  # beside the target: never rounded onto it
        wording.format_value(a, "rate", beside=t) for a, t in zip(rows["actual"], rows["target"], strict=True)
    ]
    assert shown["sqls"].tolist() == rows["met"].tolist()


def test_the_campaign_breakdown(marketing, demo_db_url):
    marketing.segmented_control(key="marketing_by").set_value("campaign").run()
    assert not marketing.exception
    f = shown_filters(marketing)
    frames = repository_frames(demo_db_url, f.period_start, f.period_end, f)
    expected = volume_by(versions(demo_db_url), frames, f.period_start, f.period_end, f.as_of, by="campaign")
    assert_volume_shown(table(marketing, "campaign", "mqls"), expected, "campaign")
    marketing.segmented_control(key="marketing_by").set_value("channel").run()


def test_a_team_filter_changes_the_numbers(monkeypatch, tmp_path, demo_db_url, marketing):
    emea = open_page(monkeypatch, tmp_path, demo_db_url, PAGE, team=["EMEA"])
    assert shown_filters(emea).teams == ("EMEA",)
    assert_headline(emea, demo_db_url)
    assert int(metrics(emea)["MQLs"].replace(",", "")) < int(metrics(marketing)["MQLs"].replace(",", ""))
    assert any("EMEA · all owners · all channels" in c.value for c in emea.caption)


def test_an_owner_without_leads_gets_sentences_not_charts(monkeypatch, tmp_path, demo_db_url):
    owners = queries.read_owners(make_engine(demo_db_url))
    leads = queries.read_leads(make_engine(demo_db_url))
    idle = owners[~owners["id"].isin(leads["owner_id"].dropna())]["name"].iloc[0]  # the sales manager
    at = open_page(monkeypatch, tmp_path, demo_db_url, PAGE, owner=[idle])
    assert metrics(at)["MQLs"] == "0"
    said = " ".join(infos(at))
    assert "No lead was handed over and no marketing-sourced deal was opened in" in said and idle in said
    assert "nothing to accept or reject" in said and "No lead was handed over between" in said
    assert not any(t.startswith(("MQLs and SQLs", "Accepted vs rejected")) for t in charts(at))


def test_a_period_without_leads(monkeypatch, tmp_path, demo_db_url):
    at = open_page(monkeypatch, tmp_path, demo_db_url, PAGE, as_of="2020-06-15")  # years before the demo
    assert metrics(at)["MQLs"] == "0" and metrics(at)["Sourced pipeline"] == "EUR 0"
    said = " ".join(infos(at))
    assert "No lead was handed over and no marketing-sourced deal was opened in June 2020" in said
    assert "No lead was handed over between" in said


def test_a_commitment_without_target(monkeypatch, tmp_path, demo_db_url):
    demo_copy_url = copy_database(demo_db_url, tmp_path)
    engine = make_engine(demo_copy_url)
    current = versions(demo_copy_url)[-1].document
    document = current.to_document()
    for item in document["commitments"]:
        if item["id"] == "mql-volume":
            item["target"] = None  # explicitly null: to_document() leaves None out, which parsing refuses
    journal.add_agreement_version(engine, current.name, document, dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
                               author="test", reason="no MQL target")  # fmt: skip
    # As of just after the save: a version saved after the as-of instant is not used as of it.
    saved = (versions(demo_copy_url)[-1].created_at + pd.Timedelta(seconds=1)).isoformat()
    at = open_page(monkeypatch, tmp_path, demo_copy_url, PAGE, as_of=saved)
    mqls = next(m for m in at.metric if m.label == "MQLs")
    assert mqls.delta in ("", None)
    assert any(t.startswith(f"{mqls.value} MQLs in") and t.endswith("the agreement sets no target for it.")
               for t in texts(at))  # fmt: skip
    assert ":gray-badge[No target]" in texts(at)


def test_no_data_yet(monkeypatch, tmp_path):
    at = open_page(monkeypatch, tmp_path, empty_crm(tmp_path), PAGE)
    assert any(i.startswith("No data yet") for i in infos(at))
    assert not at.metric and not charts(at)


def test_handovers_are_split_into_first_time_and_recycled(marketing, demo_db_url):
    f = shown_filters(marketing)
    engine = make_engine(demo_db_url)
    # Slow and obvious, from the stored tables: every lead row's MQL, except leads with a stored history,
    # whose handovers count instead (seq 1 first-time, later ones recycled).
    leads = queries.read_leads(engine, per_handover=False)
    history = queries.read_handovers(engine)
    several = history.groupby("lead_external_id")["seq"].transform("size") > 1
    history = history[several]
    live = set(leads.loc[~leads["archived"].fillna(False).astype(bool), "external_id"])

    def inside(when):
        return pd.notna(when) and f.period_start <= when < f.period_end and when <= f.as_of

    first = sum(
        inside(m) for e, m in zip(leads["external_id"], leads["mql_at"], strict=True)
        if e in live and e not in set(history["lead_external_id"])
    )  # fmt: skip
    first += sum(inside(m) for e, m, s in zip(history["lead_external_id"], history["mql_at"], history["seq"],
                                             strict=True) if s == 1 and e in live)  # fmt: skip
    again = sum(inside(m) for e, m, s in zip(history["lead_external_id"], history["mql_at"], history["seq"],
                                             strict=True) if s > 1 and e in live)  # fmt: skip
    assert len(history) > 0  # the demo company has recycled leads
    wanted = f"Handovers: {first:,} first-time, {again:,} re-qualified after recycling"
    assert any(wanted in c.value for c in marketing.caption), [c.value for c in marketing.caption]
