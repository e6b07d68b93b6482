"""Which function answers which Bot API method."""

from __future__ import annotations

from typing import Any, Callable

from telegram_emulator.errors import bad_request
from telegram_emulator.state import EmulatorState

Handler = Callable[[EmulatorState, dict[str, Any]], Any]
HANDLERS: dict[str, Handler] = {}


def handles(*methods: str) -> Callable[[Handler], Handler]:
    """Register a function as the handler of the given Bot API methods."""

    def register(handler: Handler) -> Handler:
        for method in methods:
            HANDLERS[method] = handler
        return handler

    return register


def unsupported_method(state: EmulatorState, params: dict[str, Any]) -> Any:
    """Refuse a real Bot API method the emulator does not model, so nobody relies on it."""
    raise bad_request("method is not supported by the emulator")


def handler_for(method: str) -> Handler:
    """Return the handler of a spec method (unsupported_method when none is registered)."""
    return HANDLERS.get(method, unsupported_method)
