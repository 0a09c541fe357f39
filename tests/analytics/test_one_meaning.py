"""One meaning per word (issue 13, item 7): SQL, won deals, "within N business days"."""

from __future__ import annotations

import pandas as pd

from analytics.agreement import parse_agreement
from analytics.calendar import BusinessCalendar, end_of_nth_working_day
from analytics.commitments import evaluate
from analytics.funnel import funnel
from analytics.revisions import plain_language
from tests.analytics.conftest import agreement, commitment, make_frames, ts
from views.marketing import volume_by

AS_OF = ts("2026-04-02 12:00")
MARCH = ("2026-03-01", "2026-04-01")


def test_marketing_and_the_funnel_count_the_same_sqls():
    doc = agreement(commitments=[commitment("sqls", "sql_count", 1, owner="marketing"),
                                 commitment("rate", "mql_to_sql_rate", 0.5, owner="marketing")])  # fmt: skip
    frames = make_frames(
        leads=[
            {"mql_at": ts("2026-03-02 10:00"), "channel": "Events"},  # a deal, never a recorded sql_at
            {"mql_at": ts("2026-03-03 10:00"), "channel": "Events", "sql_at": ts("2026-03-04 10:00")},
            {"mql_at": ts("2026-03-04 10:00"), "channel": "Events"},
        ],  # fmt: skip
        deals=[{"lead_id": 1, "created_at": ts("2026-03-10 10:00")}],
    )
    rows = evaluate(doc, frames, *MARCH, AS_OF).set_index("commitment")
    cohort = funnel(doc, frames, *MARCH, AS_OF).iloc[0]
    marketing = volume_by(doc, frames, *MARCH, AS_OF).set_index("channel")
    assert rows.loc["sqls", "actual"] == cohort["sql"] == marketing.loc["Events", "sqls"] == 2
    assert rows.loc["rate", "actual"] == cohort["mql_to_sql"] == 2 / 3


def test_won_revenue_counts_won_deals_not_every_closed_deal():
    doc = agreement(commitments=[commitment("won", "won_revenue", 100, owner="sales"),
                                 commitment("pipe", "sourced_pipeline", 100, owner="marketing")])  # fmt: skip
    closed = {"created_at": ts("2026-03-02"), "closed_at": ts("2026-03-05"), "is_closed": True}
    frames = make_frames(
        leads=[{"mql_at": ts("2026-03-01 10:00")}],
        deals=[
            {**closed, "is_won": True, "amount": 50.0, "lead_id": 1},
            {**closed, "is_won": True, "amount": None},  # won without an amount: a won deal all the same
            {**closed, "is_won": False, "amount": 70.0},
        ],  # fmt: skip
    )
    rows = evaluate(doc, frames, *MARCH, AS_OF).set_index("commitment")
    assert rows.loc["won", ["actual", "n"]].tolist() == [50.0, 2]
    assert rows.loc["pipe", ["actual", "n"]].tolist() == [50.0, 1]  # one marketing-sourced deal


def test_end_of_day_reading_is_due_at_the_close_of_the_nth_working_day():
    cal = BusinessCalendar(timezone="America/New_York", hours=("09:00", "17:00"), holidays=["2026-03-09"])
    friday = pd.Series(
        [ts("2026-03-06 15:00", "America/New_York"), ts("2026-03-07 10:00", "America/New_York")]
    )
    # Monday 9 March is a holiday: the 2nd working day after Friday (and after Saturday) is Wednesday 11 March;
    # New York switched to summer time on 8 March, so the 17:00 close is 21:00 UTC.
    assert end_of_nth_working_day(friday, 2, cal).tolist() == [ts("2026-03-11 21:00"), ts("2026-03-11 21:00")]


def test_an_agreement_can_read_business_days_as_by_the_end_of_the_nth_working_day():
    base = commitment("dispo", "dispositioned_within", 0.5, params={"business_days": 2})
    later = commitment(
        "dispo", "dispositioned_within", 0.5, params={"business_days": 2, "reading": "end_of_day"}
    )
    # Handed over Friday 16:00, decided Tuesday 16:30: Fri 1 + Mon 8 + Tue 7.5 = 16.5 business hours.
    frames = make_frames(leads=[{"mql_at": ts("2026-03-06 16:00"), "disposition": "accepted",
                                 "disposition_at": ts("2026-03-10 16:30")}])  # fmt: skip
    as_business_time = evaluate(agreement(commitments=[base]), frames, *MARCH, AS_OF).iloc[0]
    as_end_of_day = evaluate(agreement(commitments=[later]), frames, *MARCH, AS_OF).iloc[0]
    assert as_business_time["breached"] == 1  # 16.5 business hours > 16
    assert as_end_of_day["met"] == 1  # before Tuesday's 17:00 close


def test_the_agreement_page_says_how_business_days_are_read():
    text = """
name: A
parties: [sales]
commitments:
  - {id: dispo, owner: sales, metric: dispositioned_within, target: 0.9, params: {business_days: 2}}
  - {id: eod, owner: sales, metric: dispositioned_within, target: 0.9,
     params: {business_days: 2, reading: end_of_day}}
"""
    sentences = plain_language(parse_agreement(text))["sentence"].tolist()
    assert "within 2 business days (16 working hours counted from the handover)" in sentences[0]
    assert "by the end of the 2nd working day after the day of the handover" in sentences[1]
