"""The API's rate limits with their default values, on real Redis: 429s, shared counters, fail closed."""

from __future__ import annotations

import os
import secrets
import signal
import time
from typing import Any, Callable

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from core import prompt_targets
from core.settings import Settings
from devstack.services import EmbeddedRedis, free_port
from tests.integration.conftest import BROWSER_UA, session_row

DEFAULTS = Settings()
DEFAULT_LIMITS = {
    "rate_limit_init_per_ip": DEFAULTS.rate_limit_init_per_ip,
    "rate_limit_init_per_phone": DEFAULTS.rate_limit_init_per_phone,
    "rate_limit_refresh_per_family": DEFAULTS.rate_limit_refresh_per_family,
    "rate_limit_refresh_per_ip": DEFAULTS.rate_limit_refresh_per_ip,
    "rate_limit_poll_burst": DEFAULTS.rate_limit_poll_burst,
}
GARBAGE_TOKEN = "not-a-jwt"


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """Return the app with the default limits of the contract (conftest's are generous)."""
    return make_app(**DEFAULT_LIMITS)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """Return a test client coming from an IP of its own, so no other test spent its budget."""
    return client_from(app, random_ip())


def client_from(app: Flask, ip: str) -> FlaskClient:
    """Return a test client of `app` whose requests come from `ip`."""
    test_client = app.test_client()
    test_client.environ_base.update({"HTTP_USER_AGENT": BROWSER_UA, "REMOTE_ADDR": ip})
    return test_client


def random_ip() -> str:
    """Return a documentation-range IP that no other test uses."""
    return f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{1 + secrets.randbelow(254)}"


def random_phone() -> str:
    """Return a valid Russian mobile number no other test uses, in E.164."""
    return f"+7916{secrets.randbelow(10**7):07d}"


def init(client: FlaskClient, phone: str, **headers: str):
    """Post /api/auth/init for a phone."""
    return client.post("/api/auth/init", json={"phone_number": phone}, headers=headers)


def retry_after(response) -> int:
    """Return the Retry-After of a response as an int, checking it is whole seconds."""
    value = response.headers["Retry-After"]
    assert value.isdigit(), value
    return int(value)


def assert_rate_limited(response, code: str = "rate_limited", max_wait: int = 3600) -> int:
    """Assert a 429 in the error shape with a sane Retry-After; return that Retry-After."""
    assert response.status_code == 429, response.get_json()
    assert response.get_json()["error"]["code"] == code
    assert set(response.get_json()["error"]) == {"code", "message"}
    wait = retry_after(response)
    assert 1 <= wait <= max_wait
    return wait


# --- /init per client IP ---------------------------------------------------------------------


def test_init_allows_ten_a_minute_per_ip(client, app):
    for _ in range(10):
        assert init(client, random_phone()).status_code == 201

    assert_rate_limited(init(client, random_phone()), max_wait=60)
    assert init(client_from(app, random_ip()), random_phone()).status_code == 201  # another IP


def test_init_per_ip_counts_bad_requests_too(client):
    for _ in range(10):
        assert init(client, "not a phone").status_code == 422

    assert_rate_limited(init(client, random_phone()))


def test_a_spoofed_forwarded_for_does_not_reset_the_ip_budget(client):
    # Without trusted proxies X-Forwarded-For is the client's own claim: it must not count.
    for n in range(10):
        assert init(client, random_phone(), **{"X-Forwarded-For": f"192.0.2.{n}"}).status_code == 201

    assert_rate_limited(init(client, random_phone(), **{"X-Forwarded-For": "192.0.2.200"}))


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget(make_app):
    proxied = client_from(make_app(**DEFAULT_LIMITS, trusted_proxy_count=1), "127.0.0.1")
    first, second = random_ip(), random_ip()
    for _ in range(10):
        assert init(proxied, random_phone(), **{"X-Forwarded-For": first}).status_code == 201

    assert_rate_limited(init(proxied, random_phone(), **{"X-Forwarded-For": first}))
    assert init(proxied, random_phone(), **{"X-Forwarded-For": second}).status_code == 201


def test_the_count_is_shared_by_every_web_process(make_app):
    # Two apps are two Limiters, as in two gunicorn workers: Redis holds the one count.
    ip = random_ip()
    first, second = client_from(make_app(**DEFAULT_LIMITS), ip), client_from(make_app(**DEFAULT_LIMITS), ip)
    for n in range(10):
        assert init(first if n % 2 else second, random_phone()).status_code == 201

    assert_rate_limited(init(first, random_phone()))
    assert_rate_limited(init(second, random_phone()))


# --- /init per phone -------------------------------------------------------------------------


def test_init_allows_three_per_phone_and_client_in_any_format(client, app, fake_queue):
    national = "8 916 {} {} {}"
    digits = f"{secrets.randbelow(10**7):07d}"
    e164 = f"+7916{digits}"
    formats = [e164, national.format(digits[:3], digits[3:5], digits[5:]), f"+7 (916) {digits[:3]}-{digits[3:5]}-{digits[5:]}"]
    for phone in formats:
        assert init(client, phone).status_code == 201

    # The same number written a fourth way, from the same client: its budget for this phone is spent.
    assert_rate_limited(init(client, f"8{'916'}{digits}"), max_wait=600)
    assert init(client, random_phone()).status_code == 201  # other phones are not affected


def test_a_flood_of_one_phone_does_not_lock_its_owner_out(client, app, linked_user, fake_queue):
    phone = linked_user["phone_number"]
    flood = [init(client, phone) for _ in range(3)]
    assert [answer.status_code for answer in flood] == [201] * 3

    assert_rate_limited(init(client, phone), max_wait=600)  # the flooding client
    owner = init(client_from(app, random_ip()), phone)  # the owner, from anywhere else
    assert owner.status_code == 201
    assert set(owner.get_json()) == set(flood[0].get_json())


def test_logins_over_the_prompt_budget_are_answered_alike_and_their_prompt_withheld(app, linked_user, fake_queue):
    unknown = random_phone()
    for _ in range(3):  # three clients spend each phone's prompt budget (PROMPT_BUDGET_PER_PHONE: 3/10 minutes)
        assert init(client_from(app, random_ip()), linked_user["phone_number"]).status_code == 201
        assert init(client_from(app, random_ip()), unknown).status_code == 201

    linked_answer = init(client_from(app, random_ip()), linked_user["phone_number"])
    unknown_answer = init(client_from(app, random_ip()), unknown)

    assert (linked_answer.status_code, unknown_answer.status_code) == (201, 201)
    assert set(linked_answer.get_json()) == set(unknown_answer.get_json())
    assert sorted(linked_answer.headers.keys()) == sorted(unknown_answer.headers.keys())
    for answer in (linked_answer, unknown_answer):
        assert session_row(answer.get_json()["session_id"])["prompt_withheld"] == "budget"


def test_a_limited_client_gets_the_same_answer_linked_or_not(client, app, linked_user, fake_queue, monkeypatch):
    unknown = random_phone()
    for _ in range(3):
        assert init(client, linked_user["phone_number"]).status_code == 201
        assert init(client, unknown).status_code == 201
    queued = len(fake_queue.sent)
    lookups: list[str] = []
    real_start_login = prompt_targets.start_login
    monkeypatch.setattr(
        prompt_targets, "start_login", lambda conn, **fields: lookups.append(fields["phone_number"]) or real_start_login(conn, **fields)
    )

    linked_answer = init(client, linked_user["phone_number"])
    unknown_answer = init(client, unknown)

    assert_rate_limited(linked_answer)
    assert_rate_limited(unknown_answer)
    assert linked_answer.get_json() == unknown_answer.get_json()
    assert abs(retry_after(linked_answer) - retry_after(unknown_answer)) <= 1
    assert sorted(linked_answer.headers.keys()) == sorted(unknown_answer.headers.keys())
    # Refused before the user was looked up, and nothing was started or queued.
    assert lookups == []
    assert len(fake_queue.sent) == queued


def test_the_phone_key_in_redis_is_a_digest(client, redis_url):
    phone = random_phone()
    assert init(client, phone).status_code == 201

    keys = [key.decode() for key in redis.Redis.from_url(redis_url).scan_iter("LIMITS*")]
    assert keys and not any(phone in key or phone.lstrip("+") in key for key in keys)


def script_calls(client: redis.Redis) -> int:
    """Return how many Lua scripts Redis has run so far (EVALSHA and EVAL)."""
    stats = client.info("commandstats")
    return sum(stats.get(f"cmdstat_{name}", {}).get("calls", 0) for name in ("evalsha", "eval"))


def test_both_init_limits_cost_one_round_trip(client, redis_url):
    server = redis.Redis.from_url(redis_url)
    init(client, random_phone())  # the script is known to Redis from here on
    before = script_calls(server)
    assert init(client, random_phone()).status_code == 201
    assert script_calls(server) - before == 1


def test_an_attempt_refused_per_client_does_not_count_against_the_phone(client, app, redis_url):
    # The library reads the windows the one script writes: its own view of the phone's window.
    from webapp import rate_limits

    phone = random_phone()
    for _ in range(10):
        assert init(client, random_phone()).status_code == 201
    for _ in range(3):
        assert_rate_limited(init(client, phone), max_wait=60)

    ip = client.environ_base["REMOTE_ADDR"]
    with app.app_context():
        limiter = app.extensions[rate_limits.EXTENSION].limiter
        item = rate_limits.limits.parse(DEFAULTS.rate_limit_init_per_phone)
        phone_key = rate_limits._digest(f"{phone} {ip}")
        ip_item = rate_limits.limits.parse(DEFAULTS.rate_limit_init_per_ip)
        assert limiter.get_window_stats(item, "init-phone", phone_key).remaining == 3
        assert limiter.get_window_stats(ip_item, "init-ip", ip).remaining == 0


# --- status polls: RFC 8628 slow_down ----------------------------------------------------------


def poll(client: FlaskClient, session_id: str):
    """Poll a session's status once."""
    return client.get(f"/api/auth/status/{session_id}")


def test_polling_faster_than_the_interval_gets_slow_down(client, start_login):
    session_id = start_login(random_phone())["session_id"]
    # A burst of 2 beyond the first poll is allowed (a page reload must not be punished)...
    for _ in range(3):
        assert poll(client, session_id).status_code == 200

    # ...then the 2-second interval applies.
    wait = assert_rate_limited(poll(client, session_id), code="slow_down", max_wait=2)
    time.sleep(wait)
    assert poll(client, session_id).status_code == 200


def test_polling_on_time_is_never_slowed_down_even_a_little_early(make_app):
    # POLL_INTERVAL 1 and no burst: a poll 0.7 s after the last one is early, but within the
    # 0.5 s tolerance for timers and network jitter. At once is too early.
    app = make_app(**{**DEFAULT_LIMITS, "poll_interval": 1, "rate_limit_poll_burst": 0})
    client = client_from(app, random_ip())
    session_id = init(client, random_phone()).get_json()["session_id"]
    assert poll(client, session_id).status_code == 200
    assert_rate_limited(poll(client, session_id), code="slow_down", max_wait=1)
    for _ in range(4):
        time.sleep(0.7)
        assert poll(client, session_id).status_code == 200


def test_unknown_ids_are_slowed_down_like_real_ones(client):
    unknown = secrets.token_urlsafe(16)
    for _ in range(3):
        assert poll(client, unknown).status_code == 404

    assert_rate_limited(poll(client, unknown), code="slow_down")


def test_sessions_are_throttled_separately(client, start_login):
    first, second = start_login(random_phone())["session_id"], start_login(random_phone())["session_id"]
    for _ in range(3):
        assert poll(client, first).status_code == 200
    assert_rate_limited(poll(client, first), code="slow_down")

    assert poll(client, second).status_code == 200


def test_the_session_id_never_reaches_redis(client, start_login, redis_url):
    session_id = start_login(random_phone())["session_id"]
    assert poll(client, session_id).status_code == 200

    server = redis.Redis.from_url(redis_url)
    assert not [key for key in server.scan_iter("*") if session_id.encode() in key]
    assert not [key for key in server.scan_iter("*") if session_id.encode() in (server.dump(key) or b"")]
    assert list(server.scan_iter("poll:*"))


# --- /refresh ----------------------------------------------------------------------------------


def refresh(client: FlaskClient, token: str):
    """Post /api/auth/refresh with a refresh token."""
    return client.post("/api/auth/refresh", json={"refresh_token": token})


def test_refresh_allows_thirty_an_hour_per_login(client, login):
    tokens = login()
    other_login = login()
    for _ in range(30):
        response = refresh(client, tokens["refresh_token"])
        assert response.status_code == 200, response.get_json()
        tokens = response.get_json()

    assert_rate_limited(refresh(client, tokens["refresh_token"]))
    # The budget is the login's (token family), not the user's or the IP's.
    assert refresh(client, other_login["refresh_token"]).status_code == 200


def test_guessing_refresh_tokens_is_limited_per_ip(client, app, login):
    tokens = login()
    for _ in range(60):
        assert refresh(client, GARBAGE_TOKEN).status_code == 401

    assert_rate_limited(refresh(client, GARBAGE_TOKEN), max_wait=60)
    # A real token from that IP still works: only failed guesses spend the IP's budget.
    assert refresh(client, tokens["refresh_token"]).status_code == 200
    assert refresh(client_from(app, random_ip()), GARBAGE_TOKEN).status_code == 401


# --- Redis down: fail closed, fast, and recover -------------------------------------------------


@pytest.fixture
def own_redis() -> Any:
    """Start a Redis of this test's own on a fixed port (so it can be stopped and restarted)."""
    server = EmbeddedRedis(port=free_port()).start()
    yield server
    server.stop()


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    """Return what `call` returns and how many seconds it took."""
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def assert_unavailable(response, took: float) -> None:
    """Assert a 503 service_unavailable with Retry-After that came within a few seconds."""
    assert response.status_code == 503, response.get_json()
    assert response.get_json()["error"]["code"] == "service_unavailable"
    assert retry_after(response) >= 1
    assert took < 5, f"took {took:.1f} s"


def test_without_redis_the_limits_fail_closed_and_recover_by_themselves(make_app, own_redis, start_login):
    app = make_app(**DEFAULT_LIMITS, redis_url=own_redis.url)
    client = client_from(app, random_ip())
    started = init(client, random_phone())
    assert started.status_code == 201
    session_id = started.get_json()["session_id"]
    assert poll(client, session_id).status_code == 200

    own_redis.stop()
    for call in (
        lambda: init(client, random_phone()),
        lambda: poll(client, session_id),
        lambda: refresh(client, GARBAGE_TOKEN),
    ):
        assert_unavailable(*timed(call))

    own_redis.start()  # the same port: the app's pooled connections are now dead
    assert init(client, random_phone()).status_code == 201
    time.sleep(2)  # past the poll interval
    assert poll(client, session_id).status_code == 200
    assert refresh(client, GARBAGE_TOKEN).status_code == 401


def test_a_redis_restart_between_two_requests_goes_unnoticed(make_app, own_redis, start_login):
    app = make_app(**DEFAULT_LIMITS, redis_url=own_redis.url)
    client = client_from(app, random_ip())
    started = init(client, random_phone())
    assert started.status_code == 201

    own_redis.stop()
    own_redis.start()  # no request in between: the pooled connections are stale, not yet known dead

    assert init(client, random_phone()).status_code == 201
    assert poll(client, started.get_json()["session_id"]).status_code == 200


def test_a_hung_redis_costs_seconds_not_a_hang(make_app, own_redis):
    app = make_app(**DEFAULT_LIMITS, redis_url=own_redis.url)
    client = client_from(app, random_ip())
    assert init(client, random_phone()).status_code == 201
    pid = own_redis._proc.pid  # the server process: frozen, it accepts connections but never answers
    os.kill(pid, signal.SIGSTOP)
    try:
        assert_unavailable(*timed(lambda: init(client, random_phone())))
    finally:
        os.kill(pid, signal.SIGCONT)
    assert init(client, random_phone()).status_code == 201
