"""Number matching and "It wasn't me" with the real bot, the worker's tasks, Postgres and the emulator."""

from __future__ import annotations

import time

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable

import pytest
from telegram.ext import Application

from core import db, prompt_holds
from tasks.delivery import send_approval_prompt, update_prompt
from telegram_emulator.client import EmulatorClient
from tests.integration.bot_helpers import (
    active_family_ids,
    answers,
    buttons,
    en,
    message,
    open_login,
    prompts_sent,
    send_prompt,
    session_status,
    user_row,
)

if TYPE_CHECKING:
    from tests.integration.bot_fixtures import Kit

pytest_plugins = ["tests.integration.bot_fixtures"]

Queue = Callable[[], list[tuple[str, list[Any]]]]


def number_buttons(prompt: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the first row of a match-mode prompt: its three number buttons."""
    return prompt["reply_markup"]["inline_keyboard"][0]


def tap(fake_telegram: EmulatorClient, user: dict[str, Any], msg: dict[str, Any], button: dict[str, Any], **kw: Any) -> None:
    """Tap one button of a message as the user."""
    fake_telegram.tap(user["telegram_id"], msg["message_id"], callback_data=button["callback_data"], **kw)


def closed(fake_telegram: EmulatorClient, chat_id: int, message_id: int) -> dict[str, Any]:
    """Wait until a prompt was edited to its outcome, without buttons."""
    return fake_telegram.wait_for(
        lambda: (m := message(fake_telegram, chat_id, message_id))["edited"] and m["reply_markup"] is None and m,
        timeout=5,
    )


def test_the_right_number_approves_and_the_prompt_becomes_the_login_notice(
    running_bot: Application, kit: Kit, fake_telegram: EmulatorClient, celery_queue: Queue
) -> None:
    user = kit.linked_user()
    session, prompt = send_prompt(kit, fake_telegram, user, approval_mode="match")
    code = session.row["match_code"]
    [right] = [b for b in number_buttons(prompt) if b["text"] == code]

    tap(fake_telegram, user, prompt, right)

    [answer] = answers(fake_telegram, user["telegram_id"], 1)
    assert answer["text"] == en("answer_approved") and not answer["show_alert"]
    notice = fake_telegram.wait_for(
        lambda: (m := message(fake_telegram, user["telegram_id"], prompt["message_id"]))["edited"] and m, timeout=5
    )
    assert notice["text"].endswith(en("logged_in_hint"))
    assert [b["callback_data"] for b in buttons(notice)] == [f"es:{session.row['id']}"]
    assert session_status(session.row["id"]) == "approved"
    assert user_row(user["id"])["match_cooldown_until"] is None
    time.sleep(0.5)  # the tap's follow-ups are enqueued just after its answer
    assert celery_queue() == []  # no separate notice: the closed prompt is the notice
    assert fake_telegram.invalid_calls() == []


def test_a_wrong_number_rejects_and_holds_the_next_prompt(
    running_bot: Application, kit: Kit, fake_telegram: EmulatorClient, celery_queue: Queue
) -> None:
    user = kit.linked_user()
    session, prompt = send_prompt(kit, fake_telegram, user, approval_mode="match")
    wrong = next(b for b in number_buttons(prompt) if b["text"] != session.row["match_code"])

    tap(fake_telegram, user, prompt, wrong)

    [answer] = answers(fake_telegram, user["telegram_id"], 1)
    assert answer["text"] == en("answer_wrong_number", minutes=5) and answer["show_alert"]
    assert en("outcome_rejected") in closed(fake_telegram, user["telegram_id"], prompt["message_id"])["text"]
    assert session_status(session.row["id"]) == "rejected"
    until = user_row(user["id"])["match_cooldown_until"]
    assert timedelta(minutes=4) < until - datetime.now(timezone.utc) <= timedelta(minutes=5, seconds=5)
    assert celery_queue() == []  # no login notice for a rejected login

    # The next login during the cooldown: its prompt is held back, for good.
    held = kit.new_session(user["phone_number"], approval_mode="match")
    send_approval_prompt.apply(args=[str(held.row["id"])])
    assert prompts_sent(fake_telegram) == 1  # only the first prompt
    stored = kit.session_row(held.row["id"])
    assert (stored["prompt_withheld"], stored["prompt_message_id"], stored["status"]) == ("cooldown", None, "pending")

    # Once the cooldown is over, a new login is prompted again; the held one never is.
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("UPDATE users SET match_cooldown_until = now() - interval '1 second' WHERE id = %s", (user["id"],))
    send_approval_prompt.apply(args=[str(held.row["id"])])
    assert prompts_sent(fake_telegram) == 1
    send_prompt(kit, fake_telegram, user, approval_mode="match")
    assert prompts_sent(fake_telegram) == 2
    assert fake_telegram.invalid_calls() == []


def test_a_wrong_number_rejects_every_pending_login_of_the_phone_and_closes_their_prompts(
    running_bot: Application, kit: Kit, fake_telegram: EmulatorClient, celery_queue: Queue
) -> None:
    user = kit.linked_user()
    sent = [send_prompt(kit, fake_telegram, user, approval_mode="match") for _ in range(3)]
    session, prompt = sent[0]
    wrong = next(b for b in number_buttons(prompt) if b["text"] != session.row["match_code"])

    tap(fake_telegram, user, prompt, wrong)

    [answer] = answers(fake_telegram, user["telegram_id"], 1)
    assert answer["text"] == en("answer_wrong_number", minutes=5)
    assert [session_status(s.row["id"]) for s, _ in sent] == ["rejected"] * 3
    # The other two prompts are closed by the worker: their buttons can't be tried next.
    others = {str(s.row["id"]) for s, _ in sent[1:]}
    fake_telegram.wait_for(lambda: {args[0] for _, args in celery_queue()} == others, timeout=5)
    for session_pk in others:
        update_prompt.apply(args=[session_pk])
    for _, other_prompt in sent[1:]:
        closing = closed(fake_telegram, user["telegram_id"], other_prompt["message_id"])
        assert en("outcome_rejected") in closing["text"]

    assert fake_telegram.invalid_calls() == []


def test_a_cooldown_holds_prompts_to_that_account_only(kit: Kit, fake_telegram: EmulatorClient) -> None:
    cooling, other = kit.linked_user(), kit.linked_user()
    with db.transaction() as conn:
        prompt_holds.start_cooldown(conn, cooling["id"], 300)

    held = kit.new_session(cooling["phone_number"], approval_mode="match")

    send_approval_prompt.apply(args=[str(held.row["id"])])
    send_prompt(kit, fake_telegram, other, approval_mode="match")

    assert (prompts_sent(fake_telegram, other["telegram_id"]), prompts_sent(fake_telegram)) == (1, 1)
    assert kit.session_row(held.row["id"])["prompt_withheld"] == "cooldown"


@pytest.mark.parametrize(
    ("mode", "forged"),
    [pytest.param("match", "ap:{pk}", id="approve-on-a-match-prompt"), pytest.param("simple", "mt:{pk}:{code}", id="number-on-a-simple-prompt")],
)
def test_a_button_of_the_other_mode_decides_nothing(
    running_bot: Application, kit: Kit, fake_telegram: EmulatorClient, mode: str, forged: str
) -> None:
    user = kit.linked_user()
    session, prompt = send_prompt(kit, fake_telegram, user, approval_mode=mode)
    data = forged.format(pk=session.row["id"], code=session.row["match_code"] or "47")

    fake_telegram.tap(user["telegram_id"], prompt["message_id"], callback_data=data, stale=True)

    assert [a["text"] for a in answers(fake_telegram, user["telegram_id"], 1)] == [en("answer_not_found")]
    assert session_status(session.row["id"]) == "pending"
    assert user_row(user["id"])["match_cooldown_until"] is None
    assert fake_telegram.calls("editMessageText") == []
    assert fake_telegram.invalid_calls() == []


def test_a_number_tapped_by_another_account_is_refused_without_a_cooldown(
    running_bot: Application, kit: Kit, fake_telegram: EmulatorClient
) -> None:
    owner, intruder = kit.linked_user(), kit.linked_user()
    session, prompt = send_prompt(kit, fake_telegram, owner, approval_mode="match")
    for button in number_buttons(prompt):
        fake_telegram.tap(intruder["telegram_id"], prompt["message_id"], callback_data=button["callback_data"],
                          chat_id=owner["telegram_id"])

    assert {a["text"] for a in answers(fake_telegram, owner["telegram_id"], 3)} == {en("answer_not_yours")}
    assert session_status(session.row["id"]) == "pending"
    assert user_row(owner["id"])["match_cooldown_until"] is None
    assert user_row(intruder["id"])["match_cooldown_until"] is None
    assert fake_telegram.invalid_calls() == []


def test_right_and_wrong_numbers_at_once_have_one_winner(
    start_bot: Callable[[], Application], kit: Kit, fake_telegram: EmulatorClient
) -> None:
    user = kit.linked_user()
    session, prompt = send_prompt(kit, fake_telegram, user, approval_mode="match")
    for button in number_buttons(prompt) * 2:
        tap(fake_telegram, user, prompt, button)

    start_bot()  # all six taps arrive in one batch, handled concurrently

    given = [a["text"] for a in answers(fake_telegram, user["telegram_id"], 6)]
    status = session_status(session.row["id"])
    winner = en("answer_approved") if status == "approved" else en("answer_wrong_number", minutes=5)
    assert given.count(winner) == 1 and given.count(en("answer_already_decided")) == 5
    cooling = user_row(user["id"])["match_cooldown_until"] is not None
    assert cooling == (status == "rejected")
    assert len(fake_telegram.calls("editMessageText")) == 1
    assert fake_telegram.invalid_calls() == []


@pytest.mark.parametrize("mode", ["simple", "match"])
def test_it_wasnt_me_rejects_pauses_and_offers_to_end_every_login(
    running_bot: Application, kit: Kit, fake_telegram: EmulatorClient, celery_queue: Queue, mode: str
) -> None:
    user = kit.linked_user()
    bystander = kit.linked_user()
    mine, theirs = open_login(user), open_login(bystander)
    other_pending, other_prompt = send_prompt(kit, fake_telegram, user, approval_mode=mode)
    session, prompt = send_prompt(kit, fake_telegram, user, approval_mode=mode)
    bystanders_session, _ = send_prompt(kit, fake_telegram, bystander, approval_mode=mode)
    [not_me] = prompt["reply_markup"]["inline_keyboard"][-1]
    assert not_me["text"] == en("button_not_me")

    tap(fake_telegram, user, prompt, not_me)

    assert [a["text"] for a in answers(fake_telegram, user["telegram_id"], 1)] == [en("answer_not_me")]
    assert en("outcome_rejected") in closed(fake_telegram, user["telegram_id"], prompt["message_id"])["text"]
    # Every pending login of this phone is rejected (push bombing sends many), and its prompt closed.
    assert session_status(session.row["id"]) == session_status(other_pending.row["id"]) == "rejected"
    fake_telegram.wait_for(celery_queue, timeout=5)
    assert celery_queue() == [("tasks.update_prompt", [str(other_pending.row["id"])])]
    assert session_status(bystanders_session.row["id"]) == "pending"
    paused_until = user_row(user["id"])["prompts_paused_until"]
    assert timedelta(minutes=59) < paused_until - datetime.now(timezone.utc) <= timedelta(hours=1, seconds=5)
    assert user_row(bystander["id"])["prompts_paused_until"] is None

    offer = fake_telegram.wait_for_bot_message(user["telegram_id"], lambda m: en("not_me_intro") in m["text"], timeout=5)
    assert en("active_logins_count", count=1) in offer["text"]
    end_all, resume = buttons(offer)
    assert (end_all["text"], resume["text"]) == (en("button_end_all_logins"), en("button_resume_prompts"))

    # While paused, a new login's prompt is held back.
    held = kit.new_session(user["phone_number"], approval_mode=mode)
    send_approval_prompt.apply(args=[str(held.row["id"])])
    assert kit.session_row(held.row["id"])["prompt_withheld"] == "paused"
    sent_before = prompts_sent(fake_telegram)

    # "End all my logins": this person's logins only; the offer is redrawn without that button.
    tap(fake_telegram, user, offer, end_all)
    assert answers(fake_telegram, user["telegram_id"], 2)[-1]["text"] == en("answer_logins_ended", count=1)
    assert active_family_ids(user["id"]) == set()
    assert active_family_ids(bystander["id"]) == {str(theirs["id"])}
    assert str(mine["id"]) not in active_family_ids(user["id"])
    redrawn = fake_telegram.wait_for(lambda: len(buttons(m := message(fake_telegram, user["telegram_id"], offer["message_id"]))) == 1 and m)
    assert en("no_active_logins") in redrawn["text"] and buttons(redrawn)[0]["text"] == en("button_resume_prompts")

    # "Resume now": prompts flow again (the held login stays held).
    tap(fake_telegram, user, redrawn, buttons(redrawn)[0])
    assert answers(fake_telegram, user["telegram_id"], 3)[-1]["text"] == en("answer_resumed")
    assert user_row(user["id"])["prompts_paused_until"] is None
    final = fake_telegram.wait_for(lambda: not buttons(m := message(fake_telegram, user["telegram_id"], offer["message_id"])) and m)
    assert en("prompts_on") in final["text"]
    send_approval_prompt.apply(args=[str(held.row["id"])])
    assert prompts_sent(fake_telegram) == sent_before
    send_prompt(kit, fake_telegram, user, approval_mode=mode)
    assert fake_telegram.invalid_calls() == []


def test_it_wasnt_me_on_a_prompt_just_approved_still_pauses(
    running_bot: Application, kit: Kit, fake_telegram: EmulatorClient
) -> None:
    user = kit.linked_user()
    session, prompt = send_prompt(kit, fake_telegram, user)
    approve, _reject, not_me = buttons(prompt)
    tap(fake_telegram, user, prompt, approve)
    answers(fake_telegram, user["telegram_id"], 1)

    tap(fake_telegram, user, prompt, not_me, stale=True)  # the phone still showed the old buttons

    assert answers(fake_telegram, user["telegram_id"], 2)[-1]["text"] == en("answer_not_me")
    assert session_status(session.row["id"]) == "approved"  # a decision is never overturned
    assert user_row(user["id"])["prompts_paused_until"] is not None
    fake_telegram.wait_for_bot_message(user["telegram_id"], lambda m: en("not_me_intro") in m["text"], timeout=5)
    assert fake_telegram.invalid_calls() == []


def test_it_wasnt_me_from_another_account_pauses_nobody(
    running_bot: Application, kit: Kit, fake_telegram: EmulatorClient
) -> None:
    owner, intruder = kit.linked_user(), kit.linked_user()
    session, prompt = send_prompt(kit, fake_telegram, owner)
    not_me = buttons(prompt)[-1]

    fake_telegram.tap(intruder["telegram_id"], prompt["message_id"], callback_data=not_me["callback_data"],
                      chat_id=owner["telegram_id"])

    assert [a["text"] for a in answers(fake_telegram, owner["telegram_id"], 1)] == [en("answer_not_yours")]
    assert session_status(session.row["id"]) == "pending"
    assert user_row(owner["id"])["prompts_paused_until"] is None
    assert user_row(intruder["id"])["prompts_paused_until"] is None
    chats = fake_telegram.bot_messages(intruder["telegram_id"]) + fake_telegram.bot_messages(owner["telegram_id"])
    assert not [m for m in chats if en("not_me_intro") in m["text"]]
    assert fake_telegram.invalid_calls() == []


def test_a_deep_link_while_paused_offers_to_resume(
    running_bot: Application, kit: Kit, fake_telegram: EmulatorClient, celery_queue: Queue
) -> None:
    user = kit.linked_user()
    with db.transaction() as conn:
        until = prompt_holds.pause(conn, user["id"], 3600)
    session = kit.new_session(user["phone_number"])

    fake_telegram.send_message(user["telegram_id"], f"/start {session.row['start_token']}")

    time = until.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    reply = fake_telegram.wait_for_bot_message(user["telegram_id"], lambda m: m["text"] == en("held_paused", time=time), timeout=5)
    assert celery_queue() == []
    [resume] = buttons(reply)
    tap(fake_telegram, user, reply, resume)
    fake_telegram.wait_for(lambda: message(fake_telegram, user["telegram_id"], reply["message_id"])["text"] == en("resumed"), timeout=5)
    assert user_row(user["id"])["prompts_paused_until"] is None

    # Now the same link works: the prompt is asked for.
    fake_telegram.send_message(user["telegram_id"], f"/start {session.row['start_token']}")
    fake_telegram.wait_for(celery_queue, timeout=5)
    assert celery_queue() == [("tasks.send_approval_prompt", [str(session.row["id"])])]
    assert fake_telegram.invalid_calls() == []


def test_a_deep_link_to_a_withheld_login_is_refused(
    running_bot: Application, kit: Kit, fake_telegram: EmulatorClient, celery_queue: Queue
) -> None:
    user = kit.linked_user()
    with db.transaction() as conn:
        prompt_holds.start_cooldown(conn, user["id"], 300)
    session = kit.new_session(user["phone_number"])
    send_approval_prompt.apply(args=[str(session.row["id"])])  # withheld: cooldown
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("UPDATE users SET match_cooldown_until = NULL WHERE id = %s", (user["id"],))

    fake_telegram.send_message(user["telegram_id"], f"/start {session.row['start_token']}")

    fake_telegram.wait_for_bot_message(user["telegram_id"], lambda m: m["text"] == en("start_withheld"), timeout=5)
    assert celery_queue() == []
    assert fake_telegram.invalid_calls() == []
