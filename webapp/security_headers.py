"""Security headers on every response of the web app, errors and 404s included.

The API answers JSON only, so the default Content-Security-Policy allows nothing at all. A view
that serves a page (the demo login page, the API docs viewer) sets its own policy, for example
with `page_policy`, and keeps it: headers a view sets are never overwritten here.
"""

from __future__ import annotations

from flask import Flask, Response

from core.settings import Settings

# Nothing may load, run or frame a JSON answer; browsers then render it inert even if sniffed.
JSON_CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'"
# One year; sent only outside development/test, where the app sits behind TLS.
STRICT_TRANSPORT_SECURITY = "max-age=31536000; includeSubDomains"

DEFAULT_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": JSON_CONTENT_SECURITY_POLICY,
}

def headers_for(settings: Settings) -> dict[str, str]:
    """Return the headers every response gets under these settings."""
    headers = dict(DEFAULT_HEADERS)
    if not settings.relaxed:
        # Over plain http in development, HSTS would pin localhost to https in the browser.
        headers["Strict-Transport-Security"] = STRICT_TRANSPORT_SECURITY
    return headers


def register(app: Flask, settings: Settings) -> None:
    """Add the security headers to every response the app sends (a view's own values win)."""
    headers = headers_for(settings)

    def add_security_headers(response: Response) -> Response:
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        return response

    app.after_request(add_security_headers)


def page_policy(response: Response, policy: str) -> Response:
    """Give a page its own Content-Security-Policy instead of the JSON one."""
    response.headers["Content-Security-Policy"] = policy
    return response
