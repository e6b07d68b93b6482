"""Everything an email says, in Russian and English side by side (`{site}` is SITE_NAME)."""

from __future__ import annotations

from core import texts

TEXTS: dict[str, dict[str, str]] = {
    "confirm_code_subject": {"ru": "{site}: код подтверждения {code}", "en": "{site}: confirmation code {code}"},
    "confirm_code_body": {
        "ru": "Ваш код для подтверждения этого адреса на {site}: {code}\n\nКод действует 10 минут. "
        "Если вы не добавляли этот адрес, просто не обращайте внимания на письмо.",
        "en": "Your code to confirm this address on {site}: {code}\n\nThe code is valid for 10 minutes. "
        "If you didn't add this address, ignore this email.",
    },
    "login_code_subject": {"ru": "{site}: код для входа {code}", "en": "{site}: sign-in code {code}"},
    "login_code_body": {
        "ru": "Ваш код для входа на {site}: {code}\n\nКод действует 10 минут. Никому его не сообщайте. "
        "Если вы не входили, не вводите код: вход не состоится.",
        "en": "Your code to sign in to {site}: {code}\n\nThe code is valid for 10 minutes. Don't share it. "
        "If you aren't signing in, don't enter it: nobody gets in without it.",
    },
    "login_subject": {"ru": "{site}: новый вход", "en": "{site}: new login"},
    "login_body": {
        "ru": "В ваш аккаунт на {site} выполнен вход ({method}).\n\nБраузер: {browser}\nIP: {ip}\nВремя: {time}",
        "en": "Someone logged in to your {site} account ({method}).\n\nBrowser: {browser}\nIP: {ip}\nTime: {time}",
    },
    "login_not_you": {
        "ru": "Это были не вы? Завершите этот вход: {link}",
        "en": "Not you? End this login: {link}",
    },
    "login_not_you_button": {"ru": "Это не я — завершить вход", "en": "Not you? End this login"},
    "method_telegram": {"ru": "подтверждён в Telegram", "en": "approved in Telegram"},
    "method_passkey": {"ru": "с ключом доступа", "en": "with a passkey"},
    "method_email": {"ru": "с кодом из письма", "en": "with an email code"},
    "not_me_subject": {"ru": "{site}: «Это был не я»", "en": "{site}: \"It wasn't me\""},
    "not_me_body": {
        "ru": "В Telegram нажато «Это был не я» на запросе входа в {site}. Запросы входа приостановлены; "
        "в боте можно завершить все входы.",
        "en": "\"It wasn't me\" was pressed in Telegram on a login request for {site}. Login requests are "
        "paused; you can end all your logins in the bot.",
    },
    "phone_unlinked_subject": {"ru": "{site}: номер отвязан", "en": "{site}: phone number unlinked"},
    "phone_unlinked_body": {
        "ru": "Номер {phone} отвязан от Telegram, аккаунт на {site} удалён, все входы завершены.",
        "en": "{phone} was unlinked from Telegram: your {site} account is deleted and every login has ended.",
    },
    "email_changed_subject": {"ru": "{site}: адрес почты изменён", "en": "{site}: email address changed"},
    "email_changed_body": {
        "ru": "Адрес почты вашего аккаунта на {site} изменён на {new}. Письма больше не будут приходить сюда.",
        "en": "The email address of your {site} account was changed to {new}. Emails won't come here anymore.",
    },
    "email_removed_subject": {"ru": "{site}: адрес почты удалён", "en": "{site}: email address removed"},
    "email_removed_body": {
        "ru": "Адрес почты удалён из вашего аккаунта на {site}. Письма больше не будут приходить сюда.",
        "en": "This email address was removed from your {site} account. Emails won't come here anymore.",
    },
    "passkey_added_subject": {"ru": "{site}: добавлен ключ доступа", "en": "{site}: passkey added"},
    "passkey_added_body": {
        "ru": "К вашему аккаунту на {site} добавлен ключ доступа «{name}».",
        "en": "A passkey, \"{name}\", was added to your {site} account.",
    },
    "passkey_removed_subject": {"ru": "{site}: удалён ключ доступа", "en": "{site}: passkey removed"},
    "passkey_removed_body": {
        "ru": "Из вашего аккаунта на {site} удалён ключ доступа «{name}».",
        "en": "A passkey, \"{name}\", was removed from your {site} account.",
    },
    "alert_footer": {
        "ru": "Если это были не вы, откройте бота в Telegram: /sessions покажет входы и завершит их.",
        "en": "If this wasn't you, open the bot in Telegram: /sessions lists your logins and ends them.",
    },
    "unknown": {"ru": "неизвестно", "en": "unknown"},
    # The "Not you?" page of the web app.
    "page_title": {"ru": "Завершить вход?", "en": "End this login?"},
    "page_question": {
        "ru": "Вход в {site}: {browser}, IP {ip}, {time}. Если это были не вы, завершите его.",
        "en": "Login to {site}: {browser}, IP {ip}, {time}. If it wasn't you, end it.",
    },
    "page_button": {"ru": "Завершить этот вход", "en": "End this login"},
    "page_ended": {"ru": "Готово: вход завершён.", "en": "Done: that login has ended."},
    "page_gone": {"ru": "Этот вход уже завершён.", "en": "That login has already ended."},
    "page_unknown": {"ru": "Ссылка недействительна.", "en": "This link is not valid."},
}


def text(key: str, language: str, **values: object) -> str:
    """Return the email text `key` in `language` (English if unsupported), filled with `values`."""
    variants = TEXTS[key]
    template = variants.get(texts.language_of_tag(language) or "en") or variants["en"]
    return template.format(**values) if values else template
