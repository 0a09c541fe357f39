"""The words of the dashboard: periods, values with units, results as sentences, deltas, badges."""

from __future__ import annotations

import numpy as np
import pytest

from analytics import wording
from analytics.agreement import parse_document
from tests.analytics.conftest import BASE_DOCUMENT, commitment
from tests.analytics.test_breakdowns import ORACLE_COMMITMENTS


def row(**values):
    base = {"period": "2026-03", "period_state": "closed", "kind": "count", "actual": 812.0, "target": 750.0,
            "status": "met", "gap": 62.0, "metric": "mql_count"}  # fmt: skip
    return base | values


def test_sentences_spell_out_number_unit_period_target_and_status():
    assert wording.result_sentence(row(), noun="MQLs") == (
        "812 MQLs in March 2026 against a target of 750: met, 62 MQLs above target."
    )
    assert wording.result_sentence(row(actual=700.0, gap=-50.0, status="missed"), noun="MQLs") == (
        "700 MQLs in March 2026 against a target of 750: missed by 50 MQLs."
    )
    amount = row(kind="amount", actual=1.2e6, target=5e6, status="at risk", period_state="current",
                 expected_to_date=1e6, projection=4.6e6, needed_per_week=9e5)  # fmt: skip
    assert wording.result_sentence(amount, noun="sourced pipeline", currency="EUR") == (
        "EUR 1,200,000 of sourced pipeline in March 2026 against a target of EUR 5,000,000: EUR 1,000,000 "
        "expected by today, projected finish EUR 4,600,000 — at risk. EUR 900,000 of sourced pipeline needed per "
        "remaining week."
    )
    rate = row(kind="rate", metric="acceptance_rate", actual=0.4, target=0.35, status="on track",
               period_state="current", met=40.0, breached=60.0, pending=5.0)  # fmt: skip
    assert wording.result_sentence(rate, noun="of decided leads accepted") == (
        "40% of decided leads accepted in March 2026 (40 accepted, 60 rejected, 5 open) against a target of 35% "
        "— on track."
    )
    waiting = row(kind="rate", metric="followed_up_within", actual=np.nan, target=0.9, status="pending",
                  period_state="current", met=0.0, breached=0.0, pending=3.0)  # fmt: skip
    assert wording.result_sentence(waiting, noun="of leads") == (
        "No lead decided yet in March 2026 (3 pending) against a target of 90% — pending."
    )
    assert wording.result_sentence(row(target=np.nan, status="no target"), noun="SQLs") == (
        "812 SQLs in March 2026; the agreement sets no target for it."
    )
    duration = row(kind="duration", actual=3.25, target=4.0, status="met", gap=-0.75)
    assert wording.result_sentence(duration, noun="median time to first touch") == (
        "Median time to first touch in March 2026: 3.2 business hours against a target of 4.0 business hours: met, 0.8 business hours under the limit."
    )


def test_deltas_and_words():
    assert wording.delta_text(row()) == "+62 vs target"
    assert wording.delta_text(row(target=np.nan)) is None
    current = row(kind="amount", period_state="current", actual=100.0, expected_to_date=250.0)
    assert wording.delta_text(current, currency="EUR") == "-EUR 150 vs expected by today"
    assert (
        wording.period_name("2026-W10") == "week 10 of 2026" and wording.period_name("2026-Q4") == "Q4 2026"
    )
    with pytest.raises(wording.WordingError, match="unknown metric kind 'ratio'"):
        wording.format_value(1, "ratio")
    nouns = {c["id"]: wording.metric_noun(parse_document({**BASE_DOCUMENT, "commitments": [c]}).commitments[0])
             for c in ORACLE_COMMITMENTS + [commitment("t", "touches_within", 0.4,
                                                       params={"touches": 3, "business_days": 5})]}  # fmt: skip
    assert nouns == {"mqls": "MQLs", "sqls": "SQLs", "pipeline": "sourced pipeline",
                     "accept": "of decided leads accepted", "t": "of leads with 3+ touches within 5 business days"}  # fmt: skip
