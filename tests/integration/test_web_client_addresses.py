"""Per-address limits count an IPv6 client by its /64: a fresh address of the same /64 is the same client."""

from __future__ import annotations

import secrets

from tests.integration.test_web_limits import (
    DEFAULT_LIMITS,
    GARBAGE_TOKEN,
    assert_rate_limited,
    client_from,
    init,
    random_phone,
)


def random_64() -> str:
    """Return a documentation-range IPv6 /64 prefix (its first four groups) no other test uses."""
    return f"2001:db8:{secrets.randbelow(0x10000):x}:{secrets.randbelow(0x10000):x}"


def test_init_per_ip_counts_every_address_of_an_ipv6_64_as_one_client(make_app):
    app = make_app(**DEFAULT_LIMITS)
    prefix = random_64()
    for n in range(10):
        assert init(client_from(app, f"{prefix}::{n + 1:x}"), random_phone()).status_code == 201

    assert_rate_limited(init(client_from(app, f"{prefix}:ffff:ffff:ffff:ffff"), random_phone()), max_wait=60)
    assert init(client_from(app, f"{random_64()}::1"), random_phone()).status_code == 201  # another /64


def test_behind_a_trusted_proxy_a_forwarded_ipv6_client_is_counted_by_its_64(make_app):
    proxied = client_from(make_app(**DEFAULT_LIMITS, trusted_proxy_count=1), "127.0.0.1")
    prefix = random_64()
    for n in range(10):
        assert init(proxied, random_phone(), **{"X-Forwarded-For": f"{prefix}:{n + 1:x}::1"}).status_code == 201

    assert_rate_limited(init(proxied, random_phone(), **{"X-Forwarded-For": f"{prefix}::abcd"}))


def test_an_ipv4_mapped_address_is_the_ipv4_client(make_app):
    app = make_app(**DEFAULT_LIMITS)
    ipv4 = f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{1 + secrets.randbelow(254)}"
    for _ in range(5):
        assert init(client_from(app, ipv4), random_phone()).status_code == 201
        assert init(client_from(app, f"::ffff:{ipv4}"), random_phone()).status_code == 201

    assert_rate_limited(init(client_from(app, f"::ffff:{ipv4}"), random_phone()))


def test_guessing_refresh_tokens_from_many_addresses_of_one_64_spends_one_budget(make_app):
    app = make_app(**DEFAULT_LIMITS)
    prefix = random_64()
    for n in range(60):
        response = client_from(app, f"{prefix}::{n + 1:x}").post("/api/auth/refresh", json={"refresh_token": GARBAGE_TOKEN})
        assert response.status_code == 401

    response = client_from(app, f"{prefix}::beef").post("/api/auth/refresh", json={"refresh_token": GARBAGE_TOKEN})
    assert_rate_limited(response, max_wait=60)
