"""Who is asking: the client's IP (after ProxyFix) and User-Agent, for prompts and logs."""

from __future__ import annotations

from flask import request


def client_ip() -> str | None:
    """Return the client's IP address as the trusted proxies report it."""
    return request.remote_addr


def user_agent() -> str | None:
    """Return the client's User-Agent header, if any."""
    return request.headers.get("User-Agent") or None
