"""kombu's Redis transport with one fix: losing Redis must not kill the worker.

With Celery 5.7.0 and kombu 5.7.0 a worker whose Redis goes away exits with "Unrecoverable
error: AttributeError('NoneType' object has no attribute 'hostname')" (tests/faults/
test_redis_down.py reproduces it). On a lost connection Celery first `collect()`s it, which
detaches the transport, then closes the channel; two things then need a Redis client built from
the detached connection, and fail with AttributeError, which is not a connection error, so Celery
gives up instead of reconnecting:

- closing the channel puts the unacknowledged messages back (the worker may hold some: retries
  wait with a countdown);
- a task that finishes after the reconnect acknowledges its message on the old channel.

Here both raise the connection error they really are (Celery logs it and carries on), and a
closing channel skips the requeue it can't do. Those messages stay in Redis's unacked set
(redelivered after visibility_timeout), and tasks/recovery.py re-enqueues at once what the
pending logins need.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError


class Channel(kombu_redis.Channel):
    """The Redis channel, usable (as a closed one) after its connection was collected."""

    def _detached(self) -> bool:
        return self.connection is None or getattr(self.connection, "client", None) is None

    def close(self) -> None:
        """Close; skip requeueing unacknowledged messages when the connection is already gone."""
        if self._qos is not None and self._detached():
            self._qos.restore_at_shutdown = False
        super().close()

    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        if self._detached():
            raise RedisConnectionError("this channel's broker connection was closed")
        return super()._connparams(asynchronous=asynchronous)


class Transport(kombu_redis.Transport):
    """The Redis transport with the channel above (`broker_transport` in celeryconfig.py)."""

    Channel = Channel
