"""Logins arriving on a fixed schedule (open loop), played by one asyncio load generator.

Login i is due at `start + i / rate` whatever happened to the others: a slow system meets more
logins in flight, as it would with real browsers, instead of slowing the load down (a closed loop
hides a queue that way). Each login: POST /init, a long poll of its status, a waiting read of
the person's chat until the prompt is there, a tap on Approve at once, then the long poll's
tokens. Times run from the login's due time, so a late start counts against the system too.

One event loop and two keep-alive HTTP/1.1 clients (web, emulator; `bench.http_client`, not
httpx, whose pool scans every connection per request) keep the generator cheap: it shares the
machine's cores with everything it measures, and its CPU is reported.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from typing import Any

from bench.http_client import HttpError, KeepAliveClient
from bench.logins import APPROVE_PREFIX, LONG_POLL_WAIT
from tests.e2e.people import CHROME, TelegramPerson

PROMPT_TIMEOUT = 30.0  # seconds a login waits for its prompt before it counts as failed
CHAT_WAIT_SECONDS = 10.0  # one waiting read of the person's chat


def schedule(rate: float, seconds: float, start: float = 0.0) -> list[float]:
    """Return the due times of `rate` logins a second for `seconds`, evenly spaced from `start`."""
    if rate <= 0 or seconds <= 0:
        raise ValueError("rate and seconds must be positive")
    return [start + i / rate for i in range(math.floor(rate * seconds + 1e-9))]


@dataclass(frozen=True)
class OpenLogin:
    """One scheduled login: seconds from its due time to its prompt and to its tokens, or its error."""

    due: float
    to_prompt: float = math.nan
    to_tokens: float = math.nan
    error: str = ""


@dataclass(frozen=True)
class OpenLoopRun:
    """Every scheduled login of a run, and how late the generator itself started them."""

    logins: list[OpenLogin]
    seconds: float
    max_start_lag: float

    @property
    def completed(self) -> list[OpenLogin]:
        """Return the logins that got their tokens."""
        return [x for x in self.logins if not x.error]

    @property
    def errors(self) -> list[str]:
        """Return the error of every login that failed."""
        return [x.error for x in self.logins if x.error]


class _Person:
    """A linked Telegram user's chat, read by the generator; prompts already tapped are skipped."""

    def __init__(self, person: TelegramPerson) -> None:
        self.id = person.id
        self.phone = person.phone
        self.newest = 0
        self.tapped: set[str] = set()

    def untapped_prompt(self, messages: list[dict[str, Any]]) -> tuple[int, str] | None:
        """Return (message id, callback data) of a live prompt not tapped yet."""
        for message in messages:
            if not message["from_bot"] or message["deleted"]:
                continue
            self.newest = max(self.newest, message["message_id"])
            rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
            data = rows[0][0].get("callback_data", "") if rows and rows[0] else ""
            if data.startswith(APPROVE_PREFIX) and data not in self.tapped:
                return message["message_id"], data
        return None


async def _one(web: KeepAliveClient, emulator: KeepAliveClient, person: _Person, due: float,
               origin: float, lags: list[float]) -> OpenLogin:
    await asyncio.sleep(max(0.0, origin + due - time.monotonic()))
    lags.append(time.monotonic() - origin - due)
    started = origin + due
    poll: asyncio.Task[str] | None = None
    try:
        response = await web.post("/api/auth/init", {"phone_number": person.phone})
        if response.status != 201:
            return OpenLogin(due, error=f"init {response.status}: {response.text[:100]}")
        poll = asyncio.create_task(_long_poll(web, response.json()["session_id"]))
        found = None
        deadline = time.monotonic() + PROMPT_TIMEOUT
        while found is None and time.monotonic() < deadline:
            chat = await emulator.get(f"/control/chats/{person.id}",
                                      params={"after": person.newest, "wait": CHAT_WAIT_SECONDS})
            found = person.untapped_prompt(chat.json()["messages"])
        if found is None:
            return OpenLogin(due, error=f"no prompt within {PROMPT_TIMEOUT:g} s")
        to_prompt = time.monotonic() - started
        message_id, data = found
        person.tapped.add(data)
        tap = await emulator.post("/control/tap", {"user_id": person.id, "message_id": message_id,
                                                   "callback_data": data})
        if tap.status != 200:
            return OpenLogin(due, to_prompt, error=f"tap {tap.status}: {tap.text[:100]}")
        status = await poll
        poll = None
        if status != "approved":
            return OpenLogin(due, to_prompt, error=f"the browser saw {status}")
        return OpenLogin(due, to_prompt, time.monotonic() - started)
    except (HttpError, KeyError, ValueError) as exc:
        return OpenLogin(due, error=f"{type(exc).__name__}: {exc}"[:160])
    finally:
        if poll is not None:
            poll.cancel()


async def _long_poll(web: KeepAliveClient, session_id: str) -> str:
    """Long-poll a session until it leaves `pending`; return its status (or the HTTP error)."""
    while True:
        response = await web.get(f"/api/auth/status/{session_id}", {"wait": LONG_POLL_WAIT})
        if response.status != 200:
            return f"http {response.status}"
        status = response.json()["status"]
        if status != "pending":
            return status


async def run(web_url: str, emulator_url: str, people: list[TelegramPerson], rate: float, seconds: float) -> OpenLoopRun:
    """Play `rate` logins a second for `seconds`, person after person in turn; wait for all of them."""
    dues = schedule(rate, seconds)
    players = [_Person(p) for p in people]
    web = KeepAliveClient(web_url, {"User-Agent": CHROME}, timeout=LONG_POLL_WAIT + 10)
    emulator = KeepAliveClient(emulator_url, timeout=LONG_POLL_WAIT + 10)
    try:
        lags: list[float] = []
        origin = time.monotonic() + 0.2
        logins = await asyncio.gather(*(_one(web, emulator, players[i % len(players)], due, origin, lags)
                                        for i, due in enumerate(dues)))
        return OpenLoopRun(list(logins), time.monotonic() - origin, max(lags, default=0.0))
    finally:
        await web.close()
        await emulator.close()
