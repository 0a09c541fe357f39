"""``cli.py figures`` prints what each page shows for the same filters: the page under AppTest, the CLI's JSON."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import cli
from analytics import wording
from analytics.wording import commitment_title
from analytics.wording import period_name as period_title
from tests.pages.dashboard_oracle import copy_database, metrics, open_page, shown_filters, table


def figures(capsys, monkeypatch, url: str, *args: str) -> pd.DataFrame:
    """The rows ``cli.py figures --format json *args`` prints for the database at ``url``."""
    monkeypatch.setenv("ACCORD_DATABASE_URL", url)
    capsys.readouterr()
    assert cli.main(["figures", "--format", "json", *args]) == 0
    return pd.DataFrame(json.loads(capsys.readouterr().out))


def filter_args(f) -> list[str]:
    out = ["--as-of", f.as_of.isoformat(), "--period", f.period]
    for flag, values in (("--team", f.teams), ("--owner", f.owners), ("--channel", f.channels)):
        for value in values:
            out += [flag, str(value)]
    return out


@pytest.mark.parametrize("params", [{}, {"team": ["EMEA"]}], ids=["everyone", "EMEA"])
def test_sales_figures_are_the_page(monkeypatch, tmp_path, capsys, demo_db_url, params):
    at = open_page(monkeypatch, tmp_path, demo_db_url, "pages/sales.py", **params)
    f = shown_filters(at)
    rows = figures(capsys, monkeypatch, demo_db_url, "--page", "sales", *filter_args(f))
    shown = metrics(at)
    whole = rows[~rows["slice"].str.startswith("rep: ")].set_index("commitment")
    labels = {"speed-to-lead": "Follow-up", "touches": "Touches", "disposition": "Disposition"}
    for cid, label in labels.items():
        assert shown[label] == wording.format_value(whole.loc[cid, "actual"], "rate")
    assert shown["Median first touch"] == wording.format_value(
        whole.loc["first-touch-median-hours", "actual"], "duration", short=True
    )
    assert shown["90th percentile"] == wording.format_value(
        whole.loc["first-touch-p90-hours", "actual"], "duration", short=True
    )
    reps = rows[rows["slice"].str.startswith("rep: ")]
    page_reps = table(at, "owner_id", "owner", "team")
    assert len(reps) == len(page_reps) > 0
    printed = dict(zip(reps["slice"].str.removeprefix("rep: "), reps["actual"], strict=True))
    for rep, rate in zip(page_reps["owner"], page_reps["rate"], strict=True):
        assert wording.format_value(printed[rep], "rate", missing="— (none decided)") == rate
    assert (
        whole["slice"]
        == ("EMEA · all owners · all channels" if params else "all teams · all owners · all channels")
    ).all()


@pytest.mark.parametrize("params", [{}, {"team": ["EMEA"]}], ids=["everyone", "EMEA"])
def test_overview_figures_are_the_page(monkeypatch, tmp_path, capsys, demo_db_url, params):
    url = copy_database(demo_db_url, tmp_path)  # the Overview freezes last week when it opens
    at = open_page(monkeypatch, tmp_path, url, "pages/overview.py", **params)
    f = shown_filters(at)
    week = at.selectbox(key="week").value
    rows = figures(capsys, monkeypatch, url, "--page", "overview", "--week", week, *filter_args(f))
    currency = f.document.currency
    shown = metrics(at)
    cards = 0
    for row in rows.to_dict("records"):
        value = wording.format_value(
            row["actual"], row["kind"], row["unit"], currency, compact=True, beside=row["target"]
        )  # a card shows its figure beside its target: never rounded onto it
        title = commitment_title(row["commitment"])
        if row["scope"] == "week" and row["period"] == week:
            assert shown[f"**{title}** · {week}"] == value
            cards += 1
        elif row["scope"] == "period":
            assert shown[f"{title} · {period_title(f.period)}"] == value
    assert cards == 6
    board = table(at, "Side", "Commitment", week)
    this_week = rows[(rows["scope"] == "week") & (rows["period"] == week)]
    assert board["Commitment"].tolist() == [commitment_title(c) for c in this_week["commitment"]]
    assert board[week].tolist() == [
        wording.format_value(r["actual"], r["kind"], r["unit"], currency, compact=True)
        for r in this_week.to_dict("records")
    ]


def test_marketing_figures_are_the_page(monkeypatch, tmp_path, capsys, demo_db_url):
    at = open_page(monkeypatch, tmp_path, demo_db_url, "pages/marketing.py")
    f = shown_filters(at)
    rows = figures(capsys, monkeypatch, demo_db_url, "--page", "marketing", *filter_args(f))
    this = rows[rows["period"] == f.period].set_index("commitment")
    shown = metrics(at)
    currency = f.document.currency
    for cid, label in (
        ("mql-volume", "MQLs"),
        ("sql_count", "SQLs"),
        ("sourced-pipeline", "Sourced pipeline"),
    ):
        assert shown[label] == wording.format_value(
            this.loc[cid, "actual"], this.loc[cid, "kind"], currency=currency
        )
    trend = table(at, "period", "mqls", "sqls")
    printed = rows[rows["commitment"] == "mql_to_sql_rate"].set_index("period")
    assert trend["period"].tolist() == printed.index.tolist()
    assert trend["mql_to_sql"].tolist() == [  # written the one way, beside the printed target
        wording.format_value(a, "rate", missing="— (no MQLs)", beside=t)
        for a, t in zip(printed["actual"], printed["target"], strict=True)
    ]


def test_funnel_figures_are_the_page(monkeypatch, tmp_path, capsys, demo_db_url):
    at = open_page(monkeypatch, tmp_path, demo_db_url, "pages/funnel.py")
    f = shown_filters(at)
    rows = figures(capsys, monkeypatch, demo_db_url, "--page", "funnel", *filter_args(f)).set_index(
        ["commitment", "period"]
    )
    shown = metrics(at)
    for stage, label in (("mql", "MQL"), ("sql", "SQL"), ("opportunity", "Opportunity"), ("won", "Won")):
        assert shown[label] == f"{int(rows.loc[(f'funnel-{stage}', f.period), 'actual']):,}"
    # Pipeline and won revenue: one row per period the page's charts draw (15 periods of history).
    assert len(rows.loc["sourced-pipeline"]) == len(rows.loc["won_revenue"]) == 15
