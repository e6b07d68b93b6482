"""Liveness (`/healthz`) and readiness (`/readyz`: Postgres and Redis reachable)."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, jsonify

from core import db, redis_client
from core.settings import Settings
from webapp import openapi, schemas
from webapp.errors import RETRY_AFTER_SECONDS, error_response

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@openapi.operation(responses={200: schemas.HealthResponse}, tag="health")
def healthz() -> Response:
    """Say the process is up."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
@openapi.operation(
    responses={200: schemas.ReadyResponse, 503: schemas.NotReadyResponse}, errors=openapi.BACKEND_ERRORS, tag="health"
)
def readyz() -> Response:
    """Check Postgres and Redis; 503 naming the failing ones."""
    settings: Settings = current_app.extensions["settings"]
    checks = {"postgres": check_postgres(), "redis": check_redis(settings.redis_url)}
    failing = [name for name, state in checks.items() if state != "ok"]
    if failing:
        return error_response(
            503,
            "service_unavailable",
            f"Not ready: {' and '.join(failing)} unreachable.",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            extra={"checks": checks},
        )
    return jsonify({"status": "ok", "checks": checks})


def check_postgres() -> str:
    """Return "ok" when a query succeeds, else "unreachable"."""
    try:
        with db.transaction() as conn, conn.cursor() as cur:
            cur.execute("SELECT 1")
    except Exception as exc:
        log.warning("readiness: postgres %s: %s", type(exc).__name__, exc)
        return "unreachable"
    return "ok"


def check_redis(url: str) -> str:
    """Return "ok" when Redis answers PING within a second, else "unreachable"."""
    client = redis_client.new_client(url, redis_client.PROBE)
    try:
        client.ping()
    except Exception as exc:
        log.warning("readiness: redis %s: %s", type(exc).__name__, exc)
        return "unreachable"
    finally:
        client.close()
    return "ok"
