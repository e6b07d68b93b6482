import uuid
from datetime import datetime, timedelta, timezone

import pytest

from core import account_menu, prompt_holds, texts

FAMILY = str(uuid.uuid4())
FIREFOX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"


def family(**overrides):
    row = {
        "id": uuid.uuid4(),
        "created_at": datetime(2026, 11, 27, 10, 30, tzinfo=timezone.utc),
        "client_ip": "198.51.100.7",
        "user_agent": FIREFOX,
    }
    row.update(overrides)
    return row


@pytest.mark.parametrize("action", account_menu.PLAIN_ACTIONS)
def test_plain_actions_parse(action):
    assert account_menu.parse_callback(action) == account_menu.AccountCallback(action)


def test_ending_one_login_names_its_family():
    assert account_menu.parse_callback(f"el:{FAMILY}") == account_menu.AccountCallback(account_menu.END_LOGIN, FAMILY)


def test_ending_this_login_from_an_approved_prompt_names_its_session():
    assert account_menu.parse_callback(f"es:{FAMILY}") == account_menu.AccountCallback(
        account_menu.END_THIS_LOGIN, session_pk=FAMILY
    )


@pytest.mark.parametrize(
    "data",
    [None, "", "el", "el:", "el:42", "es:", "es:42", f"es:{FAMILY.upper()}", f"es:{FAMILY}:x", f"el:{FAMILY.upper()}", f"el:{FAMILY}:x", f"la:{FAMILY}", "la:", "LA", " cx",
     f"ap:{FAMILY}", f"nm:{FAMILY}"],
)
def test_anything_else_is_not_an_account_button(data):
    assert account_menu.parse_callback(data) is None
    assert not account_menu.is_account_callback(data)


def test_account_and_prompt_callbacks_never_overlap():
    from core import prompts

    assert not set(account_menu.PLAIN_ACTIONS + (account_menu.END_LOGIN, account_menu.END_THIS_LOGIN)) & set(prompts.ACTIONS)


def test_sessions_list_shows_each_login_with_a_button_that_ends_it():
    newer, older = family(client_ip="198.51.100.2"), family(client_ip="198.51.100.1", user_agent=None)
    message = account_menu.sessions_list([newer, older], "en")
    assert message.text.index("198.51.100.2") < message.text.index("198.51.100.1")
    assert "Firefox 121, Ubuntu" in message.text and texts.text("unknown_value", "en") in message.text
    assert "2026-11-27 10:30 UTC" in message.text
    [row] = message.buttons
    assert [b.callback_data for b in row] == [f"el:{newer['id']}", f"el:{older['id']}"]
    assert all(len(b.callback_data.encode()) <= 64 for b in row)


def test_a_long_list_is_cut_and_says_how_many_more():
    message = account_menu.sessions_list([family() for _ in range(account_menu.MAX_LISTED + 4)], "ru")
    assert sum(len(row) for row in message.buttons) == account_menu.MAX_LISTED
    assert texts.text("sessions_more", "ru", count=4) in message.text
    assert len(message.text) < 4096


def test_no_logins_means_no_buttons():
    for message in (account_menu.sessions_list([], "en"), account_menu.logout_all_confirmation(0, "en")):
        assert message.text == texts.text("no_active_logins", "en") and message.buttons == ()


def test_confirmations_have_a_yes_and_a_cancel():
    for message, yes in (
        (account_menu.logout_all_confirmation(2, "en"), account_menu.LOGOUT_ALL),
        (account_menu.unlink_confirmation("+79161234567", "en"), account_menu.UNLINK),
    ):
        [[confirm, cancel]] = message.buttons
        assert (confirm.callback_data, cancel.callback_data) == (yes, account_menu.CANCEL)


def test_the_not_me_offer_shows_only_what_can_still_be_done():
    until = datetime.now(timezone.utc) + timedelta(hours=1)
    both = account_menu.not_me_offer(until, 2, "en")
    assert [b.callback_data for row in both.buttons for b in row] == [account_menu.OFFER_END_ALL, account_menu.OFFER_RESUME]
    assert texts.text("active_logins_count", "en", count=2) in both.text
    assert account_menu.not_me_offer(until, 0, "en").buttons == ((both.buttons[1][0],),)
    done = account_menu.not_me_offer(None, 0, "en")
    assert done.buttons == () and texts.text("prompts_on", "en") in done.text


def test_a_deep_link_while_held_offers_resume_only_for_a_pause():
    until = datetime(2026, 11, 27, 11, 30, tzinfo=timezone.utc)
    paused = account_menu.held(prompt_holds.PAUSED, until, "en")
    assert "2026-11-27 11:30 UTC" in paused.text
    assert [b.callback_data for row in paused.buttons for b in row] == [account_menu.RESUME]
    assert account_menu.held(prompt_holds.COOLDOWN, until, "en").buttons == ()


@pytest.mark.parametrize("language", texts.SUPPORTED_LANGUAGES)
def test_help_names_every_command(language):
    text = account_menu.help_message(language, "Dance of Mind").text
    for command in ("/start", "/sessions", "/logout_all", "/unlink", "/help"):
        assert command in text
