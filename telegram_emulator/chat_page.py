"""The chat page at `/`: a person plays a Telegram user in the browser, over the control API."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, send_from_directory

STATIC_DIR = Path(__file__).resolve().parent / "static"
# The page runs only our own files and talks only to this server; bot texts are inserted as
# text nodes, and this policy stops any script that slipped in anyway.
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

chat_page = Blueprint("chat_page", __name__, static_folder=STATIC_DIR, static_url_path="/chat")


@chat_page.get("/")
def index() -> Response:
    """Serve the chat page."""
    return send_from_directory(STATIC_DIR, "chat.html", max_age=0)


@chat_page.after_request
def page_headers(response: Response) -> Response:
    """Keep the page and its assets from being framed, sniffed or fed foreign scripts."""
    response.headers["Content-Security-Policy"] = PAGE_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-cache"
    return response
