"""The catcher's web side: an inbox page for people and a JSON API for tests (standard library only)."""

from __future__ import annotations

import html
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from mail_catcher.inbox import Inbox
from mail_catcher.smtp_server import SmtpServer

PAGE_REFRESH_SECONDS = 2


def inbox_page(inbox: Inbox) -> str:
    """Render the inbox, newest first; every text is escaped, the HTML parts are never rendered."""
    rows = []
    for m in reversed(inbox.messages()):
        rows.append(
            "<article><h2>{subject}</h2><p class=meta>To {to} · from {sender} · {at}</p><pre>{text}</pre></article>".format(
                subject=html.escape(m["subject"]), to=html.escape(", ".join(m["to"])),
                sender=html.escape(m["from"]), at=html.escape(m["received_at"]), text=html.escape(m["text"]),
            )
        )
    body = "".join(rows) or "<p>No mail yet. Emails the worker sends appear here.</p>"
    return (
        "<!doctype html><html><head><meta charset=utf-8>"
        f"<meta http-equiv=refresh content={PAGE_REFRESH_SECONDS}><title>Mail catcher</title>"
        "<style>body{font-family:sans-serif;max-width:50em;margin:1em auto}pre{white-space:pre-wrap;"
        "background:#f4f4f4;padding:.5em}.meta{color:#666}</style></head>"
        f"<body><h1>Mail catcher</h1>{body}</body></html>"
    )


def make_handler(inbox: Inbox, smtp: SmtpServer) -> type[BaseHTTPRequestHandler]:
    """Return the request handler class of one catcher."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass  # quiet: tests poll the API many times a second

        def _send(self, status: int, body: bytes = b"", content_type: str = "application/json") -> None:
            self.send_response(status)
            if body:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, value: Any) -> None:
            self._send(status, json.dumps(value, ensure_ascii=False).encode())

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            url = urllib.parse.urlsplit(self.path)
            query = urllib.parse.parse_qs(url.query)
            if url.path == "/":
                self._send(200, inbox_page(inbox).encode(), "text/html; charset=utf-8")
            elif url.path == "/api/messages":
                self._json(200, {"messages": inbox.messages((query.get("to") or [None])[0])})
            elif url.path == "/healthz":
                self._json(200, {"smtp": smtp.running, "port": smtp.port})
            else:
                self._json(404, {"error": "not found"})

        def do_DELETE(self) -> None:  # noqa: N802
            if self.path == "/api/messages":
                inbox.clear()
                self._send(204)
            else:
                self._json(404, {"error": "not found"})

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}") if length else {}
            if self.path == "/api/smtp/stop":
                smtp.stop()
            elif self.path == "/api/smtp/start":
                if not smtp.running:
                    smtp.start()
            elif self.path == "/api/fault":
                inbox.fault = body.get("mode")
            else:
                self._json(404, {"error": "not found"})
                return
            self._json(200, {"smtp": smtp.running, "fault": inbox.fault})

    return Handler


class WebServer:
    """The inbox page and API on a port, served from a thread."""

    def __init__(self, inbox: Inbox, smtp: SmtpServer, host: str = "127.0.0.1", port: int = 8025) -> None:
        self.httpd = ThreadingHTTPServer((host, port), make_handler(inbox, smtp))
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="mail-catcher-web", daemon=True)

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving."""
        self.httpd.shutdown()
        self.httpd.server_close()
