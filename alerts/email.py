"""Alert e-mails over SMTP: the standard library's ``smtplib`` and ``email.message``.

One message is HTML with a plain-text alternative (and attachments, e.g. the meeting pack PDF).
The connection switches to TLS (STARTTLS) before logging in when :attr:`SmtpConfig.starttls` is set.
Failures become :class:`ChannelError` with one line that names the setting to check; the password
never appears in it.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from errors import AccordError


class ChannelError(AccordError, RuntimeError):
    """A message could not be delivered to its channel; the text is one line naming what to check.

    ``retry`` is False when sending again cannot help before the configuration changes.
    """

    def __init__(self, message: str, retry: bool = True):
        super().__init__(message)
        self.retry = retry


@dataclass(frozen=True)
class SmtpConfig:
    """How to reach the SMTP server (from the ACCORD_SMTP_* settings)."""

    host: str | None
    port: int = 587
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str = "accord@localhost"
    starttls: bool = True
    timeout: float = 30.0
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Attachment:
    """A file attached to an e-mail."""

    filename: str
    content: bytes
    mime: str = "application/pdf"


def build_message(
    sender: str,
    to: str,
    subject: str,
    text: str,
    html: str,
    attachments: Iterable[Attachment] = (),
) -> EmailMessage:
    """Return an e-mail with a plain-text part, an HTML alternative and ``attachments``."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2].strip("> ") or "accord")
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    for item in attachments:
        maintype, _, subtype = item.mime.partition("/")
        message.add_attachment(item.content, maintype=maintype, subtype=subtype, filename=item.filename)
    return message


def send_email(config: SmtpConfig, message: EmailMessage) -> None:
    """Hand ``message`` to the SMTP server; raises :class:`ChannelError` saying which setting to check."""
    if not config.host:
        raise ChannelError("ACCORD_SMTP_HOST is not set: no e-mail alert can be sent", retry=False)
    where = f"{config.host}:{config.port}"
    try:
        with smtplib.SMTP(config.host, config.port, timeout=config.timeout) as smtp:
            smtp.ehlo()
            if config.starttls:
                smtp.starttls(context=config.ssl_context or ssl.create_default_context())
                smtp.ehlo()
            if config.user:
                smtp.login(config.user, config.password or "")
            smtp.send_message(message)
    except smtplib.SMTPAuthenticationError:
        raise ChannelError(
            f"SMTP server {where} refused the login of ACCORD_SMTP_USER {config.user!r}: "
            "check ACCORD_SMTP_USER and ACCORD_SMTP_PASSWORD",
            retry=False,
        ) from None
    except smtplib.SMTPNotSupportedError as exc:
        raise ChannelError(
            f"SMTP server {where} does not support {_first_word(exc)}: check ACCORD_SMTP_STARTTLS "
            "and ACCORD_SMTP_PORT",
            retry=False,
        ) from None
    except smtplib.SMTPRecipientsRefused as exc:
        refused = ", ".join(exc.recipients)
        raise ChannelError(f"SMTP server {where} refused the recipient {refused}", retry=False) from None
    except ssl.SSLError as exc:
        raise ChannelError(
            f"TLS with SMTP server {where} failed ({exc.reason}): check ACCORD_SMTP_STARTTLS "
            "and the server's certificate"
        ) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise ChannelError(
            f"SMTP server {where} (ACCORD_SMTP_HOST, ACCORD_SMTP_PORT) failed: {_one_line(exc)}"
        ) from None


def _first_word(exc: Exception) -> str:
    text = str(exc).split()
    return text[0] if text else "that"


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
