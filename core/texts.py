"""Everything the bot says, in Russian and English side by side."""

from __future__ import annotations

SUPPORTED_LANGUAGES = ("ru", "en")

TEXTS: dict[str, dict[str, str]] = {
    "greeting": {
        "ru": "Здравствуйте! Я бот входа на сайт {site}.\n\nЧтобы входить на сайт через Telegram, "
        "поделитесь своим номером телефона кнопкой ниже.",
        "en": "Hello! I'm the login bot of {site}.\n\nTo sign in to the site with Telegram, "
        "share your phone number with the button below.",
    },
    "share_contact_button": {
        "ru": "📱 Поделиться номером",
        "en": "📱 Share my phone number",
    },
    "contact_not_own": {
        "ru": "Это не ваш контакт. Привязать можно только свой номер: нажмите кнопку ниже.",
        "en": "That contact isn't yours. Only your own number can be linked: use the button below.",
    },
    "contact_invalid": {
        "ru": "Не удалось распознать номер телефона из контакта.",
        "en": "I couldn't read a phone number from that contact.",
    },
    "linked": {
        "ru": "Готово: номер {phone} привязан к вашему Telegram. Запросы на вход будут приходить сюда.",
        "en": "Done: {phone} is now linked to your Telegram. Login requests will come here.",
    },
    "already_linked": {
        "ru": "Номер {phone} уже привязан к вашему Telegram.",
        "en": "{phone} is already linked to your Telegram.",
    },
    "phone_changed": {
        "ru": "Готово: теперь к вашему Telegram привязан номер {phone}.",
        "en": "Done: your Telegram is now linked to {phone}.",
    },
    "phone_taken": {
        "ru": "Номер {phone} уже привязан к другому аккаунту Telegram, поэтому привязать его здесь нельзя.",
        "en": "{phone} is linked to another Telegram account, so it can't be linked to this one.",
    },
    "start_token_invalid": {
        "ru": "Эта ссылка для входа больше не действует. Начните вход на сайте заново.",
        "en": "This login link is no longer valid. Please start the login on the website again.",
    },
    "start_need_contact": {
        "ru": "Чтобы подтвердить вход, сначала поделитесь своим номером телефона кнопкой ниже.",
        "en": "To confirm the login, first share your phone number with the button below.",
    },
    "start_wrong_phone": {
        "ru": "Этот вход начат для другого номера ({phone}), а к вашему Telegram привязан другой. "
        "Проверьте номер на сайте.",
        "en": "This login was started for another number ({phone}) than the one linked to your Telegram. "
        "Please check the number on the website.",
    },
    "prompt_already_sent": {
        "ru": "Запрос на вход уже отправлен: он в сообщении выше.",
        "en": "The login request has already been sent: see the message above.",
    },
    "fallback": {
        "ru": "Я помогаю входить на сайт {site}. Отправьте /start, чтобы привязать номер телефона.",
        "en": "I help you sign in to {site}. Send /start to link your phone number.",
    },
    "prompt_title": {"ru": "🔐 Вход на сайт {site}", "en": "🔐 Login to {site}"},
    "prompt_question": {"ru": "Это вы входите?", "en": "Is this you logging in?"},
    "prompt_details": {
        "ru": "🌐 IP: {ip}\n💻 Браузер: {browser}\n🕒 Время: {time}",
        "en": "🌐 IP: {ip}\n💻 Browser: {browser}\n🕒 Time: {time}",
    },
    "prompt_hint": {
        "ru": "Если это не вы, нажмите «Отклонить».",
        "en": "If it wasn't you, tap Reject.",
    },
    "unknown_value": {"ru": "неизвестно", "en": "unknown"},
    "button_approve": {"ru": "✅ Да, это я", "en": "✅ Yes, it's me"},
    "button_reject": {"ru": "❌ Отклонить", "en": "❌ Reject"},
    "outcome_approved": {"ru": "✅ Вход подтверждён.", "en": "✅ Login approved."},
    "outcome_rejected": {"ru": "❌ Вход отклонён.", "en": "❌ Login rejected."},
    "outcome_expired": {"ru": "⌛ Время на подтверждение истекло.", "en": "⌛ This login request has expired."},
    "outcome_cancelled": {"ru": "🚫 Вход отменён на сайте.", "en": "🚫 The login was cancelled on the website."},
    "answer_approved": {"ru": "Вход подтверждён", "en": "Login approved"},
    "answer_rejected": {"ru": "Вход отклонён", "en": "Login rejected"},
    "answer_not_yours": {
        "ru": "Этот запрос не для вашего аккаунта.",
        "en": "This request isn't for your account.",
    },
    "answer_expired": {"ru": "Время на подтверждение истекло.", "en": "This request has expired."},
    "answer_already_decided": {
        "ru": "На этот запрос уже ответили.",
        "en": "This request has already been answered.",
    },
    "answer_not_found": {"ru": "Этот запрос больше не существует.", "en": "This request no longer exists."},
    "answer_error": {
        "ru": "Не получилось, попробуйте ещё раз через минуту.",
        "en": "Something went wrong, please try again in a minute.",
    },
    "command_start": {
        "ru": "Привязать номер телефона для входа на сайт",
        "en": "Link your phone number to sign in to the website",
    },
}


def pick_language(configured: str, telegram_language_code: str | None) -> str:
    """Choose the bot's language: `ru`/`en` when configured so, else the user's own language."""
    if configured in SUPPORTED_LANGUAGES:
        return configured
    code = (telegram_language_code or "").lower().split("-")[0]
    return code if code in SUPPORTED_LANGUAGES else "en"


def text(key: str, language: str, **values: object) -> str:
    """Return the text `key` in `language` (English if unsupported), filled with `values`."""
    variants = TEXTS[key]
    template = variants.get(language) or variants["en"]
    return template.format(**values) if values else template
