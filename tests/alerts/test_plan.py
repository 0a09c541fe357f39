"""Planning without a database: who gets what, held outside working hours; a week of time travel with a ledger."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import time_machine

from alerts.messages import Message
from alerts.plan import plan_alerts
from alerts.routing import parse_routing
from alerts.rules import at_work, lead_alerts, open_details, queue_leads, weekly_digest_due
from tests.alerts.test_rules import DOC
from tests.analytics.conftest import make_frames, ts

OWNERS = [{"id": 1, "name": "Ann", "email": "Ann@Example.com", "team": "EMEA"},
          {"id": 2, "name": "Bob", "email": "bob@example.com", "team": "US"}]  # fmt: skip
ROUTING = parse_routing({
    "digest_to": ["ceo@example.com"],
    "teams": {"EMEA": {"managers": ["lead.emea@example.com"]}, "US": {"managers": ["lead.us@example.com"]}},
})  # fmt: skip
DIGEST = Message("Digest", "text", "<p>text</p>")


def _frames():
    return make_frames(owners=OWNERS, leads=[
        {"mql_at": ts("2026-12-04 15:30", "Europe/Berlin"), "owner_id": 1, "team": "EMEA"},
        {"mql_at": ts("2026-12-07 13:00", "Europe/Berlin"), "owner_id": 1, "team": "EMEA"},
        {"mql_at": ts("2026-12-07 11:00", "America/New_York"), "owner_id": 2, "team": "US"},
        {"mql_at": ts("2026-12-08 10:00", "Europe/Berlin"), "owner_id": 1, "team": "EMEA"},
    ])  # fmt: skip


def _plan(frames, now, routing=ROUTING, digest=None):
    details = open_details(DOC, frames, now)
    alerts = lead_alerts(DOC, frames, now, details=details)
    queue = queue_leads(DOC, frames, now, details=details)
    return plan_alerts(
        "SLA", DOC, alerts, queue, frames["owners"], routing, now, default_webhook=None, digest=digest
    )


def test_outside_working_hours_everything_waits_unless_the_person_opted_in():
    frames = _frames()
    evening = ts("2026-12-07 17:30", "Europe/Berlin")  # Berlin has closed, New York works (11:30)
    plan = _plan(frames, evening)
    assert {o.email for o in plan.outgoing} <= {"bob@example.com", "lead.us@example.com"}
    assert plan.held > 0
    opted_in = parse_routing({"after_hours": ["ann@example.com"],
                              "teams": {"EMEA": {"managers": ["lead.emea@example.com"]}}})  # fmt: skip
    assert "ann@example.com" in {o.email for o in _plan(frames, evening, opted_in).outgoing}


def test_time_travel_sunday_to_tuesday_with_a_ledger():
    """Every 30 minutes from Sunday noon to Tuesday evening, with a ledger of what went: each alert once,
    every message inside its recipient's working hours, the digest once on Monday, a queue each working day."""
    frames = _frames()
    sent: dict[str, tuple[pd.Timestamp, object]] = {}
    team_of = {"ann@example.com": "EMEA", "lead.emea@example.com": "EMEA", "bob@example.com": "US",
               "lead.us@example.com": "US", "ceo@example.com": None}  # fmt: skip
    start, end = ts("2026-12-06 12:00", "Europe/Berlin"), ts("2026-12-08 18:00", "Europe/Berlin")
    with time_machine.travel(start.to_pydatetime(), tick=False) as traveller:
        moment = start
        while moment < end:
            now = pd.Timestamp(dt.datetime.now(dt.UTC))
            week = weekly_digest_due(DOC.calendar_for(None), now, ROUTING.digest_at)
            plan = _plan(frames, now, digest=(week, DIGEST) if week else None)
            for out in plan.outgoing:
                sent.setdefault(out.delivery.fingerprint, (now, out))  # the ledger: the first claim wins
            moment += pd.Timedelta(minutes=30)
            traveller.move_to(moment.to_pydatetime())
    for when, out in sent.values():
        assert at_work(DOC.calendar_for(team_of[out.email]), when), (out.delivery, when)
    digests = [(when, out) for when, out in sent.values() if out.delivery.kind == "weekly_digest"]
    assert [(w.tz_convert("Europe/Berlin").strftime("%a %H:%M"), o.email) for w, o in digests] == [
        ("Mon 09:00", "ceo@example.com")
    ]  # due from 08:00, held until Berlin opens at 09:00
    queues = sorted(
        (o.email, o.delivery.window) for _, o in sent.values() if o.delivery.kind == "daily_queue"
    )
    days = ["2026-12-07", "2026-12-08"]
    assert [q for q in queues if q[0] == "lead.emea@example.com"] == [
        ("lead.emea@example.com", d) for d in days
    ]
    kinds = sorted(
        (o.delivery.lead_id, o.delivery.kind, o.email) for _, o in sent.values() if o.delivery.lead_id
    )
    assert kinds == [
        (1, "breached", "ann@example.com"), (1, "breached", "lead.emea@example.com"), (1, "due_soon", "ann@example.com"),
        (2, "breached", "ann@example.com"), (2, "breached", "lead.emea@example.com"), (2, "due_soon", "ann@example.com"),
        (3, "breached", "bob@example.com"), (3, "breached", "lead.us@example.com"), (3, "due_soon", "bob@example.com"),
        (4, "breached", "ann@example.com"), (4, "breached", "lead.emea@example.com"), (4, "due_soon", "ann@example.com"),
    ]  # fmt: skip
    first = {(o.delivery.lead_id, o.delivery.kind): w.tz_convert("Europe/Berlin").strftime("%a %H:%M")
             for w, o in sent.values() if o.email == "ann@example.com"}  # fmt: skip
    # Lead 2 is due Monday 17:00 (the closing): warned at 16:00, breached once Tuesday's clock runs past it.
    assert first[(2, "due_soon")] == "Mon 16:00" and first[(2, "breached")] == "Tue 09:30"
    assert first[(4, "due_soon")] == "Tue 13:00" and first[(4, "breached")] == "Tue 14:30"
