"""The HTTP side against the local HubSpot, through the real hubspot-api-client: pacing, retries, errors."""

from __future__ import annotations

import threading
import time

import pytest

from connectors.hubspot.client import (
    HubSpotAuthError,
    HubSpotClient,
    HubSpotConfigError,
    HubSpotRequestError,
    HubSpotUnavailableError,
    RateLimiter,
)
from connectors.hubspot.settings import HubSpotConfig
from tests.connectors.hubspot.conftest import TOKEN
from tests.connectors.hubspot.fake_hubspot import FakeHubSpot

PROPS = ["createdate", "lastmodifieddate", "lifecyclestage"]


@pytest.fixture
def fake():
    """A small local HubSpot: 45 contacts, each with a call."""
    server = FakeHubSpot(TOKEN)
    for i in range(45):
        contact = server.add(
            "contacts", {"lifecyclestage": "lead", "createdate": f"2026-01-{i % 28 + 1:02d}"}
        )
        server.add("calls", {"hs_timestamp": "2026-02-01T10:00:00Z"}, contact=contact)
    server.start()
    yield server
    server.stop()


def client_for(fake: FakeHubSpot, **changes) -> HubSpotClient:
    config = HubSpotConfig(token=TOKEN, base_url=fake.base_url, backoff_seconds=0.05, timeout=(1.0, 2.0))
    return HubSpotClient(config.with_(**changes))


def statuses(fake: FakeHubSpot) -> list[int]:
    return [r.status for r in fake.requests()]


def max_in_window(times: list[float], window: float) -> int:
    times = sorted(times)
    return max((sum(1 for t in times[i:] if t < start + window) for i, start in enumerate(times)), default=0)


# ----------------------------------------------------------------------------- pacing


def test_rate_limiter_never_lets_more_than_the_limit_into_any_window():
    limiter = RateLimiter(limit=5, window=0.3)
    starts: list[float] = []
    lock = threading.Lock()

    def worker():
        for _ in range(4):
            limiter.acquire()
            with lock:
                starts.append(time.monotonic())
            time.sleep(0.01)
            limiter.release()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(starts) == 16
    assert max_in_window(starts, 0.3) <= 5
    assert time.monotonic() - began >= 0.9  # 16 requests at 5 per 0.3 s need 3 full windows


def test_list_requests_run_at_the_limit_without_a_single_429(fake):
    fake.requests_per_window, fake.window_seconds = 8, 0.5
    client = client_for(fake, requests_per_window=8, window_seconds=0.5)
    began = time.monotonic()

    def worker():
        for _ in range(6):
            client.list_page("contacts", PROPS, limit=5)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert statuses(fake) == [200] * 24
    assert time.monotonic() - began >= 1.0  # 24 requests, 8 per 0.5 s: the 17th cannot start before 1.0 s
    assert client.stats.requests == 24 and client.stats.waited_seconds > 0


def test_search_is_paced_to_its_own_per_second_limit(fake):
    client = client_for(fake)  # the fake allows 5 searches per second, like HubSpot
    began = time.monotonic()
    for _ in range(8):
        client.search_page("contacts", [], PROPS, limit=10)
    assert statuses(fake) == [200] * 8
    assert time.monotonic() - began >= 1.0


# ----------------------------------------------------------------------------- retries


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_429_with_retry_after_is_waited_out_for_get_and_post(fake, method):
    fake.fail_next(2, status=429, retry_after=0.3, method=method)
    client = client_for(fake)
    began = time.monotonic()
    if method == "GET":
        page = client.list_page("contacts", PROPS, limit=10)
    else:
        page = client.search_page("contacts", [], PROPS, limit=10)

    assert len(page.results) == 10
    assert statuses(fake) == [429, 429, 200]
    assert time.monotonic() - began >= 0.6
    assert client.stats.rate_limited == 2 and client.stats.retries == 2


def test_429_without_retry_after_backs_off_and_succeeds(fake):
    fake.fail_next(3, status=429)
    client = client_for(fake, backoff_seconds=0.1)
    began = time.monotonic()
    assert len(client.list_page("contacts", PROPS, limit=10).results) == 10
    assert statuses(fake) == [429, 429, 429, 200]
    assert time.monotonic() - began >= 0.1 + 0.2 + 0.4  # doubling backoff


def test_server_errors_dropped_connections_and_timeouts_are_retried(fake):
    fake.fail_next(2, status=502)
    fake.fail_next(1, status=0)  # connection closed without an answer
    fake.slow_next(1, seconds=1.5)  # longer than the read timeout below
    client = client_for(fake, timeout=(0.5, 0.5))
    assert len(client.list_page("contacts", PROPS, limit=10).results) == 10
    assert client.stats.retries == 4


def test_a_server_that_keeps_failing_gives_up_with_a_clear_message(fake):
    fake.fail_next(10, status=503)
    client = client_for(fake, max_attempts=3)
    with pytest.raises(HubSpotUnavailableError, match=r"after 3 attempts \(last: 503"):
        client.list_page("contacts", PROPS)
    assert statuses(fake) == [503, 503, 503]


def test_the_daily_limit_is_not_retried(fake):
    fake.fail_next(1, status=429, policy="DAILY")
    with pytest.raises(HubSpotUnavailableError, match="daily API limit"):
        client_for(fake).list_page("contacts", PROPS)
    assert statuses(fake) == [429]


# ----------------------------------------------------------------------------- errors the user fixes


def test_a_wrong_token_is_one_clear_error_without_the_token(fake):
    wrong = "pat-na1-00000000-dead-beef-0000-000000000000"
    client = HubSpotClient(HubSpotConfig(token=wrong, base_url=fake.base_url))
    with pytest.raises(HubSpotAuthError) as caught:
        client.owners_page()
    assert caught.value.status == 401
    assert "rejected the access token" in str(caught.value)
    assert wrong not in str(caught.value) and wrong not in repr(caught.value)
    assert statuses(fake) == [401]  # not retried


def test_a_missing_scope_is_named(fake):
    fake.missing_scopes = {"sales-email-read"}
    with pytest.raises(HubSpotAuthError) as caught:
        client_for(fake).list_page("emails", ["hs_timestamp"])
    assert caught.value.status == 403
    assert caught.value.scopes == ("sales-email-read",)
    assert "missing the scope sales-email-read" in str(caught.value)


def test_no_token_is_a_configuration_error():
    with pytest.raises(HubSpotConfigError, match="HUBSPOT_ACCESS_TOKEN"):
        HubSpotClient(HubSpotConfig(token=None))


# ----------------------------------------------------------------------------- HubSpot's shapes


def test_list_paging_properties_and_associations_look_like_hubspot(fake):
    client = client_for(fake)
    first = client.list_page("calls", ["hs_timestamp"], limit=40, associations=["contacts"])
    last = client.list_page("calls", ["hs_timestamp"], after=first.after, limit=40)

    assert len(first.results) == 40 and first.after is not None
    assert len(last.results) == 5 and last.after is None  # no paging block on the last page
    assert first.results[0]["associations"]["contacts"]["results"][0]["type"] == "call_to_contact"
    assert fake.requests("GET", "/crm/v3/objects/calls")[0].query["associations"] == ["contacts"]
    client.list_page("contacts", PROPS, limit=1)
    assert fake.requests("GET", "/crm/v3/objects/contacts")[0].query["properties"] == PROPS  # repeated params


def test_search_past_the_result_cap_is_a_400(fake):
    fake.search_cap = 20
    client = client_for(fake)
    page = client.search_page("contacts", [], PROPS, limit=20)
    assert page.total == 45 and page.after == "20"
    with pytest.raises(HubSpotRequestError) as caught:
        client.search_page("contacts", [], PROPS, after=page.after, limit=20)
    assert caught.value.status == 400


def test_association_batches_hold_at_most_100_ids(fake):
    calls = [r["id"] for r in client_for(fake).list_page("calls", ["hs_timestamp"], limit=45).results]
    orphan = fake.add("calls", {"hs_timestamp": "2026-02-02T10:00:00Z"})
    client = client_for(fake, batch_size=20)
    linked = client.associated_ids("calls", "contacts", [*calls, orphan])

    assert len(linked) == 45 and orphan not in linked  # HubSpot answers 207 for the orphan
    assert len(fake.requests("POST", "/crm/v4/associations/calls/contacts/batch/read")) == 3
