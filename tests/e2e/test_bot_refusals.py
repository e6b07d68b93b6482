"""What the bot refuses: someone else's contact, a forwarded card, a tap by another account."""

from __future__ import annotations

from tests.e2e.people import Browser, TelegramPerson, inline_buttons


def test_someone_elses_contact_does_not_link(system, browser: Browser, person: TelegramPerson):
    other = TelegramPerson(system.emulator)
    person.say("/start")
    system.emulator.share_contact(person.id, other.phone.lstrip("+"), contact_user_id=other.id)
    system.emulator.share_contact(person.id, other.phone.lstrip("+"), contact_user_id=None)
    replies = system.emulator.wait_for(lambda: len(m := person.bot_messages()) >= 3 and m)
    assert all(other.phone not in (m["text"] or "") for m in replies)

    # Not linked: a login for that phone sends nobody a prompt.
    browser.init(other.phone)
    other_chat = system.emulator.chat(other.id)["messages"]
    assert not [m for m in other_chat if inline_buttons(m)]


def test_a_forwarded_contact_is_refused(system, browser: Browser, person: TelegramPerson):
    owner = TelegramPerson(system.emulator)
    person.say("/start")
    # A forwarded card of the owner's, carrying the owner's user_id: must never link.
    system.emulator.share_contact(person.id, owner.phone.lstrip("+"), contact_user_id=owner.id, forwarded=True)
    refused = system.emulator.wait_for(lambda: len(m := person.bot_messages()) >= 2 and m[-1])
    assert owner.phone not in refused["text"]
    owner.link()  # the real owner can still link their phone
    assert owner.phone in owner.bot_messages()[-1]["text"]


def test_a_tap_by_another_account_is_refused(system, browser: Browser, linked_person: TelegramPerson):
    started = browser.init(linked_person.phone)
    prompt = linked_person.wait_for_prompt()
    intruder = TelegramPerson(system.emulator)
    # The intruder can't see the message in real Telegram; the emulator lets us press it as them.
    approve = inline_buttons(prompt)[0]["callback_data"]
    system.emulator.tap(intruder.id, prompt["message_id"], callback_data=approve, chat_id=linked_person.id)
    answers = system.emulator.wait_for(lambda: system.emulator.chat(linked_person.id)["callback_answers"])
    assert answers[-1]["text"]  # answered, with a reason
    assert browser.status(started["session_id"]).json()["status"] == "pending"
    unchanged = linked_person.message(prompt["message_id"])
    assert inline_buttons(unchanged) == inline_buttons(prompt) and not unchanged["edited"]
