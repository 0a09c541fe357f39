"""The one module that talks to Salesforce (through simple-salesforce): login, queries, Bulk 2.0, limits.

:class:`SalesforceClient` logs in with the OAuth 2.0 client credentials flow
(``POST {login_url}/services/oauth2/token``; the answer names the
``instance_url``), then offers what the sync needs: REST ``queryAll`` pages
(``nextRecordsUrl``), Bulk API 2.0 query jobs (create, poll, CSV result pages
by ``Sforce-Locator``), ``describe``, the ``deleted`` endpoint and ``/limits``.

It re-authenticates once when Salesforce answers ``INVALID_SESSION_ID`` (a
token expired or was revoked mid-run), retries 5xx answers and dropped
connections, and counts every request against the org's daily API limit:
before the sync would eat into the reserve it raises
:class:`SalesforceLimitError`, saying when to continue. Every other problem
becomes a :class:`SalesforceError` whose message is one line naming what to fix;
neither the client secret nor the access token ever appears in one.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceOperationError,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)
from simple_salesforce.exceptions import (
    SalesforceError as _SdkError,
)
from simple_salesforce.login import token_login

from connectors.salesforce.settings import READ_ACCESS, SalesforceConfig
from errors import AccordError


class SalesforceError(AccordError, RuntimeError):
    """A problem the user can act on; the message is one line that says what to fix."""


class SalesforceConfigError(SalesforceError):
    """The configuration is wrong: a setting missing, credentials refused, a field or access missing."""


class SalesforceLimitError(SalesforceError):
    """The org's daily API requests are nearly used up; the sync stopped cleanly and can continue later."""

    exit_code = 75  # EX_TEMPFAIL: try again after continue_after

    def __init__(self, message: str, continue_after: dt.datetime):
        super().__init__(message)
        self.continue_after = continue_after


class BulkJobGoneError(SalesforceError):
    """A Bulk query job no longer exists (Salesforce keeps results for 7 days)."""


@dataclass
class ClientStats:
    """What the client did: requests sent, retries, re-logins, and the org's daily API limit."""

    requests: int = 0
    retries: int = 0
    logins: int = 0
    daily_max: int | None = None
    daily_remaining: int | None = None  # as last read from /limits, minus the requests sent since


@dataclass
class Page:
    """One page of records and where the next one is (None when this was the last)."""

    records: list[dict]
    next: str | None


class SalesforceClient:
    """A logged-in connection to one org; see the module docstring."""

    def __init__(
        self,
        config: SalesforceConfig,
        now: Callable[[], dt.datetime] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        for name, value in (
            ("SALESFORCE_LOGIN_URL", config.login_url),
            ("SALESFORCE_CLIENT_ID", config.client_id),
            ("SALESFORCE_CLIENT_SECRET", config.client_secret),
        ):
            if not value:
                raise SalesforceConfigError(
                    f"{name} is not set: set it in the environment or .streamlit/secrets.toml "
                    "(README, 'Connect Salesforce')"
                )
        if not config.login_url.startswith("https://"):
            raise SalesforceConfigError(
                f"SALESFORCE_LOGIN_URL must be the org's https:// My Domain URL, not {config.login_url!r}"
            )
        self.config = config
        self.stats = ClientStats()
        self._now = now or (lambda: dt.datetime.now(dt.UTC))
        self._sleep = sleep
        self._session = requests.Session()
        self._sf: Salesforce | None = None
        self._since_limits = 0
        self._login()

    # ------------------------------------------------------------------ login and calls

    def _login(self) -> None:
        config = self.config
        data = {
            "grant_type": "client_credentials",
            "client_id": config.client_id,
            "client_secret": config.client_secret,
        }
        self.stats.logins += 1
        try:
            token, instance = token_login(
                config.token_url, data, "login", config.client_id, None, None, session=self._session
            )
        except SalesforceAuthenticationFailed as exc:
            raise SalesforceConfigError(_login_message(exc, config.login_url)) from None
        except requests.RequestException as exc:
            raise SalesforceConfigError(
                f"cannot reach SALESFORCE_LOGIN_URL {config.login_url}: {type(exc).__name__}; "
                "check the URL (the org's My Domain) and the network"
            ) from None
        if not token or not instance:
            raise SalesforceConfigError(
                f"{config.token_url} answered without an access token or instance_url; "
                "check SALESFORCE_LOGIN_URL points at the org's My Domain"
            )
        self.instance_url = f"https://{instance}"  # the org's address: record links start with it
        self._sf = Salesforce(
            instance_url=self.instance_url,
            session_id=token,
            version=config.api_version,
            session=self._session,
        )

    def _call(self, what: str, fn: Callable[[Salesforce], object], count: bool = True):
        """``fn(salesforce)`` with one re-login on an expired session and retries of 5xx/connection errors."""
        if count:
            self._spend()
        relogged = False
        attempt = 0
        while True:
            attempt += 1
            self.stats.requests += 1
            try:
                return fn(self._sf)
            except SalesforceExpiredSession:
                if relogged:
                    raise SalesforceConfigError(
                        f"Salesforce refused a fresh access token for {what} (INVALID_SESSION_ID twice): "
                        "check the connected app's session policies and that its run-as user is active"
                    ) from None
                relogged = True
                self._login()
            except SalesforceRefusedRequest as exc:
                raise _refused(exc, what) from None
            except (SalesforceGeneralError, requests.ConnectionError, requests.Timeout) as exc:
                server = isinstance(exc, SalesforceGeneralError)
                if (server and exc.status < 500) or attempt >= self.config.max_attempts:
                    detail = f"HTTP {exc.status}: {_first_message(exc)}" if server else type(exc).__name__
                    raise SalesforceError(
                        f"Salesforce failed {what} {attempt} times ({detail}); try again later"
                    ) from None
                self.stats.retries += 1
                self._sleep(self.config.backoff_seconds * 2 ** (attempt - 1))
            except SalesforceResourceNotFound as exc:
                raise BulkJobGoneError(f"{what}: not found ({_first_message(exc)})") from None
            except _SdkError as exc:
                code = _error_code(exc)
                if code in ("INVALID_FIELD", "INVALID_TYPE"):
                    raise SalesforceConfigError(
                        f"Salesforce refused {what}: {_first_message(exc)}; give the run-as user read access "
                        f"to {', '.join(READ_ACCESS)} and their fields, or fix the field settings"
                    ) from None
                raise SalesforceError(f"Salesforce refused {what}: {code}: {_first_message(exc)}") from None

    def scrub(self, text: str) -> str:
        """``text`` with the client secret and the current access token replaced by ``***``."""
        for secret in (self.config.client_secret, self._sf.session_id if self._sf else None):
            if secret:
                text = text.replace(secret, "***")
        return text

    # ------------------------------------------------------------------ daily API limit

    def read_limits(self) -> tuple[int, int]:
        """The org's daily API requests (max, remaining), as ``/limits`` reports them now."""
        answer = self._call("reading /limits", lambda sf: sf.limits(), count=False)
        daily = answer.get("DailyApiRequests") or {}
        self.stats.daily_max = int(daily.get("Max", 0))
        self.stats.daily_remaining = int(daily.get("Remaining", 0))
        self._since_limits = 0
        return self.stats.daily_max, self.stats.daily_remaining

    @property
    def daily_left(self) -> int | None:
        """The org's daily API requests left: the last /limits answer minus the requests sent since."""
        if self.stats.daily_remaining is None:
            return None
        return max(self.stats.daily_remaining - self._since_limits, 0)

    def reserve(self) -> int:
        """How many daily requests the sync leaves untouched for the org's other integrations."""
        top = self.stats.daily_max or 0
        return max(int(top * self.config.limit_reserve_share), self.config.limit_reserve_min)

    def _spend(self) -> None:
        """Account for one request; raises SalesforceLimitError before the reserve would be touched."""
        if self.stats.daily_remaining is None or self._since_limits >= self.config.limit_check_every:
            self.read_limits()
        self._since_limits += 1
        left = self.stats.daily_remaining - self._since_limits
        if left <= self.reserve():
            raise self.limit_error(max(left, 0))

    def limit_error(self, left: int) -> SalesforceLimitError:
        """The error that stops a sync at the daily limit, saying when to continue."""
        after = (self._now() + dt.timedelta(hours=24)).replace(second=0, microsecond=0)
        return SalesforceLimitError(
            f"stopped before exhausting the org's daily API limit: {left:,} of "
            f"{self.stats.daily_max or 0:,} requests left, {self.reserve():,} kept for other integrations; "
            f"everything read so far is saved and the next sync continues from there. Salesforce frees "
            f"requests over a rolling 24 hours: run it again after {after:%Y-%m-%d %H:%M} UTC, or sooner "
            "once Setup > Company Information shows more API requests remaining",
            after,
        )

    # ------------------------------------------------------------------ reads

    def describe_fields(self, obj: str) -> frozenset[str]:
        """The names of the fields of ``obj`` the run-as user can read."""
        answer = self._call(f"describing {obj}", lambda sf: getattr(sf, obj).describe())
        return frozenset(f["name"] for f in answer.get("fields", []))

    def query(self, soql: str, what: str) -> Page:
        """The first page of a REST ``queryAll`` (deleted records included, with IsDeleted)."""
        answer = self._call(what, lambda sf: sf.query(soql, include_deleted=True))
        return _page(answer)

    def query_more(self, next_url: str, what: str) -> Page:
        """The page at ``nextRecordsUrl``."""
        answer = self._call(what, lambda sf: sf.query_more(next_url, identifier_is_url=True))
        return _page(answer)

    def query_all(self, soql: str, what: str) -> list[dict]:
        """Every record a REST ``queryAll`` returns, all pages."""
        page = self.query(soql, what)
        records = list(page.records)
        while page.next:
            page = self.query_more(page.next, what)
            records.extend(page.records)
        return records

    def bulk_start(self, obj: str, soql: str) -> str:
        """Create a Bulk API 2.0 ``queryAll`` job for ``soql``; returns its id."""
        answer = self._call(
            f"starting a Bulk query of {obj}",
            lambda sf: getattr(sf.bulk2, obj)._client.create_job("queryAll", soql),
        )
        return str(answer["id"])

    def bulk_wait(self, obj: str, job_id: str) -> None:
        """Poll job ``job_id`` until it completes; a failed or aborted job is a SalesforceError."""
        wait = self.config.bulk_poll_seconds
        while True:
            info = self._call(
                f"polling the Bulk query of {obj}",
                lambda sf: getattr(sf.bulk2, obj)._client.get_job(job_id, True),
            )
            state = info.get("state")
            if state == "JobComplete":
                return
            if state in ("Failed", "Aborted"):
                raise SalesforceError(
                    f"Salesforce's Bulk query of {obj} {state.lower()}: {info.get('errorMessage') or state}"
                )
            self._sleep(wait)
            wait = min(wait * 1.5, 5.0)

    def bulk_page(self, obj: str, job_id: str, locator: str | None) -> Page:
        """One CSV results page of a completed job, as dicts (empty cells are None)."""
        try:
            answer = self._call(
                f"reading the Bulk query results of {obj}",
                lambda sf: getattr(sf.bulk2, obj)._client.get_query_results(
                    job_id, locator or "", self.config.bulk_page_size
                ),
            )
        except SalesforceOperationError as exc:
            raise SalesforceError(f"Salesforce's Bulk query of {obj} failed: {exc}") from None
        reader = csv.DictReader(io.StringIO(answer["records"]))
        records = [{k: (v if v != "" else None) for k, v in row.items()} for row in reader]
        return Page(records, answer["locator"] or None)

    def deleted_ids(self, obj: str, start: dt.datetime, end: dt.datetime) -> list[str]:
        """Ids of ``obj`` records deleted between ``start`` and ``end`` (the ``deleted`` endpoint)."""
        answer = self._call(f"listing deleted {obj} records", lambda sf: getattr(sf, obj).deleted(start, end))
        return [str(r["id"]) for r in answer.get("deletedRecords", [])]


def _page(answer: dict) -> Page:
    records = [{k: v for k, v in r.items() if k != "attributes"} for r in answer.get("records", [])]
    return Page(records, None if answer.get("done", True) else answer.get("nextRecordsUrl"))


def _errors(exc: _SdkError) -> list[dict]:
    content = exc.content
    if isinstance(content, dict):
        content = [content]
    return [c for c in content if isinstance(c, dict)] if isinstance(content, list) else []


def _error_code(exc: _SdkError) -> str:
    errors = _errors(exc)
    return str(errors[0].get("errorCode", "")) if errors else ""


def _first_message(exc: _SdkError) -> str:
    errors = _errors(exc)
    text = str(errors[0].get("message", "")) if errors else str(exc.content)[:300]
    return " ".join(text.split())


def _refused(exc: SalesforceRefusedRequest, what: str) -> SalesforceError:
    code = _error_code(exc)
    if code == "REQUEST_LIMIT_EXCEEDED":
        return SalesforceLimitError(
            "Salesforce refused the request: the org's daily API limit is used up (REQUEST_LIMIT_EXCEEDED); "
            "everything read so far is saved and the next sync continues from there. Run it again once "
            "Setup > Company Information shows API requests remaining (they free up over 24 hours)",
            dt.datetime.now(dt.UTC) + dt.timedelta(hours=24),
        )
    if code in ("API_DISABLED_FOR_ORG", "API_CURRENTLY_DISABLED"):
        return SalesforceConfigError(
            f"Salesforce refused API access ({code}): give the connected app's run-as user the "
            "'API Enabled' permission (profile or permission set); the org's edition must include the API"
        )
    return SalesforceConfigError(
        f"Salesforce refused {what} ({code or 'HTTP 403'}: {_first_message(exc)}); give the run-as user "
        f"read access to {', '.join(READ_ACCESS)}"
    )


def _login_message(exc: SalesforceAuthenticationFailed, login_url: str) -> str:
    code = str(exc.code or "")
    said = " ".join(str(exc.auth_message or "").split())[:200]
    if code == "invalid_client_id":
        return f"Salesforce at {login_url} does not know SALESFORCE_CLIENT_ID ({said}): copy the consumer key again"
    if code == "invalid_client":
        return (
            f"Salesforce at {login_url} refused SALESFORCE_CLIENT_ID / SALESFORCE_CLIENT_SECRET ({said}): "
            "copy the connected app's consumer key and secret again"
        )
    if code == "invalid_grant":
        return (
            f"Salesforce at {login_url} refused the client credentials flow ({said}): enable it on the "
            "connected app and set its run-as user (README, 'Connect Salesforce')"
        )
    return f"Salesforce at {login_url} refused the login ({code or 'no code'}: {said}); check SALESFORCE_LOGIN_URL"
