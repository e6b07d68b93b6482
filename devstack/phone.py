"""A terminal "phone": play a Telegram user against the running emulator (`make phone`)."""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import urllib.parse
from typing import Any, Callable, TextIO

from core import prompts

HELP = ("commands: start [token|bot_url] (shares your contact if the bot asks), contact [+phone], "
        "approve [match_code], say TEXT, tap N, show, help, quit")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the phone's options (defaults from TELEGRAM_API_URL, PHONE_USER_ID, PHONE_NUMBER)."""
    parser.add_argument("--url", default=os.environ.get("TELEGRAM_API_URL") or "http://127.0.0.1:8081")
    parser.add_argument("--user-id", type=int, default=int(os.environ.get("PHONE_USER_ID") or 0) or None)
    parser.add_argument("--phone", default=os.environ.get("PHONE_NUMBER") or "+79161234567")
    parser.add_argument("--name", default="Phone", help="the Telegram user's first name")
    parser.add_argument("--script", help="';'-separated commands to run, then exit: 'start <bot_url>; approve 47'")
    parser.add_argument("--wait", type=float, default=10.0, help="seconds to wait for the bot's answer or prompt")


def user_id_for(phone: str) -> int:
    """Return the same emulator user id for a phone number every time (so `make phone` twice is one person)."""
    digits = "".join(c for c in phone if c.isdigit()) or "0"
    return 7_000_000_000 + int(digits) % 1_000_000_000


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    """Return a message's inline buttons, row after row, as one list."""
    return [b for row in (message.get("reply_markup") or {}).get("inline_keyboard") or [] for b in row]


def asks_for_contact(message: dict[str, Any]) -> bool:
    """Tell whether a message offers the reply-keyboard button that shares the user's own number."""
    rows = (message.get("reply_markup") or {}).get("keyboard") or []
    return any(isinstance(b, dict) and b.get("request_contact") for row in rows for b in row)


def number_buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    """Return a prompt's match-mode buttons: those labelled with a two-digit number."""
    return [b for b in buttons(message) if prompts.is_match_number(b.get("text"))]


def approve_button(message: dict[str, Any], match_code: str) -> dict[str, Any] | None:
    """Return the button of a prompt that approves: the number equal to `match_code`, else Approve.

    A prompt with number buttons (match mode) is approved only by its code: any other number
    rejects every pending login of the phone and starts a cooldown, so without the code nothing is.
    """
    numbers = number_buttons(message)
    if numbers:
        return next((b for b in numbers if b.get("text") == match_code), None)
    for button in buttons(message):
        callback = prompts.parse_callback(button.get("callback_data"))
        if callback is not None and callback.action == prompts.APPROVE:
            return button
    return None


def can_settle(message: dict[str, Any] | None, match_code: str) -> bool:
    """Tell whether `approve match_code` can be decided on this prompt now (tapped, or refused for want of a code).

    A wrong code is not decided yet: the prompt of this login may still be on its way.
    """
    if message is None:
        return False
    return approve_button(message, match_code) is not None or (not match_code and bool(number_buttons(message)))


def render(message: dict[str, Any]) -> str:
    """Render a message: who, text, then inline buttons as `[1 Approve] [2 Reject]`."""
    state = " (deleted)" if message.get("deleted") else " (edited)" if message.get("edited") else ""
    text = message.get("text") or ("(contact)" if message.get("contact") else "")
    lines = [("bot" if message.get("from_bot") else "you") + state + ": " + text.replace("\n", "\n     ")]
    markup, number = message.get("reply_markup") or {}, 0
    for row in markup.get("inline_keyboard") or []:
        lines.append("     " + " ".join(f"[{(number := number + 1)} {b.get('text', '')}]" for b in row))
    for row in markup.get("keyboard") or []:
        lines.append("     keyboard: " + " ".join(f"<{b['text'] if isinstance(b, dict) else b}>" for b in row))
    return "\n".join(lines)


class Phone:
    """One Telegram user's private chat with the bot (its chat id is the user id)."""

    def __init__(self, client: Any, user_id: int, phone: str, out: TextIO = sys.stdout, patience: float = 10.0) -> None:
        self.client, self.user_id, self.phone, self.out = client, user_id, phone, out
        self.patience = patience  # seconds to wait for the bot's answer to /start <token>
        self.seen: dict[int, str] = {}  # message_id -> rendering already printed
        self.answers_seen = 0
        self.lock = threading.Lock()

    def say(self, text: str) -> None:
        """Print a line at once."""
        print(text, file=self.out, flush=True)

    def refresh(self) -> bool:
        """Print bot messages, edits and popups that are new since the last call; tell if any were."""
        with self.lock:
            chat = self.client.chat(self.user_id)
            changed = False
            for message in chat.get("messages", []):
                shown = render(message)
                if message.get("from_bot") and self.seen.get(message["message_id"]) != shown:
                    self.say(shown)
                    changed = True
                self.seen[message["message_id"]] = shown
            answers = chat.get("callback_answers", [])
            for answer in answers[self.answers_seen:]:
                if answer.get("text"):
                    self.say(f"bot (popup): {answer['text']}")
            changed, self.answers_seen = changed or len(answers) > self.answers_seen, len(answers)
            return changed

    def wait(self, until: Callable[[], bool], timeout: float, quiet: float = 0.8) -> bool:
        """Print what the bot does until `until()` holds, or until it was quiet `quiet` s after a change."""
        deadline, changed_at = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            if self.refresh():
                changed_at = time.monotonic()  # a popup often comes just before the edit: keep going
            elif until() or (changed_at is not None and time.monotonic() - changed_at >= quiet):
                return True
            time.sleep(0.2)
        return changed_at is not None

    def prompt(self) -> dict[str, Any] | None:
        """Return the newest live bot message that has inline buttons."""
        live = [m for m in self.client.chat(self.user_id)["messages"]
                if m.get("from_bot") and not m.get("deleted") and buttons(m)]
        return live[-1] if live else None

    def do(self, line: str) -> None:
        """Carry out one command (see HELP); raise ValueError if it can't be done."""
        command, _, rest = line.strip().partition(" ")
        rest = rest.strip()
        if command == "start":
            self.start(rest)
        elif command == "contact":
            self.share_contact(rest or self.phone)
        elif command == "say":
            self.send(rest)
        elif command == "approve":
            self.approve(rest)
        elif command == "tap":
            message = self.prompt()
            choices = buttons(message) if message else []
            if not rest.isdigit() or not 1 <= int(rest) <= len(choices):
                raise ValueError(f"no button {rest!r} to tap (the newest prompt has {len(choices)})")
            self.tap(message, choices[int(rest) - 1])
        elif command == "show":
            with self.lock:
                for message in self.client.chat(self.user_id)["messages"]:
                    self.say(render(message))
        elif command in ("help", "?"):
            self.say(HELP)
        elif command:
            raise ValueError(f"unknown command {command!r}; {HELP}")

    def send(self, text: str) -> dict[str, Any]:
        """Send a text message to the bot as this user; return the message sent."""
        self.say(f"you: {text}")
        return self.client.send_message(self.user_id, text)["message"]

    def start(self, link: str) -> None:
        """Send `/start [token]`; a token (or a whole bot_url) also shares the contact if the bot asks.

        That is what a person does after following a login link with a phone not linked yet: the
        bot asks for the number first, and the prompt comes only after it.
        """
        token = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query).get("start", [link])[0]
        sent = self.send(f"/start {token}".strip())
        if not token:
            return
        answer = self.client.chat(self.user_id, after_message_id=sent["message_id"], wait=min(self.patience, 60))
        newer = [m for m in answer.get("messages", []) if m.get("from_bot") and m["message_id"] > sent["message_id"]]
        if any(asks_for_contact(m) for m in newer):
            self.refresh()  # the bot's question first, then the answer
            self.share_contact(self.phone)

    def share_contact(self, phone: str) -> None:
        """Share this user's own contact card with the number `phone`."""
        self.say(f"you: (shares own contact {phone})")
        self.client.share_contact(self.user_id, phone)

    def approve(self, match_code: str) -> None:
        """Tap the newest prompt's approving button: the number `match_code`, or Approve in simple mode."""
        message = self.prompt()
        button = approve_button(message, match_code) if message else None
        if button is None:
            if message is None:
                raise ValueError("no prompt to approve yet")
            if not number_buttons(message):
                raise ValueError("the newest message with buttons has no Approve button (see `show`)")
            if not match_code:
                raise ValueError("this prompt asks for the number the website shows: approve <match_code>")
            raise ValueError(f"the newest prompt has no button {match_code!r}: is it the match_code of this login?")
        self.tap(message, button)

    def tap(self, message: dict[str, Any], button: dict[str, Any]) -> None:
        """Tap one inline button of a message."""
        self.say(f"you: (taps [{button.get('text')}])")
        data = button.get("callback_data")
        self.client.tap(self.user_id, message["message_id"], callback_data=data,
                        button_text=None if data else button.get("text"))


def run_script(phone: Phone, script: str, wait: float) -> int:
    """Run ';'-separated commands, letting the bot answer each; return 0, or 1 on a failure."""
    for line in filter(None, (part.strip() for part in script.split(";"))):
        command, _, argument = line.partition(" ")
        # The prompt may still be on its way from the worker.
        if command == "tap":
            phone.wait(lambda: phone.prompt() is not None, wait)
        elif command == "approve":
            phone.wait(lambda: can_settle(phone.prompt(), argument.strip()), wait)
        try:
            phone.do(line)
        except ValueError as exc:
            print(f"phone: {exc}", file=sys.stderr)
            return 1
        phone.wait(lambda: False, wait)
    return 0


def main(args: argparse.Namespace) -> int:
    """Create the Telegram user on the emulator, then run the script or the interactive loop."""
    from telegram_emulator.client import EmulatorClient

    client = EmulatorClient(args.url)
    # The same phone is the same Telegram user on every run, so a prompt sent to the user
    # linked in one `make phone` can be tapped from the next one.
    fields = {"first_name": args.name, "id": args.user_id or user_id_for(args.phone)}
    try:
        user_id = int(client.create_user(**fields)["id"])
    except Exception as exc:  # noqa: BLE001 - the emulator answers nothing or refuses
        print(f"phone: no emulator at {args.url}? ({exc}) Is `make run` running?", file=sys.stderr)
        return 1
    phone = Phone(client, user_id, args.phone, patience=args.wait)
    phone.say(f"phone: Telegram user {user_id} with {args.phone}, emulator {args.url}")
    if args.script:
        return run_script(phone, args.script, args.wait)
    phone.say(HELP)
    threading.Thread(target=_follow, args=(phone,), daemon=True).start()
    while True:
        try:
            line = input("> ")
        except (EOFError, KeyboardInterrupt):
            return 0
        if line.strip() in ("quit", "exit"):
            return 0
        try:
            phone.do(line)
        except Exception as exc:  # noqa: BLE001 - a REPL reports the problem and goes on
            phone.say(f"phone: {exc}")


def _follow(phone: Phone) -> None:
    while True:  # print bot messages as they arrive, for as long as the REPL runs
        try:
            phone.refresh()
        except Exception:  # noqa: BLE001 - the emulator may be restarting: keep trying
            pass
        time.sleep(0.3)
