"""E-mail through a real SMTP server (aiosmtpd, STARTTLS and login) and Slack through a local server of its wire format."""

from __future__ import annotations

import logging
import ssl

import pytest
import trustme

from alerts.email import Attachment, ChannelError, SmtpConfig, build_message, send_email
from alerts.slack import SlackTarget, send_slack
from tests.alerts.servers import MailServer, free_port

PASSWORD = "smtp-pass-9f8e7d6c5b4a"
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@pytest.fixture
def tls_mail_server():
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    server = MailServer(tls_context=server_context, user="accord", password=PASSWORD).start()
    yield server, client_context
    server.stop()


def test_an_email_goes_over_starttls_with_login_as_html_text_and_pdf(tls_mail_server):
    server, context = tls_mail_server
    config = SmtpConfig("127.0.0.1", server.port, "accord", PASSWORD, "Accord <alerts@example.com>", True,
                        ssl_context=context)  # fmt: skip
    message = build_message(config.sender, "ann@example.com", "Follow up lead 901", "Plain words\n",
                            "<p>HTML <b>words</b></p>", [Attachment("pack.pdf", PDF)])  # fmt: skip
    send_email(config, message)
    assert server.logins == ["accord"]
    [got] = server.received
    assert got["Subject"] == "Follow up lead 901" and got["To"] == "ann@example.com"
    assert got.get_body(("plain",)).get_content().rstrip() == "Plain words"
    assert "<b>words</b>" in got.get_body(("html",)).get_content()
    [pdf] = list(got.iter_attachments())
    assert pdf.get_filename() == "pack.pdf" and pdf.get_content_type() == "application/pdf"
    assert pdf.get_content() == PDF
    assert server.envelopes == [("alerts@example.com", ["ann@example.com"])]


def test_a_server_that_requires_starttls_refuses_plain_text(tls_mail_server):
    server, _ = tls_mail_server
    config = SmtpConfig("127.0.0.1", server.port, "accord", PASSWORD, starttls=False)
    with pytest.raises(ChannelError) as caught:
        send_email(config, build_message("a@x.com", "b@x.com", "s", "t", "<p>t</p>"))
    assert "ACCORD_SMTP" in str(caught.value) and PASSWORD not in str(caught.value)


def test_a_wrong_password_names_the_settings_not_the_password(tls_mail_server):
    server, context = tls_mail_server
    config = SmtpConfig("127.0.0.1", server.port, "accord", "wrong-password-123", ssl_context=context)
    with pytest.raises(ChannelError) as caught:
        send_email(config, build_message("a@x.com", "b@x.com", "s", "t", "<p>t</p>"))
    text = str(caught.value)
    assert "ACCORD_SMTP_PASSWORD" in text and "wrong-password-123" not in text and not caught.value.retry
    assert server.received == []


def test_no_smtp_host_is_one_line_naming_the_setting():
    with pytest.raises(ChannelError, match="^ACCORD_SMTP_HOST is not set"):
        send_email(SmtpConfig(None), build_message("a@x.com", "b@x.com", "s", "t", "<p>t</p>"))


def test_an_unreachable_smtp_server_may_be_retried():
    port = free_port()  # nothing listens there
    with pytest.raises(ChannelError, match="ACCORD_SMTP_HOST, ACCORD_SMTP_PORT") as caught:
        send_email(SmtpConfig("127.0.0.1", port, starttls=False, timeout=2),
                   build_message("a@x.com", "b@x.com", "s", "t", "<p>t</p>"))  # fmt: skip
    assert caught.value.retry


BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "<http://crm/1|lead 1> is due"}}]


def test_a_webhook_post_carries_text_and_blocks(slack, caplog):
    url = slack.webhook("emea")
    with caplog.at_level(logging.DEBUG):
        send_slack(
            SlackTarget("team EMEA", "[accord.alerts] teams.EMEA.slack_webhook_url", url), "Due", BLOCKS
        )
    [post] = slack.posts
    assert post["via"] == "webhook" and post["text"] == "Due" and post["blocks"] == BLOCKS
    assert url not in caplog.text and url.rsplit("/", 1)[1] not in caplog.text


def test_a_429_is_retried_after_its_retry_after(slack):
    slack.rate_limit, slack.retry_after = 1, 1
    send_slack(SlackTarget("team EMEA", "x", slack.webhook("emea")), "Due", BLOCKS)
    [limited] = slack.limited
    [post] = slack.posts
    assert post["at"] - limited >= 1.0  # waited as Slack asked


def test_a_webhook_that_answers_404_names_the_setting_not_the_url(slack, caplog):
    url = slack.webhook("gone")
    slack.hooks.clear()
    with caplog.at_level(logging.DEBUG), pytest.raises(ChannelError) as caught:
        send_slack(
            SlackTarget("team EMEA", "[accord.alerts] teams.EMEA.slack_webhook_url", url), "Due", BLOCKS
        )
    text = str(caught.value)
    assert "404" in text and "teams.EMEA.slack_webhook_url" in text and not caught.value.retry
    assert "gonesecret" not in text and "gonesecret" not in caplog.text


def test_chat_post_message_with_a_bot_token(slack, caplog):
    target = SlackTarget("team US", "[accord.alerts] teams.US.slack_channel", channel="#us-sales")
    slack.rate_limit = 1
    with caplog.at_level(logging.DEBUG):
        send_slack(target, "Due", BLOCKS, bot_token=slack.token, api_url=slack.api_url)
    [post] = slack.posts
    assert post["via"] == "api" and post["channel"] == "#us-sales" and post["blocks"] == BLOCKS
    assert len(slack.limited) == 1
    assert slack.token not in caplog.text


def test_a_bad_token_or_channel_names_what_to_fix(slack):
    target = SlackTarget("team US", "[accord.alerts] teams.US.slack_channel", channel="#us-sales")
    with pytest.raises(ChannelError, match="invalid_auth: check ACCORD_SLACK_BOT_TOKEN") as caught:
        send_slack(target, "Due", BLOCKS, bot_token="xoxb-wrong-000000000", api_url=slack.api_url)
    assert "xoxb-wrong" not in str(caught.value)
    nowhere = SlackTarget("team US", "[accord.alerts] teams.US.slack_channel", channel="#nowhere")
    with pytest.raises(
        ChannelError, match=r"channel_not_found: check \[accord.alerts\] teams.US.slack_channel"
    ):
        send_slack(nowhere, "Due", BLOCKS, bot_token=slack.token, api_url=slack.api_url)
    with pytest.raises(ChannelError, match="needs ACCORD_SLACK_BOT_TOKEN, which is not set"):
        send_slack(target, "Due", BLOCKS, api_url=slack.api_url)
