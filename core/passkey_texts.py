"""What the bot says about passkeys, in Russian and English side by side (merged into `core.texts`)."""

from __future__ import annotations

PASSKEY_TEXTS: dict[str, dict[str, str]] = {
    "command_passkeys": {"ru": "ваши ключи доступа (и удалить любой)", "en": "your passkeys (and remove any of them)"},
    "passkey_added": {
        "ru": "🔑 Новый ключ доступа: {name}\n\nДобавлен на сайте {site} {time}. Теперь с ним можно входить "
        "на сайт без Telegram.\n\nЭто были не вы? Удалите его кнопкой ниже; /passkeys покажет все ваши ключи.",
        "en": "🔑 New passkey: {name}\n\nAdded on {site} at {time}. From now on it signs in to {site} "
        "without Telegram.\n\nNot you? Remove it with the button below; /passkeys shows all your passkeys.",
    },
    "passkey_clone": {
        "ru": "⚠️ Вход по копии вашего ключа доступа «{name}» на сайте {site} отклонён ({time}): его "
        "счётчик не вырос, так бывает, когда ключ скопировали. Удалите этот ключ и добавьте новый после "
        "следующего входа через Telegram.",
        "en": "⚠️ A sign-in to {site} with a copy of your passkey “{name}” was refused ({time}): its counter "
        "did not grow, which happens when a passkey has been copied. Remove this passkey and add a new "
        "one after your next login with Telegram.",
    },
    "passkeys_title": {"ru": "🔑 Ваши ключи доступа для {site}:", "en": "🔑 Your passkeys for {site}:"},
    "passkeys_line": {
        "ru": "{number}. {name}\n    добавлен {created}, последний вход: {used}",
        "en": "{number}. {name}\n    added {created}, last used: {used}",
    },
    "passkey_never_used": {"ru": "не было", "en": "never"},
    "passkeys_hint": {"ru": "Нажмите номер, чтобы удалить этот ключ.", "en": "Tap a number to remove that passkey."},
    "no_passkeys": {
        "ru": "Ключей доступа нет. После входа через Telegram сайт может предложить добавить ключ.",
        "en": "You have no passkeys. After a login with Telegram, the website can offer to add one.",
    },
    "button_remove_passkey": {"ru": "🗑 Удалить {number}", "en": "🗑 Remove {number}"},
    "button_remove_this_passkey": {"ru": "🗑 Удалить этот ключ", "en": "🗑 Remove this passkey"},
    "button_remove_all_passkeys": {
        "ru": "🔑 Удалить все ключи доступа ({count})",
        "en": "🔑 Remove all passkeys ({count})",
    },
    "passkey_removed_notice": {"ru": "🗑 Ключ доступа «{name}» удалён.", "en": "🗑 The passkey “{name}” has been removed."},
    "passkeys_removed_all": {"ru": "✅ Удалено ключей доступа: {count}.", "en": "✅ Passkeys removed: {count}."},
    "answer_passkey_removed": {"ru": "Ключ удалён", "en": "Passkey removed"},
    "answer_passkey_gone": {"ru": "Этого ключа уже нет.", "en": "This passkey is already gone."},
}
