"""Caps on waiting long polls: MAX_WAITING_POLLS_PER_CLIENT per client address, a few per session.

A waiting poll costs a connection slot of a web worker for up to 30 s, so without a cap a few
addresses can hold every slot of every worker. The count lives in Redis, not in each process:
behind a load balancer one client's polls land on every worker of every host, and a count per
process would multiply the cap by their number (and depend on how requests happen to spread).

Each waiting poll holds a slot: a member of a sorted set per client address (IPv6 by its /64,
`client_info.client_key()`) and one per session, scored by the time its lease ends. Taking a
slot is one Lua script (drop ended leases, count, add to both or to neither), so concurrent
polls on many processes can't together pass the cap. A poll gives its slot back however it
ends (answer, timeout, a client gone, an exception, the greenlet killed at shutdown); a process
that dies mid-wait can't, and its slots end with their lease, which outlasts the longest wait.
"""

from __future__ import annotations

import logging
import secrets
from types import TracebackType

from flask import current_app

from core.errors import ServiceUnavailable
from webapp import client_info, metrics, rate_limits, schemas
from webapp.errors import ApiError

log = logging.getLogger(__name__)

# One browser tab polls a login once at a time. A reloaded tab starts a new poll while the old
# one, whose client is gone, still waits out its `wait` on the server (nothing tells the server
# before it answers): allowing three keeps two quick reloads working, and still stops one
# session id from being used to hold many slots (it is a secret only its browser has, but one
# client's budget should not be spendable through a single login).
MAX_WAITING_POLLS_PER_SESSION = 3
# Longer than any poll's life (its wait, the final status read, a slow database), so a live
# poll's slot never ends early; short enough that a dead process's slots come back soon.
SLOT_LEASE_SECONDS = schemas.MAX_WAIT_SECONDS + 30

ADDRESS_FULL = 1
SESSION_FULL = 2

# KEYS: the address's set, the session's set. ARGV: slot id, lease ms, address cap, session cap.
# Returns 0 (slot taken), ADDRESS_FULL or SESSION_FULL. Redis's clock, so every host agrees.
ACQUIRE_SCRIPT = rate_limits.LuaScript(
    """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 1 end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then return 2 end
for i = 1, 2 do
  redis.call('ZADD', KEYS[i], now + lease, ARGV[1])
  redis.call('PEXPIRE', KEYS[i], lease)
end
return 0
"""
)
RELEASE_SCRIPT = rate_limits.LuaScript(
    """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 0
"""
)


def address_key(client_key: str) -> str:
    """Return the Redis key of the waiting polls of one client address key."""
    return f"waiting-polls:client:{client_key}"


def session_key(session_digest: str) -> str:
    """Return the Redis key of the waiting polls of one session (by its id's digest)."""
    return f"waiting-polls:session:{session_digest}"


class Slot:
    """One waiting poll's place under both caps, from `with` to its end."""

    __slots__ = ("_keys", "_slot_id")

    def __init__(self, session_id: str) -> None:
        self._keys = [address_key(client_info.client_key()), session_key(rate_limits.session_digest(session_id))]
        self._slot_id = secrets.token_hex(8)

    def __enter__(self) -> Slot:
        settings = current_app.extensions["settings"]
        lease_ms = SLOT_LEASE_SECONDS * 1000
        args = [self._slot_id, lease_ms, settings.max_waiting_polls_per_client, MAX_WAITING_POLLS_PER_SESSION]
        try:
            outcome = int(rate_limits.run_script(ACQUIRE_SCRIPT, self._keys, args))
        except rate_limits.REDIS_ERRORS as exc:
            raise ServiceUnavailable("redis", f"waiting poll cap check failed: {type(exc).__name__}") from exc
        retry_after = {"Retry-After": str(settings.poll_interval)}
        if outcome == ADDRESS_FULL:
            metrics.count_rate_limit_hit("waiting-polls-client")
            raise ApiError(
                429,
                "rate_limited",
                "Too many waiting status polls from this address; try again later.",
                retry_after,
            )
        if outcome == SESSION_FULL:
            metrics.count_rate_limit_hit("waiting-polls-session")
            raise ApiError(
                429,
                "slow_down",
                f"This login is already being polled; wait {settings.poll_interval} seconds between polls.",
                retry_after,
            )
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        try:
            rate_limits.run_script(RELEASE_SCRIPT, self._keys, [self._slot_id])
        except rate_limits.REDIS_ERRORS as error:  # the lease gives the slot back a little later
            log.warning("could not release a waiting poll's slot: %s", type(error).__name__)


def slot(session_id: str) -> Slot:
    """Return the slot a waiting poll of this session holds for a `with` block's duration (429 when full)."""
    return Slot(session_id)
