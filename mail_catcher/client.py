"""Read the catcher's JSON API: what tests and `make doctor` use."""

from __future__ import annotations

import time
from typing import Any, Callable

import httpx


class MailCatcherClient:
    """The inbox of a running catcher, over HTTP."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def messages(self, to: str | None = None) -> list[dict[str, Any]]:
        """Return the messages received (to one address, if given), oldest first."""
        params = {"to": to} if to else {}
        return httpx.get(f"{self.url}/api/messages", params=params, timeout=5).json()["messages"]

    def wait_for(self, to: str, count: int = 1, timeout: float = 20.0,
                 where: Callable[[dict[str, Any]], bool] = lambda m: True) -> list[dict[str, Any]]:
        """Wait until `to` has at least `count` messages matching `where`; return them."""
        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in self.messages(to) if where(m)]
            if len(found) >= count or time.monotonic() > deadline:
                if len(found) < count:
                    raise AssertionError(f"{to} got {len(found)} of {count} emails in {timeout} s: {found}")
                return found
            time.sleep(0.1)

    def clear(self) -> None:
        """Forget every message."""
        httpx.delete(f"{self.url}/api/messages", timeout=5)

    def stop_smtp(self) -> None:
        """Stop the SMTP server (connections refused) until `start_smtp`."""
        httpx.post(f"{self.url}/api/smtp/stop", timeout=10)

    def start_smtp(self) -> None:
        """Start the SMTP server again."""
        httpx.post(f"{self.url}/api/smtp/start", timeout=10)

    def set_fault(self, mode: str | None) -> None:
        """Answer every message with 451 ("tempfail") or accept again (None)."""
        httpx.post(f"{self.url}/api/fault", json={"mode": mode}, timeout=5)
