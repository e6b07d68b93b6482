"""Open an SMTP connection as SMTP_URL says (smtps: implicit TLS; smtp: STARTTLS, required with
credentials; a plain local relay otherwise), send one message, or just check that it works."""

from __future__ import annotations

import contextlib
import smtplib
import ssl
from email.message import EmailMessage
from typing import Iterator

from core.email_config import SmtpServer, parse_smtp_url

TIMEOUT_SECONDS = 10.0

# What makes sending worth another try later: the server is away, slow, or says "not now" (4xx).
TRANSIENT_ERRORS = (OSError, smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError)


@contextlib.contextmanager
def connection(smtp_url: str, timeout: float = TIMEOUT_SECONDS) -> Iterator[smtplib.SMTP]:
    """Yield a connected, greeted (and logged-in, if the URL has credentials) SMTP client."""
    server = parse_smtp_url(smtp_url)
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if server.implicit_tls:
        client = smtplib.SMTP_SSL(server.host, server.port, timeout=timeout, context=context)
    else:
        client = smtplib.SMTP(server.host, server.port, timeout=timeout)
    try:
        client.ehlo()
        _upgrade(client, server, context)
        if server.username:
            client.login(server.username, server.password)
        yield client
    finally:
        with contextlib.suppress(Exception):
            client.quit()
        client.close()


def _upgrade(client: smtplib.SMTP, server: SmtpServer, context: ssl.SSLContext) -> None:
    """Switch to TLS with STARTTLS when offered; refuse to send credentials in clear."""
    if server.implicit_tls:
        return
    if client.has_extn("starttls"):
        client.starttls(context=context)
        client.ehlo()
    elif server.requires_starttls:
        raise smtplib.SMTPNotSupportedError("the server does not offer STARTTLS; credentials are not sent in clear")


def send(smtp_url: str, message: EmailMessage) -> None:
    """Send one message; raise smtplib/OS errors as they come."""
    with connection(smtp_url) as client:
        client.send_message(message)


def is_transient(exc: BaseException) -> bool:
    """Tell whether a send failure may pass (the server away, or a 4xx answer): worth retrying."""
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in exc.recipients.values())
    return isinstance(exc, TRANSIENT_ERRORS)


def check(smtp_url: str, timeout: float = 5.0) -> str:
    """Connect, upgrade, log in and say NOOP; return what the server said (for `doctor`)."""
    with connection(smtp_url, timeout) as client:
        code, reply = client.noop()
        return f"{code} {reply.decode(errors='replace')}"
