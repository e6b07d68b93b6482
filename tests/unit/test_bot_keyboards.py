import uuid
from datetime import datetime, timezone

from telegram_sender import keyboards
from core import prompts, texts


def pending_session() -> dict:
    return {
        "id": uuid.uuid4(),
        "created_at": datetime(2026, 11, 27, 10, 30, tzinfo=timezone.utc),
        "client_ip": "203.0.113.7",
        "user_agent": None,
        "approval_mode": "simple",
        "match_code": None,
    }


def test_prompt_buttons_become_inline_rows_approve_first_then_not_me():
    session = pending_session()
    markup = keyboards.inline_markup(prompts.approval_prompt(session, "en", "Dance of Mind"))
    row, [not_me] = markup.inline_keyboard
    assert [b.text for b in row] == [texts.text("button_approve", "en"), texts.text("button_reject", "en")]
    assert [b.callback_data for b in row] == [f"ap:{session['id']}", f"rj:{session['id']}"]
    assert (not_me.text, not_me.callback_data) == (texts.text("button_not_me", "en"), f"nm:{session['id']}")
    assert all(b.url is None for b in (*row, not_me))


def test_every_row_of_a_message_is_kept_in_order():
    message = prompts.Message(
        "Pick", ((prompts.Button("1", "a:1"), prompts.Button("2", "a:2")), (prompts.Button("No", "b"),))
    )
    markup = keyboards.inline_markup(message)
    assert [[b.callback_data for b in row] for row in markup.inline_keyboard] == [["a:1", "a:2"], ["b"]]


def test_a_closed_prompt_has_no_keyboard():
    closed = prompts.closed_prompt(pending_session(), "rejected", "en", "Dance of Mind")
    assert keyboards.inline_markup(closed) is None


def test_an_approved_prompt_keeps_one_button_that_ends_the_login():
    session = pending_session()
    closed = prompts.closed_prompt(session, "approved", "en", "Dance of Mind")
    [[button]] = keyboards.inline_markup(closed).inline_keyboard
    assert button.callback_data == f"es:{session['id']}"


def test_contact_request_is_one_button_that_shares_the_phone():
    markup = keyboards.contact_request("ru")
    [[button]] = markup.keyboard
    assert button.request_contact is True
    assert button.text == texts.text("share_contact_button", "ru")
    assert markup.resize_keyboard and markup.one_time_keyboard
