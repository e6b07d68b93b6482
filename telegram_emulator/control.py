"""The control API under /control: tests act as Telegram users and inspect what the bot did."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from telegram_emulator import user_actions
from telegram_emulator.errors import ControlError
from telegram_emulator.journal import ANY_METHOD, FAULT_KINDS, Fault
from telegram_emulator.objects import USER_FIELDS
from telegram_emulator.state import EmulatorState

control = Blueprint("control", __name__, url_prefix="/control")
_MISSING = object()
MAX_CHAT_WAIT_SECONDS = 60


def _state() -> EmulatorState:
    return current_app.extensions["telegram_emulator"].state


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True) if request.content_length else {}
    if not isinstance(body, dict):
        raise ControlError(400, "the request body must be a JSON object")
    return body


def _field(body: dict[str, Any], name: str, kind: type | tuple[type, ...], default: Any = _MISSING) -> Any:
    value = body.get(name, default)
    if value is _MISSING:
        raise ControlError(400, f'"{name}" is required')
    if value is default:
        return value
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise ControlError(400, f'"{name}" has the wrong type: {value!r}')
    return value


def _reject_unknown(body: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ControlError(400, f"unknown fields {unknown}; allowed: {sorted(allowed)}")


@control.errorhandler(ControlError)
def control_error(error: ControlError) -> ResponseReturnValue:
    """Answer a refused control request as `{"error": ...}`."""
    return jsonify({"error": error.message}), error.status


@control.get("/health")
def health() -> ResponseReturnValue:
    """Tell that the emulator is up."""
    return jsonify({"ok": True})


@control.post("/reset")
def reset() -> ResponseReturnValue:
    """Forget everything except the id counters."""
    _state().reset()
    return jsonify({"ok": True})


@control.post("/users")
def create_user() -> ResponseReturnValue:
    """Create a Telegram user (auto id when none is given)."""
    body = _body()
    _reject_unknown(body, set(USER_FIELDS))
    fields = {name: _field(body, name, kind, None) for name, kind in USER_FIELDS.items()}
    if fields["first_name"] is None:
        raise ControlError(400, '"first_name" is required')
    # Telegram leaves language_code out when the person's app doesn't tell it: an explicit null asks for that.
    if "language_code" not in body:
        fields["language_code"] = "en"
    return jsonify(_state().add_user(fields))


@control.get("/users")
def list_users() -> ResponseReturnValue:
    """List the users, oldest first (the chat page offers them to pick from)."""
    state = _state()
    with state.lock:
        return jsonify({"users": [dict(user) for user in state.users.values()]})


@control.get("/bot")
def bot() -> ResponseReturnValue:
    """Show the bot's name and username (its id is 0 until the bot's first call)."""
    return jsonify(_state().bot_user())


@control.post("/send_message")
def send_message() -> ResponseReturnValue:
    """Have a user send a text message to the bot."""
    body = _body()
    _reject_unknown(body, {"user_id", "text"})
    return jsonify(user_actions.send_text(_state(), _field(body, "user_id", int), _field(body, "text", str)))


@control.post("/share_contact")
def share_contact() -> ResponseReturnValue:
    """Have a user send a contact card (own by default; someone else's; forwarded)."""
    body = _body()
    _reject_unknown(
        body, {"user_id", "phone_number", "contact_user_id", "first_name", "last_name", "forwarded"}
    )
    contact_user_id = body.get("contact_user_id", user_actions.OWN_CONTACT)
    if contact_user_id is not user_actions.OWN_CONTACT and contact_user_id is not None:
        contact_user_id = _field(body, "contact_user_id", int)
    result = user_actions.share_contact(
        _state(),
        _field(body, "user_id", int),
        _field(body, "phone_number", str),
        contact_user_id=contact_user_id,
        first_name=_field(body, "first_name", str, None),
        last_name=_field(body, "last_name", str, None),
        forwarded=_field(body, "forwarded", bool, False),
    )
    return jsonify(result)


@control.post("/tap")
def tap() -> ResponseReturnValue:
    """Have a user tap an inline button currently shown on a bot message."""
    body = _body()
    _reject_unknown(body, {"user_id", "message_id", "chat_id", "callback_data", "button_text", "stale"})
    result = user_actions.tap_button(
        _state(),
        _field(body, "user_id", int),
        _field(body, "message_id", int),
        chat_id=_field(body, "chat_id", int, None),
        callback_data=_field(body, "callback_data", str, None),
        button_text=_field(body, "button_text", str, None),
        stale=_field(body, "stale", bool, False),
    )
    return jsonify(result)


@control.post("/block")
def block() -> ResponseReturnValue:
    """Have a user block (or, with "blocked": false, unblock) the bot."""
    body = _body()
    _reject_unknown(body, {"user_id", "blocked"})
    _state().set_blocked(_field(body, "user_id", int), _field(body, "blocked", bool, True))
    return jsonify({"ok": True})


@control.get("/chats/<int(signed=True):chat_id>")
def chat(chat_id: int) -> ResponseReturnValue:
    """Show a chat's messages (deleted ones flagged) and the bot's callback answers.

    With ?after=<message_id>&wait=<seconds>, first wait (up to 60 s) until the bot has written a
    message newer than `after`: a long poll, so a test or benchmark needn't ask over and over.
    """
    state = _state()
    after, wait = request.args.get("after"), request.args.get("wait")
    if after is not None or wait is not None:
        try:
            after_id, seconds = int(after or 0), float(wait or 0)
        except ValueError:
            raise ControlError(400, "after must be an integer and wait a number of seconds") from None
        if not 0 <= seconds <= MAX_CHAT_WAIT_SECONDS:
            raise ControlError(400, f"wait must be between 0 and {MAX_CHAT_WAIT_SECONDS} seconds")
        state.wait_for_bot_message(chat_id, after_id, seconds)
    with state.lock:
        record = state.chats.get(chat_id)
        if record is None:
            return jsonify({"messages": [], "callback_answers": []})
        messages = [_message_view(stored) for stored in record.messages.values()]
        return jsonify({"messages": messages, "callback_answers": list(record.callback_answers)})


def _message_view(stored: Any) -> dict[str, Any]:
    message = stored.message
    view: dict[str, Any] = {
        "message_id": message["message_id"],
        "from_bot": stored.from_bot,
        "text": message.get("text"),
        "raw_text": stored.raw_text if stored.from_bot else message.get("text"),
        "parse_mode": stored.parse_mode,
        "reply_markup": stored.markup if stored.from_bot else None,
        "edited": stored.edited,
        "deleted": stored.deleted,
        "date": message["date"],
    }
    for optional in ("contact", "forward_origin"):
        if optional in message:
            view[optional] = message[optional]
    return view


@control.post("/faults")
def add_fault() -> ResponseReturnValue:
    """Queue failures for upcoming Bot API calls of one method (or "*"), of one chat if `chat_id` is given."""
    body = _body()
    _reject_unknown(body, {"method", "kind", "count", "retry_after", "delay", "chat_id"})
    method = _field(body, "method", str)
    kind = _field(body, "kind", str)
    spec = current_app.extensions["telegram_emulator"].spec
    if method != ANY_METHOD and spec.canonical_method_name(method) is None:
        raise ControlError(400, f"unknown Bot API method {method!r}")
    if kind not in FAULT_KINDS:
        raise ControlError(400, f"kind must be one of {list(FAULT_KINDS)}")
    fault = Fault(
        method=spec.canonical_method_name(method) or method,
        kind=kind,
        retry_after=_field(body, "retry_after", int, 1),
        delay=float(_field(body, "delay", (int, float), 10)),
        chat_id=_field(body, "chat_id", int, None),
    )
    _state().journal.add_faults(fault, _field(body, "count", int, 1))
    return jsonify({"faults": _state().journal.faults()})


@control.get("/faults")
def list_faults() -> ResponseReturnValue:
    """Show the faults not yet consumed."""
    return jsonify({"faults": _state().journal.faults()})


@control.delete("/faults")
def clear_faults() -> ResponseReturnValue:
    """Drop every waiting fault."""
    _state().journal.clear_faults()
    return jsonify({"faults": []})


@control.get("/calls")
def calls() -> ResponseReturnValue:
    """Show every Bot API call (optionally of one method)."""
    return jsonify({"calls": _state().journal.calls(request.args.get("method"))})


@control.get("/invalid_calls")
def invalid_calls() -> ResponseReturnValue:
    """Show the Bot API calls Telegram would have refused."""
    return jsonify({"invalid_calls": _state().journal.invalid_calls()})


@control.get("/updates/pending")
def pending_updates() -> ResponseReturnValue:
    """Count the updates the bot has not confirmed yet."""
    return jsonify({"pending": _state().pending_count()})
