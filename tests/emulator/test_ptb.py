"""The real python-telegram-bot talks to the emulator over HTTP without a single invalid call."""

from __future__ import annotations

import asyncio
from typing import Any, Callable, TypeVar

import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    MenuButtonCommands,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes, MessageHandler, filters
from telegram.request import HTTPXRequest

from telegram_emulator.client import EmulatorClient

from .conftest import TOKEN

T = TypeVar("T")
LOGIN_KEYBOARD = InlineKeyboardMarkup(
    [[InlineKeyboardButton("Confirm", callback_data="confirm:42"),
      InlineKeyboardButton("Website", url="https://danceofmind.example/login")]]
)


def ptb_bot(url: str, **request_options: Any) -> Bot:
    """Return a PTB Bot pointed at the emulator."""
    request = HTTPXRequest(**request_options) if request_options else None
    return Bot(TOKEN, base_url=f"{url}/bot", request=request)


async def off_loop(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking control-API call without stalling PTB's event loop."""
    return await asyncio.to_thread(function, *args, **kwargs)


def test_ptb_bot_methods_are_accepted(client: EmulatorClient, emulator: Any) -> None:
    user = client.create_user(first_name="Ann", username="ann")
    client.send_message(user["id"], "/start")

    async def scenario() -> None:
        async with ptb_bot(emulator.url) as bot:
            assert bot.username == "dance_of_mind_bot"
            await bot.delete_webhook(drop_pending_updates=False)
            await bot.set_my_commands([BotCommand("start", "Log in")], scope=BotCommandScopeAllPrivateChats())
            await bot.set_my_commands([BotCommand("start", "Войти")], language_code="ru")
            await bot.set_chat_menu_button(menu_button=MenuButtonCommands())
            await bot.set_my_description("Logs you in to Dance of Mind")
            sent = await bot.send_message(user["id"], "Confirm <b>login</b>?", parse_mode=ParseMode.HTML,
                                          reply_markup=LOGIN_KEYBOARD)
            assert sent.text == "Confirm login?" and sent.reply_markup == LOGIN_KEYBOARD
            await bot.edit_message_text("Confirm login now?", chat_id=user["id"], message_id=sent.message_id,
                                        reply_markup=LOGIN_KEYBOARD)
            await off_loop(client.tap, user["id"], sent.message_id, callback_data="confirm:42")
            updates = await bot.get_updates(timeout=1)
            query = updates[-1].callback_query
            assert query.data == "confirm:42" and query.message.text == "Confirm login now?"
            await bot.answer_callback_query(query.id, text="Confirmed")
            await bot.edit_message_reply_markup(chat_id=user["id"], message_id=sent.message_id)
            contact_keyboard = ReplyKeyboardMarkup([[KeyboardButton("Share my phone", request_contact=True)]],
                                                   one_time_keyboard=True, resize_keyboard=True)
            await bot.send_message(user["id"], "Share your phone", reply_markup=contact_keyboard)
            await bot.send_message(user["id"], "Thanks", reply_markup=ReplyKeyboardRemove(),
                                   reply_to_message_id=sent.message_id)
            await bot.delete_message(user["id"], sent.message_id)
            assert (await bot.get_webhook_info()).url == ""
            await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)

    asyncio.run(scenario())
    assert client.invalid_calls() == []
    assert client.chat(user["id"])["callback_answers"][0]["text"] == "Confirmed"
    assert client.bot_messages(user["id"])[0]["reply_markup"]["keyboard"][0][0]["request_contact"] is True


# PTB itself warns about RetryAfter.retry_after turning into a timedelta in v23.
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
def test_ptb_raises_telegram_errors(client: EmulatorClient, emulator: Any) -> None:
    user = client.create_user(first_name="Bo")

    async def scenario() -> None:
        async with ptb_bot(emulator.url, read_timeout=0.3) as bot:
            with pytest.raises(Forbidden, match="can't initiate conversation"):
                await bot.send_message(user["id"], "hi")
            await off_loop(client.send_message, user["id"], "hello")
            await off_loop(client.add_fault, "sendMessage", "429", retry_after=3)
            with pytest.raises(RetryAfter, match="Retry in 3 seconds"):
                await bot.send_message(user["id"], "hi")
            await off_loop(client.add_fault, "sendMessage", "500")
            with pytest.raises(NetworkError, match="Internal Server Error"):
                await bot.send_message(user["id"], "hi")
            await off_loop(client.add_fault, "sendMessage", "timeout", delay=0.6)
            with pytest.raises(TimedOut):
                await bot.send_message(user["id"], "lost")
            with pytest.raises(BadRequest, match="Message text is empty"):
                await bot.send_message(user["id"], " ")
            await bot.send_message(user["id"], "delivered")

    asyncio.run(scenario())
    assert [m["text"] for m in client.bot_messages(user["id"])] == ["delivered"]
    assert [entry["error_code"] for entry in client.invalid_calls()] == [403, 400]


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer /start with a share-your-phone keyboard."""
    keyboard = ReplyKeyboardMarkup([[KeyboardButton("Share phone", request_contact=True)]], one_time_keyboard=True)
    await update.effective_message.reply_text(f"Hi! Payload: {' '.join(context.args)}", reply_markup=keyboard)


async def contact(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Thank for the contact, drop the keyboard, offer an inline confirmation."""
    card = update.effective_message.contact
    own = card.user_id == update.effective_user.id
    await update.effective_message.reply_text(f"Got {card.phone_number} (own: {own})",
                                              reply_markup=ReplyKeyboardRemove())
    await update.effective_chat.send_message("Log in?", reply_markup=LOGIN_KEYBOARD)


async def confirm(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer the tap and replace the question with the outcome."""
    await update.callback_query.answer("Logged in")
    await update.callback_query.edit_message_text(f"Confirmed {update.callback_query.data}")


async def post_init(application: Application) -> None:
    """Publish the bot's commands on start-up, as a real bot does."""
    await application.bot.set_my_commands([BotCommand("start", "Log in to Dance of Mind")])


def test_ptb_application_polls_updates(client: EmulatorClient, emulator: Any) -> None:
    user = client.create_user(first_name="Cy", last_name="Dee")
    application = Application.builder().token(TOKEN).base_url(f"{emulator.url}/bot").post_init(post_init).build()
    application.add_handler(CommandHandler("start", start))
    application.add_handler(MessageHandler(filters.CONTACT, contact))
    application.add_handler(CallbackQueryHandler(confirm, pattern=r"^confirm:"))
    chat_id = user["id"]

    def has_bot_text(fragment: str) -> Callable[[dict[str, Any]], bool]:
        return lambda message: fragment in (message["text"] or "")

    async def scenario() -> None:
        async with application:
            await application.post_init(application)
            await application.start()
            await application.updater.start_polling(poll_interval=0, timeout=1)
            try:
                await off_loop(client.send_message, chat_id, "/start web-session-1")
                await off_loop(client.wait_for_bot_message, chat_id, has_bot_text("Payload: web-session-1"))
                await off_loop(client.share_contact, chat_id, "79001234567")
                await off_loop(client.wait_for_bot_message, chat_id, has_bot_text("Got 79001234567 (own: True)"))
                question = await off_loop(client.wait_for_bot_message, chat_id, has_bot_text("Log in?"))
                await off_loop(client.tap, chat_id, question["message_id"], callback_data="confirm:42")
                await off_loop(client.wait_for_bot_message, chat_id, has_bot_text("Confirmed confirm:42"))
            finally:
                await application.updater.stop()
                await application.stop()

    asyncio.run(scenario())
    assert client.invalid_calls() == []
    assert client.chat(chat_id)["callback_answers"][0]["text"] == "Logged in"
    assert client.pending_updates() == 0  # PTB confirmed everything on shutdown.
    methods = {call["method"] for call in client.calls()}
    assert {"getMe", "deleteWebhook", "setMyCommands", "getUpdates", "sendMessage", "answerCallbackQuery",
            "editMessageText"} <= methods
