"""Passkeys under /api/auth/passkeys: add one after a Telegram login, sign in with one, list, remove.

The rules live in `core.passkeys`; this module translates HTTP to them and their refusals to the
API's errors. A passkey sign-in opens a login like every other way in (`webapp.direct_logins`).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any, Iterator

import redis
from flask import Blueprint, Response, current_app, jsonify, request
from flask_jwt_extended import jwt_required

from core import db, direct_logins as core_direct_logins, events, passkeys
from core.errors import ServiceUnavailable
from core.settings import Settings
from jobs import passkey_notices
from webapp import client_info, direct_logins, email_notices, jwt_tokens, openapi, rate_limits, schemas
from webapp.errors import ApiError

log = logging.getLogger(__name__)

bp = Blueprint("passkeys_api", __name__, url_prefix="/api/auth/passkeys")

LIMITED = {429: ("rate_limited",), **openapi.BACKEND_ERRORS}
CEREMONY_ERRORS = {400: ("invalid_credential", "passkey_challenge_expired")}


bp.after_request(jwt_tokens.forbid_caching)


@bp.post("/registration/options")
@jwt_required()
@openapi.operation(
    responses={200: schemas.PasskeyCreationOptions},
    bearer=True,
    errors={403: ("fresh_login_required",), 409: ("too_many_passkeys",), **LIMITED},
)
def registration_options() -> Response:
    """Start adding a passkey: creation options, for a login approved in Telegram in the last 5 minutes."""
    rate_limits.check_passkey_per_ip()
    user, family_id = _token_owner()
    with _refusals(), _redis_failures(), db.transaction() as conn:
        options = passkeys.registration_options(conn, _redis(), _relying_party(), user=user, family_id=family_id)
    return _json(options)


@bp.post("/registration/verify")
@jwt_required()
@openapi.operation(
    body=schemas.PasskeyCredential,
    responses={201: schemas.Passkey},
    bearer=True,
    errors={
        400: ("invalid_credential", "passkey_challenge_expired", "passkey_registration_failed"),
        403: ("fresh_login_required",),
        409: ("passkey_exists", "too_many_passkeys"),
        **LIMITED,
    },
)
def registration_verify(body: schemas.PasskeyCredential) -> tuple[Response, int]:
    """Finish adding a passkey: verify the browser's answer and store it; Telegram is told."""
    rate_limits.check_passkey_per_ip()
    user, family_id = _token_owner()
    with _refusals(), _redis_failures(), db.transaction() as conn:
        change = passkeys.register(
            conn, _redis(), _relying_party(), user=user, family_id=family_id, credential=body.model_dump(),
            user_agent=client_info.user_agent(), default_language=_settings().bot_default_language,
        )
    [added] = change.passkeys
    events.emit("passkey_added", user=user["id"], passkey=added["id"])
    email_notices.send_after_response(change.emails)
    _after_commit(passkey_notices.enqueue_passkey_added_notice, str(added["id"]))
    shown = passkeys.public(added)
    del shown["last_used_at"]
    return jsonify(shown), 201


@bp.post("/login/options")
@openapi.operation(responses={200: schemas.PasskeyRequestOptions}, errors=LIMITED)
def login_options() -> Response:
    """Start a sign-in with a passkey: request options for any passkey of this site (no username)."""
    rate_limits.check_passkey_per_ip()
    with _redis_failures():
        return _json(passkeys.login_options(_redis(), _relying_party()))


@bp.post("/login/verify")
@openapi.operation(
    body=schemas.PasskeyCredential,
    responses={200: schemas.ApprovedStatus},
    errors={
        **CEREMONY_ERRORS,
        401: ("passkey_sign_in_failed",),
        403: ("passkey_clone_detected",),
        **LIMITED,
    },
)
def login_verify(body: schemas.PasskeyCredential) -> Response:
    """Finish a sign-in with a passkey: the tokens and user of a new login, announced in Telegram."""
    rate_limits.check_passkey_per_ip()
    try:
        with _refusals(), _redis_failures(), db.transaction() as conn:
            signed_in = passkeys.sign_in(conn, _redis(), _relying_party(), body.model_dump())
            answer, session_pk = direct_logins.open_login(conn, signed_in.user, core_direct_logins.PASSKEY)
    except ApiError as refused:
        clone = refused.__cause__
        if isinstance(clone, passkeys.CloneDetected):
            events.emit("passkey_clone_detected", user=clone.passkey["user_id"], passkey=clone.passkey["id"])
            _warn_owner_of_clone(str(clone.passkey["id"]))
        raise
    events.emit("passkey_used", user=signed_in.user["id"], passkey=signed_in.passkey["id"])
    direct_logins.announce(session_pk)
    return jsonify(answer)


@bp.get("")
@jwt_required()
@openapi.operation(responses={200: schemas.PasskeyList}, bearer=True, errors=openapi.BACKEND_ERRORS)
def list_passkeys() -> Response:
    """List the logged-in person's passkeys, newest first."""
    user, _ = _token_owner()
    with db.transaction() as conn:
        rows = passkeys.list_for_user(conn, user["id"])
    return jsonify({"passkeys": [passkeys.public(row) for row in rows]})


@bp.delete("/<path:passkey_id>")
@jwt_required()
@openapi.operation(responses={204: None}, bearer=True, errors={404: ("passkey_not_found",), **openapi.BACKEND_ERRORS})
def remove_passkey(passkey_id: str) -> Response:
    """Remove one of the logged-in person's passkeys (anyone else's, or an unknown id, is 404)."""
    user, _ = _token_owner()
    with db.transaction() as conn:
        change = passkeys.remove_for_user(conn, passkey_id, user, _settings().bot_default_language)
    if not change.passkeys:
        raise ApiError.of("passkey_not_found")
    events.emit("passkey_removed", user=user["id"], passkey=passkey_id, via="web")
    email_notices.send_after_response(change.emails)
    response = current_app.response_class(status=204)
    del response.headers["Content-Type"]
    return response


@contextlib.contextmanager
def _refusals() -> Iterator[None]:
    """Turn core's passkey refusals into the API's errors (the refusal stays the error's cause)."""
    try:
        yield
    except passkeys.PasskeyError as refusal:
        log.info("passkey refused: %s: %s", refusal.code, refusal)
        # A login that ended is the bearer token's failure: answered like any revoked token.
        challenge = jwt_tokens.BEARER_CHALLENGE if isinstance(refusal, passkeys.LoginEnded) else None
        raise ApiError.of(refusal.code, headers=challenge) from refusal


@contextlib.contextmanager
def _redis_failures() -> Iterator[None]:
    """Answer 503 when Redis (the challenges' store) can't be reached."""
    try:
        yield
    except redis.RedisError as exc:
        raise ServiceUnavailable("redis", f"passkey challenge store: {type(exc).__name__}") from exc


def _token_owner() -> tuple[dict[str, Any], str]:
    """Return the user of the request's access token and its login (token family)."""
    with db.transaction() as conn:
        return jwt_tokens.token_user(conn), jwt_tokens.token_family()


def _settings() -> Settings:
    return current_app.extensions["settings"]


def _relying_party() -> passkeys.RelyingParty:
    settings = _settings()
    return passkeys.relying_party(
        settings.webauthn_rp_id,
        settings.webauthn_rp_name or settings.site_name,
        settings.webauthn_origins,
        relaxed=settings.relaxed,
        own_origin=request.host_url,
    )


def _redis() -> redis.Redis:
    return rate_limits.client()


def _json(text: str) -> Response:
    return current_app.response_class(text, mimetype="application/json")


def _warn_owner_of_clone(passkey_id: str) -> None:
    """Queue the owner's clone warning if core grants one now; a claim that could not be queued is given back.

    The sign-in is refused (403) whatever happens here: a Postgres that fails the claim must not
    turn that into a 503, and the owner is then warned unclaimed (told twice beats never told).
    """
    try:
        with db.transaction() as conn:
            claimed_at = passkeys.claim_clone_warning(conn, passkey_id)
    except ServiceUnavailable as exc:
        log.warning("could not claim the clone warning of passkey %s (%s); warning the owner anyway", passkey_id, exc)
        _after_commit(passkey_notices.enqueue_passkey_clone_notice, passkey_id)
        return
    if claimed_at is None:
        events.emit("passkey_clone_warning_held_back", passkey=passkey_id)
        return
    if not _after_commit(passkey_notices.enqueue_passkey_clone_notice, passkey_id):
        with contextlib.suppress(ServiceUnavailable), db.transaction() as conn:
            passkeys.release_clone_warning(conn, passkey_id, claimed_at)


def _after_commit(enqueue: Any, passkey_id: str) -> bool:
    """Enqueue a Telegram notice after the commit (True if queued); a broker outage must not undo what is done."""
    try:
        enqueue(passkey_id)
    except Exception as exc:
        log.warning("could not enqueue a passkey notice for %s: %s", passkey_id, type(exc).__name__)
        return False
    return True
