"""The login API under /api/auth: init, status, cancel, refresh, me, logout (DESIGN.md contract)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable

from flask import Blueprint, Response, current_app, jsonify, request
from flask_jwt_extended import get_jwt, get_jwt_identity, jwt_required
from redis.client import Pipeline

import tasks
from core import auth_sessions, db, events, phones, prompt_targets, status_cache, token_families, users
from core.errors import InvalidPhoneNumber, ServiceUnavailable
from core.settings import Settings
from core.token_families import RotationOutcome
from webapp import bot_identity, client_info, delivery_status, direct_logins, jwt_tokens, metrics, openapi, rate_limits, schemas, status_waits
from webapp import email_notices, waiting_polls
from webapp.errors import ApiError

log = logging.getLogger(__name__)

MAX_WAIT_SECONDS = schemas.MAX_WAIT_SECONDS

bp = Blueprint("auth_api", __name__, url_prefix="/api/auth")


bp.after_request(jwt_tokens.forbid_caching)


@bp.post("/init")
@openapi.operation(
    body=schemas.InitRequest,
    responses={201: schemas.InitResponse},
    errors={422: ("invalid_phone_number",), 429: ("rate_limited",), **openapi.BACKEND_ERRORS},
    # The answer's session_id is what a status poll and a cancel take (OpenAPI links).
    links={201: {op: {"session_id": "$response.body#/session_id"} for op in ("session_status", "cancel_session")}},
)
def init_session(body: schemas.InitRequest) -> tuple[Response, int]:
    """Start a login for a phone number; answer the same way whether or not it is linked."""
    settings = _settings()
    try:
        phone_number: str | None = phones.normalize(body.phone_number, settings.default_phone_region)
    except InvalidPhoneNumber:
        phone_number = None
    # Per client, then per phone and client (a client flooding someone's phone is refused, the
    # owner is not), in one round trip; before the user is looked up, so a limited phone gets the
    # same answer, linked or not. A client over its limit hears 429 before whether the number is valid.
    rate_limits.check_init(phone_number)
    if phone_number is None:
        raise ApiError(422, "invalid_phone_number", "This is not a valid phone number.")
    username = bot_identity.bot_username(settings)
    # Linked or not, the same work and the same answer; only the prompt may wait for the bot_url.
    with db.transaction(one_statement=True) as conn:
        new = prompt_targets.start_login(
            conn,
            phone_number=phone_number,
            ttl_seconds=settings.auth_session_ttl,
            approval_mode=settings.approval_mode,
            client_ip=client_info.client_ip(),
            user_agent=client_info.user_agent(),
            budget=settings.prompt_budget_per_phone,
        )
        # The new login's status entry goes out with its prompt: one Redis round trip, not two.
        cache_entry = status_cache.take_new_entries(conn)
    row = new.row
    enqueue_session_tasks(new, cache_entry)
    linked = row["user_id"] is not None
    events.emit("session_created", session=row["id"], phone=phone_number, ip=row["client_ip"], linked=linked)
    body: dict[str, Any] = {
        "session_id": new.session_id,
        "status": auth_sessions.PENDING,
        "expires_in": row["expires_in"],
        "poll_interval": settings.poll_interval,
        "bot_url": bot_identity.deep_link(username, row["start_token"]),
    }
    if row["match_code"]:
        body["match_code"] = row["match_code"]
    return jsonify(body), 201


def enqueue_session_tasks(new: auth_sessions.NewSession, cache_entry: Callable[[Pipeline], None] | None = None) -> None:
    """Queue the prompt for the worker (with the session's status entry, if given); on failure cancel the session and raise 503.

    Queued for unlinked phones too (the worker finds nothing to send), so Redis is asked the
    same for every phone. No expiry task: the worker's sweep expires whatever nobody decided
    (tasks/expiry.py), instead of a countdown per login held in the worker's memory.
    """
    session_pk = str(new.row["id"])
    try:
        tasks.enqueue_approval_prompt(session_pk, _settings().redis_url, along=cache_entry)
    except Exception as exc:  # redis or socket errors: the queue is unreachable
        events.emit("session_enqueue_failed", session=session_pk, error=type(exc).__name__)
        # Nothing half-done: a session whose prompt was never queued must not live on.
        with db.transaction() as conn:
            auth_sessions.cancel(conn, new.session_id)
        raise ServiceUnavailable("redis", "could not enqueue the session's tasks") from exc


# `path:` so that an id with a slash in it is one more malformed id (404 session_not_found).
@bp.get("/status/<path:session_id>")
@openapi.operation(
    query=schemas.StatusQuery,
    responses={200: schemas.SessionStatus},
    errors={
        400: ("invalid_wait",),
        404: ("session_not_found",),
        410: ("session_consumed",),
        429: ("slow_down", "rate_limited"),
        **openapi.BACKEND_ERRORS,
    },
)
def session_status(session_id: str) -> Response:
    """Report a login's state; hand out the tokens on the first poll after approval; wait up to `?wait=` s for a change."""
    settings = _settings()
    wait = wait_seconds(request.args.get("wait"))
    if wait == 0:
        # Before the lookup: known and unknown ids are slowed down alike (no oracle for guessing).
        return answer(read_status(session_id, rate_limits.check_poll(session_id)), settings)
    listener = status_waits.listener(settings.redis_url)
    # The slot first: a poll over the caps is answered at once, before it waits or reads anything.
    # Then registered before the first read: a transition is either seen by that read or wakes us.
    with (
        waiting_polls.slot(session_id),
        listener.waiting(rate_limits.session_digest(session_id)) as waiter,
        metrics.LONG_POLLS_WAITING.track_inprogress(),
    ):
        deadline = time.monotonic() + wait
        check: rate_limits.PollCheck | None = rate_limits.check_poll(session_id)
        while True:
            # While pending, what a waiting poll keeps is this small record, not a response.
            status = read_status(session_id, check)
            if not isinstance(status, Pending):
                return status
            expires_at = time.monotonic() + status.expires_in
            # Wake at the deadline, or just after expires_at (so the answer can be `expired`).
            woken = waiter.wait(min(deadline, expires_at + EXPIRY_SLACK_SECONDS) - time.monotonic())
            if not woken and time.monotonic() >= deadline:
                # Still pending after `wait` s; no Postgres connection was held meanwhile.
                expires_in = max(0, int(expires_at - time.monotonic()))
                return answer(Pending(expires_in, status.delivery_failing), settings)
            check = None  # woken, or at expires_at: Postgres has the news


# A waiting poll wakes this long after the session's `expires_in` (whole seconds, rounded down).
EXPIRY_SLACK_SECONDS = 1.05


@dataclass(frozen=True, slots=True)
class Pending:
    """A login still waiting for its tap; `delivery_failing` None means "not read yet: ask Redis"."""

    expires_in: int
    delivery_failing: bool | None


def read_status(session_id: str, check: rate_limits.PollCheck | None) -> Pending | Response:
    """Return `Pending` from the Redis read alone while pending, else the final answer from Postgres."""
    if check is not None and check.cached_status == auth_sessions.PENDING:
        remaining_ms = check.expires_at_ms - check.now_ms
        # Near expires_at, Postgres (whose clock decides expiry) answers instead of the cache.
        if remaining_ms > CACHE_TRUST_MARGIN_MS:
            return Pending(remaining_ms // 1000, check.delivery_failing)
    grant: tuple[dict[str, Any], dict[str, Any]] | None = None
    expired_now = False
    with db.transaction() as conn:
        # An approved session is consumed by this very read: the status and the tokens' right in one statement.
        polled = auth_sessions.poll(
            conn, session_id, client_ip=client_info.client_ip(), user_agent=client_info.user_agent()
        )
        if polled is None:
            raise ApiError(404, "session_not_found", "There is no such login session.")
        row = polled.session
        state = auth_sessions.effective_status(row)
        if polled.consumed:
            grant = grant_of(conn, polled)
        elif state == auth_sessions.EXPIRED:
            expired_now = auth_sessions.expire_if_overdue(conn, str(row["id"])) is not None
    if expired_now:
        announce_end(row["id"], "session_expired")
    if state == auth_sessions.PENDING:
        return Pending(row["expires_in"], None)
    if grant is not None:
        family, user = grant
        events.emit("tokens_issued", session=row["id"], user=user["id"], family=family["id"])
        return jsonify(direct_logins.approved_answer(family, user))
    if state in (auth_sessions.CONSUMED, auth_sessions.APPROVED):  # approved: another poll won its tokens
        raise ApiError(410, "session_consumed", "The tokens of this login were already handed out.")
    return jsonify({"status": state})


# Redis's and Postgres's clocks may differ a little: the cache is trusted until 1 s before expiry.
CACHE_TRUST_MARGIN_MS = 1000


def answer(status: Pending | Response, settings: Settings) -> Response:
    """Return the response of a status read: a pending login's body, or the final answer as it is."""
    if not isinstance(status, Pending):
        return status
    body: dict[str, Any] = {"status": auth_sessions.PENDING, "expires_in": status.expires_in,
                            "poll_interval": settings.poll_interval}
    if status.delivery_failing is None:
        body.update(delivery_status.pending_fields(settings))
    elif status.delivery_failing:
        body["delivery"] = delivery_status.FAILING
    return jsonify(body)


@bp.delete("/session/<path:session_id>")
@openapi.operation(
    responses={200: schemas.CancelResponse},
    errors={404: ("session_not_found",), 409: ("session_not_pending",), **openapi.BACKEND_ERRORS},
)
def cancel_session(session_id: str) -> Response:
    """Abandon a pending login on the browser's request."""
    expired_now = False
    with db.transaction() as conn:
        cancelled = auth_sessions.cancel(conn, session_id)
        if cancelled is None:
            row = find_session(conn, session_id)
            expired_now = auth_sessions.expire_if_overdue(conn, str(row["id"])) is not None
    if cancelled is None:
        if expired_now:
            announce_end(row["id"], "session_expired")
        raise ApiError(409, "session_not_pending", "This login is no longer pending.")
    announce_end(cancelled["id"], "session_cancelled")
    return jsonify({"status": auth_sessions.CANCELLED})


@bp.post("/refresh")
@openapi.operation(
    body=schemas.RefreshRequest,
    responses={200: schemas.Tokens},
    errors={
        401: ("invalid_token", "token_expired", "token_reused", "token_revoked", "login_expired"),
        429: ("rate_limited",),
        **openapi.BACKEND_ERRORS,
    },
)
def refresh_tokens(body: schemas.RefreshRequest) -> Response:
    """Spend a refresh token for a new access and refresh token; a spent one, or an old login, ends the login."""
    token = body.refresh_token
    try:
        family_id, jti = jwt_tokens.decode_refresh_token(token)
    except ApiError:
        rate_limits.check_refresh_per_ip()  # guessed or forged tokens spend this IP's budget
        raise
    rate_limits.check_refresh_per_family(family_id)
    with db.transaction() as conn:
        rotation = token_families.rotate(conn, family_id, jti, max_age_seconds=_settings().login_max_age)
    if rotation.outcome is RotationOutcome.ROTATED:
        events.emit("tokens_refreshed", user=rotation.family["user_id"], family=family_id)
        return jsonify(jwt_tokens.issue(rotation.family))
    if rotation.outcome is RotationOutcome.EXPIRED:
        events.emit("login_expired", user=rotation.family["user_id"], family=family_id)
        raise ApiError(
            401, "login_expired", "This login is too old to refresh; sign in again.", jwt_tokens.BEARER_CHALLENGE
        )
    if rotation.outcome is RotationOutcome.REUSED:
        events.emit("refresh_reused", user=rotation.family["user_id"], family=family_id, ip=client_info.client_ip())
        raise ApiError(
            401,
            "token_reused",
            "This refresh token was already used; the login has been ended.",
            jwt_tokens.BEARER_CHALLENGE,
        )
    raise ApiError(401, "token_revoked", "The token has been revoked.", jwt_tokens.BEARER_CHALLENGE)


@bp.get("/me")
@jwt_required()
@openapi.operation(responses={200: schemas.UserProfile}, bearer=True, errors=openapi.BACKEND_ERRORS)
def me() -> Response:
    """Return the logged-in user's profile."""
    with db.transaction() as conn:
        user = jwt_tokens.token_user(conn)
    return jsonify(users.public_profile(user))


@bp.post("/logout")
@jwt_required()
@openapi.operation(responses={204: None}, bearer=True, errors=openapi.BACKEND_ERRORS)
def logout() -> Response:
    """End this login: revoke its token family (every access and refresh token of it)."""
    family_id = get_jwt()[jwt_tokens.FAMILY_CLAIM]
    with db.transaction() as conn:
        token_families.revoke(conn, family_id, "logout")
    events.emit("logout", user=get_jwt_identity(), family=family_id)
    response = current_app.response_class(status=204)
    del response.headers["Content-Type"]
    return response


def wait_seconds(raw: str | None) -> int:
    """Return the `?wait=` of a status poll (0 when absent), or raise 400 invalid_wait."""
    if raw is None:
        return 0
    if not (0 < len(raw) <= 2 and raw.isascii() and raw.isdigit()) or int(raw) > MAX_WAIT_SECONDS:
        raise ApiError(400, "invalid_wait", f"wait must be a whole number of seconds from 0 to {MAX_WAIT_SECONDS}.")
    return int(raw)


def find_session(conn, session_id: str) -> dict[str, Any]:
    """Return the session of a browser's session id, or raise 404 (unknown and malformed alike)."""
    row = auth_sessions.find_by_session_id(conn, session_id)
    if row is None:
        raise ApiError(404, "session_not_found", "There is no such login session.")
    return row


def grant_of(conn, polled: auth_sessions.Poll) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return the token family and the user of the login this poll consumed; record its notice email."""
    if polled.user is None or polled.family is None:
        # The account was deleted after approving: raising rolls the consumption back.
        raise ApiError(404, "session_not_found", "There is no such login session.")
    email_notices.record_login(conn, polled.session, polled.user)
    return polled.family, polled.user


def announce_end(session_pk: Any, event: str) -> None:
    """After the commit: ask for the Telegram prompt to be edited (best effort) and log it."""
    try:
        tasks.enqueue_prompt_update(str(session_pk))
    except Exception as exc:  # the prompt keeps stale buttons, but the database already refuses them
        log.warning("could not enqueue the prompt update of session %s: %s", session_pk, type(exc).__name__)
    events.emit(event, session=session_pk)


def _settings() -> Settings:
    return current_app.extensions["settings"]
