"""The rule of which addresses are one client for per-address limits."""

from __future__ import annotations

import pytest

from core import client_addresses


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("fe80::1%eth0", "fe80::/64"),
        (" 203.0.113.7 ", "203.0.113.7"),
    ],
)
def test_ipv4_is_one_client_and_ipv6_is_keyed_by_its_64(address, key):
    assert client_addresses.limit_key(address) == key


@pytest.mark.parametrize("address", [None, "", "not an address", "203.0.113.300"])
def test_an_unknown_or_unreadable_address_shares_one_key(address):
    assert client_addresses.limit_key(address) == client_addresses.UNKNOWN_CLIENT
