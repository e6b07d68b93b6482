"""The email endpoints under /api/auth/email: add and confirm an address; sign in by email code.

Core decides (`core.email_account`); this view translates its outcomes into answers and queues
the emails they recorded once the transaction is committed. No email is sent in a request.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify
from flask_jwt_extended import jwt_required

from core import db, direct_logins, email_account, email_addresses, email_codes, events, users
from core.settings import Settings
from webapp import direct_logins as web_direct_logins
from webapp import email_notices, email_schemas, jwt_tokens, openapi, rate_limits, schemas
from webapp.errors import ApiError

bp = Blueprint("email_api", __name__, url_prefix="/api/auth/email")

EMAIL_UNAVAILABLE = {503: ("email_unavailable", "service_unavailable")}


bp.after_request(jwt_tokens.forbid_caching)


@bp.post("")
@jwt_required()
@openapi.operation(
    body=email_schemas.EmailRequest,
    responses={202: email_schemas.EmailCodeSent},
    bearer=True,
    errors={409: ("email_change_in_telegram",), 422: ("invalid_email",), 429: ("rate_limited",), **EMAIL_UNAVAILABLE},
)
def add_email(body: email_schemas.EmailRequest) -> tuple[Response, int]:
    """Add an email address to the account: a 6-digit code is mailed to it."""
    settings = _settings_with_email()
    rate_limits.check_email_per_ip()
    address = _address(body.email)
    rate_limits.check_email_per_address(address)
    with db.transaction() as conn:
        user = jwt_tokens.token_user(conn)
        result = email_account.request_address(conn, user, address, settings.bot_default_language)
    if result.outcome is email_account.Requested.NEEDS_TELEGRAM:
        raise ApiError.of("email_change_in_telegram")
    if result.outcome is email_account.Requested.TOO_MANY:
        raise ApiError.of("rate_limited", headers={"Retry-After": str(email_account.CONFIRM_CODES_WINDOW_SECONDS)})
    email_notices.send_after_response(result.emails)
    events.emit("email_code_requested", user=user["id"], purpose=email_codes.CONFIRM)
    return jsonify({"status": "code_sent", "expires_in": email_codes.CODE_TTL_SECONDS}), 202


@bp.post("/confirm")
@jwt_required()
@openapi.operation(
    body=email_schemas.EmailConfirmRequest,
    responses={200: schemas.UserProfile},
    bearer=True,
    errors={409: ("email_taken",), 422: ("invalid_code",), 429: ("rate_limited",), **openapi.BACKEND_ERRORS},
)
def confirm_email(body: email_schemas.EmailConfirmRequest) -> Response:
    """Confirm the address with the code mailed to it; answers the profile, as /me does."""
    settings = _settings()
    rate_limits.check_email_per_ip()
    with db.transaction() as conn:
        user = jwt_tokens.token_user(conn)
        result = email_account.confirm(conn, user, body.code, settings.bot_default_language)
    if result.outcome is email_account.Confirmed.WRONG_CODE:
        raise ApiError.of("invalid_code")
    if result.outcome is email_account.Confirmed.TAKEN:
        raise ApiError.of("email_taken")
    email_notices.send_after_response(result.emails)
    events.emit("email_confirmed", user=user["id"])
    return jsonify(users.public_profile(result.user))


@bp.post("/login")
@openapi.operation(
    body=email_schemas.EmailRequest,
    responses={202: email_schemas.EmailCodeSent},
    errors={403: ("email_login_disabled",), 422: ("invalid_email",), 429: ("rate_limited",), **EMAIL_UNAVAILABLE},
)
def request_login_code(body: email_schemas.EmailRequest) -> tuple[Response, int]:
    """Mail a sign-in code to a confirmed address (EMAIL_LOGIN=on); the same answer for unknown addresses."""
    settings = _login_settings()
    rate_limits.check_email_per_ip()
    address = _address(body.email)
    # Before the lookup: known and unknown addresses are limited alike.
    rate_limits.check_email_per_address(address)
    with db.transaction() as conn:
        emails = email_account.request_login_code(conn, address, settings.bot_default_language)
    email_notices.send_after_response(emails)
    events.emit("email_login_code_requested", known=bool(emails))
    return jsonify({"status": "code_sent", "expires_in": email_codes.CODE_TTL_SECONDS}), 202


@bp.post("/login/verify")
@openapi.operation(
    body=email_schemas.EmailLoginVerifyRequest,
    responses={200: schemas.ApprovedStatus},
    errors={403: ("email_login_disabled",), 422: ("invalid_email", "invalid_code"), 429: ("rate_limited",),
            **EMAIL_UNAVAILABLE},
)
def verify_login_code(body: email_schemas.EmailLoginVerifyRequest) -> Response:
    """Sign in with the code mailed to the address: the tokens and user, as an approved status poll answers."""
    _login_settings()
    rate_limits.check_email_per_ip()
    address = _address(body.email)
    with db.transaction() as conn:
        # A wrong try is counted in its own commit: it must stick even though the answer is an error.
        user = email_account.verify_login_code(conn, address, body.code)
    if user is None:
        raise ApiError.of("invalid_code")
    with db.transaction() as conn:
        answer, session_pk = web_direct_logins.open_login(conn, user, direct_logins.EMAIL)
    web_direct_logins.announce(session_pk)
    return jsonify(answer)


def _address(raw: str) -> str:
    try:
        return email_addresses.normalize(raw)
    except email_addresses.InvalidEmail:
        raise ApiError.of("invalid_email") from None


def _settings() -> Settings:
    return current_app.extensions["settings"]


def _settings_with_email() -> Settings:
    settings = _settings()
    if not settings.email_enabled:
        raise ApiError.of("email_unavailable")
    return settings


def _login_settings() -> Settings:
    """The settings, if the email sign-in is on: 403 when EMAIL_LOGIN is off, 503 when no mail can go."""
    settings = _settings()
    if settings.email_login != "on":
        raise ApiError.of("email_login_disabled")
    return _settings_with_email()
