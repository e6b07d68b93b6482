"""The rules that keep a weak configuration from starting (used by `Settings.problems`).

Each function returns sentences naming the variable and the fix, one per problem, so every
process can print them one per line and refuse to start (`metrics_token_warnings` only warns).
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse

from psycopg2.extensions import parse_dsn

# Passwords from docker-compose files, tutorials and installers: the first ones an attacker tries.
WEAK_DATABASE_PASSWORDS = frozenset(
    {"", "postgres", "postgresql", "password", "passw0rd", "changeme", "change_me", "admin", "root", "secret",
     "pass", "test", "example", "default", "123456", "12345678", "qwerty", "letmein"}
)
MIN_DATABASE_PASSWORD_CHARS = 12
# Telegram's rule for setWebhook's secret_token.
WEBHOOK_SECRET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
MIN_PRODUCTION_WEBHOOK_SECRET_CHARS = 32
# The cloud Bot API; any other TELEGRAM_API_URL is a self-hosted server or the emulator.
TELEGRAM_CLOUD_API_HOST = "api.telegram.org"
GENERATE_SECRET = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"


def database_password_problems(name: str, url: str) -> list[str]:
    """Refuse a default or weak password written in a Postgres URL or key=value DSN.

    A URL without a password is accepted: the password may come from PGPASSWORD or ~/.pgpass,
    or the server may authenticate otherwise (a unix socket's peer auth, client certificates),
    none of which this process can judge.
    """
    if not url:
        return []
    try:
        parts = parse_dsn(url)
    except Exception:  # psycopg2.ProgrammingError; the connection attempt will say more
        return [f"{name} is not a valid Postgres connection string"]
    password = parts.get("password")
    if password is None:
        return []
    lowered = password.lower()
    if lowered in WEAK_DATABASE_PASSWORDS or lowered in {parts.get("user", "").lower(), parts.get("dbname", "").lower()}:
        return [f"{name} uses a default database password: give the database role a random one"]
    if len(password) < MIN_DATABASE_PASSWORD_CHARS:
        return [f"{name}'s password is shorter than {MIN_DATABASE_PASSWORD_CHARS} characters: use a random one"]
    return []


def allowed_origins_problems(origins: tuple[str, ...]) -> list[str]:
    """Require at least one CORS origin, each an exact https origin (no wildcard, no path)."""
    if not origins:
        return ["ALLOWED_ORIGINS is empty: list the https origins of your frontend, comma-separated"]
    found = []
    for origin in origins:
        parts = urllib.parse.urlsplit(origin)
        if origin == "*" or parts.scheme != "https" or not parts.hostname or parts.path or parts.query:
            # An http page can be rewritten in transit, and it then holds the person's tokens.
            found.append(f"ALLOWED_ORIGINS entry {origin!r} must be an https origin like https://app.example.com")
    return found


def webauthn_problems(rp_id: str, rp_name: str, origins: tuple[str, ...]) -> list[str]:
    """Require the passkeys' relying party in production: a domain RP id, a name, https origins on it."""
    found = []
    if not rp_id:
        found.append("WEBAUTHN_RP_ID is not set: the site's domain, e.g. example.com (passkeys are bound to it)")
    elif _is_ip_address(rp_id) or "/" in rp_id or ":" in rp_id:
        found.append(f"WEBAUTHN_RP_ID must be a domain like example.com, not an address or URL, got {rp_id!r}")
    if not rp_name:
        found.append("WEBAUTHN_RP_NAME is not set: the site's name, which browsers show beside a passkey")
    if not origins:
        found.append("WEBAUTHN_ORIGINS is empty: list the https origins passkeys are used from, comma-separated")
    for origin in origins:
        parts = urllib.parse.urlsplit(origin)
        host = (parts.hostname or "").lower()
        if parts.scheme != "https" or not host or parts.path or parts.query:
            found.append(f"WEBAUTHN_ORIGINS entry {origin!r} must be an https origin like https://app.example.com")
        elif rp_id and host != rp_id and not host.endswith("." + rp_id):
            found.append(f"WEBAUTHN_ORIGINS entry {origin!r} is not on WEBAUTHN_RP_ID {rp_id!r} (nor a subdomain of it)")
    return found


def _is_ip_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True


def is_telegram_cloud(telegram_api_url: str) -> bool:
    """Tell whether the Bot API is Telegram's own cloud server rather than a self-hosted telegram-bot-api."""
    return (urllib.parse.urlsplit(telegram_api_url).hostname or "").lower() == TELEGRAM_CLOUD_API_HOST


def webhook_problems(
    webhook_url: str, webhook_secret: str, webhook_port: int, relaxed: bool, telegram_api_url: str
) -> list[str]:
    """Require what webhook mode needs: a URL, Telegram's form of secret, a port; stricter in production."""
    found = []
    parts = urllib.parse.urlsplit(webhook_url)
    if not webhook_url or parts.scheme not in ("http", "https") or not parts.hostname:
        found.append("WEBHOOK_URL must be the public URL Telegram posts updates to (BOT_MODE=webhook)")
    elif not relaxed and parts.scheme != "https" and is_telegram_cloud(telegram_api_url):
        # Telegram's cloud posts only to https; a self-hosted server in --local mode posts to http
        # and local addresses, typically on the same private network as the bot.
        found.append(
            "WEBHOOK_URL must be an https URL: Telegram's cloud Bot API posts only to https (an http URL "
            "is allowed only with TELEGRAM_API_URL pointing at a self-hosted telegram-bot-api server)"
        )
    if not WEBHOOK_SECRET_PATTERN.match(webhook_secret):
        found.append(
            "WEBHOOK_SECRET must be 1-256 characters of A-Za-z0-9_- in webhook mode, or anyone could post "
            f"fake updates (generate one: {GENERATE_SECRET})"
        )
    elif not relaxed and len(webhook_secret) < MIN_PRODUCTION_WEBHOOK_SECRET_CHARS:
        found.append(
            f"WEBHOOK_SECRET must be at least {MIN_PRODUCTION_WEBHOOK_SECRET_CHARS} random characters outside "
            f"development/test (generate one: {GENERATE_SECRET})"
        )
    if not 0 < webhook_port < 65536:
        found.append("WEBHOOK_PORT must be a TCP port number (1-65535)")
    return found


def metrics_token_warnings(metrics_token: str, bind_hosts: list[str]) -> list[str]:
    """Warn when /metrics is public (no METRICS_TOKEN) on an address other machines can reach.

    A warning, not a refusal: a private network or a proxy that hides /metrics may be enough.
    """
    if metrics_token:
        return []
    exposed = [host for host in bind_hosts if not is_loopback_host(host)]
    if not exposed:
        return []
    return [
        f"METRICS_TOKEN is not set while the web binds {', '.join(exposed)}: anyone who reaches it reads "
        f"/metrics (login counts, outcomes, rate-limit hits); set one (generate it: {GENERATE_SECRET}) and "
        "give it to your scraper as a bearer token"
    ]


def is_loopback_host(host: str) -> bool:
    """Tell whether a bind address is reachable from this machine only (loopback)."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
def is_local_host(hostname: str) -> bool:
    """Tell whether a host is on this machine or its private network: loopback, a private address, or one label.

    A name without a dot (`telegram-bot-api`, `localhost`) resolves only through the local
    resolver: a container, a compose service or /etc/hosts, never the public internet.
    """
    host = hostname.strip("[]").lower()
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return "." not in host.rstrip(".") or host == "localhost."
    return address.is_loopback or address.is_private


def telegram_api_url_problems(telegram_api_url: str) -> list[str]:
    """Refuse a plain-http Bot API beyond this machine and its private network: the bot token travels in its URLs."""
    parts = urllib.parse.urlsplit(telegram_api_url)
    if parts.scheme == "http" and not is_local_host(parts.hostname or ""):
        return [
            "TELEGRAM_API_URL must be https outside loopback and private addresses: every request carries "
            "the bot token, which plain http shows to anyone on the way"
        ]
    return []
