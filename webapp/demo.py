"""GET /: the demo login page, also the reference integration (webapp/static/demo/authClient.js)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, make_response, render_template

from webapp import security_headers

# The page's scripts, styles and images are files of this origin, and it calls only this API.
DEMO_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

bp = Blueprint("demo", __name__)


@bp.get("/")
def login_page() -> Response:
    """Show the demo login page, offering the ways in this server has switched on."""
    settings = current_app.extensions["settings"]
    response = make_response(render_template(
        "demo.html", email=settings.email_enabled, email_login=settings.email_login_enabled
    ))
    return security_headers.page_policy(response, DEMO_POLICY)
