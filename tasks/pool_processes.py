"""What each pool process of the worker starts and stops: its Telegram loop, then its prompt readers.

Pool processes are the prefork children, or the worker's own process with the solo pool; Celery
tells each by `worker_process_init` (with the worker's name) after the fork. Pools that run no
pool processes (threads, gevent) never send it: there the main process starts both once the
worker is ready. Stopping goes the other way: the readers finish the prompt in hand, then the
Telegram client closes.
"""

from __future__ import annotations

from typing import Any

from celery.signals import worker_process_init, worker_process_shutdown, worker_ready, worker_shutdown

from tasks.prompt_readers import PromptReaders
from telegram_sender import sender as telegram_calls

POOLS_WITH_POOL_PROCESSES = ("celery.concurrency.prefork", "celery.concurrency.solo")

_readers: PromptReaders | None = None


@worker_process_init.connect
def _start_in_pool_process(sender: Any = None, **_: Any) -> None:
    # Celery sends the worker's name as the signal's sender.
    _start(sender if isinstance(sender, str) else None)


@worker_ready.connect
def _start_in_main_process(sender: Any = None, **_: Any) -> None:
    pool = getattr(sender, "pool", None)  # the sender is the worker's consumer
    if _readers is None and type(pool).__module__ not in POOLS_WITH_POOL_PROCESSES:
        _start(getattr(sender, "hostname", None))


def _start(hostname: str | None) -> None:
    global _readers
    if _readers is not None:
        return
    telegram_calls.start(warm_up=True)  # after the fork: this process's own loop and Bot
    _readers = PromptReaders(hostname)
    _readers.start()


@worker_process_shutdown.connect
@worker_shutdown.connect  # the solo pool's process is the main process
def _stop(**_: Any) -> None:
    global _readers
    readers, _readers = _readers, None
    if readers is not None:
        readers.stop()
    telegram_calls.shutdown()
