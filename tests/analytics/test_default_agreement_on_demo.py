"""The shipped agreement against the demo company: a dashboard worth looking at."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from analytics.agreement import parse_agreement
from analytics.commitments import evaluate
from bootstrap import DEFAULT_AGREEMENT
from connectors.demo import generate

TODAY = dt.date(2026, 11, 27)


def test_every_default_commitment_is_met_in_some_closed_months_and_missed_in_others():
    frames = generate(12_000, today=TODAY)
    as_of = pd.Timestamp(TODAY, tz="UTC")
    result = evaluate(parse_agreement(DEFAULT_AGREEMENT.read_text()), frames, as_of - pd.DateOffset(months=15),
                      as_of, as_of)  # fmt: skip
    closed = result[result["period_state"] == "closed"]
    statuses = closed.groupby("commitment")["status"].agg(set)
    assert len(statuses) == 6
    for commitment, seen in statuses.items():
        assert {"met", "missed"} <= seen, f"{commitment}: only {seen} on the demo; recalibrate its target"
