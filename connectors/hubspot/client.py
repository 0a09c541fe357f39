"""The one place that talks to HubSpot: hubspot-api-client calls, pacing, retries, errors.

Every request goes through :meth:`HubSpotClient._send`, which

- paces itself to the account's rolling 10-second limit and, for search, to the
  separate per-second limit (:class:`RateLimiter`), so a sync runs at the limit
  without provoking 429 storms;
- retries 429 (waiting ``Retry-After`` when HubSpot sends it, backing off
  otherwise, and pausing every other request meanwhile), 5xx, timeouts and
  dropped connections, for GET and POST alike (urllib3's own retries are off:
  they skip POST and turn an exhausted 429 into ``MaxRetryError``);
- passes ``_request_timeout`` on every call (the SDK has no timeout setting);
- turns 401 and 403 into one :class:`HubSpotAuthError` that says what to fix,
  naming the missing scope from HubSpot's 403 body.

Responses are read raw (``_preload_content=False``) and decoded with ``json``:
the records stay the plain dicts HubSpot sends (camelCase keys, string property
values), which is what :mod:`connectors.hubspot.mapping` maps, and it is several
times faster than building the SDK's model objects. No error message, log line
or exception ever contains the token.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import urllib3
from hubspot import HubSpot

import settings as accord_settings
from connectors.hubspot.settings import SCOPES, HubSpotConfig
from errors import AccordError

log = logging.getLogger("connectors.hubspot")


HISTORY_BATCH = 50  # records a batch read may ask for when it asks for property history


class HubSpotError(AccordError):
    """A HubSpot problem the user can act on; ``str()`` is the message to show."""


class HubSpotConfigError(HubSpotError):
    """The connector is not configured (no token)."""


class HubSpotAuthError(HubSpotError):
    """HubSpot refused the token (401) or the private app lacks a scope (403)."""

    def __init__(self, message: str, status: int, scopes: Sequence[str] = ()):
        super().__init__(message)
        self.status = status
        self.scopes = tuple(scopes)


class HubSpotUnavailableError(HubSpotError):
    """HubSpot kept failing (5xx, 429, timeouts) after every retry, or its daily limit is used up."""


class HubSpotRequestError(HubSpotError):
    """HubSpot refused a request as malformed (4xx other than 401/403/429)."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


@dataclass
class Page:
    """One page of results: the raw records, the cursor of the next page (None on the last), search's total."""

    results: list[dict]
    after: str | None = None
    total: int | None = None


@dataclass
class ClientStats:
    """What the client did so far: requests sent (retries included), retries, seconds spent waiting."""

    requests: int = 0
    retries: int = 0
    waited_seconds: float = 0.0
    rate_limited: int = 0  # 429 answers received
    by_endpoint: dict[str, int] = field(default_factory=dict)


class RateLimiter:
    """At most ``limit`` requests in any ``window`` seconds, for any number of threads.

    A request holds its slot from the moment it is sent until ``window`` seconds
    after its answer arrived: HubSpot counts a request when it arrives, which is
    after we sent it and before we got the answer, so this can never exceed the
    server's count, and costs one round trip per window.
    """

    def __init__(self, limit: int, window: float):
        if limit < 1 or window <= 0:
            raise ValueError(f"a rate limit needs limit >= 1 and window > 0, not {limit} per {window} s")
        self.limit = limit
        self.window = window
        self._done: deque[float] = deque()  # answer times of finished requests, ascending
        self._in_flight = 0
        self._paused_until = 0.0
        self._cond = threading.Condition()

    def acquire(self, stop: threading.Event | None = None) -> float:
        """Wait for a free slot and take it; returns the seconds waited."""
        started = time.monotonic()
        with self._cond:
            while True:
                now = time.monotonic()
                while self._done and self._done[0] + self.window <= now:
                    self._done.popleft()
                if now < self._paused_until:
                    wait = self._paused_until - now
                elif self._in_flight + len(self._done) < self.limit:
                    self._in_flight += 1
                    return time.monotonic() - started
                else:
                    wait = self._done[0] + self.window - now if self._done else None
                if stop is not None and stop.is_set():
                    raise _Stopped
                self._cond.wait(timeout=min(wait, 0.5) if wait is not None else 0.5)

    def release(self) -> None:
        """Give back the slot taken by :meth:`acquire` once the answer arrived."""
        with self._cond:
            self._in_flight -= 1
            self._done.append(time.monotonic())
            self._cond.notify_all()

    def pause(self, seconds: float) -> None:
        """Hold every request back for ``seconds`` (after a 429, everybody waits)."""
        with self._cond:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)


class _Stopped(Exception):
    """Internal: the sync was asked to stop while waiting for a slot."""


WaitCallback = Callable[[float, str], None]


class HubSpotClient:
    """Pages of HubSpot records as plain dicts, paced and retried; thread-safe.

    ``on_wait(seconds, reason)`` is called before each wait longer than a
    quarter of a second (pacing, 429, backoff), so a progress bar can show it.
    """

    def __init__(
        self,
        config: HubSpotConfig,
        on_wait: WaitCallback | None = None,
        stop: threading.Event | None = None,
    ):
        if not config.token:
            raise HubSpotConfigError(
                "No HubSpot access token: set HUBSPOT_ACCESS_TOKEN in the environment or in "
                ".streamlit/secrets.toml (see README, 'Connect HubSpot')."
            )
        _check_token(config.token)
        self.config = config
        self.stats = ClientStats()
        self._on_wait = on_wait
        self._stop = stop or threading.Event()
        self._token = config.token
        self._window = RateLimiter(config.requests_per_window, config.window_seconds)
        self._search = RateLimiter(config.search_per_second, 1.0)
        self._stats_lock = threading.Lock()
        # retry=False: urllib3 gives every failure straight back; _send retries GET and POST alike.
        self._hub = HubSpot(
            access_token=config.token, host=config.base_url, base_url=config.base_url, retry=False
        )
        # Each attribute access builds a new ApiClient and connection pool: build each API once.
        crm = self._hub.crm
        self._basic = {"contacts": crm.contacts.basic_api, "deals": crm.deals.basic_api}
        self._batch = {"contacts": crm.contacts.batch_api, "deals": crm.deals.batch_api}
        self._searchers = {"contacts": crm.contacts.search_api, "deals": crm.deals.search_api}
        for name in ("calls", "emails", "meetings", "tasks"):
            discovery = getattr(crm.objects, name)
            self._basic[name] = discovery.basic_api
            self._searchers[name] = discovery.search_api
        self._owners = crm.owners.owners_api
        self._pipelines = crm.pipelines.pipelines_api
        self._associations = crm.associations.v4.batch_api

    # ------------------------------------------------------------------ endpoints

    def list_page(
        self,
        obj: str,
        properties: Sequence[str],
        after: str | None = None,
        archived: bool = False,
        associations: Sequence[str] = (),
        limit: int | None = None,
        history: Sequence[str] = (),
    ) -> Page:
        """One page of ``GET /crm/v3/objects/{obj}`` (100 records by default; with ``history``, the
        ``propertiesWithHistory`` of those properties and at most :data:`HISTORY_BATCH` records)."""
        api = self._api(self._basic, obj)
        size = limit or self.config.page_size
        kwargs = {
            "limit": min(size, HISTORY_BATCH) if history else size,
            "after": after,
            "properties": list(properties),
            "properties_with_history": list(history) or None,
            "archived": archived,
            "associations": list(associations) or None,
        }
        body = self._send(f"GET /crm/v3/objects/{obj}", obj, lambda **kw: api.get_page(**kwargs, **kw))
        return _page(body)

    def search_page(
        self,
        obj: str,
        filters: Sequence[dict],
        properties: Sequence[str],
        after: str | None = None,
        limit: int | None = None,
        sort: str = "hs_object_id",
    ) -> Page:
        """One page of ``POST /crm/v3/objects/{obj}/search``: ``filters`` ANDed, sorted ascending by ``sort``."""
        api = self._api(self._searchers, obj)
        request = {
            "filterGroups": [{"filters": list(filters)}],
            "sorts": [{"propertyName": sort, "direction": "ASCENDING"}],
            "properties": list(properties),
            "limit": limit or self.config.search_page_size,
            "after": after,
        }
        request = {k: v for k, v in request.items() if v is not None}
        body = self._send(
            f"POST /crm/v3/objects/{obj}/search",
            obj,
            lambda **kw: api.do_search(public_object_search_request=request, **kw),
            search=True,
        )
        page = _page(body)
        page.total = body.get("total")
        return page

    def owners_page(self, after: str | None = None, archived: bool = False) -> Page:
        """One page of ``GET /crm/v3/owners`` (active owners, or the archived ones)."""
        body = self._send(
            "GET /crm/v3/owners",
            "owners",
            lambda **kw: self._owners.get_page(
                after=after, limit=self.config.page_size, archived=archived, **kw
            ),
        )
        return _page(body)

    def pipelines(self, object_type: str = "deals") -> list[dict]:
        """Every pipeline of ``object_type`` with its stages (``GET /crm/v3/pipelines/{object_type}``)."""
        body = self._send(
            f"GET /crm/v3/pipelines/{object_type}",
            object_type,
            lambda **kw: self._pipelines.get_all(object_type=object_type, **kw),
        )
        return list(body.get("results", []))

    def account_details(self) -> dict:
        """``GET /account-info/v3/details``: the account's ``portalId`` and ``uiDomain`` (what record links need).

        The SDK has no API class for it; the owners API's client sends it with the same token and transport.
        """
        api = self._owners.api_client
        return self._send(
            "GET /account-info/v3/details",
            "account",
            lambda **kw: api.call_api(
                "/account-info/v3/details", "GET", header_params={"Accept": "application/json"},
                auth_settings=["oauth2"], response_types_map={}, _return_http_data_only=False, **kw,
            ),
        )  # fmt: skip

    def read_history(
        self, obj: str, ids: Sequence[str], properties: Sequence[str], history: Sequence[str]
    ) -> list[dict]:
        """Records ``ids`` with ``properties`` and the ``propertiesWithHistory`` of ``history``.

        ``POST /crm/v3/objects/{obj}/batch/read``, :data:`HISTORY_BATCH` ids a request (HubSpot's
        limit when history is asked for). Archived and merged-away ids are missing from the result.
        """
        api = self._api(self._batch, obj)
        out: list[dict] = []
        for start in range(0, len(ids), HISTORY_BATCH):
            request = {
                "inputs": [{"id": str(i)} for i in ids[start : start + HISTORY_BATCH]],
                "properties": list(properties),
                "propertiesWithHistory": list(history),
            }
            body = self._send(
                f"POST /crm/v3/objects/{obj}/batch/read",
                obj,
                lambda request=request, **kw: api.read(
                    batch_read_input_simple_public_object_id=request, archived=False, **kw
                ),
            )
            out.extend(body.get("results", []))
        return out

    def associated_ids(self, from_obj: str, to_obj: str, ids: Sequence[str]) -> dict[str, list[str]]:
        """``from_obj`` id -> ids of its associated ``to_obj`` records, through v4 batch reads of 100 ids.

        Ids without associations are missing from the result (HubSpot reports them as errors in a 207).
        """
        out: dict[str, list[str]] = {}
        size = self.config.batch_size
        for start in range(0, len(ids), size):
            inputs = {"inputs": [{"id": str(i)} for i in ids[start : start + size]]}
            body = self._send(
                f"POST /crm/v4/associations/{from_obj}/{to_obj}/batch/read",
                from_obj,
                lambda inputs=inputs, **kw: self._associations.get_page(
                    from_obj, to_obj, batch_input_public_fetch_associations_batch_request=inputs, **kw
                ),
            )
            for result in body.get("results", []):
                source = str(result["from"]["id"])
                out.setdefault(source, []).extend(str(to["toObjectId"]) for to in result.get("to", []))
        return out

    # ------------------------------------------------------------------ transport

    @staticmethod
    def _api(apis: dict, obj: str):
        try:
            return apis[obj]
        except KeyError:
            raise ValueError(f"unknown HubSpot object {obj!r}; known: {', '.join(apis)}") from None

    def _send(self, what: str, obj: str, call: Callable, search: bool = False) -> dict:
        """Run ``call`` (an SDK method taking the transport keywords) until it succeeds; its JSON body."""
        backoff = self.config.backoff_seconds
        attempts = self.config.max_attempts
        last_problem = ""
        for attempt in range(1, attempts + 1):
            self._wait_for_slot(search)
            started = time.monotonic()
            try:
                response = call(_preload_content=False, _request_timeout=self.config.timeout)
                data = response.data
                response.release_conn()
            except urllib3.exceptions.HTTPError as exc:
                last_problem = f"{type(exc).__name__}: {self._scrub(str(exc))}"
                log.debug("%s failed after %.2f s: %s", what, time.monotonic() - started, last_problem)
                wait = min(backoff * 2 ** (attempt - 1), self.config.window_seconds * 3)
            except Exception as exc:
                status = getattr(exc, "status", None)
                if not isinstance(status, int) or not hasattr(exc, "body"):
                    raise
                body = _json(getattr(exc, "body", None))
                log.debug("%s -> %s after %.2f s", what, status, time.monotonic() - started)
                wait, last_problem = self._after_error(
                    what, obj, status, body, getattr(exc, "headers", None), attempt, search
                )
            else:
                log.debug("%s -> %s after %.2f s", what, response.status, time.monotonic() - started)
                return _json(data) or {}
            finally:
                self._release(search)
            if attempt == attempts:
                break
            with self._stats_lock:
                self.stats.retries += 1
            self._pause(wait, f"retry {attempt}/{attempts - 1} of {what}: {last_problem}")
        raise HubSpotUnavailableError(
            f"HubSpot did not answer {what} after {attempts} attempts (last: {last_problem}). "
            "The rows read so far are saved; run the sync again later to continue from there."
        )

    def _after_error(self, what, obj, status, body, headers, attempt, search) -> tuple[float, str]:
        """How long to wait before retrying an error answer, or raise if retrying cannot help."""
        message = str(body.get("message") or "").strip()
        if status == 401:
            raise HubSpotAuthError(
                "HubSpot rejected the access token (401 Unauthorized): it is wrong, expired or was "
                "revoked. Copy the token of your private app again (HubSpot: Settings > Integrations > "
                "Private apps) and set HUBSPOT_ACCESS_TOKEN.",
                401,
            )
        if status == 403:
            scopes = _missing_scopes(body) or [SCOPES.get(obj, "")]
            scopes = [s for s in scopes if s]
            named = ", ".join(scopes) if scopes else "a required scope"
            raise HubSpotAuthError(
                f"The HubSpot private app may not read {obj} (403 Forbidden): it is missing the scope "
                f"{named}. Add it under Settings > Integrations > Private apps > your app > Scopes, "
                "then sync again.",
                403,
                scopes,
            )
        backoff = self.config.backoff_seconds * 2 ** (attempt - 1)
        if status == 429:
            with self._stats_lock:
                self.stats.rate_limited += 1
            if str(body.get("policyName", "")).upper() == "DAILY":
                raise HubSpotUnavailableError(
                    "HubSpot's daily API limit for this account is used up. The rows read so far are "
                    "saved; the next sync after midnight (HubSpot account time zone) continues."
                )
            retry_after = _retry_after(headers)
            wait = retry_after if retry_after is not None else min(backoff, self.config.window_seconds)
            # Everybody waits, not just this request: the limit is per account.
            (self._search if search else self._window).pause(wait)
            return wait, f"429 {self._scrub(message) or 'rate limited'}"
        if status >= 500 or status == 0:
            return min(
                backoff, self.config.window_seconds * 3
            ), f"{status} {self._scrub(message) or 'server error'}"
        raise HubSpotRequestError(
            f"HubSpot refused {what} ({status}): {self._scrub(message) or 'no reason given'}", status
        )

    def _wait_for_slot(self, search: bool) -> None:
        waited = 0.0
        try:
            waited += self._window.acquire(self._stop)
            if search:
                try:
                    waited += self._search.acquire(self._stop)
                except BaseException:
                    self._window.release()
                    raise
        except _Stopped:
            raise HubSpotError("the sync was stopped") from None
        with self._stats_lock:
            self.stats.requests += 1
            self.stats.waited_seconds += waited
        if waited > 0.25 and self._on_wait is not None:
            self._on_wait(waited, "rate limit")

    def _release(self, search: bool) -> None:
        self._window.release()
        if search:
            self._search.release()

    def _pause(self, seconds: float, reason: str) -> None:
        if seconds <= 0:
            return
        if self._on_wait is not None and seconds > 0.25:
            self._on_wait(seconds, reason)
        with self._stats_lock:
            self.stats.waited_seconds += seconds
        if self._stop.wait(seconds):
            raise HubSpotError("the sync was stopped")

    def _scrub(self, text: str) -> str:
        return accord_settings.scrub(text, self._token)


def _check_token(token: str) -> None:
    """Refuse a token with a character no HubSpot token has (one line, the token not quoted in any form).

    A line break cannot be sent in a header at all, and Python's error about it quotes the whole header.
    """
    for position, char in enumerate(token, start=1):
        if char.isspace() or char in "\"'`" or not char.isprintable() or not char.isascii():
            kind = (
                "a line break"
                if char in "\r\n"
                else "a space"
                if char.isspace()
                else f"the character {char!r}"
            )
            raise HubSpotConfigError(
                f"The HubSpot access token has {kind} at character {position} of {len(token)}; a token has "
                "none. Copy it again from HubSpot (Settings > Integrations > Private apps) into "
                "HUBSPOT_ACCESS_TOKEN, without quotes."
            )


def _page(body: dict) -> Page:
    after = ((body.get("paging") or {}).get("next") or {}).get("after")
    return Page(results=list(body.get("results", [])), after=None if after in (None, "") else str(after))


def _json(data) -> dict:
    if data is None or data == b"" or data == "":
        return {}
    try:
        value = json.loads(data)
    except (TypeError, ValueError):
        return {"message": (data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data))[:300]}
    return value if isinstance(value, dict) else {"results": value}


def _retry_after(headers) -> float | None:
    if not headers:
        return None
    value = headers.get("Retry-After") if hasattr(headers, "get") else None
    try:
        return max(0.0, float(value)) if value not in (None, "") else None
    except ValueError:
        return None


_SCOPE_WORDS = re.compile(r"\b((?:crm|sales|content|automation|e-commerce|tickets|forms)[\w.-]*)")


def _missing_scopes(body: dict) -> list[str]:
    """The scopes a 403 body names.

    >>> _missing_scopes({"category": "MISSING_SCOPES", "errors": [{"context":
    ...     {"requiredGranularScopes": ["sales-email-read"]}}]})
    ['sales-email-read']
    >>> _missing_scopes({"message": "This app hasn't been granted all required scopes; "
    ...     "required: crm.objects.owners.read"})
    ['crm.objects.owners.read']
    """
    found: list[str] = []
    for error in body.get("errors") or []:
        context = error.get("context") or {}
        for key in ("requiredGranularScopes", "requiredScopes", "requiredScopeGroups"):
            found.extend(str(s) for s in context.get(key) or [])
    if not found:
        found = _SCOPE_WORDS.findall(str(body.get("message") or ""))
    return list(dict.fromkeys(s.rstrip(".,;") for s in found))
