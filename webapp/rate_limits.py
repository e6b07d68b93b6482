"""Rate limits of the login API, kept in Redis so every web process shares them.

- `/init`: RATE_LIMIT_INIT_PER_IP per client IP, then RATE_LIMIT_INIT_PER_PHONE per normalised
  phone and client IP, checked before the phone's user is looked up (the answer can't tell linked
  phones apart), both in one round trip (`INIT_SCRIPT`);
- `/refresh`: RATE_LIMIT_REFRESH_PER_FAMILY per login, RATE_LIMIT_REFRESH_PER_IP for tokens
  that don't even decode (guessing);
- `/status`: RFC 8628's `slow_down` when one session is polled faster than `poll_interval`, in the
  same Lua script that reads the session's cached status (one round trip per pending poll).

The counters are the `limits` library's (its "moving-window" strategy: exact, so a client can't
get twice a limit across a window boundary as with "fixed-window"), on Redis. The checks are
explicit calls in the views because their keys (the normalised phone, the token's family) are
only known inside the view; so no per-request hook runs (Flask-Limiter's before_request would
cost every request, /healthz and each status poll included, and check nothing). Every check fails
closed: when Redis can't answer within its short timeouts, the request gets 503, never a pass.

A per-address limit counts a client by `client_info.client_key()` (IPv6 by its /64), so one
IPv6 customer can't spread its requests over 2^64 budgets.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from typing import Any

import limits
import limits.errors
import limits.storage
import limits.strategies
import redis
from flask import Flask, current_app
from redis.exceptions import NoScriptError

from core import prompt_delivery, redis_client, status_cache
from core.errors import ServiceUnavailable
from core.settings import Settings
from webapp import client_info, metrics, poll_transport
from webapp.errors import ApiError

EXTENSION = "rate_limits"
# A client polling on time may arrive a little early (timers, network jitter): allow that much.
POLL_TOLERANCE_SECONDS = 0.5
# The shortest gap between polls that we enforce, whatever POLL_INTERVAL says.
MIN_POLL_GAP_SECONDS = 0.5

# GCRA (a token bucket in one key): the key holds the "theoretical arrival time" of the next poll
# in ms; a poll may come `burst` gaps early. Redis's clock, so every web host agrees.
# The same script also reads the session's cached status (core/status_cache.py) and the
# "Telegram is failing" flag, so a pending poll costs one round trip in all (EVALSHA).
# Returns {ms to wait (0: allowed), cached status or '', its expires_at in ms or 0, now in ms,
# 1 if prompts are failing else 0}.
POLL_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local gap = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local early = tat - now - burst * gap
if early > 0 then return {early, '', 0, now, 0} end
redis.call('SET', KEYS[1], tat + gap, 'PX', tat + gap - now)
local cached = redis.call('HMGET', KEYS[2], ARGV[3], ARGV[4])
return {0, cached[1] or '', tonumber(cached[2]) or 0, now, redis.call('EXISTS', KEYS[3])}
"""

REDIS_ERRORS = (redis.RedisError, limits.errors.StorageError)

# The limits library's moving window (its acquire_moving_window.lua, one entry at a time) over a
# chain of limits in one round trip: each limit counts the attempt only if every limit before it
# allowed it, as separate hits in that order would. The keys and lists are the library's own, so
# its get_window_stats (Retry-After) and any hit it makes itself share them.
# ARGV: the timestamp, then (amount, expiry in s) per key. Returns 0, or the 1-based index of the refusing limit.
CHAINED_MOVING_WINDOWS_SCRIPT = """
local timestamp = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  local amount = tonumber(ARGV[2 * i])
  local expiry = tonumber(ARGV[2 * i + 1])
  local entry = redis.call('LINDEX', key, amount - 1)
  if entry and tonumber(entry) >= timestamp - expiry then
    return i
  end
  redis.call('LPUSH', key, timestamp)
  redis.call('LTRIM', key, 0, amount - 1)
  redis.call('EXPIRE', key, expiry)
end
return 0
"""


@dataclass(frozen=True, slots=True)
class PollCheck:
    """What the poll's one Redis round trip found: the session's cached status and Redis's clock."""

    cached_status: str | None
    expires_at_ms: int
    now_ms: int
    delivery_failing: bool


@dataclass(frozen=True)
class RateLimits:
    """One app's rate limiter, its Redis client and the settings the limits come from."""

    limiter: limits.strategies.MovingWindowRateLimiter
    redis: redis.Redis
    poll_script: redis.commands.core.Script
    settings: Settings
    # The poll path's bare commands (pipelined in gevent workers).
    transport: poll_transport.PollTransport


def configure(app: Flask, settings: Settings) -> RateLimits:
    """Give the app its rate limiter on Redis; nothing connects until the first check."""
    # A dead or hung Redis must cost a request about two seconds, not hang it: short timeouts, one retry.
    pool = redis_client.new_pool(settings.redis_url, redis_client.WEB_REQUEST)
    # The limits library builds its client on this pool: one pool, one set of timeouts. Its
    # errors propagate (no fallback to memory): errors.py turns them into 503, never a pass.
    storage = limits.storage.storage_from_string(settings.redis_url, connection_pool=pool)
    limiter = limits.strategies.MovingWindowRateLimiter(storage)
    client = redis.Redis(connection_pool=pool)
    transport = poll_transport.PollTransport(settings.redis_url, pool, redis_client.WEB_REQUEST.reply_timeout)
    state = RateLimits(limiter, client, client.register_script(POLL_SCRIPT), settings, transport)
    app.extensions[EXTENSION] = state
    return state


def check_init(phone_number: str | None) -> None:
    """Count a login attempt from this client, then for this (normalised) phone from this client; raise 429 rate_limited when too many.

    The phone's limit is keyed by phone and client address: the client that floods a phone is
    refused, while the owner's own /init from elsewhere still goes through (PROMPT_BUDGET_PER_PHONE
    caps the prompts). `phone_number` None (not a valid number): only the client's limit counts.
    An attempt refused by the client's limit does not count against the phone's.
    """
    state = _state()
    client = client_info.client_key()
    chain = [(state.settings.rate_limit_init_per_ip, "init-ip", client)]
    if phone_number is not None:
        # Phones are personal data: Redis holds a digest, never the number.
        chain.append((state.settings.rate_limit_init_per_phone, "init-phone", _digest(f"{phone_number} {client}")))
    _hit_chain(state, chain)


def check_email_per_ip() -> None:
    """Count an email code request (or guess) from this client; raise 429 rate_limited when too many."""
    state = _state()
    _hit(state, state.settings.rate_limit_email_per_ip, "email-ip", client_info.client_key())


def check_email_per_address(address: str) -> None:
    """Count a code mailed to (or guessed for) this normalised address; raise 429 rate_limited when too many.

    Checked before the address is looked up: known and unknown addresses are limited alike.
    """
    state = _state()
    _hit(state, state.settings.rate_limit_email_per_address, "email-address", _digest(address))


def check_refresh_per_family(family_id: str) -> None:
    """Count a refresh of this login (token family); raise 429 rate_limited when too many."""
    state = _state()
    _hit(state, state.settings.rate_limit_refresh_per_family, "refresh-family", family_id)


def check_refresh_per_ip() -> None:
    """Count a refresh with an undecodable token from this IP; raise 429 rate_limited when too many."""
    state = _state()
    _hit(state, state.settings.rate_limit_refresh_per_ip, "refresh-ip", client_info.client_key())


def check_passkey_per_ip() -> None:
    """Count a passkey options or verify call from this client; raise 429 rate_limited when too many."""
    state = _state()
    _hit(state, state.settings.rate_limit_passkey_per_ip, "passkey-ip", client_info.client_key())


def client() -> redis.Redis:
    """Return the web app's Redis client (short timeouts, one retry), for other short-lived keys."""
    return _state().redis


def check_poll(session_id: str) -> PollCheck:
    """Raise 429 slow_down when this session is polled sooner than `poll_interval` allows; else return its cached status."""
    state = _state()
    gap_ms = poll_gap_ms(state.settings.poll_interval)
    # The session id is a bearer secret: keys hold its digest. One round trip.
    digest = _digest(session_id)
    keys = [f"poll:{digest}", status_cache.key(digest), prompt_delivery.FAILING_KEY]
    args = [gap_ms, state.settings.rate_limit_poll_burst, status_cache.STATUS_FIELD, status_cache.EXPIRES_FIELD]
    try:
        wait_ms, status, expires_ms, now_ms, failing = _run_poll_script(state, keys, args)
    except REDIS_ERRORS as exc:
        raise ServiceUnavailable("redis", f"poll interval check failed: {type(exc).__name__}") from exc
    if int(wait_ms) > 0:
        metrics.count_rate_limit_hit("poll")
        raise ApiError(
            429,
            "slow_down",
            f"Polling too fast; wait {state.settings.poll_interval} seconds between polls.",
            {"Retry-After": str(retry_after_seconds(int(wait_ms) / 1000))},
        )
    return PollCheck((status or b"").decode() or None, int(expires_ms), int(now_ms), bool(failing))


def _run_poll_script(state: RateLimits, keys: list[str], args: list[object]) -> list:
    """Run the poll script by its hash; load it first only when this Redis doesn't know it yet.

    The hot path: a bare EVALSHA instead of redis-py's Script wrapper and client layer
    (webapp/poll_transport.py).
    """
    try:
        return state.transport.execute("EVALSHA", state.poll_script.sha, len(keys), *keys, *args)
    except NoScriptError:  # a new or restarted Redis: SCRIPT LOAD, then once more
        return state.poll_script(keys=keys, args=args)


class LuaScript:
    """A Lua script for `run_script`, known to Redis by its SHA-1."""

    __slots__ = ("sha", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.sha = hashlib.sha1(text.encode()).hexdigest()


def run_script(script: LuaScript, keys: list[str], args: list[object]) -> Any:
    """Run a Lua script on the poll path's connection by its hash; by its text when Redis doesn't know it yet.

    Redis errors propagate (the caller decides between 503 and carrying on).
    """
    state = _state()
    try:
        return state.transport.execute("EVALSHA", script.sha, len(keys), *keys, *args)
    except NoScriptError:  # EVAL also caches the script: the next EVALSHA finds it
        return state.transport.execute("EVAL", script.text, len(keys), *keys, *args)


def session_digest(session_id: str) -> str:
    """Return the hex SHA-256 of a session id: its name in Redis (as in Postgres)."""
    return _digest(session_id)


def poll_gap_ms(poll_interval: int) -> int:
    """Return the shortest gap between two polls of one session that is not `slow_down`, in ms."""
    return int(max(poll_interval - POLL_TOLERANCE_SECONDS, MIN_POLL_GAP_SECONDS) * 1000)


def retry_after_seconds(wait: float) -> int:
    """Return a Retry-After value for a wait in seconds: whole seconds, rounded up, at least 1."""
    return max(1, math.ceil(wait))


def _hit(state: RateLimits, limit_text: str, scope: str, key: str) -> None:
    """Count one attempt against a limit; raise 429 rate_limited (or 503 without Redis)."""
    item = limits.parse(limit_text)
    try:
        if state.limiter.hit(item, scope, key):
            return
        reset_at, _ = state.limiter.get_window_stats(item, scope, key)
    except REDIS_ERRORS as exc:
        raise ServiceUnavailable("redis", f"rate limit check failed: {type(exc).__name__}") from exc
    metrics.count_rate_limit_hit(scope)
    raise ApiError.of("rate_limited", headers={"Retry-After": str(retry_after_seconds(reset_at - time.time()))})


_CHAINED_MOVING_WINDOWS = LuaScript(CHAINED_MOVING_WINDOWS_SCRIPT)


def _hit_chain(state: RateLimits, chain: list[tuple[str, str, str]]) -> None:
    """Count one attempt against each (limit, scope, key) in order, in one round trip; raise 429 at the first refusal."""
    items = [limits.parse(limit_text) for limit_text, _, _ in chain]
    keys = [state.limiter.storage.prefixed_key(item.key_for(scope, key)) for item, (_, scope, key) in zip(items, chain)]
    args: list[object] = [time.time()]
    for item in items:
        args += [item.amount, item.get_expiry()]
    try:
        refused = int(run_script(_CHAINED_MOVING_WINDOWS, keys, args))
        if not refused:
            return
        item, (_, scope, key) = items[refused - 1], chain[refused - 1]
        reset_at, _ = state.limiter.get_window_stats(item, scope, key)
    except REDIS_ERRORS as exc:
        raise ServiceUnavailable("redis", f"rate limit check failed: {type(exc).__name__}") from exc
    metrics.count_rate_limit_hit(scope)
    raise ApiError.of("rate_limited", headers={"Retry-After": str(retry_after_seconds(reset_at - time.time()))})


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _state() -> RateLimits:
    return current_app.extensions[EXTENSION]
