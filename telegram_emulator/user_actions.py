"""What an emulated Telegram user can do: write, share a contact, tap an inline button."""

from __future__ import annotations

from typing import Any

from telegram_emulator import objects
from telegram_emulator.errors import ControlError
from telegram_emulator.state import EmulatorState

OWN_CONTACT = object()  # Default of contact_user_id: the sender shares their own card.


def send_text(state: EmulatorState, user_id: int, text: str) -> dict[str, Any]:
    """Have the user send a text; a leading /command gets its bot_command entity."""
    if not text:
        raise ControlError(400, "Telegram clients cannot send an empty message")
    content: dict[str, Any] = {"text": text}
    entities = objects.command_entities(text)
    if entities:
        content["entities"] = entities
    update_id, message = state.add_user_message(user_id, content)
    return {"update_id": update_id, "message": message}


def share_contact(
    state: EmulatorState,
    user_id: int,
    phone_number: str,
    contact_user_id: Any = OWN_CONTACT,
    first_name: str | None = None,
    last_name: str | None = None,
    forwarded: bool = False,
) -> dict[str, Any]:
    """Have the user send a contact card: their own by default, or someone else's."""
    with state.lock:
        sender = state.user(user_id)
        card_owner_id = user_id if contact_user_id is OWN_CONTACT else contact_user_id
        card_owner = state.users.get(card_owner_id) if card_owner_id is not None else None
        names_source = card_owner or {}
        first = first_name or names_source.get("first_name") or "Contact"
        last = last_name if last_name is not None else names_source.get("last_name")
        content: dict[str, Any] = {
            "contact": objects.contact_card(phone_number, first, last, card_owner_id)
        }
        if forwarded:
            original_sender = card_owner
            if original_sender is None and card_owner_id is not None:
                original_sender = {"id": card_owner_id, "is_bot": False, "first_name": first}
            content["forward_origin"] = objects.forward_origin(original_sender, first)
        update_id, message = state.add_user_message(sender["id"], content)
        return {"update_id": update_id, "message": message}


def tap_button(
    state: EmulatorState,
    user_id: int,
    message_id: int,
    chat_id: int | None = None,
    callback_data: str | None = None,
    button_text: str | None = None,
    stale: bool = False,
) -> dict[str, Any]:
    """Have the user tap an inline button that the bot's message shows right now.

    `stale=True` models a phone whose screen still shows buttons the bot already removed (an
    edit not yet delivered): the tap sends `callback_data` whatever the message shows now.
    """
    if callback_data is None and button_text is None:
        raise ControlError(400, "give callback_data or button_text to say which button is tapped")
    chat_id = user_id if chat_id is None else chat_id
    with state.lock:
        # Another user's chat is allowed on purpose: it lets tests forge a tap the bot must refuse.
        state.user(user_id)
        record = state.chats.get(chat_id)
        stored = record.messages.get(message_id) if record else None
        if stored is None or stored.deleted:
            raise ControlError(409, f"message {message_id} does not exist in chat {chat_id}")
        if not stored.from_bot:
            raise ControlError(409, f"message {message_id} in chat {chat_id} is not from the bot")
        buttons = _inline_buttons(stored.message.get("reply_markup"))
        button = next(
            (
                candidate
                for candidate in buttons
                if (callback_data is None or candidate.get("callback_data") == callback_data)
                and (button_text is None or candidate.get("text") == button_text)
            ),
            None,
        )
        wanted = f"callback_data={callback_data!r}" if callback_data is not None else f"text={button_text!r}"
        if button is None and stale and callback_data is not None:
            button = {"callback_data": callback_data}
        if button is None:
            shown = [{key: b[key] for key in b if key in ("text", "callback_data", "url")} for b in buttons]
            raise ControlError(
                409, f"message {message_id} has no inline button with {wanted} now; current buttons: {shown}"
            )
        if "callback_data" not in button:
            raise ControlError(409, f"button {wanted} has no callback_data, so tapping it sends the bot nothing")
        update_id, query_id = state.add_callback_query(user_id, chat_id, message_id, button["callback_data"])
        return {"update_id": update_id, "callback_query_id": query_id}


def _inline_buttons(markup: Any) -> list[dict[str, Any]]:
    if not isinstance(markup, dict):
        return []
    return [button for row in markup.get("inline_keyboard", []) for button in row]
