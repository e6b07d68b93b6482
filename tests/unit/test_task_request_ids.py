"""The request id travels from the publishing request to the task's run, and only a well-formed one."""

from __future__ import annotations

from types import SimpleNamespace

from core import request_ids
from jobs import log_context


def test_the_current_request_id_goes_into_the_task_headers():
    headers: dict[str, str] = {}
    token = request_ids.current.set("req-42")
    try:
        log_context.add_request_id(headers=headers)
    finally:
        request_ids.current.reset(token)
    assert headers == {log_context.HEADER: "req-42"}
    outside: dict[str, str] = {}
    log_context.add_request_id(headers=outside)
    assert outside == {}


def test_a_task_runs_with_the_id_it_was_sent_with_then_forgets_it():
    task = SimpleNamespace(request=SimpleNamespace(x_request_id="req-42", headers=None))
    log_context.take_request_id(task=task)
    assert request_ids.current.get() == "req-42"
    log_context.drop_request_id()
    assert request_ids.current.get() is None


def test_a_malformed_id_in_a_message_is_ignored():
    task = SimpleNamespace(request=SimpleNamespace(headers={log_context.HEADER: "forged\nline"}))
    log_context.take_request_id(task=task)
    assert request_ids.current.get() is None
