"""Which requests come from "one client" as far as per-address limits are concerned.

An IPv4 address is one client. An IPv6 address is not: a home or a cloud server is routinely given
a whole /64 (2^64 addresses) and may use a fresh address per request (RFC 8981 temporary
addresses, or simply by choice), so a limit keyed by the full address would not limit anyone. The
/64 is the smallest block an ISP or a host assigns to one customer (RFC 6177), so every per-address
limit keys IPv6 by its /64. An IPv4-mapped IPv6 address (`::ffff:203.0.113.7`, from a dual-stack
socket) is the IPv4 client it names.
"""

from __future__ import annotations

import ipaddress

IPV6_CLIENT_PREFIX = 64
# The key of requests whose address is unknown or unreadable: they share one budget.
UNKNOWN_CLIENT = "-"


def limit_key(address: str | None) -> str:
    """Return the key that every per-address limit counts this client address under."""
    if not address:
        return UNKNOWN_CLIENT
    try:
        parsed = ipaddress.ip_address(address.strip())
    except ValueError:
        return UNKNOWN_CLIENT
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(parsed), IPV6_CLIENT_PREFIX), strict=False))
    return str(parsed)
