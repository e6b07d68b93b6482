"""Many long polls held at once: how many the web server keeps waiting, and its memory per poll.

Each connection sends `GET /api/auth/status/{id}?wait=25` for a pending session and waits. A
connection counts as held when, a few seconds after the ramp, it has neither failed nor been
answered: a pending session's long poll must not answer before its `wait`. Then one session is
cancelled (DELETE) to check that a waiting poll still answers promptly while all others wait.
"""

from __future__ import annotations

import asyncio
import resource
import time
from dataclasses import dataclass, field
from typing import Sequence
from urllib.parse import urlsplit

import httpx

from bench import costs
from bench.load import read_response, request_bytes

WAIT = 25  # ?wait=N of each held poll: the check must come well before it runs out
RAMP_BATCH = 250  # connections opened at once
RAMP_PAUSE = 0.05  # seconds between batches, so the listen backlog keeps up
RAMP_BUDGET = 14.0  # seconds the ramp may take (then it stops opening): the check must precede WAIT
HOLD_SECONDS = 3.0  # seconds all connections wait before they are counted
CONNECT_TIMEOUT = 5.0


@dataclass
class Poll:
    """One held connection and what became of it."""

    session_id: str
    writer: asyncio.StreamWriter | None = None
    task: asyncio.Task | None = None
    error: str = ""
    status: int = 0
    answered_at: float = 0.0


@dataclass
class HeldPolls:
    """The outcome of holding many long polls."""

    attempted: int
    held: int
    answered_early: int
    errors: int
    rss_before: int  # bytes, the web server's processes together
    rss_during: int
    cancel_answer_seconds: float  # DELETE of one waiting session to its poll's answer; NaN if none
    healthz_seconds: float  # one /healthz while every poll waits; NaN if it failed
    first_errors: list[str] = field(default_factory=list)

    @property
    def bytes_per_poll(self) -> float:
        """Return the web server's extra memory per held poll."""
        return (self.rss_during - self.rss_before) / self.held if self.held else float("nan")


def raise_open_files_limit(wanted: int) -> int:
    """Raise this process's soft RLIMIT_NOFILE towards `wanted` (children inherit it); return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


async def _open(poll: Poll, host: str, port: int) -> None:
    """Connect, send the long poll, and wait for its answer in a task of its own."""
    try:
        reader, poll.writer = await asyncio.wait_for(asyncio.open_connection(host, port), CONNECT_TIMEOUT)
        poll.writer.write(request_bytes(f"{host}:{port}", f"/api/auth/status/{poll.session_id}?wait={WAIT}"))
        await poll.writer.drain()
    except (OSError, asyncio.TimeoutError) as exc:
        poll.error = f"connect: {type(exc).__name__} {exc}".strip()
        return
    poll.task = asyncio.create_task(_await_answer(poll, reader))


async def _await_answer(poll: Poll, reader: asyncio.StreamReader) -> None:
    try:
        poll.status, _, _ = await read_response(reader)
        poll.answered_at = time.monotonic()
        if poll.status != 200:
            poll.error = f"http {poll.status}"
    except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
        poll.error = f"read: {type(exc).__name__}"


async def hold_polls(base_url: str, session_ids: Sequence[str], cancel_session_id: str, target: int,
                     web_pid: int) -> HeldPolls:
    """Open up to `target` waiting long polls, measure, cancel one session, then close them all."""
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    rss_before = costs.tree_rss_bytes(web_pid)
    # The cancelled session's poll goes first: it has waited the longest when it is cancelled.
    polls = [Poll(cancel_session_id)] + [Poll(session_ids[i % len(session_ids)]) for i in range(target - 1)]
    started = time.monotonic()
    opened = 0
    try:
        while opened < len(polls) and time.monotonic() - started < RAMP_BUDGET:
            batch = polls[opened:opened + RAMP_BATCH]
            await asyncio.gather(*(_open(poll, host, port) for poll in batch))
            opened += len(batch)
            await asyncio.sleep(RAMP_PAUSE)
        attempted = polls[:opened]
        await asyncio.sleep(max(0.0, min(HOLD_SECONDS, WAIT - 8 - (time.monotonic() - started))))
        rss_during = costs.tree_rss_bytes(web_pid)
        errors = [p.error for p in attempted if p.error]
        early = sum(1 for p in attempted if p.answered_at and not p.error)
        held = sum(1 for p in attempted if not p.answered_at and not p.error)
        async with httpx.AsyncClient(base_url=base_url, timeout=5) as http:
            healthz_seconds = await _timed_ok(http.get("/healthz"))
            cancel_seconds = await _cancel_and_time(http, polls[0])
        return HeldPolls(len(attempted), held, early, len(errors), rss_before, rss_during,
                         cancel_seconds, healthz_seconds, sorted(set(errors))[:3])
    finally:
        for poll in polls:
            if poll.task is not None:
                poll.task.cancel()
            if poll.writer is not None:
                poll.writer.close()
        await asyncio.sleep(0.2)  # let the closes go out before the loop ends


async def _timed_ok(request) -> float:
    started = time.monotonic()
    try:
        response = await request
    except httpx.HTTPError:
        return float("nan")
    return time.monotonic() - started if response.status_code == 200 else float("nan")


async def _cancel_and_time(http: httpx.AsyncClient, poll: Poll) -> float:
    """Cancel the poll's session and return seconds until its waiting poll answered (NaN if it didn't)."""
    if poll.task is None or poll.answered_at:
        return float("nan")
    started = time.monotonic()
    try:
        await http.delete(f"/api/auth/session/{poll.session_id}")
        await asyncio.wait_for(asyncio.shield(poll.task), 5)
    except (httpx.HTTPError, asyncio.TimeoutError):
        return float("nan")
    return poll.answered_at - started if poll.answered_at and not poll.error else float("nan")
