"""How fast this machine runs Python: a fixed workload's CPU time, to compare runs across machines.

CPU per login is an absolute figure, and the machines a bench runs on differ: the same code has
measured 15.5 ms on one session's machine and 8.8 ms on the next, with Postgres and the emulator,
whose code did not change, cheaper by the same factor. The bench prints this reference beside
every run, so a change in CPU per login can be told apart from a change of machine: divide both
runs' figures by their reference.

The workload is the kind of work a login does in our processes: JSON in and out, an HMAC-SHA256
(a JWT's signature), string formatting and dictionaries, in one thread of this process.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

ROUNDS = 3  # the fastest round counts: a busy neighbour only ever adds time
ITERATIONS = 4000
SAMPLE_UPDATE = {
    "update_id": 812345678,
    "callback_query": {
        "id": "4382bfdwdsb323b2d9",
        "from": {"id": 123456789, "is_bot": False, "first_name": "Anna", "language_code": "en"},
        "message": {"message_id": 4711, "chat": {"id": 123456789, "type": "private"}, "date": 1764930000,
                    "text": "Is this you logging in?\nChrome on Windows, 127.0.0.1"},
        "data": "approve:6f1c2e0a",
    },
}


def one_round() -> float:
    """Return the CPU seconds one pass of the workload took in this thread."""
    key = b"reference-signing-key-of-32-bytes"
    started = time.thread_time()
    for number in range(ITERATIONS):
        text = json.dumps(SAMPLE_UPDATE, separators=(",", ":"))
        update = json.loads(text)
        claims = {"sub": str(update["callback_query"]["from"]["id"]), "n": number, "kind": "access"}
        payload = json.dumps(claims, sort_keys=True).encode()
        hmac.new(key, payload, hashlib.sha256).hexdigest()
        f"{update['callback_query']['data']}:{number}".partition(":")
        {name: len(str(value)) for name, value in update["callback_query"].items()}
    return time.thread_time() - started


def reference_cpu_ms() -> float:
    """Return the fastest of a few passes of the workload, in milliseconds of CPU."""
    return min(one_round() for _ in range(ROUNDS)) * 1000
