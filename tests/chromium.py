"""Debian's Chromium under Playwright, for the tests that use a real browser.

Playwright's own browser download does not work here, so `playwright install` is never run:
.ci/run installs Debian's `chromium` package where it is missing, and without it these tests
are skipped, saying why.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any, Iterator

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]
VIEWPORT = {"width": 1000, "height": 760}
# What Chromium logs for every 4xx a page receives; our pages handle those answers themselves.
FAILED_LOAD = re.compile(r"Failed to load resource: the server responded with a status of 4\d\d")

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"{CHROMIUM} is missing: install Debian's chromium package (.ci/run does, as root)",
)


@contextlib.contextmanager
def browser_context(timeout_ms: float) -> Iterator[tuple[Any, list[str]]]:
    """Yield a fresh headless browser context and the list its pages' JavaScript errors go to."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (requirements-dev.txt)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=VIEWPORT, locale="en-US")
            context.set_default_timeout(timeout_ms)
            errors: list[str] = []
            context.on("page", lambda page: watch_errors(page, errors))
            yield context, errors
        finally:
            browser.close()


@contextlib.contextmanager
def one_page(timeout_ms: float) -> Iterator[tuple[Any, list[str]]]:
    """Open one tab in a fresh context; yield it and the list its JavaScript errors go to."""
    with browser_context(timeout_ms) as (context, errors):
        yield context.new_page(), errors


def script_errors(errors: list[str]) -> list[str]:
    """Return the errors a page logged other than the 4xx answers it handles itself."""
    return [error for error in errors if not FAILED_LOAD.search(error)]


def watch_errors(page: Any, errors: list[str]) -> None:
    """Record the page's uncaught exceptions and console errors (CSP violations and failed loads are those)."""
    page.on("console", lambda message: errors.append(f"{page.url}: {message.text}") if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
