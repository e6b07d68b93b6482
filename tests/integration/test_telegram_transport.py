"""The aiohttp transport under python-telegram-bot: real calls to the emulator, and the faults it must map."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from typing import Any, AsyncIterator, Awaitable, Callable, TypeVar

import pytest
from aiohttp import web
from telegram import Bot, InputFile
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData
from telegram.request._requestparameter import RequestParameter

from botrunner.app import build_application
from core.settings import Settings
from telegram_emulator.client import EmulatorClient
from telegram_emulator.server import RunningEmulator
from telegram_sender import sender
from telegram_sender.request import RateLimitedRequest
from telegram_sender.transport import POOL_TIMEOUT_MESSAGE, AiohttpRequest

pytest_plugins = ["tests.integration.bot_fixtures"]

TOKEN = "7000002:AAE_transport-test-token-0123456789"
T = TypeVar("T")


def run(coro: Awaitable[T]) -> T:
    """Run one test's coroutine on a fresh loop, as the worker and the bot each have their own."""
    return asyncio.run(coro)  # type: ignore[arg-type]


@pytest.fixture
def user(fake_telegram: EmulatorClient) -> dict[str, Any]:
    """Return a person who has started the bot, so it may write to them."""
    person = fake_telegram.create_user(first_name="Ada")
    fake_telegram.send_message(person["id"], "/start")
    return person


def bot_on(url: str, request: AiohttpRequest) -> Bot:
    """Return a Bot that calls this Bot API server through `request` (also for getUpdates)."""
    return Bot(TOKEN, base_url=f"{url}/bot", request=request, get_updates_request=request)


def form(**params: Any) -> RequestData:
    """Return PTB's request data for these parameters."""
    return RequestData([RequestParameter.from_input(name, value) for name, value in params.items()])


def test_bot_calls_reach_the_emulator_and_answers_come_back(
    emulator: RunningEmulator, fake_telegram: EmulatorClient, user: dict[str, Any]
) -> None:
    async def scenario() -> tuple[int, str]:
        bot = bot_on(emulator.url, AiohttpRequest(connection_pool_size=2))
        async with bot:
            sent = await bot.send_message(user["id"], "Привет, <b>мир</b> & co")
            edited = await bot.edit_message_text("edited", chat_id=user["id"], message_id=sent.message_id)
            return sent.message_id, edited.text

    message_id, text = run(scenario())
    assert text == "edited"
    [message] = fake_telegram.bot_messages(user["id"])
    assert message["message_id"] == message_id and message["text"] == "edited"
    assert fake_telegram.invalid_calls() == []


def test_get_updates_waits_its_long_poll_beyond_the_read_timeout(
    emulator: RunningEmulator, fake_telegram: EmulatorClient, user: dict[str, Any]
) -> None:
    async def scenario() -> float:
        bot = bot_on(emulator.url, AiohttpRequest(read_timeout=0.3))
        async with bot:
            await bot.get_updates()  # consume /start
            started = time.monotonic()
            assert await bot.get_updates(offset=None, timeout=1) == ()
            return time.monotonic() - started

    fake_telegram.reset()
    # PTB asks for read timeout + long poll: a transport that kept 0.3 s would raise TimedOut.
    assert 0.9 <= run(scenario()) < 3


@pytest.mark.parametrize(
    ("transport_timeout", "call_timeout"),
    [(0.4, None), (30, 0.4)],
    ids=["the transport's default", "a per-call timeout wins over the default"],
)
def test_an_unanswered_call_times_out_within_the_read_timeout(
    emulator: RunningEmulator, fake_telegram: EmulatorClient, user: dict[str, Any],
    transport_timeout: float, call_timeout: float | None,
) -> None:
    fake_telegram.add_fault("sendMessage", "timeout", delay=3)
    per_call = {} if call_timeout is None else {"read_timeout": call_timeout}

    async def scenario() -> float:
        bot = bot_on(emulator.url, AiohttpRequest(read_timeout=transport_timeout))
        async with bot:
            started = time.monotonic()
            with pytest.raises(TimedOut):
                await bot.send_message(user["id"], "lost", **per_call)
            return time.monotonic() - started

    assert 0.35 <= run(scenario()) < 1.5


def test_a_full_pool_raises_ptbs_pool_timeout_and_sends_nothing(
    emulator: RunningEmulator, fake_telegram: EmulatorClient, user: dict[str, Any]
) -> None:
    fake_telegram.add_fault("sendMessage", "slow", delay=1.5)

    async def scenario() -> tuple[str, float]:
        bot = bot_on(emulator.url, AiohttpRequest(connection_pool_size=1, pool_timeout=0.3, read_timeout=5))
        async with bot:
            holding = asyncio.create_task(bot.send_message(user["id"], "slow one"))
            await asyncio.sleep(0.2)  # the slow call has the only connection
            started = time.monotonic()
            with pytest.raises(TimedOut) as caught:
                await bot.send_message(user["id"], "waits for a connection")
            waited = time.monotonic() - started
            await holding
            # The place is given back: the next call goes through.
            await bot.send_message(user["id"], "after")
            return caught.value.message, waited

    message, waited = run(scenario())
    assert message == POOL_TIMEOUT_MESSAGE
    assert 0.25 <= waited < 1.2
    assert [m["text"] for m in fake_telegram.bot_messages(user["id"])] == ["slow one", "after"]


def closed_port() -> int:
    """Return a local port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_refused_connection_is_a_network_error_naming_aiohttps_error_without_the_token() -> None:
    async def scenario() -> NetworkError:
        bot = bot_on(f"http://127.0.0.1:{closed_port()}", AiohttpRequest())
        with pytest.raises(NetworkError) as caught:
            await bot.initialize()
        await bot.shutdown()
        return caught.value

    error = run(scenario())
    assert not isinstance(error, TimedOut)
    assert error.message.startswith("aiohttp.ClientConnectorError: ")
    assert TOKEN.split(":")[1] not in error.message


def test_initialize_and_shutdown_are_idempotent_and_the_transport_comes_back_on_a_new_loop(
    emulator: RunningEmulator, fake_telegram: EmulatorClient, user: dict[str, Any]
) -> None:
    request = AiohttpRequest()
    url = f"{emulator.url}/bot{TOKEN}/sendMessage"

    async def send(text: str) -> None:
        await request.post(url, request_data=form(chat_id=user["id"], text=text))

    async def first_loop() -> None:
        await request.initialize()
        await request.initialize()
        await send("one")
        await request.shutdown()
        await request.shutdown()
        with pytest.raises(RuntimeError):
            await request.do_request(url, "POST", form(chat_id=user["id"], text="refused"))

    async def second_loop() -> None:
        # PTB initialises again after a shutdown; the session must belong to this loop, not the closed one.
        await request.initialize()
        await send("two")
        await request.shutdown()

    run(first_loop())
    run(second_loop())
    assert [m["text"] for m in fake_telegram.bot_messages(user["id"])] == ["one", "two"]


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@contextlib.asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[str]:
    """Serve every path with `handler` on the running loop; yield the server's base URL."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def test_calls_carry_ptbs_user_agent_reuse_one_connection_and_send_a_form() -> None:
    seen: list[tuple[str, Any, dict[str, str]]] = []

    async def handler(request: web.Request) -> web.Response:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        seen.append((request.headers.get("User-Agent", ""), peer, dict(await request.post())))
        return web.json_response({"ok": True, "result": True})

    async def scenario() -> None:
        async with serving(handler) as url, AiohttpRequest() as request:
            for text in ("a", "b", "c"):
                assert await request.post(f"{url}/bot{TOKEN}/sendMessage", request_data=form(chat_id=1, text=text))

    run(scenario())
    assert {agent for agent, _, _ in seen} == {BaseRequest.USER_AGENT}
    assert len({peer for _, peer, _ in seen}) == 1  # kept alive
    assert [fields for _, _, fields in seen] == [{"chat_id": "1", "text": t} for t in ("a", "b", "c")]


def test_files_go_as_multipart_with_their_names() -> None:
    parts: dict[str, Any] = {}

    async def handler(request: web.Request) -> web.Response:
        assert request.content_type == "multipart/form-data"
        async for part in await request.multipart():
            parts[part.name] = (part.filename, await part.read())  # type: ignore[union-attr]
        return web.json_response({"ok": True, "result": True})

    async def scenario() -> None:
        upload = InputFile(b"%PDF-1.4 tiny", filename="report.pdf")
        async with serving(handler) as url, AiohttpRequest() as request:
            await request.post(f"{url}/bot{TOKEN}/sendDocument", request_data=form(chat_id=5, document=upload))

    run(scenario())
    assert parts["chat_id"] == (None, b"5")
    assert parts["document"] == ("report.pdf", b"%PDF-1.4 tiny")


def test_redirects_are_not_followed() -> None:
    hits: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        hits.append(request.path)
        if request.path.endswith("/getMe"):
            raise web.HTTPFound("/elsewhere")
        return web.json_response({"ok": True, "result": True})

    async def scenario() -> int:
        async with serving(handler) as url, AiohttpRequest() as request:
            status, _ = await request.do_request(f"{url}/bot{TOKEN}/getMe", "POST")
            return status

    assert run(scenario()) == 302
    assert hits == [f"/bot{TOKEN}/getMe"]


def test_the_bot_and_the_worker_call_telegram_through_this_transport(worker_env: Settings) -> None:
    application = build_application(worker_env)
    updates_request, calls_request = application.bot._request  # PTB keeps (getUpdates's, every other call's)
    assert type(updates_request) is AiohttpRequest and updates_request is not calls_request
    assert isinstance(calls_request, RateLimitedRequest) and isinstance(calls_request, AiohttpRequest)
    assert isinstance(sender.build_bot()._request[1], RateLimitedRequest)


def test_an_error_that_quotes_the_url_keeps_the_token_out_of_its_message() -> None:
    async def scenario() -> NetworkError:
        async with AiohttpRequest() as request:
            with pytest.raises(NetworkError) as caught:
                await request.do_request(f"ftp://127.0.0.1:21/bot{TOKEN}/getMe", "POST")
            return caught.value

    error = run(scenario())
    assert error.message.startswith("aiohttp.NonHttpUrlClientError: ")
    assert error.message.endswith("ftp://127.0.0.1/bot<token>/getMe")
