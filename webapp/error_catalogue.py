"""Every error code of the API with its status and sentence: the views, the limits and the OpenAPI document read it."""

from __future__ import annotations

from typing import NamedTuple

from core import passkeys
from webapp.schemas import MAX_WAIT_SECONDS


class ErrorCode(NamedTuple):
    """The status an error code answers with, and the sentence it says unless a view says more."""

    status: int
    message: str


CATALOGUE: dict[str, ErrorCode] = {
    "bad_request": ErrorCode(400, "The request could not be understood."),
    "malformed_json": ErrorCode(400, "The body is not valid JSON."),
    "invalid_body": ErrorCode(400, "The body must be a JSON object."),
    "invalid_wait": ErrorCode(400, f"wait must be a whole number of seconds from 0 to {MAX_WAIT_SECONDS}."),
    "authorization_required": ErrorCode(401, "An access token is required."),
    "invalid_token": ErrorCode(401, "The token is invalid."),
    "token_expired": ErrorCode(401, "The token has expired."),
    "token_revoked": ErrorCode(401, "The token has been revoked."),
    "token_reused": ErrorCode(401, "This refresh token was already used; the login has been ended."),
    "login_expired": ErrorCode(401, "This login is too old to refresh; sign in again."),
    "forbidden": ErrorCode(403, "You are not allowed to do this."),
    "fresh_login_required": ErrorCode(
        403, "Adding a passkey needs a login approved in Telegram in the last 5 minutes; log in with Telegram again."
    ),
    "passkey_clone_detected": ErrorCode(
        403, "This passkey was refused: its authenticator looks copied. Its owner has been told in Telegram."
    ),
    "invalid_credential": ErrorCode(400, "The body is not a passkey answer (PublicKeyCredential.toJSON())."),
    "passkey_challenge_expired": ErrorCode(400, "This passkey request expired or was already used; start again."),
    "passkey_registration_failed": ErrorCode(400, "The passkey could not be verified; try again."),
    "passkey_sign_in_failed": ErrorCode(401, "This passkey was not accepted."),
    "passkey_not_found": ErrorCode(404, "There is no such passkey."),
    "passkey_exists": ErrorCode(409, "This passkey is already added."),
    "too_many_passkeys": ErrorCode(
        409,
        f"You have {passkeys.MAX_PER_USER} passkeys, the most an account can have; remove one in Telegram"
        " (/passkeys) or on the site, then add this one.",
    ),
    "email_login_disabled": ErrorCode(403, "Signing in by email is switched off on this site (EMAIL_LOGIN)."),
    "not_found": ErrorCode(404, "There is nothing at this address."),
    "session_not_found": ErrorCode(404, "There is no such login session."),
    "method_not_allowed": ErrorCode(405, "This method is not allowed here."),
    "not_acceptable": ErrorCode(406, "This endpoint only answers JSON."),
    "request_timeout": ErrorCode(408, "The request took too long to arrive."),
    "session_not_pending": ErrorCode(409, "This login is no longer pending."),
    "email_change_in_telegram": ErrorCode(
        409, "A confirmed address is changed or removed in the Telegram bot (/email), which asks you first."
    ),
    "email_taken": ErrorCode(409, "This address belongs to another account."),
    "session_consumed": ErrorCode(410, "The tokens of this login were already handed out."),
    "length_required": ErrorCode(411, "Send a Content-Length header."),
    "payload_too_large": ErrorCode(413, "The request body is too large."),
    "uri_too_long": ErrorCode(414, "The address is too long."),
    "unsupported_media_type": ErrorCode(415, "Send the body as application/json."),
    "invalid_phone_number": ErrorCode(422, "This is not a valid phone number."),
    "invalid_email": ErrorCode(422, "This is not a valid email address."),
    "invalid_code": ErrorCode(422, "The code is wrong or no longer valid; ask for a new one."),
    # Field errors name the field: the views and the document fill in {field}.
    "missing_field": ErrorCode(422, "The field '{field}' is required."),
    "invalid_field": ErrorCode(422, "The field '{field}' must be a string."),
    "rate_limited": ErrorCode(429, "Too many requests; try again later."),
    "slow_down": ErrorCode(429, "Polled faster than poll_interval; slow down."),
    "request_header_fields_too_large": ErrorCode(431, "The request headers are too large."),
    "internal_error": ErrorCode(500, "Something went wrong on our side."),
    "not_implemented": ErrorCode(501, "This is not implemented."),
    "service_unavailable": ErrorCode(503, "The service is temporarily unavailable; try again shortly."),
    "email_unavailable": ErrorCode(503, "Email is not set up on this server (SMTP_URL)."),
}

# The code of each status Flask and Werkzeug answer on their own (abort, routing, body limits).
HTTP_STATUS_CODES: dict[int, str] = {
    400: "bad_request",
    401: "authorization_required",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    408: "request_timeout",
    411: "length_required",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    429: "rate_limited",
    431: "request_header_fields_too_large",
    500: "internal_error",
    501: "not_implemented",
    503: "service_unavailable",
}


def status_of(code: str) -> int:
    """Return the HTTP status an error code answers with."""
    return CATALOGUE[code].status


def message_of(code: str) -> str:
    """Return the catalogue's sentence of an error code."""
    return CATALOGUE[code].message
