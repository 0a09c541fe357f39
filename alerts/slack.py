"""Alerts to Slack through ``slack_sdk``: an incoming webhook, or a bot token with ``chat.postMessage``.

Both honour Slack's rate limit: a 429 answer is retried after its ``Retry-After`` seconds
(``slack_sdk``'s :class:`RateLimitErrorRetryHandler`), up to ``rate_limit_retries`` times. Webhook
URLs and tokens are secrets: errors name the setting, never the value, and the SDK's own log lines
pass through a filter that masks them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.web import WebClient
from slack_sdk.webhook import WebhookClient

from alerts.email import ChannelError
from settings import mask

LOG = logging.getLogger("accord.alerts.slack")


@dataclass(frozen=True)
class SlackTarget:
    """A Slack destination: a webhook URL, or a channel for the bot token; ``setting`` names where it is set."""

    label: str
    setting: str
    webhook_url: str | None = field(default=None, repr=False)
    channel: str | None = None


class _Masking(logging.Filter):
    """Replaces secrets in the SDK's log records (it logs request URLs at debug level)."""

    def __init__(self, secrets: Sequence[str]):
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        for secret in self.secrets:
            text = text.replace(secret, mask(secret))
        record.msg, record.args = text, ()
        return True


def send_slack(
    target: SlackTarget,
    text: str,
    blocks: list[dict],
    *,
    bot_token: str | None = None,
    api_url: str | None = None,
    rate_limit_retries: int = 3,
    timeout: int = 30,
) -> None:
    """Post ``text`` and ``blocks`` to ``target``; raises :class:`ChannelError` naming the setting to check."""
    secrets = [target.webhook_url or "", bot_token or ""]
    logger = logging.getLogger(f"{LOG.name}.sdk")
    if not any(isinstance(f, _Masking) and f.secrets == [s for s in secrets if s] for f in logger.filters):
        for old in list(logger.filters):
            logger.removeFilter(old)
        logger.addFilter(_Masking(secrets))
    retry = [RateLimitErrorRetryHandler(max_retry_count=rate_limit_retries)]
    if target.webhook_url:
        client = WebhookClient(target.webhook_url, timeout=timeout, retry_handlers=retry, logger=logger)
        try:
            response = client.send(text=text, blocks=blocks)
        except OSError as exc:
            raise ChannelError(f"Slack webhook of {target.label} ({target.setting}) unreachable: "
                               f"{_clean(exc, secrets)}") from None  # fmt: skip
        if response.status_code == 200:
            return
        body = _clean(response.body, secrets)[:200]
        permanent = response.status_code in (400, 403, 404, 410)
        raise ChannelError(
            f"Slack webhook of {target.label} answered {response.status_code} {body!r}: check {target.setting}",
            retry=not permanent,
        )
    if not target.channel:
        raise ChannelError(
            f"no Slack webhook or channel for {target.label}: set {target.setting}", retry=False
        )
    if not bot_token:
        raise ChannelError(
            f"Slack channel {target.channel} of {target.label} needs ACCORD_SLACK_BOT_TOKEN, which is not set",
            retry=False,
        )
    kwargs = {"base_url": api_url} if api_url else {}
    client = WebClient(token=bot_token, timeout=timeout, retry_handlers=retry, logger=logger, **kwargs)
    try:
        client.chat_postMessage(channel=target.channel, text=text, blocks=blocks)
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else None
        permanent = error in (
            "invalid_auth",
            "not_authed",
            "channel_not_found",
            "not_in_channel",
            "account_inactive",
        )
        setting = "ACCORD_SLACK_BOT_TOKEN" if error in ("invalid_auth", "not_authed") else target.setting
        raise ChannelError(
            f"Slack chat.postMessage to {target.channel} ({target.label}) failed: {error}: check {setting}",
            retry=not permanent,
        ) from None
    except OSError as exc:
        raise ChannelError(f"Slack API unreachable for {target.label}: {_clean(exc, secrets)}") from None


def _clean(value: object, secrets: Sequence[str]) -> str:
    text = " ".join(str(value).split())
    for secret in secrets:
        if secret:
            text = text.replace(secret, mask(secret))
    return text
