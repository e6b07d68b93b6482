"""The request and response bodies of the HTTP API, declared once as pydantic models.

Request models validate what clients send (webapp/requests_json.py turns their errors into the
API's own codes); every model also becomes a schema of the OpenAPI document (webapp/openapi.py).
"""

from __future__ import annotations

import datetime
from typing import Annotated, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, RootModel
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

MAX_WAIT_SECONDS = 30

EXAMPLE_SESSION_ID = "hV0sB8iSP0mW3qk2e7YvJg"
EXAMPLE_ACCESS_TOKEN = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMiIsInR5cGUiOiJhY2Nlc3MifQ.c2lnbmF0dXJl"
EXAMPLE_REFRESH_TOKEN = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMiIsInR5cGUiOiJyZWZyZXNoIn0.c2lnbmF0dXJl"


def refuse_lone_surrogates(text: str) -> str:
    """Return `text` if it is valid Unicode; JSON's `\\ud800` escapes can smuggle in halves of a pair."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # Such a string breaks every UTF-8 consumer downstream (PyJWT, psycopg2): refuse it here.
        raise PydanticCustomError("unicode_text", "must be valid Unicode text") from None
    return text


# A string field of a request body: a JSON string (never a number or boolean) of valid Unicode.
Text = Annotated[str, AfterValidator(refuse_lone_surrogates)]


class RequestBody(BaseModel):
    """A JSON object a client sends: strict types, unknown fields ignored (DESIGN.md)."""

    model_config = ConfigDict(strict=True, extra="ignore")


class ResponseBody(BaseModel):
    """A JSON object the API answers; clients must ignore fields they don't know."""

    model_config = ConfigDict(extra="allow")


class InitRequest(RequestBody):
    """Start a login for a phone number."""

    phone_number: Text = Field(
        description="Any format `phonenumbers` parses; numbers without `+` are read in DEFAULT_PHONE_REGION.",
        examples=["+7 916 123-45-67", "8 (916) 123-45-67", "+44 20 7946 0958"],
    )


class RefreshRequest(RequestBody):
    """Spend a refresh token."""

    refresh_token: Text = Field(
        description="The refresh token of the last token pair.", examples=[EXAMPLE_REFRESH_TOKEN]
    )


class StatusQuery(BaseModel):
    """The query of a status poll."""

    wait: int = Field(
        default=0,
        ge=0,
        le=MAX_WAIT_SECONDS,
        description="Long poll: answer as soon as the status changes, or after this many seconds.",
    )


class InitResponse(ResponseBody):
    """A login has started and waits for the person's decision in Telegram."""

    session_id: str = Field(
        description="128-bit random, url-safe: a bearer secret that must stay in the browser.",
        examples=[EXAMPLE_SESSION_ID],
    )
    status: Literal["pending"]
    expires_in: int = Field(ge=0, description="Seconds until the login expires.", examples=[300])
    poll_interval: int = Field(ge=1, description="Seconds to wait between status polls.", examples=[2])
    bot_url: str = Field(
        description="Telegram deep link to show the person (a link or a QR code).",
        examples=["https://t.me/dance_of_mind_bot?start=Qm9vdHN0cmFwX3Rva2Vu"],
    )
    # Absent (never null) in APPROVAL_MODE=simple, hence not nullable in the document.
    match_code: Annotated[str, Field(pattern=r"^[0-9]{2}$")] | SkipJsonSchema[None] = Field(
        default=None,
        description="Number matching (APPROVAL_MODE=match): show it; the person picks it in Telegram.",
        examples=["47"],
        json_schema_extra=lambda schema: schema.pop("default", None),
    )


class Tokens(ResponseBody):
    """A JWT access and refresh token pair."""

    access_token: str = Field(examples=[EXAMPLE_ACCESS_TOKEN])
    refresh_token: str = Field(examples=[EXAMPLE_REFRESH_TOKEN])
    token_type: Literal["bearer"]
    expires_in: int = Field(ge=0, description="Seconds the access token is valid.", examples=[1800])


class TelegramAccount(ResponseBody):
    """The Telegram account linked to the phone."""

    id: int
    username: str | None
    first_name: str | None
    last_name: str | None


class UserProfile(ResponseBody):
    """The logged-in person."""

    id: int
    phone_number: str = Field(description="E.164.", examples=["+79161234567"])
    telegram: TelegramAccount
    created_at: datetime.datetime
    email: str | None = Field(
        description="The confirmed address, else the one waiting for its code, else null.", examples=["ann@example.com"]
    )
    email_verified: bool = Field(description="Whether `email` is confirmed (its code came back).")


class PendingStatus(ResponseBody):
    """The person has not decided yet."""

    status: Literal["pending"]
    expires_in: int = Field(ge=0, examples=[213])
    poll_interval: int = Field(ge=1, examples=[2])
    # Absent (never null) unless Telegram is failing; the same for every login, linked or not.
    delivery: Literal["failing"] | SkipJsonSchema[None] = Field(
        default=None,
        description="Present while Telegram fails to deliver prompts (after every retry): the prompt may "
        "not arrive; offer bot_url, or to try again later. Never says anything about this phone.",
        json_schema_extra=lambda schema: schema.pop("default", None),
    )


class ApprovedStatus(ResponseBody):
    """Approved: the tokens, on the first poll after approval only (the session is then consumed)."""

    status: Literal["approved"]
    tokens: Tokens
    user: UserProfile


class EndedStatus(ResponseBody):
    """The login ended without tokens; every later poll says the same."""

    status: Literal["rejected", "expired", "cancelled"]


AnyStatus = Annotated[Union[PendingStatus, ApprovedStatus, EndedStatus], Field(discriminator="status")]


class SessionStatus(RootModel[AnyStatus]):
    """The state of a login as the browser sees it."""


class CancelResponse(ResponseBody):
    """The pending login was abandoned."""

    status: Literal["cancelled"]


class HealthResponse(ResponseBody):
    """The process is up."""

    status: Literal["ok"]


class ReadinessChecks(ResponseBody):
    """Whether each backing service answers."""

    postgres: Literal["ok", "unreachable"]
    redis: Literal["ok", "unreachable"]


class ReadyResponse(ResponseBody):
    """Postgres and Redis answer."""

    status: Literal["ok"]
    checks: ReadinessChecks


class ErrorDetail(ResponseBody):
    """What went wrong: a stable code for programs and a sentence for people."""

    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$", examples=["invalid_phone_number"])
    message: str = Field(examples=["This is not a valid phone number."])


class ErrorResponse(ResponseBody):
    """Every error of the API."""

    error: ErrorDetail


class NotReadyResponse(ErrorResponse):
    """Not ready: the checks name the unreachable services."""

    checks: ReadinessChecks


class OpenApiDocument(ResponseBody):
    """This OpenAPI document."""

    openapi: str
    info: dict
    paths: dict


class PasskeyCredential(RequestBody):
    """A passkey answer as the browser's `PublicKeyCredential.toJSON()` gives it, as the whole body."""

    # Lenient: the WebAuthn library parses and checks every field of it (core/passkeys.py).
    model_config = ConfigDict(strict=True, extra="allow")

    id: Text = Field(description="The credential id, base64url.", examples=["hV0sB8iSP0mW3qk2e7YvJg"])
    rawId: Text = Field(description="The same id, base64url.", examples=["hV0sB8iSP0mW3qk2e7YvJg"])
    type: Text = Field(description="Always `public-key`.", examples=["public-key"])
    response: dict = Field(
        description="`clientDataJSON` and `attestationObject` (registration) or `authenticatorData`, "
        "`signature`, `userHandle` (sign-in), base64url."
    )


class PasskeyCreationOptions(ResponseBody):
    """WebAuthn Level 3 `PublicKeyCredentialCreationOptionsJSON`: pass it to `navigator.credentials.create`."""

    rp: dict
    user: dict
    challenge: str
    pubKeyCredParams: list
    timeout: int
    excludeCredentials: list
    authenticatorSelection: dict
    attestation: str


class PasskeyRequestOptions(ResponseBody):
    """WebAuthn Level 3 `PublicKeyCredentialRequestOptionsJSON`: pass it to `navigator.credentials.get`."""

    challenge: str
    timeout: int
    rpId: str
    allowCredentials: list
    userVerification: str


class Passkey(ResponseBody):
    """A passkey of the logged-in person."""

    id: str = Field(examples=["0b8f6c1e-8f3a-4a5e-9d3c-2b7e1f0a9c44"])
    name: str = Field(description="The browser and OS it was added from.", examples=["Chrome on Windows"])
    created_at: datetime.datetime


class PasskeyListItem(Passkey):
    """A passkey in the list, with its last use."""

    last_used_at: datetime.datetime | None


class PasskeyList(ResponseBody):
    """The logged-in person's passkeys, newest first."""

    passkeys: list[PasskeyListItem]
