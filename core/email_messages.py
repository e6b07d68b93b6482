"""Compose an email of the outbox: plain text and an HTML alternative, in the person's language.

The Message-ID is derived from the outbox row, so a message sent again after an uncertain
failure carries the same id and a mail client shows it once.
"""

from __future__ import annotations

import html
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any

from core import email_outbox
from core.email_texts import text

Row = dict[str, Any]

NOT_YOU_PATH = "/email/not-you/"
CODE_KINDS = (email_outbox.CONFIRM_CODE, email_outbox.LOGIN_CODE)
ALERT_KINDS = (email_outbox.NOT_ME, email_outbox.PHONE_UNLINKED, email_outbox.EMAIL_CHANGED,
               email_outbox.EMAIL_REMOVED, email_outbox.PASSKEY_ADDED, email_outbox.PASSKEY_REMOVED)


def message_id(outbox_id: str, email_from: str) -> str:
    """Return the fixed Message-ID of one outbox email."""
    domain = parseaddr(email_from)[1].rpartition("@")[2] or "localhost"
    return f"<{outbox_id}@{domain}>"


def not_you_link(public_base_url: str, token: str) -> str:
    """Return the "Not you?" page of a login-notice email."""
    return f"{public_base_url}{NOT_YOU_PATH}{token}"


def format_moment(iso: str | None, language: str) -> str:
    """Return an ISO time as the email shows it (UTC, to the minute)."""
    if not iso:
        return text("unknown", language)
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M UTC")


def content(row: Row, site_name: str, public_base_url: str) -> tuple[str, str, str | None]:
    """Return the subject, the plain text and the "Not you?" link (if any) of an outbox email."""
    kind, language, details = row["kind"], row["language"], row["details"] or {}
    unknown = text("unknown", language)
    if kind in CODE_KINDS:
        code = row["secret"] or ""
        return (text(f"{kind}_subject", language, site=site_name, code=code),
                text(f"{kind}_body", language, site=site_name, code=code), None)
    if kind == email_outbox.LOGIN:
        body = text(
            "login_body", language, site=site_name,
            method=text(f"method_{details.get('method') or 'telegram'}", language),
            browser=details.get("browser") or unknown, ip=details.get("ip") or unknown,
            time=format_moment(details.get("time"), language),
        )
        link = not_you_link(public_base_url, row["secret"]) if row["secret"] else None
        if link:
            body += "\n\n" + text("login_not_you", language, link=link)
        return text("login_subject", language, site=site_name), body, link
    if kind in ALERT_KINDS:
        values = {"site": site_name, "phone": details.get("phone") or unknown, "new": details.get("new") or unknown,
                  "name": details.get("name") or unknown}
        body = text(f"{kind}_body", language, **values) + "\n\n" + text("alert_footer", language)
        return text(f"{kind}_subject", language, site=site_name), body, None
    raise ValueError(f"unknown email kind {kind!r}")


def to_html(plain: str, link: str | None, language: str) -> str:
    """Return the HTML alternative of a plain text: its paragraphs, escaped, and the link as a button."""
    paragraphs = []
    for paragraph in plain.split("\n\n"):
        if link and link in paragraph:
            continue  # the link is shown as a button below
        paragraphs.append("<p>" + html.escape(paragraph).replace("\n", "<br>") + "</p>")
    if link:
        label = html.escape(text("login_not_you_button", language))
        paragraphs.append(f'<p><a href="{html.escape(link)}">{label}</a></p>')
    return f'<!doctype html><html lang="{html.escape(language)}"><body>{"".join(paragraphs)}</body></html>'


def compose(row: Row, *, site_name: str, public_base_url: str, email_from: str, now: datetime) -> EmailMessage:
    """Build the email of an outbox row, ready for SMTP."""
    subject, plain, link = content(row, site_name, public_base_url)
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = email_from
    message["To"] = Address(addr_spec=row["recipient"])
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id(str(row["id"]), email_from)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to a robot
    message.set_content(plain)
    message.add_alternative(to_html(plain, link, row["language"]), subtype="html")
    # After the body: setting content drops Content-* headers.
    message["Content-Language"] = row["language"]
    return message
