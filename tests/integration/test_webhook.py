"""`python -m botrunner` in webhook mode, as deployed, with the emulator posting the updates.

The emulator calls the bot's webhook like Telegram does (secret header included); the tests
also post to it directly, as an attacker or as Telegram redelivering an update would.
"""

from __future__ import annotations

import inspect
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator

import httpx
import pytest
import redis

from botrunner import webhook
from core import texts
from core.settings import Settings
from devstack import PROJECT_ROOT
from devstack.services import free_port
from tasks.delivery import send_approval_prompt
from telegram_emulator.client import EmulatorClient

if TYPE_CHECKING:
    from tests.integration.bot_fixtures import Kit

pytest_plugins = ["tests.integration.bot_fixtures"]

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
START_TIMEOUT = 30.0


@dataclass
class WebhookBot:
    """A running bot process in webhook mode: where it listens, its secret, what it logged."""

    process: subprocess.Popen
    url: str
    secret: str
    output: list[str]

    def post(self, update: dict[str, Any], secret: str | None) -> httpx.Response:
        """Post an update to the webhook as Telegram would, with `secret` in the header (or none)."""
        headers = {SECRET_HEADER: secret} if secret is not None else {}
        return httpx.post(self.url, json=update, headers=headers, timeout=10)

    def logged(self, text: str) -> bool:
        """Tell whether the process has logged a line containing `text`."""
        return any(text in line for line in self.output)


def port_open(port: int) -> bool:
    """Tell whether something accepts TCP connections on 127.0.0.1:port."""
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def webhook_bot(worker_env: Settings, fake_telegram: EmulatorClient) -> Iterator[WebhookBot]:
    """Run `python -m botrunner` with BOT_MODE=webhook against the emulator for one test."""
    from tests.integration.bot_fixtures import settings_environment  # a plugin: imported by pytest first

    port = free_port()
    secret = secrets.token_urlsafe(32)
    url = f"http://127.0.0.1:{port}/telegram/updates"
    env = {
        **os.environ,
        **settings_environment(worker_env),
        "BOT_MODE": "webhook",
        "WEBHOOK_URL": url,
        "WEBHOOK_SECRET": secret,
        "WEBHOOK_PORT": str(port),
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "botrunner"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    threading.Thread(target=lambda: output.extend(iter(process.stdout.readline, "")), daemon=True).start()  # type: ignore[union-attr]
    bot = WebhookBot(process, url, secret, output)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not (fake_telegram.calls("setWebhook") and port_open(port)):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the webhook bot did not start:\n" + "".join(output))
            time.sleep(0.1)
        yield bot
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        # Our bot process enqueued its tasks on Celery's default queue: leave none behind.
        client = redis.Redis.from_url(worker_env.redis_url)
        client.delete("celery")
        client.close()


def greetings(fake_telegram: EmulatorClient, chat_id: int) -> list[dict[str, Any]]:
    """Return the bot's /start greetings in a chat."""
    greeting = texts.text("greeting", "en", site=Settings().site_name)
    return [m for m in fake_telegram.bot_messages(chat_id) if m["text"] == greeting]


def start_update(update_id: int, user: dict[str, Any]) -> dict[str, Any]:
    """Return a `/start` message update from `user`, as Telegram would post it."""
    sender = {"id": user["id"], "is_bot": False, "first_name": user["first_name"]}
    return {
        "update_id": update_id,
        "message": {
            "message_id": 1_000_000 + update_id % 1000,
            "date": int(time.time()),
            "chat": {"id": user["id"], "type": "private", "first_name": user["first_name"]},
            "from": sender,
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }


def test_set_webhook_registers_the_url_the_secret_and_only_the_updates_we_handle(
    webhook_bot: WebhookBot, fake_telegram: EmulatorClient
) -> None:
    [call] = fake_telegram.calls("setWebhook")
    params = call["params"]
    assert params["url"] == webhook_bot.url
    assert params["secret_token"] == webhook_bot.secret
    assert sorted(params["allowed_updates"]) == ["callback_query", "message"]


def test_a_login_tap_arrives_by_webhook_and_decides(
    webhook_bot: WebhookBot, kit: Kit, fake_telegram: EmulatorClient
) -> None:
    user = kit.linked_user()  # says "hello" to the bot: that update, too, comes by webhook
    session = kit.new_session(user["phone_number"])
    send_approval_prompt.apply(args=[str(session.row["id"])])
    prompt = fake_telegram.wait_for_bot_message(user["telegram_id"], lambda m: m["reply_markup"], timeout=10)
    approve = prompt["reply_markup"]["inline_keyboard"][0][0]["callback_data"]

    fake_telegram.tap(user["telegram_id"], prompt["message_id"], callback_data=approve)

    fake_telegram.wait_for(lambda: kit.session_row(session.row["id"])["status"] == "approved", timeout=15)
    answers = fake_telegram.wait_for(lambda: fake_telegram.chat(user["telegram_id"])["callback_answers"])
    assert [a["text"] for a in answers] == [texts.text("answer_approved", "en")]
    assert fake_telegram.calls("getUpdates") == []  # nothing was polled
    assert fake_telegram.invalid_calls() == []


@pytest.mark.parametrize("secret", [None, "", "wrong-secret", "x" * 43])
def test_a_post_without_the_right_secret_is_refused_and_handled_by_no_one(
    webhook_bot: WebhookBot, kit: Kit, fake_telegram: EmulatorClient, secret: str | None
) -> None:
    victim = kit.telegram_user()
    forged = start_update(990_000_000 + secrets.randbelow(1_000_000), victim)

    assert webhook_bot.post(forged, secret).status_code == 403

    # Something that does arrive, after the forgery: once it is handled, the forgery would have been.
    fake_telegram.send_message(victim["id"], "/start")
    fake_telegram.wait_for(lambda: greetings(fake_telegram, victim["id"]), timeout=10)
    time.sleep(0.5)
    assert len(greetings(fake_telegram, victim["id"])) == 1
    assert fake_telegram.invalid_calls() == []


def test_the_right_secret_is_accepted_on_a_direct_post(
    webhook_bot: WebhookBot, kit: Kit, fake_telegram: EmulatorClient
) -> None:
    user = kit.telegram_user()  # has written to the bot, so it may answer
    update = start_update(980_000_000 + secrets.randbelow(1_000_000), user)

    assert webhook_bot.post(update, webhook_bot.secret).status_code == 200

    fake_telegram.wait_for(lambda: greetings(fake_telegram, user["id"]), timeout=10)


def test_an_update_delivered_twice_is_handled_once(
    webhook_bot: WebhookBot, kit: Kit, fake_telegram: EmulatorClient
) -> None:
    user = kit.telegram_user()
    delivered = fake_telegram.send_message(user["id"], "/start")
    fake_telegram.wait_for(lambda: greetings(fake_telegram, user["id"]), timeout=10)

    # Telegram redelivers the very same update when our first answer came too late.
    redelivery = {"update_id": delivered["update_id"], "message": delivered["message"]}
    assert webhook_bot.post(redelivery, webhook_bot.secret).status_code == 200

    fake_telegram.wait_for(
        lambda: webhook_bot.logged(f"event=update_duplicate_ignored update={delivered['update_id']}"),
        timeout=10,
        description="the duplicate to be dropped",
    )
    assert len(greetings(fake_telegram, user["id"])) == 1
    assert fake_telegram.invalid_calls() == []


def raw_request(bot: WebhookBot, head: str) -> socket.socket:
    """Open a connection to the webhook and send a request's head only (no body yet)."""
    host, port = bot.url.removeprefix("http://").split("/")[0].split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(head.encode())
    return sock


def read_answer(sock: socket.socket) -> bytes:
    """Read what the server sends until it closes the connection (or 10 s pass)."""
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return received


def post_head(bot: WebhookBot, secret: str | None, length_header: str) -> str:
    path = "/" + bot.url.split("/", 3)[3]
    secret_line = f"{SECRET_HEADER}: {secret}\r\n" if secret is not None else ""
    return f"POST {path} HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\n{secret_line}{length_header}\r\n\r\n"


@pytest.mark.parametrize("secret", [None, "wrong-secret"])
def test_a_wrong_secret_is_refused_on_its_headers_before_a_huge_body_is_read(webhook_bot: WebhookBot, secret):
    sock = raw_request(webhook_bot, post_head(webhook_bot, secret, "Content-Length: 104857600"))
    try:
        # Not a byte of the 100 MB sent: the answer comes from the headers alone, and the
        # server hangs up rather than read (or wait for) the body.
        answer = read_answer(sock)
    finally:
        sock.close()
    assert answer.startswith(b"HTTP/1.1 403 ")


def test_a_body_over_one_megabyte_is_refused_with_413_before_it_is_read(webhook_bot: WebhookBot):
    sock = raw_request(webhook_bot, post_head(webhook_bot, webhook_bot.secret, f"Content-Length: {1024 * 1024 + 1}"))
    try:
        answer = read_answer(sock)
    finally:
        sock.close()
    assert answer.startswith(b"HTTP/1.1 413 ")


def test_a_chunked_body_is_cut_off_once_it_passes_one_megabyte(webhook_bot: WebhookBot):
    sock = raw_request(webhook_bot, post_head(webhook_bot, webhook_bot.secret, "Transfer-Encoding: chunked"))
    chunk = b"%x\r\n%s\r\n" % (64 * 1024, b" " * 64 * 1024)
    sent = 0
    try:
        with pytest.raises(OSError):  # the server hangs up: sending fails (reset or broken pipe)
            while sent < 64 * 1024 * 1024:
                sock.sendall(chunk)
                sent += 64 * 1024
    finally:
        sock.close()
    assert sent < 8 * 1024 * 1024


def test_a_body_of_one_megabyte_with_the_right_secret_is_read(webhook_bot: WebhookBot, kit: Kit, fake_telegram):
    user = kit.telegram_user()
    update = start_update(970_000_000 + secrets.randbelow(1_000_000), user)
    body = json.dumps(update).encode()
    body += b" " * (1024 * 1024 - len(body))  # JSON allows trailing whitespace

    response = httpx.post(
        webhook_bot.url,
        content=body,
        headers={SECRET_HEADER: webhook_bot.secret, "Content-Type": "application/json"},
        timeout=10,
    )

    assert response.status_code == 200
    fake_telegram.wait_for(lambda: greetings(fake_telegram, user["id"]), timeout=10)


def test_the_secret_is_compared_in_constant_time():
    source = inspect.getsource(webhook.secret_matches)
    assert "hmac.compare_digest" in source and "!=" not in source
    assert webhook.secret_matches("s" * 43, "s" * 43)
    assert not webhook.secret_matches("s" * 42, "s" * 43) and not webhook.secret_matches(None, "s" * 43)
