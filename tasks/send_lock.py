"""Send locks that name their holder, so the lock of a worker killed mid-send is broken at once.

A copy of a send task holds `prompt-lock:<session>` while it talks to Telegram. A worker killed
meanwhile (SIGKILL, the OOM killer) never releases it, and the copy that recovers the prompt
would wait for the key to expire. So the token says `<host>:<pid>:<random>`: a copy on the same
host that finds the holder's process gone deletes the lock (only if it still holds that very
token) and takes it. A copy on another host can't tell, and waits for the expiry.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from pathlib import Path

from redis.lock import Lock

log = logging.getLogger(__name__)

HOST = socket.gethostname()


def acquire(lock: Lock) -> bool:
    """Take `lock` without waiting, first breaking it if its holder's process is gone."""
    token = f"{HOST}:{os.getpid()}:{uuid.uuid4().hex}"
    if lock.acquire(blocking=False, token=token):
        return True
    holder = lock.redis.get(lock.name)
    if holder is None or not holder_is_gone(holder):
        return False
    # Compare-and-delete: a live copy may have taken the lock since we read it.
    if lock.lua_release(keys=[lock.name], args=[holder], client=lock.redis):
        log.warning("broke %s: its holder %s is no longer running", lock.name, holder.decode(errors="replace"))
    return bool(lock.acquire(blocking=False, token=token))


def holder_is_gone(token: bytes) -> bool:
    """Tell whether a lock token names a process of this host that no longer runs."""
    try:
        host, pid_text, _ = token.decode().split(":")
        pid = int(pid_text)
    except (UnicodeDecodeError, ValueError):
        return False  # not one of ours: assume alive
    if host != HOST or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, someone else's
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    # A killed process nobody has reaped yet still answers kill(pid, 0).
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]
