"""Passkeys: the one home of their rules (WebAuthn ceremonies by the `webauthn` package).

- A passkey is added only from a login approved in Telegram in the last FRESH_LOGIN_SECONDS: a
  stolen access token alone can't plant one. Telegram stays the root of trust: it is told of
  every new passkey, lists them and removes them.
- A challenge lives in Redis for CHALLENGE_TTL_SECONDS, under the value the browser sends back
  inside `clientDataJSON`, and is taken with GETDEL: it works once, even when two answers race,
  and a failed answer spends it too.
- A sign-in finds its passkey by the credential id; a user handle, when the authenticator sends
  one, must be that passkey's. The signature counter must grow when either side is non-zero
  (one atomic UPDATE, so two uses racing with one counter value have one winner): otherwise the
  authenticator was cloned, the sign-in is refused and the owner is told, at most once per
  CLONE_WARNING_INTERVAL_SECONDS and passkey (`claim_clone_warning`): a clone tried again and again
  must not make the bot message its owner again and again.
- A person has at most MAX_PER_USER passkeys: refused early at the creation options, and checked
  again under a lock on the person's row where the passkey is inserted, so two registrations at
  once can't both take the last place.
- Adding or removing one mails the owner's confirmed address too (`email_events.account_event`),
  one email per passkey, recorded in the same transaction as the change.

Data functions take `conn` first and never commit, like the rest of `core`.
"""

from __future__ import annotations

import datetime
import json
import secrets
import urllib.parse
import uuid
from dataclasses import dataclass
from typing import Any

import webauthn
from webauthn.helpers import (
    bytes_to_base64url,
    parse_authentication_credential_json,
    parse_client_data_json,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import InvalidAuthenticationResponse, InvalidRegistrationResponse, WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)
from webauthn.helpers.cose import COSEAlgorithmIdentifier

from core import direct_logins, email_events, email_outbox, prompts, useragents, users

Row = dict[str, Any]

CHALLENGE_TTL_SECONDS = 300
FRESH_LOGIN_SECONDS = 300
CHALLENGE_KEY = "passkey-challenge:{challenge}"
REGISTRATION = "registration"
LOGIN = "login"
USER_HANDLE_BYTES = 32
# ES256 first (every platform authenticator), RS256 for Windows Hello's older keys.
ALGORITHMS = [COSEAlgorithmIdentifier.ECDSA_SHA_256, COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256]
TIMEOUT_MS = CHALLENGE_TTL_SECONDS * 1000
DEFAULT_NAME = "Passkey"
# Enough for every device a person uses (a phone, a laptop or two, a security key or two; a synced
# provider's passkey counts once), in line with big sites that cap authenticators below a dozen
# (AWS IAM: 8 MFA devices per user; an Apple Account: 6 security keys). 10 is also what /passkeys
# lists with a remove button each (`passkey_menu.MAX_LISTED`): Telegram, the root of trust, can
# show and remove every one of them. It bounds the rows and the "New passkey" messages of an account.
MAX_PER_USER = 10
# The first warning tells the owner what to do; more within the hour only help an attacker who
# wants the bot to message its owner again and again. One an hour still shows the attack goes on.
CLONE_WARNING_INTERVAL_SECONDS = 3600


class PasskeyError(Exception):
    """A passkey request refused; `code` is the API's error code for it."""

    code = "passkey_error"


class FreshLoginRequired(PasskeyError):
    """Adding a passkey needs a login approved in Telegram in the last FRESH_LOGIN_SECONDS."""

    code = "fresh_login_required"


class InvalidCredential(PasskeyError):
    """The body is not a PublicKeyCredential in its JSON form."""

    code = "invalid_credential"


class ChallengeNotFound(PasskeyError):
    """The answer's challenge is unknown, expired, already used, or of another ceremony or person."""

    code = "passkey_challenge_expired"


class RegistrationRefused(PasskeyError):
    """The authenticator's answer to a registration did not verify (origin, RP id, signature, flags)."""

    code = "passkey_registration_failed"


class PasskeyExists(PasskeyError):
    """This authenticator's credential is already registered."""

    code = "passkey_exists"


class TooManyPasskeys(PasskeyError):
    """The person has MAX_PER_USER passkeys already: one must be removed before another is added."""

    code = "too_many_passkeys"


class LoginEnded(PasskeyError):
    """The account went (unlinked in Telegram) while its passkey was being added: its login is over."""

    code = "token_revoked"


class SignInRefused(PasskeyError):
    """The sign-in did not verify: unknown or removed passkey, bad signature, wrong origin or RP id."""

    code = "passkey_sign_in_failed"


class CloneDetected(PasskeyError):
    """The signature counter did not grow: two authenticators hold this passkey's key."""

    code = "passkey_clone_detected"

    def __init__(self, passkey: Row) -> None:
        super().__init__("the signature counter did not grow")
        self.passkey = passkey


@dataclass(frozen=True)
class RelyingParty:
    """Who the passkeys are for: the RP id (a domain), the name browsers show, the origins allowed."""

    id: str
    name: str
    origins: tuple[str, ...]


@dataclass(frozen=True)
class SignIn:
    """A verified sign-in: the passkey (its counter and last use updated) and its user."""

    passkey: Row
    user: Row


def relying_party(
    rp_id: str, rp_name: str, origins: tuple[str, ...], *, relaxed: bool, own_origin: str | None = None
) -> RelyingParty:
    """Return the relying party of the settings; development fills in what is missing.

    In development and tests a missing RP id is `localhost`, a missing name the site's, and
    missing origins are those of ALLOWED_ORIGINS on the RP id, plus the web server's own origin
    when it is on the RP id (localhost on any port: browsers treat it as a secure context).
    Production refuses to start without all three (`config_checks.webauthn_problems`).
    """
    rp_id = rp_id or ("localhost" if relaxed else "")
    if origins or not relaxed:
        return RelyingParty(rp_id, rp_name, origins)
    derived = [origin for origin in origins_of(own_origin) if origin_on_rp_id(origin, rp_id)]
    return RelyingParty(rp_id, rp_name, tuple(dict.fromkeys(derived)))


def origins_of(*candidates: str | None) -> list[str]:
    """Return the non-empty origins among `candidates`, without trailing slashes."""
    return [candidate.rstrip("/") for candidate in candidates if candidate]


def origin_on_rp_id(origin: str, rp_id: str) -> bool:
    """Tell whether an origin's host is the RP id or one of its subdomains (WebAuthn's rule)."""
    host = (urllib.parse.urlsplit(origin).hostname or "").lower()
    rp_id = rp_id.lower()
    return bool(rp_id) and (host == rp_id or host.endswith("." + rp_id))


# ---- challenges (Redis) ---------------------------------------------------------------------


def _remember_challenge(redis, challenge: bytes, ceremony: str, **context: Any) -> None:
    key = CHALLENGE_KEY.format(challenge=bytes_to_base64url(challenge))
    redis.set(key, json.dumps({"ceremony": ceremony, **context}), ex=CHALLENGE_TTL_SECONDS)


def _take_challenge(redis, client_data_json: bytes, ceremony: str) -> tuple[bytes, dict[str, Any]]:
    """Take (once) the challenge the browser answered, found from inside its clientDataJSON."""
    try:
        challenge = parse_client_data_json(client_data_json).challenge
    except (WebAuthnException, ValueError, KeyError, TypeError):
        raise InvalidCredential("clientDataJSON is not readable") from None
    raw = redis.getdel(CHALLENGE_KEY.format(challenge=bytes_to_base64url(challenge)))
    context = json.loads(raw) if raw else None
    if context is None or context.get("ceremony") != ceremony:
        raise ChallengeNotFound("no such challenge")
    return challenge, context


# ---- registration ---------------------------------------------------------------------------


def require_fresh_login(conn, family_id: str) -> None:
    """Raise FreshLoginRequired unless this login was approved in Telegram in the last FRESH_LOGIN_SECONDS."""
    if not direct_logins.approved_in_telegram(conn, family_id, FRESH_LOGIN_SECONDS):
        raise FreshLoginRequired("adding a passkey needs a fresh Telegram login")


def registration_options(conn, redis, rp: RelyingParty, *, user: Row, family_id: str) -> str:
    """Return the creation options (JSON) for a new passkey of `user`, from a fresh Telegram login."""
    require_fresh_login(conn, family_id)
    existing = list_for_user(conn, user["id"])
    # Early, so the browser is not asked to create a credential that could not be kept.
    _require_room(len(existing))
    handle = bytes(existing[0]["user_handle"]) if existing else secrets.token_bytes(USER_HANDLE_BYTES)
    telegram_name = " ".join(p for p in (user.get("first_name"), user.get("last_name")) if p)
    options = webauthn.generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_id=handle,
        user_name=user["phone_number"],
        user_display_name=telegram_name or user["phone_number"],
        timeout=TIMEOUT_MS,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=bytes(row["credential_id"])) for row in existing],
        supported_pub_key_algs=ALGORITHMS,
    )
    _remember_challenge(
        redis, options.challenge, REGISTRATION, user_id=user["id"], family_id=family_id,
        user_handle=bytes_to_base64url(handle),
    )
    return webauthn.options_to_json(options)


@dataclass(frozen=True)
class Change:
    """Passkeys just added or removed, and the outbox ids of the emails telling their owner (to send after the commit)."""

    passkeys: tuple[Row, ...]
    emails: tuple[str, ...] = ()


def _mail_owner(conn, user: Row, kind: str, rows: tuple[Row, ...], default_language: str) -> tuple[str, ...]:
    recorded = (
        email_events.account_event(conn, user, kind, str(row["id"]), {"name": row["name"]}, default_language)
        for row in rows
    )
    return tuple(outbox_id for outbox_id in recorded if outbox_id is not None)


def register(
    conn, redis, rp: RelyingParty, *, user: Row, family_id: str, credential: dict[str, Any], user_agent: str | None,
    default_language: str,
) -> Change:
    """Verify a browser's answer to the creation options and store the new passkey of `user` (mailing its owner)."""
    require_fresh_login(conn, family_id)
    try:
        parsed = parse_registration_credential_json(credential)
    except (WebAuthnException, ValueError, KeyError, TypeError):
        raise InvalidCredential("not a registration credential") from None
    challenge, context = _take_challenge(redis, parsed.response.client_data_json, REGISTRATION)
    # A challenge is bound to the login that asked for it.
    if context.get("user_id") != user["id"] or context.get("family_id") != family_id:
        raise ChallengeNotFound("the challenge belongs to another login")
    verified = verify_registration(rp, parsed, challenge)
    _lock_passkeys_of(conn, user["id"])
    _require_room(count_for_user(conn, user["id"]))
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO passkeys (id, user_id, credential_id, public_key, sign_count, user_handle, name)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (credential_id) DO NOTHING RETURNING *",
            (
                str(uuid.uuid4()),
                user["id"],
                verified.credential_id,
                verified.credential_public_key,
                verified.sign_count,
                _base64url_bytes(context["user_handle"]),
                name_for(user_agent),
            ),
        )
        row = cur.fetchone()
    if row is None:
        raise PasskeyExists("this credential is already registered")
    return Change((row,), _mail_owner(conn, user, email_outbox.PASSKEY_ADDED, (row,), default_language))


def _require_room(count: int) -> None:
    if count >= MAX_PER_USER:
        raise TooManyPasskeys(f"{count} passkeys already, at most {MAX_PER_USER}")


def _lock_passkeys_of(conn, user_id: int) -> None:
    """Hold the user's row until the commit: one person's registrations count and insert in turn.

    Under READ COMMITTED each statement sees what was committed before it, so a registration that
    waited here counts the passkey the one before it added.
    """
    with conn.cursor() as cur:
        cur.execute("SELECT id FROM users WHERE id = %s FOR NO KEY UPDATE", (user_id,))
        if cur.fetchone() is None:  # unlinked since the token was checked: nothing to add a passkey to
            raise LoginEnded("the account was unlinked while the passkey was being added")


def verify_registration(rp: RelyingParty, credential: Any, challenge: bytes) -> Any:
    """Check an authenticator's answer to creation options (origin, RP id, challenge, flags, key); raise RegistrationRefused."""
    try:
        return webauthn.verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=list(rp.origins),
            require_user_verification=True,
            supported_pub_key_algs=ALGORITHMS,
        )
    except (InvalidRegistrationResponse, WebAuthnException) as exc:
        raise RegistrationRefused(str(exc)) from None


def name_for(user_agent: str | None) -> str:
    """Name a passkey after the browser and OS it was added from ("Chrome on Windows")."""
    return useragents.browser_on_system(user_agent) or DEFAULT_NAME


# ---- sign-in --------------------------------------------------------------------------------


def login_options(redis, rp: RelyingParty) -> str:
    """Return request options (JSON) for a sign-in with any discoverable passkey of this site."""
    options = webauthn.generate_authentication_options(
        rp_id=rp.id, timeout=TIMEOUT_MS, user_verification=UserVerificationRequirement.REQUIRED
    )
    _remember_challenge(redis, options.challenge, LOGIN)
    return webauthn.options_to_json(options)


def sign_in(conn, redis, rp: RelyingParty, credential: dict[str, Any]) -> SignIn:
    """Verify a browser's answer to the request options; return the passkey and its user.

    Raises SignInRefused alike for an unknown, removed or someone else's passkey and for a bad
    signature, origin or RP id; CloneDetected when the signature counter did not grow.
    """
    try:
        parsed = parse_authentication_credential_json(credential)
    except (WebAuthnException, ValueError, KeyError, TypeError):
        raise InvalidCredential("not an authentication credential") from None
    challenge, _ = _take_challenge(redis, parsed.response.client_data_json, LOGIN)
    passkey = find_by_credential_id(conn, parsed.raw_id)
    handle = parsed.response.user_handle
    if passkey is None or (handle and bytes(handle) != bytes(passkey["user_handle"])):
        raise SignInRefused("unknown passkey")
    verified = verify_sign_in(rp, parsed, challenge, bytes(passkey["public_key"]))
    used = record_use(conn, str(passkey["id"]), verified.new_sign_count)
    if used is None:
        raise CloneDetected(passkey)
    user = users.get(conn, used["user_id"])
    if user is None:  # the account went between the lookup and now
        raise SignInRefused("no such user")
    return SignIn(used, user)


def verify_sign_in(rp: RelyingParty, credential: Any, challenge: bytes, public_key: bytes) -> Any:
    """Check an assertion (origin, RP id, challenge, flags, signature); raise SignInRefused.

    The counter is not compared here: `record_use` does it atomically, and tells a clone apart.
    """
    try:
        return webauthn.verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=list(rp.origins),
            credential_public_key=public_key,
            # Zero turns the library's read-then-compare off (it can't tell a clone from a bad answer).
            credential_current_sign_count=0,
            require_user_verification=True,
        )
    except (InvalidAuthenticationResponse, WebAuthnException) as exc:
        raise SignInRefused(str(exc)) from None


def record_use(conn, passkey_id: str, new_sign_count: int) -> Row | None:
    """Record a use with the authenticator's counter; None when it did not grow (a clone).

    Authenticators that keep no counter send 0 every time: both zero is fine.
    """
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE passkeys SET sign_count = %s, last_used_at = now()"
            " WHERE id = %s AND (sign_count < %s OR (sign_count = 0 AND %s = 0)) RETURNING *",
            (new_sign_count, passkey_id, new_sign_count, new_sign_count),
        )
        return cur.fetchone()


def claim_clone_warning(conn, passkey_id: str) -> datetime.datetime | None:
    """Claim the owner's warning about a clone of this passkey; None if one was claimed within the interval.

    One UPDATE: of two clone attempts at once, one claims and the other waits for its commit and
    then finds the warning taken. Returns the claim's time (to give it back with
    `release_clone_warning` if the warning can't be queued).
    """
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE passkeys SET clone_warned_at = now() WHERE id = %s"
            " AND (clone_warned_at IS NULL OR clone_warned_at <= now() - make_interval(secs => %s))"
            " RETURNING clone_warned_at",
            (passkey_id, CLONE_WARNING_INTERVAL_SECONDS),
        )
        row = cur.fetchone()
    return row["clone_warned_at"] if row else None


def release_clone_warning(conn, passkey_id: str, claimed_at: datetime.datetime) -> None:
    """Give back a claim whose warning could not be queued, so the next clone attempt warns again."""
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE passkeys SET clone_warned_at = NULL WHERE id = %s AND clone_warned_at = %s", (passkey_id, claimed_at)
        )


# ---- the list, removal and the Telegram notice ---------------------------------------------


def find_by_credential_id(conn, credential_id: bytes) -> Row | None:
    """Return the passkey of a credential id, or None."""
    with conn.cursor() as cur:
        cur.execute("SELECT * FROM passkeys WHERE credential_id = %s", (bytes(credential_id),))
        return cur.fetchone()


def get(conn, passkey_id: str) -> Row | None:
    """Return a passkey by id (None for unknown or malformed ids)."""
    if not prompts.is_canonical_uuid(passkey_id):
        return None
    with conn.cursor() as cur:
        cur.execute("SELECT * FROM passkeys WHERE id = %s", (passkey_id,))
        return cur.fetchone()


def list_for_user(conn, user_id: int) -> list[Row]:
    """Return a user's passkeys, newest first."""
    with conn.cursor() as cur:
        cur.execute("SELECT * FROM passkeys WHERE user_id = %s ORDER BY created_at DESC, id", (user_id,))
        return cur.fetchall()


def remove_for_user(conn, passkey_id: str, user: Row, default_language: str) -> Change:
    """Remove one passkey if it is `user`'s (mailing its owner); nothing for someone else's, unknown or malformed ids."""
    if not prompts.is_canonical_uuid(passkey_id):
        return Change(())
    with conn.cursor() as cur:
        cur.execute("DELETE FROM passkeys WHERE id = %s AND user_id = %s RETURNING *", (passkey_id, user["id"]))
        removed = tuple(cur.fetchall())
    return Change(removed, _mail_owner(conn, user, email_outbox.PASSKEY_REMOVED, removed, default_language))


def remove_all_for_user(conn, user: Row, default_language: str) -> Change:
    """Remove every passkey of a user (mailing its owner about each)."""
    with conn.cursor() as cur:
        cur.execute("DELETE FROM passkeys WHERE user_id = %s RETURNING *", (user["id"],))
        removed = tuple(cur.fetchall())
    return Change(removed, _mail_owner(conn, user, email_outbox.PASSKEY_REMOVED, removed, default_language))


def public(passkey: Row) -> dict[str, Any]:
    """Return what the API shows of a passkey."""
    return {
        "id": str(passkey["id"]),
        "name": passkey["name"],
        "created_at": passkey["created_at"].isoformat(),
        "last_used_at": passkey["last_used_at"].isoformat() if passkey["last_used_at"] else None,
    }


def added_notice_target(conn, passkey_id: str) -> tuple[Row | None, Row | None]:
    """Return a passkey whose "New passkey" notice is unsent, and its user; Nones otherwise."""
    passkey = get(conn, passkey_id)
    if passkey is None or passkey["added_notice_message_id"] is not None:
        return None, None
    return passkey, users.get(conn, passkey["user_id"])


def record_added_notice(conn, passkey_id: str, message_id: int) -> bool:
    """Record the "New passkey" message, once; False when another copy recorded one first."""
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE passkeys SET added_notice_message_id = %s WHERE id = %s AND added_notice_message_id IS NULL"
            " RETURNING id",
            (message_id, passkey_id),
        )
        return cur.fetchone() is not None


def _base64url_bytes(text: str) -> bytes:
    return webauthn.base64url_to_bytes(text)


def count_for_user(conn, user_id: int) -> int:
    """Return how many passkeys a user has (for the offers to remove them all)."""
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM passkeys WHERE user_id = %s", (user_id,))
        return cur.fetchone()["n"]
