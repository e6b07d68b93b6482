"""Celery settings (lowercase names), read from the same settings as every other process."""

import sys

from celery import signals as _celery_signals

from core.settings import ConfigError, get_settings

_settings = get_settings()

broker_url = _settings.redis_url
# Redis, with a fix that keeps a worker alive when Redis goes away (see tasks/broker.py).
broker_transport = "tasks.broker:Transport"
# Tasks report through Postgres (session state), never through Celery results.
task_ignore_result = True
result_backend = None

imports = ("tasks.delivery", "tasks.email_delivery", "tasks.expiry", "tasks.passkey_notices", "tasks.pool_processes",
           "tasks.recovery", "tasks.retention")

# Periodic jobs, sent by `celery -A tasks beat` and run by the workers. Beat may run on several
# hosts at once: each job is idempotent, so a second copy only repeats work already done.
beat_schedule = {
    "delete-personal-data-of-finished-logins": {"task": "tasks.purge_finished_logins", "schedule": 3600.0},
    # A prompt whose worker died on another host waits for its lease to lapse, then for this sweep,
    # instead of the broker's hour-long visibility timeout.
    # Dropped unrun after 30 s: while no worker takes them, sweeps must not pile up in the queue.
    "requeue-stalled-logins": {
        "task": "tasks.requeue_stalled_sessions", "schedule": 30.0, "options": {"expires": 30.0},
    },
    # An email whose task was lost (the broker was down when it was recorded) is sent by this sweep.
    "delete-old-emails": {"task": "tasks.purge_old_emails", "schedule": 3600.0},
    "requeue-unsent-emails": {"task": "tasks.requeue_unsent_emails", "schedule": 60.0, "options": {"expires": 60.0}},
}

# Acknowledge after the task ran, so a worker killed mid-task leaves it to be redelivered;
# the tasks are idempotent, so running twice is harmless.
task_acks_late = True
task_reject_on_worker_lost = True
worker_prefetch_multiplier = 1
# Prefork children per worker, whatever the cores (Celery's default is one per core): a prompt
# task mostly waits (Postgres commits, Telegram's answer, turns of the send budget), so on 2 cores
# two children topped out near 33 prompts/s, too close to Telegram's 30/s: their queue grew
# whenever tasks slowed (docs/benchmarks.md). `celery worker --concurrency N` overrides it.
worker_concurrency = 4

# Redis redelivers unacknowledged tasks after this many seconds; it must exceed the longest
# countdown (a 429's retry_after, a prompt's retry; at most the session TTL) or that task would
# run twice (harmless, but noisy).
broker_transport_options = {
    "visibility_timeout": max(3600, _settings.auth_session_ttl * 2),
    # A hung Redis (frozen, or packets dropped) accepts connections and never answers: these
    # bound every synchronous command. Above kombu's 1 s BRPOP timeout, so consuming is unaffected.
    "socket_connect_timeout": 2,
    "socket_timeout": 2,
}
broker_connection_timeout = 3
broker_connection_retry_on_startup = True
# Publishing must fail fast when Redis is down, so /init answers 503 instead of hanging. Measured
# against a frozen Redis: each retry costs about 2 socket timeouts more (2 retries at 5 s: 20 s),
# so none: a server silent for 2 s won't answer the next try either. A pooled connection broken
# by a Redis restart needs no retry: redis-py replaces it when it is taken from the pool
# (tests/faults/test_redis_down.py measures both).
task_publish_retry_policy = {"max_retries": 0, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}

task_serializer = "json"
accept_content = ("json",)
timezone = "UTC"
enable_utc = True
worker_hijack_root_logger = False
worker_redirect_stdouts = False


def _refuse_unusable_settings(**kwargs: object) -> None:
    """Stop the worker before it takes a task when its settings or database role are unusable (one line per problem)."""
    from core import database_guard

    try:
        _settings.ensure_usable("worker")
        database_guard.ensure_safe(_settings, "worker")
    except ConfigError as exc:
        print(exc, file=sys.stderr, flush=True)
        # SystemExit: Celery logs and swallows an Exception raised by a signal handler.
        raise SystemExit(2) from None


def _refuse_unusable_beat_settings(**kwargs: object) -> None:
    """Stop beat before it sends a task when its settings are unusable (it never opens the database)."""
    try:
        _settings.ensure_usable("beat")
    except ConfigError as exc:
        print(exc, file=sys.stderr, flush=True)
        raise SystemExit(2) from None


# Only the worker process sends worker_init, only beat beat_init; the web app and the bot also read this module.
_celery_signals.worker_init.connect(_refuse_unusable_settings, weak=False)
_celery_signals.beat_init.connect(_refuse_unusable_beat_settings, weak=False)
