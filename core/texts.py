"""Everything the bot says, in Russian and English side by side."""

from __future__ import annotations

SUPPORTED_LANGUAGES = ("ru", "en")

TEXTS: dict[str, dict[str, str]] = {
    "greeting": {
        "ru": "Здравствуйте! Я помогаю входить на сайт {site} через Telegram.\n\nЧтобы начать, "
        "поделитесь своим номером телефона — кнопка ниже.",
        "en": "Hello! I'm the login bot for {site}.\n\nTo sign in to the site with Telegram, "
        "share your phone number using the button below.",
    },
    "share_contact_button": {
        "ru": "📱 Поделиться номером",
        "en": "📱 Share my phone number",
    },
    "contact_not_own": {
        "ru": "Это чужой контакт. Привязать можно только свой номер — нажмите кнопку ниже.",
        "en": "That contact isn't yours. You can only link your own number: use the button below.",
    },
    "contact_invalid": {
        "ru": "Не удалось распознать номер телефона в этом контакте.",
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
        "en": "Done: {phone} is now the number linked to your Telegram.",
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
        "ru": "Этот вход начат для номера {phone}, а к вашему Telegram привязан другой номер. "
        "Проверьте номер на сайте.",
        "en": "This login was started for {phone}, but a different number is linked to your Telegram. "
        "Please check the number on the website.",
    },
    "prompt_already_sent": {
        "ru": "Запрос на вход уже отправлен — он в сообщении выше.",
        "en": "The login request has already been sent — see the message above.",
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
    "prompt_match_question": {
        "ru": "Это вы входите? Если да, нажмите число, которое показано на сайте.",
        "en": "Is this you logging in? If so, tap the number shown on the website.",
    },
    "prompt_hint": {
        "ru": "Это не вы? Нажмите «Это был не я».",
        "en": "Not you? Tap \"It wasn't me\".",
    },
    "unknown_value": {"ru": "неизвестно", "en": "unknown"},
    "button_approve": {"ru": "✅ Да, это я", "en": "✅ Yes, it's me"},
    "button_reject": {"ru": "❌ Отклонить", "en": "❌ Reject"},
    "button_not_me": {"ru": "🚨 Это был не я", "en": "🚨 It wasn't me"},
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
    "answer_not_found": {"ru": "Этот запрос больше не действует.", "en": "This request is no longer valid."},
    "answer_wrong_number": {
        "ru": "Это не то число, что на сайте, поэтому вход отклонён. Новые запросы придут не раньше чем через {minutes} мин.",
        "en": "That's not the number on the website, so the login was rejected. No new requests for {minutes} min.",
    },
    "answer_cooldown": {
        "ru": "Недавно выбрали неверное число: подтвердить вход пока нельзя.",
        "en": "A wrong number was picked recently: no login can be approved yet.",
    },
    "answer_not_me": {
        "ru": "Вход отклонён, запросы на вход приостановлены.",
        "en": "Login rejected; login requests are paused.",
    },
    "answer_error": {
        "ru": "Что-то пошло не так. Попробуйте ещё раз через минуту.",
        "en": "Something went wrong. Please try again in a minute.",
    },
    "command_start": {
        "ru": "Привязать номер телефона для входа на сайт",
        "en": "Link your phone number to sign in to the website",
    },
    "command_sessions": {"ru": "Мои активные входы", "en": "My active logins"},
    "command_logout_all": {"ru": "Завершить все входы", "en": "End all my logins"},
    "command_unlink": {"ru": "Забыть мой номер", "en": "Forget my phone number"},
    "command_email": {"ru": "Моя почта для уведомлений", "en": "My email for alerts"},
    "command_help": {"ru": "Что умеет бот", "en": "What this bot can do"},
    "help": {
        "ru": "Я подтверждаю входы на сайт {site}: когда на сайте вводят ваш номер, я спрашиваю, вы ли это.\n\n"
        "/start — привязать номер телефона\n"
        "/sessions — активные входы (и завершить любой)\n"
        "/logout_all — завершить все входы\n"
        "/passkeys — ключи доступа (и удалить любой)\n"
        "/email — почта для уведомлений\n"
        "/unlink — забыть мой номер\n"
        "/help — эта справка",
        "en": "I confirm logins to {site}: when someone enters your number there, I ask whether it's you.\n\n"
        "/start — link your phone number\n"
        "/sessions — your active logins (and end any of them)\n"
        "/logout_all — end all your logins\n"
        "/passkeys — your passkeys (and remove any of them)\n"
        "/email — your email for alerts\n"
        "/unlink — forget my phone number\n"
        "/help — this help",
    },
    "not_linked": {
        "ru": "К вашему Telegram не привязан номер телефона. Отправьте /start, чтобы привязать его.",
        "en": "No phone number is linked to your Telegram. Send /start to link one.",
    },
    "logged_in_title": {"ru": "✅ Вы вошли на сайт {site}", "en": "✅ You logged in to {site}"},
    "logged_in_hint": {
        "ru": "Это были не вы? Завершите этот вход кнопкой ниже; /sessions покажет все ваши входы.",
        "en": "Not you? End this login with the button below; /sessions shows all your logins.",
    },
    "logged_in_ended": {"ru": "🚫 Этот вход завершён.", "en": "🚫 This login has been ended."},
    "button_end_this_login": {"ru": "🚫 Завершить этот вход", "en": "🚫 End this login"},
    "notice_title_telegram": {"ru": "🔓 Новый вход на сайт {site}", "en": "🔓 New login to {site}"},
    "notice_title_passkey": {
        "ru": "🔑 Новый вход на сайт {site} по ключу доступа",
        "en": "🔑 New login to {site} with a passkey",
    },
    "notice_title_email": {
        "ru": "📧 Новый вход на сайт {site} по коду из письма",
        "en": "📧 New login to {site} with an email code",
    },
    "notice_hint": {
        "ru": "Это были не вы? Завершите этот вход кнопкой ниже; /logout_all завершит все ваши входы.",
        "en": "Not you? End this login with the button below; /logout_all ends all your logins.",
    },
    "not_me_intro": {
        "ru": "🚨 Вход отклонён. Без вашего Telegram по вашему номеру не войти: его только ввели на сайте.",
        "en": "🚨 Login rejected. Nobody can log in with your number without your Telegram: "
        "someone only typed it on the website.",
    },
    "prompts_paused_until": {
        "ru": "⏸ Запросы на вход по вашему номеру приостановлены до {time}.",
        "en": "⏸ Login requests for your number are paused until {time}.",
    },
    "prompts_on": {"ru": "▶️ Запросы на вход снова приходят.", "en": "▶️ Login requests are on again."},
    "active_logins_count": {
        "ru": "Активных входов на сайте: {count}.",
        "en": "Active logins on the website: {count}.",
    },
    "button_end_all_logins": {"ru": "🚫 Завершить все входы", "en": "🚫 End all my logins"},
    "button_resume_prompts": {"ru": "▶️ Возобновить запросы сейчас", "en": "▶️ Resume login requests now"},
    "answer_logins_ended": {"ru": "Завершено входов: {count}", "en": "Logins ended: {count}"},
    "answer_resumed": {"ru": "Запросы на вход возобновлены", "en": "Login requests resumed"},
    "held_paused": {
        "ru": "Запросы на вход по вашему номеру приостановлены до {time}, потому что вы отметили вход как чужой. "
        "Если этот вход ваш, возобновите запросы и начните вход на сайте заново.",
        "en": "Login requests for your number are paused until {time} because you reported a login that wasn't you. "
        "If this login is yours, resume requests and start the login on the website again.",
    },
    "held_cooldown": {
        "ru": "После неверного числа новые запросы на вход придут не раньше {time}. Тогда начните вход на сайте заново.",
        "en": "After a wrong number, no new login requests will come until {time}. Then start the login on the website again.",
    },
    "resumed": {
        "ru": "▶️ Запросы на вход возобновлены. Начните вход на сайте заново.",
        "en": "▶️ Login requests are on again. Start the login on the website again.",
    },
    "start_withheld": {
        "ru": "Этот вход начат, пока запросы были приостановлены, поэтому подтвердить его нельзя. "
        "Начните вход на сайте заново.",
        "en": "This login was started while login requests were paused, so it can't be confirmed. "
        "Please start the login on the website again.",
    },
    "sessions_title": {"ru": "Ваши активные входы (сначала новые):", "en": "Your active logins (newest first):"},
    "sessions_line": {
        "ru": "{number}. {browser}\n    IP {ip}, вход {time}",
        "en": "{number}. {browser}\n    IP {ip}, logged in {time}",
    },
    "sessions_more": {"ru": "…и ещё {count}.", "en": "…and {count} more."},
    "sessions_hint": {
        "ru": "Нажмите номер, чтобы завершить этот вход, или /logout_all, чтобы завершить все сразу.",
        "en": "Tap a number to end that login, or /logout_all to end them all.",
    },
    "no_active_logins": {"ru": "Активных входов нет.", "en": "You have no active logins."},
    "button_end_login": {"ru": "🚫 Завершить {number}", "en": "🚫 End {number}"},
    "answer_login_ended": {"ru": "Вход завершён", "en": "Login ended"},
    "answer_login_gone": {"ru": "Этот вход уже завершён.", "en": "This login has already ended."},
    "logout_all_confirm": {
        "ru": "Завершить все входы ({count})? На сайте придётся войти заново.",
        "en": "End all your logins ({count})? You'll have to log in to the website again.",
    },
    "button_confirm_logout_all": {"ru": "🚫 Да, завершить все", "en": "🚫 Yes, end them all"},
    "logged_out_all": {"ru": "✅ Завершено входов: {count}.", "en": "✅ Logins ended: {count}."},
    "unlink_confirm": {
        "ru": "Забыть номер {phone}? Все ваши входы завершатся, ожидающие запросы будут отклонены. "
        "Чтобы снова входить через Telegram, нужно будет заново поделиться номером.",
        "en": "Forget {phone}? All your logins end and pending requests are rejected. "
        "To log in with Telegram again, you'll have to share your number again.",
    },
    "button_confirm_unlink": {"ru": "🗑 Да, забыть номер", "en": "🗑 Yes, forget my number"},
    "unlinked": {
        "ru": "✅ Номер {phone} забыт, все входы завершены. Чтобы привязать номер снова, отправьте /start.",
        "en": "✅ {phone} has been forgotten and all your logins have ended. Send /start to link a number again.",
    },
    "button_cancel": {"ru": "Отмена", "en": "Cancel"},
    "action_cancelled": {"ru": "Хорошо, всё остаётся как было.", "en": "OK, nothing has changed."},
}


def language_of_tag(language_code: str | None) -> str | None:
    """Return the supported language an IETF tag (`ru`, `en-GB`, `ru_RU`) names, or None."""
    base = (language_code or "").strip().lower().replace("_", "-").split("-")[0]
    return base if base in SUPPORTED_LANGUAGES else None


def pick_language(default: str, telegram_language_code: str | None) -> str:
    """Choose the bot's language: the person's own, else `default` (BOT_DEFAULT_LANGUAGE), else English."""
    return language_of_tag(telegram_language_code) or language_of_tag(default) or "en"


def text(key: str, language: str, **values: object) -> str:
    """Return the text `key` in `language` (English if unsupported), filled with `values`."""
    variants = TEXTS[key]
    template = variants.get(language) or variants["en"]
    return template.format(**values) if values else template


# Passkeys' texts live beside their feature; one table for `text()` all the same.
from core.passkey_texts import PASSKEY_TEXTS  # noqa: E402

TEXTS.update(PASSKEY_TEXTS)
