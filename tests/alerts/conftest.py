"""Fixtures of the alert tests: a local SMTP server and a local Slack."""

from __future__ import annotations

import pytest

from tests.alerts.servers import FakeSlack, MailServer


@pytest.fixture
def mail_server():
    server = MailServer().start()
    yield server
    server.stop()


@pytest.fixture
def slack():
    server = FakeSlack().start()
    yield server
    server.stop()
