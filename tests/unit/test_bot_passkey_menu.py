"""The bot's passkey messages as data: callback data, the list, the offers to remove them all."""

from __future__ import annotations

import datetime
import uuid

from core import account_menu, passkey_menu, passkeys

NOW = datetime.datetime(2026, 12, 5, 10, 30, tzinfo=datetime.timezone.utc)


def passkey(name: str = "Chrome on Windows", used: datetime.datetime | None = None) -> dict:
    return {"id": uuid.uuid4(), "name": name, "created_at": NOW, "last_used_at": used}


def test_callback_data_is_read_back_and_fits_telegrams_64_bytes():
    key = passkey()
    message = passkey_menu.added_notice(key, "en", "Site")
    [[button]] = message.buttons
    assert len(button.callback_data.encode()) <= 64
    assert passkey_menu.parse_callback(button.callback_data) == passkey_menu.PasskeyCallback("pr", str(key["id"]))
    assert passkey_menu.parse_callback("pa") == passkey_menu.PasskeyCallback("pa")
    for forged in ("pr:", "pr:not-a-uuid", f"pr:{str(key['id']).upper()}", "px", None):
        assert passkey_menu.parse_callback(forged) is None
    assert not account_menu.is_account_callback("pa")


def test_the_new_passkey_notice_names_it():
    text = passkey_menu.added_notice(passkey(), "en", "Site").text
    assert text.startswith("🔑 New passkey: Chrome on Windows")


def test_the_list_shows_each_with_a_remove_button_and_remove_all():
    keys = [passkey("Safari on Mac OS X", NOW), passkey()]
    message = passkey_menu.passkeys_list(keys, "en", "Site")
    assert "Safari on Mac OS X" in message.text and "last used: 2026-12-05 10:30 UTC" in message.text
    assert "last used: never" in message.text
    assert [b.callback_data for row in message.buttons for b in row] == [
        f"pr:{keys[0]['id']}", f"pr:{keys[1]['id']}", "pa"
    ]
    assert passkey_menu.passkeys_list([], "ru", "Site").buttons == ()


def test_it_wasnt_me_and_logout_all_offer_to_remove_the_passkeys_only_when_there_are_some():
    with_keys = account_menu.not_me_offer(None, 1, "en", passkeys=2)
    assert ("pa",) in [tuple(b.callback_data for b in row) for row in with_keys.buttons]
    assert "pa" not in [b.callback_data for row in account_menu.not_me_offer(None, 1, "en").buttons for b in row]
    confirm = account_menu.logout_all_confirmation(3, "en", passkeys=1)
    assert [b.callback_data for b in confirm.buttons[-1]] == ["pa"]
    assert account_menu.logout_all_confirmation(0, "en", passkeys=1).buttons[-1][0].callback_data == "pa"
    assert account_menu.logout_all_confirmation(0, "en").buttons == ()


def test_every_passkey_a_person_may_have_gets_a_remove_button_in_the_list():
    keys = [passkey(f"Key {number}") for number in range(passkeys.MAX_PER_USER)]
    message = passkey_menu.passkeys_list(keys, "ru", "Site")
    removable = {b.callback_data for row in message.buttons for b in row} - {"pa"}
    assert removable == {f"pr:{key['id']}" for key in keys}
    assert len(message.text) <= 4096
