"""How SMTP_URL is read, and the rules that keep a broken email configuration from starting."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

DEFAULT_EMAIL_FROM = "Dance of Mind <no-reply@localhost>"
SCHEMES = {"smtp": 587, "smtps": 465}
# A plain smtp:// URL without credentials and without a port: a local relay on port 25.
RELAY_PORT = 25


@dataclass(frozen=True)
class SmtpServer:
    """Where and how to send: implicit TLS (smtps), STARTTLS, or a plain local relay."""

    host: str
    port: int
    implicit_tls: bool
    username: str
    password: str

    @property
    def requires_starttls(self) -> bool:
        """Credentials never travel in clear: smtp:// with a user must upgrade with STARTTLS."""
        return not self.implicit_tls and bool(self.username)


def parse_smtp_url(url: str) -> SmtpServer:
    """Read SMTP_URL; raise ValueError saying what is wrong."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise ValueError("SMTP_URL must start with smtp:// (STARTTLS) or smtps:// (implicit TLS)")
    if not parts.hostname:
        raise ValueError("SMTP_URL must name a host, e.g. smtp://user:pass@smtp.example.com:587")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("SMTP_URL has an invalid port") from None
    username = urllib.parse.unquote(parts.username or "")
    if port is None:
        port = SCHEMES[parts.scheme] if (username or parts.scheme == "smtps") else RELAY_PORT
    return SmtpServer(
        host=parts.hostname,
        port=port,
        implicit_tls=parts.scheme == "smtps",
        username=username,
        password=urllib.parse.unquote(parts.password or ""),
    )


def problems(email_login: str, smtp_url: str, relaxed: bool, email_from: str, public_base_url: str) -> list[str]:
    """List what is wrong with the email settings (empty when usable)."""
    found = []
    if email_login not in ("on", "off"):
        found.append(f"EMAIL_LOGIN must be 'on' or 'off', got {email_login!r}")
    if smtp_url:
        try:
            parse_smtp_url(smtp_url)
        except ValueError as exc:
            found.append(str(exc))
    if not public_base_url.startswith(("http://", "https://")):
        found.append(f"PUBLIC_BASE_URL must be an http(s):// address, got {public_base_url!r}")
    if relaxed:
        return found
    # The production guard: email is optional, but a sign-in by email with no way to send one
    # would answer every request with 503, and links in emails must reach the real site.
    if email_login == "on" and not smtp_url:
        found.append("EMAIL_LOGIN=on needs SMTP_URL: codes could not be sent")
    if smtp_url and email_from == DEFAULT_EMAIL_FROM:
        found.append("EMAIL_FROM must be set to the site's own sender address when SMTP_URL is set")
    if smtp_url and not public_base_url.startswith("https://"):
        found.append("PUBLIC_BASE_URL must be the site's https:// address when SMTP_URL is set (links in emails)")
    return found
