"""A small synchronous client of the emulator's control API, for tests."""

from __future__ import annotations

import time
from typing import Any, Callable, TypeVar

import httpx

T = TypeVar("T")
OWN_CONTACT: Any = object()  # share_contact default: the sender shares their own card.


class EmulatorError(RuntimeError):
    """The control API refused a request; the message carries its explanation."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(f"{status_code}: {message}")
        self.status_code = status_code
        self.message = message


class EmulatorClient:
    """Act as Telegram users and inspect the bot's behaviour through /control."""

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = httpx.Client(base_url=f"{self.base_url}/control", timeout=timeout)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self.http.close()

    def __enter__(self) -> "EmulatorClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        if not response.is_success:
            try:
                message = response.json().get("error", response.text)
            except ValueError:
                message = response.text
            raise EmulatorError(response.status_code, message)
        return response.json()

    def health(self) -> dict[str, Any]:
        """Return {"ok": true} when the emulator is up."""
        return self._request("GET", "/health")

    def reset(self) -> None:
        """Forget users, chats, updates, faults, logs and the webhook."""
        self._request("POST", "/reset")

    def create_user(self, **fields: Any) -> dict[str, Any]:
        """Create (or replace, same id) a user: first_name required; id, last_name, username optional;
        language_code "en" unless given (None: the user's Telegram app sends none)."""
        return self._request("POST", "/users", json=fields)

    def users(self) -> list[dict[str, Any]]:
        """Return every user, oldest first."""
        return self._request("GET", "/users")["users"]

    def bot(self) -> dict[str, Any]:
        """Return the bot's User object (id 0 until the bot's first Bot API call)."""
        return self._request("GET", "/bot")

    def send_message(self, user_id: int, text: str) -> dict[str, Any]:
        """Send a text from the user to the bot; return {"update_id", "message"}."""
        return self._request("POST", "/send_message", json={"user_id": user_id, "text": text})

    def share_contact(
        self,
        user_id: int,
        phone_number: str,
        contact_user_id: int | None = OWN_CONTACT,
        forwarded: bool = False,
        first_name: str | None = None,
        last_name: str | None = None,
    ) -> dict[str, Any]:
        """Send a contact card: own by default, someone else's with contact_user_id (or None)."""
        body: dict[str, Any] = {"user_id": user_id, "phone_number": phone_number, "forwarded": forwarded}
        if contact_user_id is not OWN_CONTACT:
            body["contact_user_id"] = contact_user_id
        if first_name is not None:
            body["first_name"] = first_name
        if last_name is not None:
            body["last_name"] = last_name
        return self._request("POST", "/share_contact", json=body)

    def tap(
        self,
        user_id: int,
        message_id: int,
        callback_data: str | None = None,
        button_text: str | None = None,
        chat_id: int | None = None,
        stale: bool = False,
    ) -> dict[str, Any]:
        """Tap an inline button shown now (or, with stale=True, one shown before an edit)."""
        body: dict[str, Any] = {"user_id": user_id, "message_id": message_id, "stale": stale}
        for name, value in (("callback_data", callback_data), ("button_text", button_text), ("chat_id", chat_id)):
            if value is not None:
                body[name] = value
        return self._request("POST", "/tap", json=body)

    def block(self, user_id: int, blocked: bool = True) -> None:
        """Have the user block (or unblock) the bot."""
        self._request("POST", "/block", json={"user_id": user_id, "blocked": blocked})

    def chat(self, chat_id: int, after_message_id: int | None = None, wait: float = 0) -> dict[str, Any]:
        """Return {"messages": [...], "callback_answers": [...]} of a chat.

        With `after_message_id`, first wait up to `wait` seconds for a bot message newer than it.
        """
        if after_message_id is None:
            return self._request("GET", f"/chats/{chat_id}")
        params = {"after": after_message_id, "wait": wait}
        return self._request("GET", f"/chats/{chat_id}", params=params, timeout=wait + self.http.timeout.read)

    def bot_messages(self, chat_id: int) -> list[dict[str, Any]]:
        """Return the bot's messages in a chat that are not deleted, oldest first."""
        return [m for m in self.chat(chat_id)["messages"] if m["from_bot"] and not m["deleted"]]

    def wait_for(
        self, predicate: Callable[[], T], timeout: float = 10.0, interval: float = 0.05, description: str = ""
    ) -> T:
        """Poll `predicate` until it returns something truthy and return that, or raise TimeoutError."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while True:
            last = predicate()
            if last:
                return last
            if time.monotonic() >= deadline:
                what = description or getattr(predicate, "__name__", "condition")
                raise TimeoutError(f"{what} not met within {timeout} s; last value: {last!r}")
            time.sleep(interval)

    def wait_for_bot_message(
        self, chat_id: int, predicate: Callable[[dict[str, Any]], Any] = bool, timeout: float = 10.0
    ) -> dict[str, Any]:
        """Wait for a live bot message in `chat_id` matching `predicate`; return the newest match."""

        def newest_match() -> dict[str, Any] | None:
            matches = [m for m in self.bot_messages(chat_id) if predicate(m)]
            return matches[-1] if matches else None

        try:
            return self.wait_for(newest_match, timeout=timeout)
        except TimeoutError:
            texts = [m["text"] for m in self.bot_messages(chat_id)]
            raise TimeoutError(
                f"no bot message in chat {chat_id} matched within {timeout} s; bot messages so far: {texts}"
            ) from None

    def pending_updates(self) -> int:
        """Return how many updates the bot has not confirmed yet."""
        return self._request("GET", "/updates/pending")["pending"]

    def add_fault(
        self,
        method: str,
        kind: str,
        count: int = 1,
        retry_after: int = 1,
        delay: float = 10,
        chat_id: int | None = None,
    ) -> list[dict[str, Any]]:
        """Make the next `count` calls of `method` ("*" for any) fail with `kind`; only `chat_id`'s if given."""
        body: dict[str, Any] = {"method": method, "kind": kind, "count": count, "retry_after": retry_after, "delay": delay}
        if chat_id is not None:
            body["chat_id"] = chat_id
        return self._request("POST", "/faults", json=body)["faults"]

    def faults(self) -> list[dict[str, Any]]:
        """Return the faults not yet consumed."""
        return self._request("GET", "/faults")["faults"]

    def clear_faults(self) -> None:
        """Drop all waiting faults."""
        self._request("DELETE", "/faults")

    def calls(self, method: str | None = None) -> list[dict[str, Any]]:
        """Return every Bot API call, or those of one method."""
        params = {"method": method} if method else None
        return self._request("GET", "/calls", params=params)["calls"]

    def invalid_calls(self) -> list[dict[str, Any]]:
        """Return the Bot API calls Telegram would have refused."""
        return self._request("GET", "/invalid_calls")["invalid_calls"]
