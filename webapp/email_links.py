"""The "Not you?" link of a login-notice email: a page that ends that login with one button.

GET only shows the login and a button; the POST the button sends ends it. Mail scanners and
link previews fetch GET links on their own, so a GET that acted would end logins nobody asked
to end (docs/security.md, "Email").
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, make_response, render_template

from core import db, email_events, email_links, email_messages, events
from core.email_texts import text
from webapp import security_headers

# A form that posts to this same page, and nothing else.
PAGE_POLICY = "default-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

bp = Blueprint("email_links", __name__)


@bp.get(f"{email_messages.NOT_YOU_PATH}<token>")
def not_you_page(token: str) -> Response:
    """Show the login a "Not you?" link tells of, with a button that ends it."""
    with db.transaction() as conn:
        email = email_events.login_of_link(conn, token)
    if email is None:
        return _page(404, "en", text("page_unknown", "en"))
    language, details = email["language"], email["details"] or {}
    unknown = text("unknown", language)
    question = text(
        "page_question", language, site=current_app.extensions["settings"].site_name,
        browser=details.get("browser") or unknown, ip=details.get("ip") or unknown,
        time=email_messages.format_moment(details.get("time"), language),
    )
    return _page(200, language, question, show_button=True)


@bp.post(f"{email_messages.NOT_YOU_PATH}<token>")
def end_login(token: str) -> Response:
    """End the login of a "Not you?" link (its token family, or its approval if not yet picked up)."""
    with db.transaction() as conn:
        email, ended = email_links.end_login_by_link(conn, token)
    if email is None:
        return _page(404, "en", text("page_unknown", "en"))
    if ended is not None:
        events.emit("login_ended", user=email["user_id"], session=email["session_id"], via="email_link")
    return _page(200, email["language"], text("page_ended" if ended else "page_gone", email["language"]))


def _page(status: int, language: str, message: str, show_button: bool = False) -> Response:
    response = make_response(
        render_template("not_you.html", language=language, title=text("page_title", language), message=message,
                        button=text("page_button", language), show_button=show_button),
        status,
    )
    response.headers["Cache-Control"] = "no-store"
    return security_headers.page_policy(response, PAGE_POLICY)
