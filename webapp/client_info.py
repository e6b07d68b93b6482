"""Who is asking: the client's IP (after ProxyFix) and User-Agent, for prompts and logs."""

from __future__ import annotations

from flask import request

from core import client_addresses


def client_ip() -> str | None:
    """Return the client's IP address as the trusted proxies report it."""
    return request.remote_addr


def client_key() -> str:
    """Return the key per-address limits count this client under (IPv6 by its /64)."""
    return client_addresses.limit_key(client_ip())


def user_agent() -> str | None:
    """Return the client's User-Agent header, if any."""
    return request.headers.get("User-Agent") or None
