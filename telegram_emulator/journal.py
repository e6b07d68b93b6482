"""What happened to the Bot API: every call, the refused ones, and faults waiting to fire."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

FAULT_KINDS = ("500", "502", "429", "timeout", "slow")
ANY_METHOD = "*"


@dataclass(frozen=True)
class Fault:
    """One injected failure, consumed by the first Bot API call that matches `method`."""

    method: str
    kind: str
    retry_after: int = 1
    delay: float = 10.0
    chat_id: int | None = None  # only calls for this chat (their chat_id parameter); None: any call

    def matches(self, method: str, chat_id: object = None) -> bool:
        """Tell whether this fault applies to a call of `method` (for `chat_id`, if the call names one)."""
        if self.chat_id is not None and str(chat_id) != str(self.chat_id):
            return False
        return self.method == ANY_METHOD or self.method.lower() == method.lower()

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form the control API shows."""
        return asdict(self)


class CallJournal:
    """Thread-safe call log, invalid-call log and FIFO fault queue."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[dict[str, Any]] = []
        self._invalid_calls: list[dict[str, Any]] = []
        self._faults: deque[Fault] = deque()

    def clear(self) -> None:
        """Forget all calls and pending faults."""
        with self._lock:
            self._calls.clear()
            self._invalid_calls.clear()
            self._faults.clear()

    def record_call(
        self,
        method: str,
        params: dict[str, Any],
        *,
        error_code: int | None = None,
        fault: str | None = None,
    ) -> None:
        """Append one Bot API call; `error_code` None means it succeeded."""
        entry: dict[str, Any] = {"method": method, "params": params, "ok": error_code is None}
        if error_code is not None:
            entry["error_code"] = error_code
        if fault is not None:
            entry["fault"] = fault
        entry["time"] = time.time()
        with self._lock:
            self._calls.append(entry)

    def record_invalid(
        self, method: str, params: dict[str, Any], error_code: int, description: str, problems: list[str]
    ) -> None:
        """Append a call Telegram would have refused (a bug in the caller)."""
        entry = {
            "method": method,
            "params": params,
            "error_code": error_code,
            "description": description,
            "problems": problems,
            "time": time.time(),
        }
        with self._lock:
            self._invalid_calls.append(entry)

    def calls(self, method: str | None = None) -> list[dict[str, Any]]:
        """Return recorded calls, optionally only those of one method (any case)."""
        with self._lock:
            calls = list(self._calls)
        if method is None:
            return calls
        return [call for call in calls if call["method"].lower() == method.lower()]

    def invalid_calls(self) -> list[dict[str, Any]]:
        """Return the refused calls in order."""
        with self._lock:
            return list(self._invalid_calls)

    def add_faults(self, fault: Fault, count: int) -> None:
        """Queue `count` copies of `fault` behind those already waiting."""
        with self._lock:
            self._faults.extend([fault] * count)

    def take_fault(self, method: str, chat_id: object = None) -> Fault | None:
        """Remove and return the oldest fault matching `method` (and the call's `chat_id`), if any."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, chat_id):
                    self._faults.remove(fault)
                    return fault
        return None

    def faults(self) -> list[dict[str, Any]]:
        """Return the faults still waiting, oldest first."""
        with self._lock:
            return [fault.to_dict() for fault in self._faults]

    def clear_faults(self) -> None:
        """Drop every waiting fault."""
        with self._lock:
            self._faults.clear()
