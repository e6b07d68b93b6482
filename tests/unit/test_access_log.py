"""Session ids never reach gunicorn's access log."""

import pytest

from access_log import redact


@pytest.mark.parametrize(
    "line, expected",
    [
        ("GET /api/auth/status/Abc-_123 HTTP/1.1", "GET /api/auth/status/*** HTTP/1.1"),
        ("GET /api/auth/status/Abc123?wait=25 HTTP/1.1", "GET /api/auth/status/***?wait=25 HTTP/1.1"),
        ("DELETE /api/auth/session/Abc123 HTTP/1.1", "DELETE /api/auth/session/*** HTTP/1.1"),
        ("POST /api/auth/init HTTP/1.1", "POST /api/auth/init HTTP/1.1"),
        ("GET /healthz HTTP/1.1", "GET /healthz HTTP/1.1"),
    ],
)
def test_redact(line, expected):
    assert redact(line) == expected
