"""Errors shaped exactly like the Telegram Bot API answers them."""

from __future__ import annotations

from typing import Any


class BotApiError(Exception):
    """A Bot API call that Telegram would refuse; becomes `{"ok": false, ...}`."""

    def __init__(
        self,
        error_code: int,
        description: str,
        *,
        parameters: dict[str, Any] | None = None,
        problems: list[str] | None = None,
        invalid: bool = True,
    ) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.parameters = parameters
        # Every finding, when there was more than one; only the first goes into `description`.
        self.problems = problems or [description]
        # False for refusals that say nothing about the caller's code (e.g. a superseded poll).
        self.invalid = invalid

    def to_response(self) -> dict[str, Any]:
        """Return the JSON body Telegram sends for this error."""
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(reason: str, *, problems: list[str] | None = None) -> BotApiError:
    """Build a 400 error with Telegram's "Bad Request: " prefix."""
    return BotApiError(400, f"Bad Request: {reason}", problems=problems)


def forbidden(reason: str) -> BotApiError:
    """Build a 403 error with Telegram's "Forbidden: " prefix."""
    return BotApiError(403, f"Forbidden: {reason}")


def conflict(reason: str, *, invalid: bool = True) -> BotApiError:
    """Build a 409 error with Telegram's "Conflict: " prefix."""
    return BotApiError(409, f"Conflict: {reason}", invalid=invalid)


class ControlError(Exception):
    """A refused control-API request; becomes `{"error": message}` with an HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
