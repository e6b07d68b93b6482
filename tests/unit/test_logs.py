"""LOG_FORMAT=text|json, the request id on log lines, and what X-Request-ID accepts."""

from __future__ import annotations

import io
import json
import logging

import pytest

from core import events, logs, request_ids


@pytest.fixture
def captured():
    """Yield a function returning what a handler configured like ours wrote, in a format."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("test.logs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    events.log.addHandler(handler)
    old_level = events.log.level
    events.log.setLevel(logging.INFO)

    def use(log_format: str) -> io.StringIO:
        holder = logging.getLogger("test.logs.holder")
        holder.handlers = [handler]
        logs.apply_format(holder, log_format)
        return stream

    yield use
    logger.removeHandler(handler)
    events.log.removeHandler(handler)
    events.log.setLevel(old_level)


def test_json_lines_carry_the_request_id_and_event_fields(captured):
    stream = captured("json")
    token = request_ids.current.set("req-123")
    try:
        events.emit("session_created", phone="+79161234567", session_id="SECRET", linked=True, ip="1.2.3.4")
    finally:
        request_ids.current.reset(token)
    line = stream.getvalue().strip()
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["request_id"] == "req-123" and entry["level"] == "INFO"
    assert entry["logger"] == "dance_of_mind.events" and entry["time"].endswith("+00:00")
    assert entry["event"] == "session_created" and entry["linked"] is True and entry["ip"] == "1.2.3.4"
    assert entry["phone"] == "+7916*****67" and "SECRET" not in line and "+79161234567" not in line


def test_json_keeps_tracebacks_on_one_line(captured):
    stream = captured("json")
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("test.logs").exception("failed")
    entry = json.loads(stream.getvalue())
    assert entry["message"] == "failed" and "ValueError: boom" in entry["exception"] and entry["request_id"] is None


def test_text_lines_end_with_the_request_id_only_inside_a_request(captured):
    stream = captured("text")
    logging.getLogger("test.logs").info("outside")
    token = request_ids.current.set("abc")
    try:
        logging.getLogger("test.logs").info("inside")
    finally:
        request_ids.current.reset(token)
    outside, inside = stream.getvalue().splitlines()
    assert outside.endswith("test.logs: outside")
    assert inside.endswith("test.logs: inside request_id=abc")


def test_an_unknown_format_is_refused():
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        logs.formatter("xml")


@pytest.mark.parametrize("incoming", ["abc-123", "A.b_C-9", "x" * 64])
def test_a_well_formed_request_id_is_kept(incoming):
    assert request_ids.accept(incoming) == incoming


@pytest.mark.parametrize("incoming", [None, "", "x" * 65, "a b", "id\nforged=1", "naïve", "a/b"])
def test_anything_else_gets_a_fresh_id(incoming):
    fresh = request_ids.accept(incoming)
    assert fresh != incoming and request_ids.VALID.fullmatch(fresh)
