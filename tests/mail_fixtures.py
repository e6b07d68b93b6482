"""A real SMTP server for tests: the mail catcher, in threads of the test process.

Registered for every layer by tests/conftest.py, like the emulator: one catcher per session;
`mailbox` empties it for each test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import pytest

from devstack.services import free_port
from mail_catcher.client import MailCatcherClient
from mail_catcher.inbox import Inbox
from mail_catcher.smtp_server import SmtpServer
from mail_catcher.web import WebServer


@dataclass
class RunningCatcher:
    """The catcher's SMTP URL, its inbox, its SMTP server (to stop and start) and its web API."""

    smtp_url: str
    inbox: Inbox
    smtp: SmtpServer
    client: MailCatcherClient


@pytest.fixture(scope="session")
def mail_catcher() -> Iterator[RunningCatcher]:
    """Serve one mail catcher for the whole session."""
    inbox = Inbox()
    smtp = SmtpServer(inbox, port=free_port())
    web = WebServer(inbox, smtp, port=free_port())
    smtp.start()
    web.start()
    yield RunningCatcher(f"smtp://127.0.0.1:{smtp.port}", inbox, smtp,
                         MailCatcherClient(f"http://127.0.0.1:{web.httpd.server_address[1]}"))
    web.stop()
    smtp.stop()


@pytest.fixture
def mailbox(mail_catcher: RunningCatcher) -> Iterator[RunningCatcher]:
    """Return the session's catcher, emptied, accepting mail, without faults."""
    mail_catcher.inbox.clear()
    mail_catcher.inbox.fault = None
    if not mail_catcher.smtp.running:
        mail_catcher.smtp.start()
    yield mail_catcher
