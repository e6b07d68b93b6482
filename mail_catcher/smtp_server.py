"""The catcher's SMTP side: aiosmtpd's Controller runs the server in a thread of its own."""

from __future__ import annotations

from typing import Any

from aiosmtpd.controller import Controller

from mail_catcher.inbox import Inbox


class CatchingHandler:
    """An aiosmtpd handler that keeps every message in the inbox (or refuses it with 451 when told to)."""

    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Keep the message; answer 250, or 451 while the inbox's fault says so."""
        if self.inbox.fault == "tempfail":
            return "451 4.3.0 Try again later"
        self.inbox.add(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content or envelope.content)
        return "250 2.0.0 Message accepted"


class SmtpServer:
    """A restartable SMTP server on a fixed host and port (tests stop it and start it again)."""

    def __init__(self, inbox: Inbox, host: str = "127.0.0.1", port: int = 1025) -> None:
        self.inbox, self.host, self.port = inbox, host, port
        self._controller: Controller | None = None

    def start(self) -> None:
        """Start accepting mail."""
        # auth_require_tls off: the catcher takes plain local mail, no credentials.
        self._controller = Controller(CatchingHandler(self.inbox), hostname=self.host, port=self.port,
                                      auth_require_tls=False, ready_timeout=10)
        self._controller.start()

    def stop(self) -> None:
        """Stop accepting mail (connections are refused until `start`)."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def running(self) -> bool:
        """Tell whether the server accepts mail now."""
        return self._controller is not None
