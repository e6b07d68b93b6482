"""Build the bot's python-telegram-bot Application in one place."""

from __future__ import annotations

from telegram import BotCommand, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, TypeHandler, filters

from botrunner import commands, email_commands, handlers, passkeys, update_ids
from core import account_menu, db, email_menu, passkey_menu, texts
from core.settings import Settings
from telegram_sender import request, transport

# Only what the handlers use; Telegram then doesn't even queue the rest for us.
ALLOWED_UPDATES = ["message", "callback_query"]
# The commands published with setMyCommands, in this order; each has a `command_<name>` text.
COMMANDS = ("start", "sessions", "logout_all", "passkeys", "email", "unlink", "help")


def build_application(settings: Settings) -> Application:
    """Return the bot's Application for these settings, with every handler registered."""
    api = settings.telegram_api_url
    db.configure(settings)
    application = (
        Application.builder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        # The bot's replies and edits take their turn from the send budget the worker uses.
        # Many updates are handled at once: as many connections as PTB's own default.
        .request(request.rate_limited(settings, connection_pool_size=256))
        .get_updates_request(transport.AiohttpRequest(connect_timeout=5, read_timeout=10))
        # Handlers are race-safe: every decision is one atomic UPDATE in Postgres.
        .concurrent_updates(True)
        .post_init(post_init)
        .build()
    )
    application.bot_data["settings"] = settings
    application.add_handler(TypeHandler(Update, update_ids.stamp), group=update_ids.STAMP_GROUP)
    application.add_handler(CommandHandler("start", handlers.start))
    # Account commands show and change one person's logins: only in their private chat with the bot.
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("sessions", commands.sessions, filters=private))
    application.add_handler(CommandHandler("logout_all", commands.logout_all, filters=private))
    application.add_handler(CommandHandler("passkeys", passkeys.passkeys_command, filters=private))
    application.add_handler(CommandHandler("unlink", commands.unlink, filters=private))
    application.add_handler(CommandHandler("help", commands.help_command, filters=private))
    application.add_handler(CommandHandler("email", email_commands.email_command, filters=private))
    # A 6-digit message in the private chat: the code mailed to the address being confirmed.
    application.add_handler(MessageHandler(private & filters.Regex(r"^\s*\d{6}\s*$"), email_commands.code_message))
    application.add_handler(MessageHandler(private & filters.Regex(email_menu.ADDRESS_MESSAGE_PATTERN),
                                           email_commands.address_message))
    application.add_handler(MessageHandler(filters.CONTACT, handlers.contact))
    application.add_handler(CallbackQueryHandler(commands.account_button, pattern=account_menu.is_account_callback))
    application.add_handler(CallbackQueryHandler(passkeys.passkey_button, pattern=passkey_menu.is_passkey_callback))
    application.add_handler(CallbackQueryHandler(email_commands.email_button, pattern=email_menu.is_email_callback))
    application.add_handler(CallbackQueryHandler(handlers.decision))
    application.add_handler(MessageHandler(filters.ALL, handlers.fallback))
    application.add_error_handler(handlers.on_error)
    return application


async def post_init(application: Application) -> None:
    """Publish the bot's commands in Russian, in English, and in BOT_DEFAULT_LANGUAGE for everyone else."""
    settings: Settings = application.bot_data["settings"]
    for language in texts.SUPPORTED_LANGUAGES:
        await application.bot.set_my_commands(bot_commands(language), language_code=language)
    # Telegram shows these to a person whose app language has no list of its own.
    await application.bot.set_my_commands(bot_commands(texts.pick_language(settings.bot_default_language, None)))


def bot_commands(language: str) -> list[BotCommand]:
    """Return the bot's command menu in one language."""
    return [BotCommand(name, texts.text(f"command_{name}", language)) for name in COMMANDS]
