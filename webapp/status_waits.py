"""Long polls of the status endpoint: wait, holding no Postgres connection, for a login's next transition.

One listener per web process holds ONE Redis connection, pattern-subscribed to every session's
channel (`core.status_cache`); a waiting request registers an event under its session's hash
and sleeps on it. Measured against the alternatives (docs/architecture.md, "Status polls: what one costs"): a SUBSCRIBE or a
BLPOP per waiting request needs one Redis connection per waiting browser (5,000 waiting polls =
5,000 connections, beyond our pool and near Redis's default maxclients), while every web
process receiving every transition is cheap, as transitions are rare next to polls.

A request registers before it reads the status, so a transition is either seen by that read or
wakes it. Messages published while the listener is (re)connecting are lost, so every waiter is
woken when a subscription is (re)established, and re-reads the status from Postgres.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time

from gevent.hub import Waiter as HubWaiter
from gevent.hub import get_hub

from core import redis_client, status_cache
from webapp import gevent_worker

log = logging.getLogger(__name__)

# How long the first long poll of a process waits for the listener's subscription.
SUBSCRIBE_WAIT_SECONDS = 2.0
RECONNECT_PAUSE_SECONDS = 1.0
# A blocked read returns this often, so a dead connection's error surfaces.
READ_TIMEOUT_SECONDS = 5.0


class Waiter:
    """One waiting request: woken by its session's transition, or by a resubscription."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = threading.Event()

    def wake(self) -> None:
        """Wake the request up."""
        self._event.set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True if woken (the status may have changed), False at the timeout."""
        woken = self._event.wait(max(0.0, seconds))
        self._event.clear()
        return woken


class GreenletWaiter:
    """A `Waiter` for gevent workers, parked on the hub directly: about 0.7 KB less per waiting poll.

    A parked greenlet keeps its C stack on the heap, and gevent's Event.wait goes through
    several compiled calls (and a Timeout object) before it switches to the hub; a bare hub
    Waiter with a loop timer does not (measured: 2.0 KB of saved stack against 2.7 KB). Waking
    and the timer both switch the request back from the hub, as gevent requires. A wake that
    comes while the request is not waiting (it is reading the status) is kept for its next wait.
    """

    __slots__ = ("_hub", "_parked", "_woken")

    def __init__(self) -> None:
        self._hub = get_hub()
        self._parked: HubWaiter | None = None  # the wait in progress
        self._woken = False

    def wake(self) -> None:
        """Wake the request up (from any greenlet of this thread)."""
        self._woken = True
        parked, self._parked = self._parked, None
        if parked is not None:
            self._hub.loop.run_callback(parked.switch, None)

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True if woken (the status may have changed), False at the timeout."""
        if not self._woken:
            parked = self._parked = HubWaiter(self._hub)
            timer = self._hub.loop.timer(max(0.0, seconds))
            timer.start(parked.switch, None)
            try:
                parked.get()
            finally:
                timer.close()
                self._parked = None
        woken, self._woken = self._woken, False
        return woken


class Registration:
    """One request's place among a session's waiters, from `with` to its end.

    A small class rather than a generator context manager: thousands of these live at once, one
    per waiting long poll, and a suspended generator keeps a frame per poll.
    """

    __slots__ = ("_listener", "_digest", "_waiter")

    def __init__(self, listener: Listener, digest: str) -> None:
        self._listener = listener
        self._digest = digest
        self._waiter = listener.waiter_class()

    def __enter__(self) -> Waiter | GreenletWaiter:
        self._listener._add(self._digest, self._waiter)
        return self._waiter

    def __exit__(self, *exc_info: object) -> None:
        self._listener._remove(self._digest, self._waiter)


class Listener:
    """This process's subscription to every session's transitions, and the requests waiting on them."""

    def __init__(self, redis_url: str) -> None:
        self._redis_url = redis_url
        # Created in the process that serves (after fork, after gevent patched it, if it does).
        self.waiter_class = GreenletWaiter if gevent_worker.is_active() else Waiter
        self._lock = threading.Lock()
        self._waiters: dict[str, set[Waiter | GreenletWaiter]] = {}
        self._subscribed = threading.Event()
        self._thread: threading.Thread | None = None

    def waiting(self, digest: str) -> Registration:
        """Register a waiter for the session with this secret hash (hex) for a `with` block's duration."""
        self._ensure_started()
        return Registration(self, digest)

    def _add(self, digest: str, waiter: Waiter | GreenletWaiter) -> None:
        with self._lock:
            self._waiters.setdefault(digest, set()).add(waiter)

    def _remove(self, digest: str, waiter: Waiter | GreenletWaiter) -> None:
        with self._lock:
            group = self._waiters.get(digest)
            if group is not None:
                group.discard(waiter)
                if not group:
                    del self._waiters[digest]

    def waiting_count(self) -> int:
        """Return how many requests wait right now."""
        with self._lock:
            return sum(len(group) for group in self._waiters.values())

    def _ensure_started(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="status-listener", daemon=True)
                self._thread.start()
        # Only the first polls of a process ever wait here; later ones find it set.
        self._subscribed.wait(SUBSCRIBE_WAIT_SECONDS)

    def _wake(self, digest: str) -> None:
        with self._lock:
            waiters = list(self._waiters.get(digest, ()))
        for waiter in waiters:
            waiter.wake()

    def _wake_all(self) -> None:
        with self._lock:
            waiters = [waiter for group in self._waiters.values() for waiter in group]
        for waiter in waiters:
            waiter.wake()

    def _run(self) -> None:
        while True:
            client = redis_client.new_client(self._redis_url, redis_client.SUBSCRIBER)
            pubsub = client.pubsub()
            try:
                pubsub.psubscribe(status_cache.CHANNEL_PATTERN)
                while True:
                    message = pubsub.get_message(timeout=READ_TIMEOUT_SECONDS)
                    if message is None:
                        continue
                    if message["type"] == "psubscribe":
                        self._subscribed.set()
                        self._wake_all()  # whatever was published while we were away
                    elif message["type"] == "pmessage":
                        channel = message["channel"].decode()
                        self._wake(channel[len(status_cache.CHANNEL_PREFIX) :])
            except Exception as exc:  # Redis down or restarted: resubscribe, never die
                log.warning("status listener lost Redis (%s); resubscribing", type(exc).__name__)
            finally:
                self._subscribed.clear()
                with contextlib.suppress(Exception):
                    pubsub.close()
                    client.close()
            self._wake_all()
            time.sleep(RECONNECT_PAUSE_SECONDS)


_listeners: redis_client.PerProcess[Listener] = redis_client.PerProcess(Listener)


def listener(redis_url: str) -> Listener:
    """Return this process's listener for a Redis URL (created lazily, anew after a fork)."""
    return _listeners.get(redis_url)
