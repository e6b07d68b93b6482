"""One Bot API call from token to answer: faults, validation, the method, the logs."""

from __future__ import annotations

import logging
import re
import time
from typing import Any, Mapping

from telegram_emulator import rules
# Imported for their @handles registrations.
from telegram_emulator import bot_methods, bot_settings  # noqa: F401
from telegram_emulator.errors import BotApiError
from telegram_emulator.flood_limits import FloodLimiter
from telegram_emulator.journal import Fault
from telegram_emulator.registry import handler_for
from telegram_emulator.spec import BotApiSpec, UploadedFile, require_known_method
from telegram_emulator.state import EmulatorState

logger = logging.getLogger(__name__)

TOKEN_PATTERN = re.compile(r"^(\d+):[A-Za-z0-9_-]{20,}$")
UNAUTHORIZED = BotApiError(401, "Unauthorized")
FAULT_ANSWERS: dict[str, tuple[int, str]] = {
    "500": (500, "Internal Server Error"),
    "502": (502, "Bad Gateway"),
    "timeout": (500, "Internal Server Error"),
}

Answer = tuple[int, dict[str, Any]]
# The one fault that performs the call: Telegram did it, but its answer comes late.
SLOW = "slow"


class BotApi:
    """Answers Bot API calls the way Telegram would, recording each one."""

    def __init__(self, state: EmulatorState, spec: BotApiSpec, flood: FloodLimiter | None = None) -> None:
        self.state = state
        self.spec = spec
        # None: no flood limits (the tests' default); a FloodLimiter answers 429 like Telegram.
        self.flood = flood

    def call(self, token: str, method_name: str, raw_params: Mapping[str, Any]) -> Answer:
        """Run one call and return (HTTP status, JSON body)."""
        canonical = self.spec.canonical_method_name(method_name)
        method = canonical or method_name
        params = self.spec.decode_params(canonical, raw_params)
        logged_params = _loggable(params)
        token_match = TOKEN_PATTERN.match(token)
        if token_match is None:
            return self._refused(method, logged_params, UNAUTHORIZED)
        self.state.bot_id = int(token_match.group(1))
        fault = self.state.journal.take_fault(method, params.get("chat_id"))
        if fault is not None and fault.kind != SLOW:
            return self._faulted(method, logged_params, fault)
        try:
            require_known_method(self.spec, method_name)
            self.spec.validate_call(method, params)
            rules.check_call_content(method, params)
            self._check_flood(method, params)
            result = handler_for(method)(self.state, params)
        except BotApiError as error:
            return self._refused(method, logged_params, error)
        except Exception as exc:  # noqa: BLE001 - an emulator bug must still answer, and be seen.
            logger.exception("emulator failed on %s", method)
            problem = f"emulator bug: {exc!r}"
            return self._refused(method, logged_params, BotApiError(500, "Internal Server Error", problems=[problem]))
        self.state.journal.record_call(method, logged_params, fault=fault.kind if fault else None)
        if fault is not None:  # "slow": performed (and visible) now, answered `delay` seconds later
            time.sleep(fault.delay)
        return 200, {"ok": True, "result": result}

    def _check_flood(self, method: str, params: Mapping[str, Any]) -> None:
        if self.flood is None:
            return
        wait = self.flood.retry_after(method, params.get("chat_id"))
        if wait:
            # Flow control, not a malformed call: not listed among the calls Telegram would refuse as invalid.
            raise BotApiError(429, f"Too Many Requests: retry after {wait}", parameters={"retry_after": wait},
                              invalid=False)

    def refuse_unparsable(self, method_name: str, reason: str) -> Answer:
        """Answer a call whose body could not even be decoded."""
        method = self.spec.canonical_method_name(method_name) or method_name
        return self._refused(method, {}, BotApiError(400, f"Bad Request: {reason}"))

    def _refused(self, method: str, params: dict[str, Any], error: BotApiError) -> Answer:
        self.state.journal.record_call(method, params, error_code=error.error_code)
        if error.invalid:
            logger.info("refused %s: %s", method, "; ".join(error.problems))
            self.state.journal.record_invalid(method, params, error.error_code, error.description, error.problems)
        return error.error_code, error.to_response()

    def _faulted(self, method: str, params: dict[str, Any], fault: Fault) -> Answer:
        self.state.journal.record_call(
            method, params, error_code=429 if fault.kind == "429" else FAULT_ANSWERS[fault.kind][0], fault=fault.kind
        )
        if fault.kind == "429":
            error = BotApiError(
                429,
                f"Too Many Requests: retry after {fault.retry_after}",
                parameters={"retry_after": fault.retry_after},
            )
            return 429, error.to_response()
        if fault.kind == "timeout":
            # Hold the connection so the client gives up first; the call is NOT performed.
            time.sleep(fault.delay)
        status, description = FAULT_ANSWERS[fault.kind]
        return status, BotApiError(status, description).to_response()


def _loggable(params: Mapping[str, Any]) -> dict[str, Any]:
    return {name: str(value) if isinstance(value, UploadedFile) else value for name, value in params.items()}
