"""Prometheus metrics at `GET /metrics` (text exposition), summed over every gunicorn worker.

Two sources:
- this web process's own metrics (requests, rate-limit hits, waiting long polls), shared between
  gunicorn's workers through prometheus_client's multiprocess mode when PROMETHEUS_MULTIPROC_DIR
  is set (gunicorn.conf.py sets it per master);
- counters kept in Redis by `core.shared_metrics` (login outcomes, time to approval, Telegram
  failures and retries), because the bot and the worker, not the web app, see those happen.
Labels are route templates and fixed names only: never a path, a phone number or a token.
With METRICS_TOKEN set, a scrape must present it as a bearer token.
"""

from __future__ import annotations

import hmac
import logging
import os
import time
from typing import Iterator

import redis
from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from core import redis_client, shared_metrics
from webapp.errors import error_response

log = logging.getLogger(__name__)

bp = Blueprint("metrics", __name__)
# No `*_created` series: they double the output and no dashboard of ours reads them.
disable_created_metrics()

HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests answered, by route template and status.", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request (long polls included), by route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
RATE_LIMIT_HITS = Counter("rate_limit_hits_total", "Requests refused by a rate limit (429), by limit.", ["limit"])
# livesum: the workers' current values added up, a dead worker's dropped.
LONG_POLLS_WAITING = Gauge(
    "auth_long_polls_waiting", "Status long polls waiting for a transition right now.", multiprocess_mode="livesum"
)


class SharedMetricsCollector(Collector):
    """Expose the Redis-kept counters of `core.shared_metrics` as Prometheus metrics."""

    def collect(self) -> Iterator[Metric]:
        """Read the shared counters from Redis (nothing on a Redis error: the scrape still answers)."""
        client = redis_client.get_quick_redis()
        if client is None:
            return
        try:
            data = shared_metrics.read(client)
        except redis.RedisError as exc:
            log.warning("could not read shared metrics: %s", type(exc).__name__)
            return
        logins = CounterMetricFamily("auth_logins", "Logins that left pending, by outcome.", labels=["outcome"])
        for outcome in shared_metrics.OUTCOMES:
            logins.add_metric([outcome], data[shared_metrics.LOGINS_KEY].get(outcome, 0.0))
        yield logins
        yield _approval_histogram(data[shared_metrics.APPROVAL_KEY])
        counters = data[shared_metrics.COUNTERS_KEY]
        for name, help_text in (
            (shared_metrics.PROMPT_SEND_FAILURES, "Approval prompts Telegram refused or failed to take (each try)."),
            (shared_metrics.TELEGRAM_RETRIES, "Telegram calls of the worker retried later (5xx, timeouts, 429)."),
        ):
            yield CounterMetricFamily(name.removesuffix("_total"), help_text, value=counters.get(name, 0.0))


def _approval_histogram(stored: dict[str, float]) -> HistogramMetricFamily:
    """Build the cumulative histogram from per-bucket counts."""
    buckets, running = [], 0.0
    for bound in shared_metrics.APPROVAL_BUCKETS:
        label = shared_metrics.bucket_label(bound)
        running += stored.get(label, 0.0)
        buckets.append((label, running))
    return HistogramMetricFamily(
        "auth_approval_seconds",
        "Seconds from /api/auth/init to the approving tap.",
        buckets=buckets,
        sum_value=stored.get(shared_metrics.SUM_FIELD, 0.0),
    )


@bp.get("/metrics")
def metrics() -> Response:
    """Answer with every metric in Prometheus's text format (to the METRICS_TOKEN's holder, when set)."""
    metrics_token = current_app.extensions["settings"].metrics_token.get_secret_value()
    if metrics_token and not presents_token(request.headers.get("Authorization", ""), metrics_token):
        return error_response(
            401, "authorization_required", "/metrics needs the METRICS_TOKEN as a bearer token.",
            {"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    shared = CollectorRegistry(auto_describe=False)
    shared.register(SharedMetricsCollector())
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        local = CollectorRegistry()
        multiprocess.MultiProcessCollector(local)
    else:
        local = REGISTRY
    body = generate_latest(local) + generate_latest(shared)
    return Response(body, content_type=CONTENT_TYPE_LATEST)


def presents_token(authorization: str, expected: str) -> bool:
    """Tell whether an Authorization header is `Bearer <expected>`, in time independent of the token."""
    scheme, _, presented = authorization.partition(" ")
    # Compared even when the scheme is wrong, so the answer's timing says nothing either way.
    matches = hmac.compare_digest(presented.strip().encode(), expected.encode())
    return matches and scheme.lower() == "bearer"


def count_rate_limit_hit(limit: str) -> None:
    """Count one request refused by the named limit."""
    RATE_LIMIT_HITS.labels(limit=limit).inc()


def register(app: Flask) -> None:
    """Serve /metrics and time every request by its route template."""
    app.register_blueprint(bp)

    @app.before_request
    def start_timer() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def observe(response: Response) -> Response:
        started = g.pop("metrics_started", None)
        # The template (/api/auth/status/<session_id>), never the path: it holds the session id.
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        HTTP_REQUESTS.labels(request.method, route, str(response.status_code)).inc()
        if started is not None:
            HTTP_LATENCY.labels(request.method, route).observe(time.perf_counter() - started)
        return response
