"""The Bot API client's HTTP stack must not search sys.path on every call."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import httpcore._synchronization as httpcore_sync


class CountingFinder:
    """A meta-path finder that only counts the lookups of one module name."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.lookups = 0

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        if fullname == self.name:
            self.lookups += 1
        return None


def test_httpcores_async_library_check_imports_nothing_per_call() -> None:
    # httpcore imports sniffio inside current_async_library(), run for every lock and event of
    # every request; a missing sniffio is looked up on sys.path each time (requirements.txt).
    finder = CountingFinder("sniffio")
    sys.meta_path.insert(0, finder)
    try:

        async def detect() -> list[str]:
            return [httpcore_sync.current_async_library() for _ in range(50)]

        assert asyncio.run(detect()) == ["asyncio"] * 50
    finally:
        sys.meta_path.remove(finder)
    assert finder.lookups == 0
