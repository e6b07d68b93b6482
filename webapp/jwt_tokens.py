"""JWTs: flask-jwt-extended set up for our claims, every failure a 401 in the API's error shape."""

from __future__ import annotations

import datetime
from typing import Any

import jwt
from flask import Flask, Response, current_app
from flask_jwt_extended import JWTManager, create_access_token, create_refresh_token, decode_token, get_jwt, get_jwt_identity
from flask_jwt_extended.exceptions import JWTExtendedException

from core import db, token_families, users
from core.settings import Settings
from webapp.errors import ApiError, error_response

FAMILY_CLAIM = "fam"
# Tolerated clock difference between the web hosts that issue and check tokens.
LEEWAY_SECONDS = 5
BEARER_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def configure(app: Flask, settings: Settings) -> JWTManager:
    """Configure flask-jwt-extended on the app and install our loaders."""
    app.config.update(
        JWT_SECRET_KEY=settings.effective_jwt_secret_key,
        JWT_ALGORITHM="HS256",
        # Only HS256 is accepted: `alg: none`, HS512 or RS256 headers are refused.
        JWT_DECODE_ALGORITHMS=["HS256"],
        JWT_ENCODE_ISSUER=settings.jwt_issuer,
        JWT_DECODE_ISSUER=settings.jwt_issuer,
        JWT_ENCODE_AUDIENCE=settings.jwt_audience,
        JWT_DECODE_AUDIENCE=settings.jwt_audience,
        JWT_ENCODE_NBF=True,
        JWT_DECODE_LEEWAY=LEEWAY_SECONDS,
        JWT_ACCESS_TOKEN_EXPIRES=datetime.timedelta(seconds=settings.access_token_ttl),
        JWT_REFRESH_TOKEN_EXPIRES=datetime.timedelta(seconds=settings.refresh_token_ttl),
        JWT_TOKEN_LOCATION=["headers"],
        JWT_HEADER_TYPE="Bearer",
    )
    manager = JWTManager(app)
    manager.token_in_blocklist_loader(is_revoked)
    manager.unauthorized_loader(lambda reason: unauthorized("authorization_required", "An access token is required."))
    manager.invalid_token_loader(lambda reason: unauthorized("invalid_token", "The token is invalid."))
    manager.expired_token_loader(lambda header, payload: unauthorized("token_expired", "The token has expired."))
    manager.revoked_token_loader(lambda header, payload: unauthorized("token_revoked", "The token has been revoked."))
    manager.needs_fresh_token_loader(lambda header, payload: unauthorized("invalid_token", "The token is invalid."))
    manager.token_verification_failed_loader(
        lambda header, payload: unauthorized("invalid_token", "The token is invalid.")
    )
    manager.user_lookup_error_loader(lambda header, payload: unauthorized("invalid_token", "The user no longer exists."))
    return manager


def unauthorized(code: str, message: str) -> Response:
    """Answer 401 in the error shape with a Bearer challenge."""
    return error_response(401, code, message, BEARER_CHALLENGE)


def lacks_expiry(payload: dict[str, Any]) -> bool:
    """Tell whether a token has no usable `exp` (PyJWT checks exp only when present)."""
    return not isinstance(payload.get("exp"), (int, float))


def is_revoked(header: dict[str, Any], payload: dict[str, Any]) -> bool:
    """Tell whether the token's login is over or not its subject's; a database outage propagates (fail closed).

    A token without an expiry is treated as revoked: we never issue one, so it is forged or
    from a key that leaked, and it must not live forever.
    """
    family_id = payload.get(FAMILY_CLAIM)
    user_id = subject_user_id(payload)
    if not isinstance(family_id, str) or user_id is None or lacks_expiry(payload):
        return True
    with db.transaction() as conn:
        return not token_families.is_live_for(conn, family_id, user_id)


# Users' ids are Postgres bigints.
MAX_USER_ID = 2**63 - 1


def subject_user_id(payload: dict[str, Any]) -> int | None:
    """Return the user id a token's `sub` names (we issue it as a decimal string), else None."""
    subject = payload.get("sub")
    if not isinstance(subject, str) or not (subject.isascii() and subject.isdigit()):
        return None
    user_id = int(subject)
    return user_id if user_id <= MAX_USER_ID else None


def issue(family: dict[str, Any]) -> dict[str, Any]:
    """Create the access and refresh tokens of a family (its current refresh jti) for the API.

    Neither token outlives the login: both expire by its end (LOGIN_MAX_AGE from its start) at the latest.
    """
    settings: Settings = current_app.extensions["settings"]
    identity = str(family["user_id"])
    claims = {FAMILY_CLAIM: str(family["id"])}
    now = datetime.datetime.now(datetime.timezone.utc)
    login_left = token_families.login_ends_at(family, settings.login_max_age) - now
    # At least a second: the database has just found the login live, and clocks differ a little.
    login_left = max(login_left, datetime.timedelta(seconds=1))
    access_lifetime = min(datetime.timedelta(seconds=settings.access_token_ttl), login_left)
    refresh_lifetime = min(datetime.timedelta(seconds=settings.refresh_token_ttl), login_left)
    access_token = create_access_token(identity=identity, additional_claims=claims, expires_delta=access_lifetime)
    # flask-jwt-extended applies claim overrides after its own claims, so this jti wins.
    refresh_token = create_refresh_token(
        identity=identity,
        additional_claims={**claims, "jti": family["current_refresh_jti"]},
        expires_delta=refresh_lifetime,
    )
    return {
        "access_token": access_token,
        "refresh_token": refresh_token,
        "token_type": "bearer",
        "expires_in": int(access_lifetime.total_seconds()),
    }


def decode_refresh_token(token: str) -> tuple[str, str]:
    """Check a presented refresh token and return its (family id, jti), or raise a 401 ApiError."""
    try:
        payload = decode_token(token)
    except jwt.ExpiredSignatureError:
        raise ApiError(401, "token_expired", "The token has expired.", BEARER_CHALLENGE) from None
    except (jwt.PyJWTError, JWTExtendedException):
        raise ApiError(401, "invalid_token", "The token is invalid.", BEARER_CHALLENGE) from None
    family_id, jti = payload.get(FAMILY_CLAIM), payload.get("jti")
    if (
        payload.get("type") != "refresh"
        or not isinstance(family_id, str)
        or not isinstance(jti, str)
        or lacks_expiry(payload)
    ):
        raise ApiError(401, "invalid_token", "The token is invalid.", BEARER_CHALLENGE)
    return family_id, jti


def token_user(conn) -> dict[str, Any]:
    """Return the account of the request's access token (its family was checked live by the loaders), or raise 401."""
    try:
        user = users.get(conn, int(get_jwt_identity()))
    except (TypeError, ValueError):
        user = None
    if user is None:
        raise ApiError(401, "invalid_token", "The user of this token no longer exists.", BEARER_CHALLENGE)
    return user


def token_family() -> str:
    """Return the login (token family id) of the request's access token."""
    return get_jwt()[FAMILY_CLAIM]


def forbid_caching(response: Response) -> Response:
    """Keep tokens, session states, challenges and account data out of every cache (RFC 6749 section 5.1)."""
    response.headers["Cache-Control"] = "no-store"
    return response
