"""Each Telegram update is handled under a request id of its own."""

from __future__ import annotations

import asyncio

from telegram import Update

from botrunner import update_ids
from core import request_ids


def test_each_update_gets_its_own_id_inside_its_task():
    async def handle(update_id: int) -> str | None:
        await update_ids.stamp(Update(update_id), None)
        await asyncio.sleep(0)  # another update's task runs meanwhile
        return request_ids.current.get()

    async def main() -> list[str | None]:
        return list(await asyncio.gather(handle(7), handle(8)))

    first, second = asyncio.run(main())
    assert first.startswith("tg-7-") and second.startswith("tg-8-")
    assert request_ids.VALID.fullmatch(first) and request_ids.current.get() is None
