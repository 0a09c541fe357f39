"""Saving an agreement version computes that version's facts only: the earlier versions' facts are left as
they were (a version never changes), so a save costs one version's refresh however long the history."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from agreements import store
from bootstrap import load_demo_recorded
from data import fact_upkeep, facts
from data.facts import compute_facts, read_frames
from tests.data.test_facts import _comparable, _stored

TODAY = dt.date(2026, 3, 16)
AGREEMENT = "Sales and Marketing SLA"


def _save_faster_version(engine, hours: int, effective: dt.date, as_of: str) -> int:
    yaml = store.versions(engine, AGREEMENT)[-1].document.to_document()
    yaml["commitments"] = [
        {**c, "params": {"business_hours": hours}} if c["id"] == "speed-to-lead" else c
        for c in yaml["commitments"]
    ]
    saved = store.save(engine, yaml, effective, "tester", f"{hours}-hour follow-up",
                       as_of=pd.Timestamp(as_of, tz="UTC"))  # fmt: skip
    return int(saved.version)


def test_a_saved_version_computes_its_own_facts_and_leaves_the_earlier_ones_untouched(engine, monkeypatch):
    load_demo_recorded(engine, leads=400, today=TODAY)
    fact_upkeep.refresh_all(engine)
    refreshed: list[list[int]] = []
    real = facts.refresh_facts

    def recording(bind, versions, *args, **kwargs):
        refreshed.append(sorted(int(v.version) for v in facts.as_versions(versions)))
        return real(bind, versions, *args, **kwargs)

    monkeypatch.setattr(facts, "refresh_facts", recording)
    assert _save_faster_version(engine, 2, dt.date(2026, 3, 1), "2026-02-20") == 2
    assert _save_faster_version(engine, 3, dt.date(2026, 4, 1), "2026-03-10") == 3
    assert refreshed == [[2], [3]]  # one version per save, not the whole history again
    stored = _stored(engine)
    assert sorted(stored["version"].unique()) == [1, 2, 3]
    # ... and what is stored is what computing every version from every row gives.
    everything = _comparable(compute_facts(store.versions(engine, AGREEMENT), read_frames(engine)))
    assert stored.equals(everything)
