"""The bot's /email messages and buttons, as data (the bot renders them), in Russian and English.

Callback data: `em:<action>`. The buttons act on the tapper's own account, looked up afresh.
"""

from __future__ import annotations

from typing import Any

from core import email_account, texts
from core.prompts import Button, Message

PREFIX = "em"
CHANGE = "ch"  # yes, change (or set) the address to the one typed in /email <address>
ASK_REMOVE = "ar"  # remove the address? (asks again)
REMOVE = "rm"  # yes, remove it
NOTICES_ON = "on"
NOTICES_OFF = "of"
CANCEL = "cx"
ACTIONS = (CHANGE, ASK_REMOVE, REMOVE, NOTICES_ON, NOTICES_OFF, CANCEL)

TEXTS: dict[str, dict[str, str]] = {
    "status_none": {
        "ru": "Почта не указана. Пришлите мне свой адрес (или /email you@example.com), и я отправлю на него "
        "код подтверждения: туда будут приходить уведомления о входах.",
        "en": "No email address yet. Send me your address (or /email you@example.com) and I'll mail it a "
        "confirmation code: login alerts will go there.",
    },
    "status_pending": {
        "ru": "Адрес {address} ждёт подтверждения: отправьте сюда 6-значный код из письма.",
        "en": "{address} is waiting for confirmation: send me the 6-digit code from the email.",
    },
    "status_confirmed": {
        "ru": "Почта: {address} (подтверждена). Уведомления о входах через Telegram: {notices}.\n"
        "Чтобы сменить адрес, отправьте /email новый@адрес.",
        "en": "Email: {address} (confirmed). Notices of logins approved in Telegram: {notices}.\n"
        "To change it, send /email new@address.",
    },
    "notices_on": {"ru": "включены", "en": "on"},
    "notices_off": {"ru": "выключены", "en": "off"},
    "button_notices_off": {"ru": "🔕 Не присылать уведомления о входах", "en": "🔕 Stop login notices"},
    "button_notices_on": {"ru": "🔔 Присылать уведомления о входах", "en": "🔔 Send login notices"},
    "button_remove": {"ru": "🗑 Удалить адрес", "en": "🗑 Remove this address"},
    "button_remove_yes": {"ru": "Да, удалить", "en": "Yes, remove it"},
    "button_change_yes": {"ru": "Да, сменить", "en": "Yes, change it"},
    "invalid": {"ru": "Это не похоже на адрес почты: {reason}", "en": "That doesn't look like an email address: {reason}"},
    "code_sent": {
        "ru": "Отправил код на {address}. Пришлите его сюда (или введите на сайте). Код действует 10 минут.",
        "en": "I've sent a code to {address}. Send it here (or enter it on the website). It is valid for 10 minutes.",
    },
    "confirm_change": {
        "ru": "Сменить почту {old} на {new}? На старый адрес придёт уведомление.",
        "en": "Change your email from {old} to {new}? The old address will be told.",
    },
    "confirm_remove": {
        "ru": "Удалить адрес {address}? Уведомления перестанут приходить; на него придёт последнее письмо.",
        "en": "Remove {address}? Alerts will stop; it gets one last email saying so.",
    },
    "confirmed": {"ru": "✅ Адрес {address} подтверждён.", "en": "✅ {address} is confirmed."},
    "wrong_code": {
        "ru": "Код не подошёл или устарел. Отправьте /email адрес, чтобы получить новый.",
        "en": "That code is wrong or no longer valid. Send /email address for a new one.",
    },
    "taken": {"ru": "Этот адрес уже привязан к другому аккаунту.", "en": "That address belongs to another account."},
    "removed": {"ru": "Адрес удалён.", "en": "The address has been removed."},
    "unavailable": {"ru": "Почта на этом сайте не настроена.", "en": "Email is not set up on this site."},
    "too_many": {
        "ru": "На этот адрес уже отправлено несколько кодов. Попробуйте через 10 минут.",
        "en": "Several codes were sent to this address already. Try again in 10 minutes.",
    },
    "nothing_pending": {"ru": "Нет адреса, ожидающего смены.", "en": "There is no address waiting to be set."},
}


# A message of one address and nothing else: the bot takes it as `/email <address>`.
ADDRESS_MESSAGE_PATTERN = r"^\s*[^\s@/]+@[^\s@]+\.[^\s@]+\s*$"


def text(key: str, language: str, **values: object) -> str:
    """Return an /email text in `language`, filled with `values`."""
    variants = TEXTS[key]
    template = variants.get(language) or variants["en"]
    return template.format(**values) if values else template


def callback(action: str) -> str:
    """Return the callback data of an /email button."""
    return f"{PREFIX}:{action}"


def parse_callback(data: object) -> str | None:
    """Return the action of an /email button's data, or None."""
    if not isinstance(data, str) or not data.startswith(f"{PREFIX}:"):
        return None
    action = data[len(PREFIX) + 1:]
    return action if action in ACTIONS else None


def is_email_callback(data: object) -> bool:
    """Tell whether callback data belongs to an /email button (the bot routes it here)."""
    return parse_callback(data) is not None


def status(user: dict[str, Any], language: str) -> Message:
    """Show the account's address and what can be done with it."""
    if email_account.has_confirmed(user):
        notices = text("notices_on" if user["email_notices"] else "notices_off", language)
        toggle = (Button(text("button_notices_off", language), callback(NOTICES_OFF)) if user["email_notices"]
                  else Button(text("button_notices_on", language), callback(NOTICES_ON)))
        return Message(text("status_confirmed", language, address=user["email"], notices=notices),
                       ((toggle,), (Button(text("button_remove", language), callback(ASK_REMOVE)),)))
    if user.get("email_pending"):
        return Message(text("status_pending", language, address=user["email_pending"]))
    return Message(text("status_none", language))


def confirm_change(old: str, new: str, language: str) -> Message:
    """Ask before replacing a confirmed address."""
    return Message(text("confirm_change", language, old=old, new=new),
                   ((Button(text("button_change_yes", language), callback(CHANGE)),
                     Button(texts.text("button_cancel", language), callback(CANCEL))),))


def confirm_remove(address: str, language: str) -> Message:
    """Ask before removing a confirmed address."""
    return Message(text("confirm_remove", language, address=address),
                   ((Button(text("button_remove_yes", language), callback(REMOVE)),
                     Button(texts.text("button_cancel", language), callback(CANCEL))),))
