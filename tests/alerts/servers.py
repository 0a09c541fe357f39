"""Local servers the alert tests talk to: a real SMTP server (aiosmtpd) and a Slack that speaks the wire format.

``MailServer`` keeps every message it accepted, parsed with the standard library, and can require
STARTTLS and a login (certificate from ``trustme``). ``FakeSlack`` answers incoming-webhook posts at
``/services/<path>`` (200 ``ok``; 404 ``no_service`` for an unknown hook) and ``chat.postMessage``
at ``/api/chat.postMessage`` (JSON ``{"ok": ...}``, bearer token checked), and can answer 429 with a
``Retry-After`` header to the next ``rate_limit`` requests.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _Handler:
    def __init__(self, server: MailServer):
        self.server = server

    async def handle_DATA(self, smtp_server, session, envelope):
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self.server.lock:
            self.server.received.append(message)
            self.server.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        if self.server.delay:
            time.sleep(self.server.delay)  # holds the client waiting for "250": where a kill -9 lands
        return "250 Message accepted for delivery"


class MailServer:
    """An aiosmtpd SMTP server on a free local port; ``received`` holds the parsed messages."""

    def __init__(
        self, *, tls_context=None, user: str | None = None, password: str | None = None, delay: float = 0
    ):
        self.received: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.lock = threading.Lock()
        self.delay = delay
        self.logins: list[str] = []
        kwargs = {}
        if tls_context is not None:
            kwargs.update(tls_context=tls_context, require_starttls=True)
        if user is not None:

            def authenticate(server, session, envelope, mechanism, auth_data):
                ok = (
                    isinstance(auth_data, LoginPassword)
                    and auth_data.login.decode() == user
                    and (auth_data.password.decode() == password)
                )
                if ok:
                    self.logins.append(user)
                return AuthResult(success=ok, handled=False)

            kwargs.update(
                authenticator=authenticate, auth_required=True, auth_require_tls=tls_context is not None
            )
        self.port = free_port()
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port, **kwargs)

    def start(self) -> MailServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


class FakeSlack:
    """Slack's incoming webhooks and Web API (chat.postMessage) on a free local port."""

    def __init__(self, token: str = "xoxb-test-token-0123456789"):
        self.token = token
        self.hooks: set[str] = set()
        self.posts: list[dict] = []  # {"via": "webhook"/"api", "hook" / "channel", "text", "blocks"}
        self.rate_limit = 0  # answer 429 to this many next requests
        self.retry_after = 1
        self.limited: list[float] = []
        self.lock = threading.Lock()
        slack = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def _answer(self, status: int, body: str, content_type: str = "text/plain", headers=()):
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with slack.lock:
                    if slack.rate_limit > 0:
                        slack.rate_limit -= 1
                        slack.limited.append(time.monotonic())
                        return self._answer(
                            429, "rate_limited", headers=[("Retry-After", str(slack.retry_after))]
                        )
                if self.path.startswith("/services/"):
                    hook = self.path.removeprefix("/services/")
                    if hook not in slack.hooks:
                        return self._answer(404, "no_service")
                    payload = json.loads(raw)
                    with slack.lock:
                        slack.posts.append(
                            {"via": "webhook", "hook": hook, **payload, "at": time.monotonic()}
                        )
                    return self._answer(200, "ok")
                if self.path == "/api/chat.postMessage":
                    if self.headers.get("Authorization") != f"Bearer {slack.token}":
                        return self._answer(
                            200, json.dumps({"ok": False, "error": "invalid_auth"}), "application/json"
                        )
                    if self.headers.get("Content-Type", "").startswith("application/json"):
                        payload = json.loads(raw)
                    else:
                        from urllib.parse import parse_qsl

                        payload = dict(parse_qsl(raw.decode()))
                        if "blocks" in payload:
                            payload["blocks"] = json.loads(payload["blocks"])
                    if payload.get("channel") == "#nowhere":
                        return self._answer(200, json.dumps({"ok": False, "error": "channel_not_found"}),
                                            "application/json")  # fmt: skip
                    with slack.lock:
                        slack.posts.append({"via": "api", **payload, "at": time.monotonic()})
                    body = {
                        "ok": True,
                        "channel": "C0123",
                        "ts": f"{time.time():.6f}",
                        "message": {"text": payload.get("text")},
                    }
                    return self._answer(200, json.dumps(body), "application/json")
                return self._answer(404, "not found")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def webhook(self, name: str) -> str:
        """Register a webhook and return its URL (a secret, as Slack's are)."""
        path = f"T000/B{name}/{'x' * 8}{name}secret"
        self.hooks.add(path)
        return f"http://127.0.0.1:{self.port}/services/{path}"

    def start(self) -> FakeSlack:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
