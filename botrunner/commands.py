"""The account commands: /sessions, /logout_all, /unlink, /help, and the buttons they (and
"It wasn't me") send.

Everything acts on the account linked to the Telegram user who sent the command or tapped the
button, looked up afresh on every update: the callback data never names whose data to touch.
Commands answer in private chats only (app.py), so a list of logins is never shown in a group.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from telegram import Update, User
from telegram.ext import ContextTypes

import jobs
from botrunner import replies
from botrunner.handlers import language_of, settings_of
from core import account_menu, auth_sessions, db, decisions, email_events, events, passkeys, prompt_holds, prompts, texts, token_families, users
from core.account_menu import AccountCallback
from core.prompts import Message

log = logging.getLogger(__name__)

Row = dict[str, Any]


@dataclass(frozen=True)
class ButtonResult:
    """What an account button did: the message to show in its place, the toast, sessions to close."""

    message: Message
    answer: str | None = None
    rejected_sessions: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()  # outbox emails to queue after the commit


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """List the commands."""
    language = language_of(update, context)
    await replies.reply(update, account_menu.help_message(language, settings_of(context).site_name))


async def sessions(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """List the sender's active logins, newest first, each with a button that ends it."""
    language = language_of(update, context)
    user, families = await asyncio.to_thread(_active_logins, update.effective_user)
    await replies.reply(update, account_menu.sessions_list(families, language) if user else account_menu.not_linked(language))


async def logout_all(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Ask the sender to confirm ending all of their logins."""
    language = language_of(update, context)
    user, families = await asyncio.to_thread(_active_logins, update.effective_user)
    if user is None:
        await replies.reply(update, account_menu.not_linked(language))
        return
    passkey_count = await asyncio.to_thread(_passkey_count, user["id"])
    await replies.reply(update, account_menu.logout_all_confirmation(len(families), language, passkey_count))


async def unlink(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Ask the sender to confirm forgetting their phone number."""
    language = language_of(update, context)
    user, _ = await asyncio.to_thread(_active_logins, update.effective_user)
    if user is None:
        await replies.reply(update, account_menu.not_linked(language))
        return
    await replies.reply(update, account_menu.unlink_confirmation(user["phone_number"], language))


def _active_logins(sender: User) -> tuple[Row | None, list[Row]]:
    with db.transaction() as conn:
        users.note_language(conn, sender.id, sender.language_code)
        user = users.get_by_telegram_id(conn, sender.id)
        return user, token_families.active_for_user(conn, user["id"]) if user else []


def _passkey_count(user_id: int) -> int:
    with db.transaction() as conn:
        return passkeys.count_for_user(conn, user_id)



async def account_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Carry out an account button for the Telegram user who tapped it; answer the tap once."""
    query = update.callback_query
    callback = account_menu.parse_callback(query.data)
    language = language_of(update, context)
    if callback is None:
        await query.answer()
        return
    result = await replies.carry_out(query, language, _act, callback, query.from_user, language,
                                     settings_of(context).site_name)
    if result.rejected_sessions:
        await asyncio.to_thread(_close_prompts, result.rejected_sessions)
    if result.emails:
        await asyncio.to_thread(jobs.enqueue_emails, result.emails)


def _act(callback: AccountCallback, sender: User, language: str, site_name: str) -> ButtonResult:
    """Do what the button says, to the tapper's own account, in one transaction."""
    with db.transaction() as conn:
        users.note_language(conn, sender.id, sender.language_code)
        user = users.get_by_telegram_id(conn, sender.id)
        if user is None:
            return ButtonResult(account_menu.not_linked(language))
        if callback.action == account_menu.CANCEL:
            return ButtonResult(account_menu.cancelled(language))
        if callback.action == account_menu.END_LOGIN:
            assert callback.family_id is not None
            # Only a login of the tapper's own: the family id in the data is checked against them.
            ended = token_families.revoke_for_user(conn, callback.family_id, user["id"], "bot_end_login")
            remaining = token_families.active_for_user(conn, user["id"])
            if ended is not None:
                events.emit("login_ended", user=user["id"], family=callback.family_id, via="bot")
            answer = texts.text("answer_login_ended" if ended else "answer_login_gone", language)
            return ButtonResult(account_menu.sessions_list(remaining, language), answer)
        if callback.action == account_menu.END_THIS_LOGIN:
            return _end_this_login(conn, callback, user, language, site_name)
        if callback.action in (account_menu.LOGOUT_ALL, account_menu.OFFER_END_ALL):
            count = token_families.revoke_all_for_user(conn, user["id"], "bot_logout_all")
            events.emit("logout_all", user=user["id"], count=count, via="bot")
            answer = texts.text("answer_logins_ended", language, count=count)
            if callback.action == account_menu.LOGOUT_ALL:
                return ButtonResult(account_menu.logged_out_all(count, language), answer)
            return ButtonResult(
                account_menu.not_me_offer(
                    _paused_until(conn, user), 0, language, passkeys.count_for_user(conn, user["id"])
                ),
                answer,
            )
        if callback.action == account_menu.UNLINK:
            return _unlink(conn, user, language)
        # OFFER_RESUME or RESUME
        prompt_holds.resume(conn, user["id"])
        events.emit("prompts_resumed", user=user["id"])
        answer = texts.text("answer_resumed", language)
        if callback.action == account_menu.RESUME:
            return ButtonResult(account_menu.resumed(language), answer)
        active = len(token_families.active_for_user(conn, user["id"]))
        return ButtonResult(
            account_menu.not_me_offer(None, active, language, passkeys.count_for_user(conn, user["id"])), answer
        )


def _end_this_login(conn, callback: AccountCallback, user: Row, language: str, site_name: str) -> ButtonResult:
    """End the login an approved prompt made (core's rule) and show the notice without its button."""
    assert callback.session_pk is not None
    ended = decisions.end_login_of(conn, callback.session_pk, user["id"])
    session = ended or auth_sessions.get(conn, callback.session_pk)
    if ended is not None:
        events.emit("login_ended", user=user["id"], session=callback.session_pk, via="bot_notice")
    answer = texts.text("answer_login_ended" if ended else "answer_login_gone", language)
    if session is None or session["user_id"] != user["id"]:
        return ButtonResult(account_menu.sessions_list(token_families.active_for_user(conn, user["id"]), language),
                            answer)
    notice_language = session["prompt_language"] or language
    return ButtonResult(prompts.notice_of_ended_login(session, notice_language, site_name), answer)


def _paused_until(conn, user: Row) -> Any:
    hold = prompt_holds.current(conn, user["id"])
    return hold.until if hold is not None and hold.reason == prompt_holds.PAUSED else None


def _unlink(conn, user: Row, language: str) -> ButtonResult:
    """Forget the user (core's unlink) and show what it did."""
    unlinked = users.unlink(conn, user)
    # The account is gone; its confirmed address still hears of it (the language rule: the person's own, else this one).
    unlinked_email = email_events.phone_unlinked(conn, user, language)
    events.emit("phone_unlinked", user=user["id"], phone=user["phone_number"], logins_ended=unlinked.logins_ended,
                rejected=len(unlinked.rejected))
    return ButtonResult(
        account_menu.unlinked(user["phone_number"], language),
        None,
        tuple(str(row["id"]) for row in unlinked.rejected),
        (unlinked_email,) if unlinked_email else (),
    )



def _close_prompts(session_pks: tuple[str, ...]) -> None:
    """Have the worker close the prompts of sessions rejected here (best effort)."""
    try:
        for session_pk in session_pks:
            jobs.enqueue_prompt_update(session_pk)
    except Exception:  # the broker is down: the sessions are rejected anyway, their buttons refused
        log.warning("could not enqueue prompt updates", exc_info=True)
