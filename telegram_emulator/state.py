"""Everything the fake Telegram remembers: users, chats, messages, updates; thread-safe.

One lock guards it all; `changed` (a Condition on that lock) wakes long polls and the
webhook sender whenever an update arrives or the state is reset; one more Condition per chat
wakes the control-API readers waiting for the bot's next message in that chat.
"""

from __future__ import annotations

import copy
import threading
import time
from typing import Any

from telegram_emulator import objects
from telegram_emulator.errors import ControlError, bad_request, conflict, forbidden
from telegram_emulator.journal import CallJournal
from telegram_emulator.records import CallbackRecord, ChatRecord, StoredMessage, WebhookConfig

FIRST_AUTO_USER_ID = 100000001
FIRST_UPDATE_ID = 500000001
FIRST_CALLBACK_ID = 4200000000000000001
# Update types Telegram leaves out when allowed_updates is empty or was never set.
OPT_IN_UPDATE_TYPES = {"chat_member", "message_reaction", "message_reaction_count"}
NOT_FOUND_TO_EDIT = "message to edit not found"


class EmulatorState:
    """The emulator's memory; every public method takes the lock itself."""

    def __init__(self, bot_username: str, bot_name: str) -> None:
        self.bot_username = bot_username
        self.bot_name = bot_name
        self.bot_id = 0  # Learnt from the token of each Bot API call.
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        # One per chat someone waits on: a bot message wakes that chat's readers only, not every
        # reader of every chat (a benchmark keeps dozens waiting).
        self._bot_wrote_in: dict[int, threading.Condition] = {}
        self.journal = CallJournal()
        # Counters survive reset so that no id is ever handed out twice.
        self._next_update_id = FIRST_UPDATE_ID
        self._next_callback_id = FIRST_CALLBACK_ID
        self._next_user_id = FIRST_AUTO_USER_ID
        self._poll_generation = 0
        self.closed = False
        self._clear()

    def _clear(self) -> None:
        self.users: dict[int, dict[str, Any]] = {}
        self.started_users: set[int] = set()
        self.blocked_users: set[int] = set()
        self.chats: dict[int, ChatRecord] = {}
        self.pending_updates: list[dict[str, Any]] = []
        self.allowed_updates: list[str] | None = None
        self.callback_queries: dict[str, CallbackRecord] = {}
        self.webhook = WebhookConfig()
        self.bot_settings: dict[str, Any] = {}

    def reset(self) -> None:
        """Forget users, chats, updates, webhook, faults and logs (ids keep counting)."""
        with self.changed:
            self._clear()
            self.journal.clear()
            self.changed.notify_all()
            self._wake_every_chat_reader()

    def close(self) -> None:
        """Release every waiting long poll; used when the server shuts down."""
        with self.changed:
            self.closed = True
            self.changed.notify_all()
            self._wake_every_chat_reader()

    # Users and what they do -------------------------------------------------------------

    def add_user(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Create (or replace) a user; a missing id is allocated."""
        with self.lock:
            if fields.get("id") is None:
                while self._next_user_id in self.users:
                    self._next_user_id += 1
                fields = {**fields, "id": self._next_user_id}
                self._next_user_id += 1
            user = objects.human_user(fields)
            self.users[user["id"]] = user
            return copy.deepcopy(user)

    def user(self, user_id: int) -> dict[str, Any]:
        """Return a known user or raise a 404 control error."""
        with self.lock:
            if user_id not in self.users:
                raise ControlError(404, f"unknown user {user_id}; create it with POST /control/users")
            return self.users[user_id]

    def set_blocked(self, user_id: int, blocked: bool) -> None:
        """Model the user blocking (or unblocking) the bot."""
        with self.lock:
            self.user(user_id)
            if blocked:
                self.blocked_users.add(user_id)
            else:
                self.blocked_users.discard(user_id)

    def add_user_message(self, user_id: int, content: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Store a message the user sends to the bot and queue its update."""
        with self.lock:
            user = self.user(user_id)
            # Writing to a bot (re)starts the conversation, even after a block.
            self.started_users.add(user_id)
            self.blocked_users.discard(user_id)
            record = self._chat_with(user)
            message = {
                "message_id": self._next_message_id(record),
                "from": copy.deepcopy(user),
                "chat": copy.deepcopy(record.chat),
                "date": objects.now(),
                **content,
            }
            record.messages[message["message_id"]] = StoredMessage(message, from_bot=False)
            update_id = self._queue_update({"message": copy.deepcopy(message)})
            return update_id, copy.deepcopy(message)

    def add_callback_query(
        self, user_id: int, chat_id: int, message_id: int, data: str
    ) -> tuple[int, str]:
        """Queue a callback query for a button the caller has already checked exists."""
        with self.lock:
            user = self.user(user_id)
            stored = self.chats[chat_id].messages[message_id]
            query_id = str(self._next_callback_id)
            self._next_callback_id += 1
            self.callback_queries[query_id] = CallbackRecord(chat_id, message_id)
            query = {
                "id": query_id,
                "from": copy.deepcopy(user),
                "message": copy.deepcopy(stored.message),
                "chat_instance": objects.chat_instance(chat_id),
                "data": data,
            }
            return self._queue_update({"callback_query": query}), query_id

    def _chat_with(self, user: dict[str, Any]) -> ChatRecord:
        if user["id"] not in self.chats:
            self.chats[user["id"]] = ChatRecord(chat=objects.private_chat(user))
        return self.chats[user["id"]]

    @staticmethod
    def _next_message_id(record: ChatRecord) -> int:
        message_id = record.next_message_id
        record.next_message_id += 1
        return message_id

    # What the bot does ------------------------------------------------------------------

    def chat_for_bot(self, chat_id: Any) -> ChatRecord:
        """Return a chat the bot may write to, or raise Telegram's 400/403."""
        with self.lock:
            if not isinstance(chat_id, int) or chat_id not in self.users:
                raise bad_request("chat not found")
            if chat_id in self.blocked_users:
                raise forbidden("bot was blocked by the user")
            if chat_id not in self.started_users:
                raise forbidden("bot can't initiate conversation with a user")
            return self.chats[chat_id]

    def add_bot_message(
        self, chat_id: Any, message: dict[str, Any], stored: StoredMessage
    ) -> dict[str, Any]:
        """Store a message from the bot; fills message_id, from, chat and date."""
        with self.lock:
            record = self.chat_for_bot(chat_id)
            full = {
                "message_id": self._next_message_id(record),
                "from": objects.bot_user_brief(self.bot_user()),
                "chat": copy.deepcopy(record.chat),
                "date": objects.now(),
                **message,
            }
            stored.message = full
            record.messages[full["message_id"]] = stored
            readers = self._bot_wrote_in.get(record.chat["id"])
            if readers is not None:
                readers.notify_all()
            return copy.deepcopy(full)

    def wait_for_bot_message(self, chat_id: int, after_message_id: int, timeout: float) -> None:
        """Return once the chat holds a bot message newer than `after_message_id`, or after `timeout` s."""
        deadline = time.monotonic() + timeout
        with self.lock:
            bot_wrote = self._bot_wrote_in.get(chat_id)
            if bot_wrote is None:
                bot_wrote = self._bot_wrote_in[chat_id] = threading.Condition(self.lock)
            while not self.closed:
                record = self.chats.get(chat_id)
                newest = max((m for m, stored in record.messages.items() if stored.from_bot), default=0) if record else 0
                remaining = deadline - time.monotonic()
                if newest > after_message_id or remaining <= 0:
                    return
                bot_wrote.wait(remaining)

    def _wake_every_chat_reader(self) -> None:
        for readers in self._bot_wrote_in.values():
            readers.notify_all()

    def existing_message(self, chat_id: Any, message_id: Any, missing_reason: str) -> StoredMessage:
        """Return a live message of a chat the bot can use, else 400 `missing_reason`."""
        with self.lock:
            record = self.chat_for_bot(chat_id)
            stored = record.messages.get(message_id) if isinstance(message_id, int) else None
            if stored is None or stored.deleted:
                raise bad_request(missing_reason)
            return stored

    def answer_callback_query(self, query_id: str, answer: dict[str, Any]) -> None:
        """Record the bot's answer to a callback query; a query is answerable once."""
        with self.lock:
            record = self.callback_queries.get(query_id)
            if record is None or record.answered:
                raise bad_request("query is too old and response timeout expired or query ID is invalid")
            record.answered = True
            self.chats[record.chat_id].callback_answers.append({"callback_query_id": query_id, **answer})

    def bot_user(self) -> dict[str, Any]:
        """Return the bot's User object."""
        return objects.bot_user(self.bot_id, self.bot_name, self.bot_username)

    # Updates ----------------------------------------------------------------------------

    def _queue_update(self, payload: dict[str, Any]) -> int:
        update_id = self._next_update_id
        self._next_update_id += 1
        self.pending_updates.append({"update_id": update_id, **payload})
        self.changed.notify_all()
        return update_id

    def take_updates(
        self, offset: int | None, limit: int, timeout: float, allowed_updates: list[str] | None
    ) -> list[dict[str, Any]]:
        """Confirm updates below `offset`, then return up to `limit`, waiting up to `timeout` s."""
        deadline = time.monotonic() + timeout
        with self.changed:
            self._poll_generation += 1
            generation = self._poll_generation
            self.changed.notify_all()  # Lets an older poll see that it is superseded.
            if allowed_updates is not None:
                self.allowed_updates = allowed_updates or None
            self._confirm(offset)
            while True:
                if self.webhook.url:
                    raise conflict(
                        "can't use getUpdates method while webhook is active; "
                        "use deleteWebhook to delete the webhook first"
                    )
                if generation != self._poll_generation:
                    # A newer getUpdates supersedes this one, as on Telegram; not a call bug.
                    raise conflict(
                        "terminated by other getUpdates request; make sure that only one bot instance is running",
                        invalid=False,
                    )
                self.drop_unwanted_updates()
                remaining = deadline - time.monotonic()
                if self.pending_updates or remaining <= 0 or self.closed:
                    return copy.deepcopy(self.pending_updates[:limit])
                self.changed.wait(remaining)

    def _confirm(self, offset: int | None) -> None:
        if offset is None:
            return
        if offset < 0:
            # Telegram: a negative offset keeps only the last -offset updates.
            self.pending_updates = self.pending_updates[offset:]
            return
        self.pending_updates = [u for u in self.pending_updates if u["update_id"] >= offset]

    def drop_unwanted_updates(self) -> None:
        """Forget updates of types the bot did not ask for (call with the lock held)."""
        wanted = set(self.allowed_updates) if self.allowed_updates else None
        self.pending_updates = [
            update
            for update in self.pending_updates
            if (objects.update_kind(update) in wanted if wanted else
                objects.update_kind(update) not in OPT_IN_UPDATE_TYPES)
        ]

    def confirm_update(self, update_id: int) -> None:
        """Drop one delivered update (webhook mode)."""
        with self.lock:
            self.pending_updates = [u for u in self.pending_updates if u["update_id"] != update_id]

    def drop_pending_updates(self) -> None:
        """Forget every unconfirmed update (deleteWebhook/setWebhook drop_pending_updates)."""
        with self.lock:
            self.pending_updates = []

    def pending_count(self) -> int:
        """Return how many updates the bot has not confirmed yet."""
        with self.lock:
            return len(self.pending_updates)

    def set_webhook(self, config: WebhookConfig, allowed_updates: list[str] | None) -> None:
        """Switch to webhook mode (or back to polling with an empty url) and wake waiters."""
        with self.changed:
            self.webhook = config
            if allowed_updates is not None:
                self.allowed_updates = allowed_updates or None
            self.changed.notify_all()
