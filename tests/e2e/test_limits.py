"""The default rate limits, end to end: a web server started from the Procfile with the contract's
defaults (the suite's main one has generous limits), behind one trusted proxy so that each test
can come from an IP of its own."""

from __future__ import annotations

import itertools
import time
import urllib.parse
from typing import Iterator

import httpx
import pytest

from core.settings import Settings
from tests.e2e.people import TelegramPerson, prompt_buttons, unique_phone
from tests.e2e.system import System

DEFAULTS = Settings()
_ips = itertools.count(1)


@pytest.fixture(scope="module")
def limited_web(system: System) -> str:
    """Start a web server with the default limits; return its URL."""
    return system.start_web(
        "web-limits",
        RATE_LIMIT_INIT_PER_IP=DEFAULTS.rate_limit_init_per_ip,
        RATE_LIMIT_INIT_PER_PHONE=DEFAULTS.rate_limit_init_per_phone,
        PROMPT_BUDGET_PER_PHONE=DEFAULTS.prompt_budget_per_phone,
        RATE_LIMIT_REFRESH_PER_FAMILY=DEFAULTS.rate_limit_refresh_per_family,
        RATE_LIMIT_REFRESH_PER_IP=DEFAULTS.rate_limit_refresh_per_ip,
        RATE_LIMIT_POLL_BURST=str(DEFAULTS.rate_limit_poll_burst),
        TRUSTED_PROXY_COUNT="1",
    )


@pytest.fixture
def http(system: System, limited_web: str) -> Iterator[httpx.Client]:
    """Return an HTTP client of the limited web server."""
    with system.http(limited_web) as client:
        yield client


def new_ip() -> str:
    """Return a client IP (as the trusted proxy reports it) that no other test used."""
    n = next(_ips) + int(time.time()) % 1000 * 100
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def init(http: httpx.Client, phone: str, ip: str) -> httpx.Response:
    """Start a login for a phone, coming from `ip`."""
    return http.post("/api/auth/init", json={"phone_number": phone}, headers={"X-Forwarded-For": ip})


def assert_429(response: httpx.Response, code: str) -> int:
    """Assert a 429 with the error shape and a whole-seconds Retry-After; return it."""
    assert response.status_code == 429, response.text
    assert response.json() == {"error": {"code": code, "message": response.json()["error"]["message"]}}
    assert response.headers["Retry-After"].isdigit()
    wait = int(response.headers["Retry-After"])
    assert wait >= 1
    return wait


def prompts(person: TelegramPerson) -> list[dict]:
    """Return the person's messages that carry inline buttons (approval prompts)."""
    return [m for m in person.bot_messages() if prompt_buttons(m)]


def test_the_eleventh_login_from_one_ip_within_a_minute_is_refused(http):
    ip = new_ip()
    for _ in range(10):
        assert init(http, unique_phone(), ip).status_code == 201

    assert assert_429(init(http, unique_phone(), ip), "rate_limited") <= 60
    assert init(http, unique_phone(), new_ip()).status_code == 201


def test_the_client_flooding_a_phone_is_refused_the_same_for_linked_and_unknown_phones(http, linked_person):
    unknown = unique_phone()
    flooder, owner = new_ip(), new_ip()
    for _ in range(3):
        assert init(http, linked_person.phone, flooder).status_code == 201
        assert init(http, unknown, flooder).status_code == 201

    # The fourth from that client, written another way: refused, the same for both phones.
    linked = init(http, "8" + linked_person.phone[2:], flooder)
    not_linked = init(http, "8" + unknown[2:], flooder)
    assert_429(linked, "rate_limited")
    assert_429(not_linked, "rate_limited")
    assert linked.json() == not_linked.json()

    # The owner, from their own address, is not locked out by it.
    assert init(http, linked_person.phone, owner).status_code == 201


def test_a_phone_gets_three_prompts_then_only_the_login_whose_link_is_opened(http, linked_person):
    first = [init(http, linked_person.phone, new_ip()) for _ in range(3)]
    assert [response.status_code for response in first] == [201, 201, 201]
    linked_person.emulator.wait_for(lambda: len(prompts(linked_person)) >= 3, timeout=20)

    # A fourth login from yet another client: answered like any other, its prompt held back.
    fourth = init(http, linked_person.phone, new_ip())
    assert fourth.status_code == 201
    assert set(fourth.json()) == set(first[0].json())
    time.sleep(2)  # a fourth prompt would have arrived by now
    assert len(prompts(linked_person)) == 3

    # Opening that login's own link proves the person is at its browser: exactly it is prompted.
    start_token = urllib.parse.parse_qs(urllib.parse.urlsplit(fourth.json()["bot_url"]).query)["start"][0]
    linked_person.say(f"/start {start_token}")
    linked_person.emulator.wait_for(lambda: len(prompts(linked_person)) == 4, timeout=20)
    newest = max(prompts(linked_person), key=lambda m: m["message_id"])
    linked_person.tap(newest, 0)  # the main stack's simple mode: the first button approves
    answer = http.get(f"/api/auth/status/{fourth.json()['session_id']}?wait=10").json()
    assert answer["status"] == "approved" and "tokens" in answer


def test_polling_too_fast_gets_slow_down(http):
    started = init(http, unique_phone(), new_ip())
    assert started.status_code == 201
    path = f"/api/auth/status/{started.json()['session_id']}"
    for _ in range(3):  # the first poll and a burst of two
        assert http.get(path).status_code == 200

    response = http.get(path, headers={"Origin": "http://frontend.test"})
    wait = assert_429(response, "slow_down")
    assert wait <= DEFAULTS.poll_interval
    assert "Retry-After" in response.headers["Access-Control-Expose-Headers"]  # the page can read it
    time.sleep(wait)
    assert http.get(path).status_code == 200


def test_guessing_refresh_tokens_is_refused_after_sixty(http):
    ip = new_ip()
    for _ in range(60):
        response = http.post("/api/auth/refresh", json={"refresh_token": "guess"}, headers={"X-Forwarded-For": ip})
        assert response.status_code == 401

    refused = http.post("/api/auth/refresh", json={"refresh_token": "guess"}, headers={"X-Forwarded-For": ip})
    assert assert_429(refused, "rate_limited") <= 60
