"""Saving an agreement version computes that version's facts only: the earlier versions' facts are left as
they were (a version never changes), so a save costs one version's refresh however long the history."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

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


def _save(engine, change, effective: dt.date, as_of: str) -> int:
    document = store.versions(engine, AGREEMENT)[-1].document.to_document()
    change(document)
    saved = store.save(engine, document, effective, "tester", "a change", as_of=pd.Timestamp(as_of, tz="UTC"))
    return int(saved.version)


def _lower_targets(document: dict) -> None:
    for commitment in document["commitments"]:
        if isinstance(commitment.get("target"), float) and commitment["target"] > 0.1:
            commitment["target"] -= 0.05


def test_a_save_that_leaves_the_clocks_alone_copies_their_facts_without_reading_a_lead(engine, monkeypatch):
    load_demo_recorded(engine, leads=400, today=TODAY)
    fact_upkeep.refresh_all(engine)
    computed: list[list[str]] = []
    real_compute = facts.compute_facts

    def recording(versions, *args, **kwargs):
        computed.append([c.id for v in facts.as_versions(versions) for c in v.document.commitments])
        return real_compute(versions, *args, **kwargs)

    monkeypatch.setattr(facts, "compute_facts", recording)
    # Targets only: every clock is the first version's, copied; no lead is read.
    with monkeypatch.context() as m:
        m.setattr(facts, "read_frames", lambda *a, **k: pytest.fail("a target change read the leads"))
        assert _save(engine, _lower_targets, dt.date(2026, 3, 1), "2026-02-20") == 2
    assert computed == []
    # One clock's limit changes: only that commitment is computed, the others are copied.
    assert _save_faster_version(engine, 2, dt.date(2026, 4, 1), "2026-03-10") == 3
    assert computed == [["speed-to-lead"]]
    # Other working hours change every clock: the whole version is computed.
    computed.clear()

    def other_hours(document: dict) -> None:
        document["calendar"]["hours"] = ["08:00", "16:00"]

    assert _save(engine, other_hours, dt.date(2026, 5, 1), "2026-04-10") == 4
    assert computed == [[c.id for c in store.versions(engine, AGREEMENT)[-1].document.commitments]]
    stored = _stored(engine)
    assert sorted(stored["version"].unique()) == [1, 2, 3, 4]
    # What is stored is what computing every version from every row gives.
    everything = _comparable(real_compute(store.versions(engine, AGREEMENT), read_frames(engine)))
    assert stored.equals(everything)
    assert (stored["version"] == 2).sum() == (stored["version"] == 1).sum() > 0
