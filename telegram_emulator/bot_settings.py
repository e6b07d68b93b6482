"""Bot API methods that only store the bot's settings: commands, descriptions, menu button."""

from __future__ import annotations

import copy
import json
from typing import Any

from telegram_emulator.registry import handles
from telegram_emulator.state import EmulatorState


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _commands_key(params: dict[str, Any]) -> str:
    scope = params.get("scope") or {"type": "default"}
    return f"commands {_canonical(scope)} {params.get('language_code', '')}"


@handles("setMyCommands")
def set_my_commands(state: EmulatorState, params: dict[str, Any]) -> bool:
    """Store the command list for a scope and language."""
    with state.lock:
        state.bot_settings[_commands_key(params)] = params["commands"]
        return True


@handles("getMyCommands")
def get_my_commands(state: EmulatorState, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the command list of a scope and language (empty when none was set)."""
    with state.lock:
        return copy.deepcopy(state.bot_settings.get(_commands_key(params), []))


@handles("deleteMyCommands")
def delete_my_commands(state: EmulatorState, params: dict[str, Any]) -> bool:
    """Forget the command list of a scope and language."""
    with state.lock:
        state.bot_settings.pop(_commands_key(params), None)
        return True


def _setting_key(kind: str, params: dict[str, Any], scope_field: str = "language_code") -> str:
    return f"{kind} {params.get(scope_field, '')}"


@handles("setMyDescription")
def set_my_description(state: EmulatorState, params: dict[str, Any]) -> bool:
    """Store the bot description for a language."""
    with state.lock:
        state.bot_settings[_setting_key("description", params)] = params.get("description", "")
        return True


@handles("getMyDescription")
def get_my_description(state: EmulatorState, params: dict[str, Any]) -> dict[str, str]:
    """Return the bot description for a language."""
    with state.lock:
        return {"description": state.bot_settings.get(_setting_key("description", params), "")}


@handles("setMyShortDescription")
def set_my_short_description(state: EmulatorState, params: dict[str, Any]) -> bool:
    """Store the bot short description for a language."""
    with state.lock:
        key = _setting_key("short_description", params)
        state.bot_settings[key] = params.get("short_description", "")
        return True


@handles("getMyShortDescription")
def get_my_short_description(state: EmulatorState, params: dict[str, Any]) -> dict[str, str]:
    """Return the bot short description for a language."""
    with state.lock:
        return {"short_description": state.bot_settings.get(_setting_key("short_description", params), "")}


@handles("setChatMenuButton")
def set_chat_menu_button(state: EmulatorState, params: dict[str, Any]) -> bool:
    """Store the menu button of a chat (or the default one)."""
    with state.lock:
        key = _setting_key("menu_button", params, scope_field="chat_id")
        state.bot_settings[key] = params.get("menu_button", {"type": "default"})
        return True


@handles("getChatMenuButton")
def get_chat_menu_button(state: EmulatorState, params: dict[str, Any]) -> dict[str, Any]:
    """Return the menu button of a chat (commands by default, as on Telegram)."""
    with state.lock:
        key = _setting_key("menu_button", params, scope_field="chat_id")
        return copy.deepcopy(state.bot_settings.get(key, {"type": "commands"}))
