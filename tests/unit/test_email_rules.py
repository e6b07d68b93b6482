"""Email's pure rules: addresses, codes, which events mail whom, SMTP_URL, and the messages."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest

from core import email_addresses, email_codes, email_config, email_events, email_messages, email_outbox
from core.settings import Settings


@pytest.mark.parametrize(
    "raw, stored",
    [
        ("Ann@Example.COM", "ann@example.com"),
        ("  bob@example.org ", "bob@example.org"),
        ("иван@пример.рф", "иван@пример.рф"),
    ],
)
def test_addresses_are_stored_normalised_in_lower_case(raw: str, stored: str) -> None:
    assert email_addresses.normalize(raw) == stored


@pytest.mark.parametrize("raw", ["", "ann", "ann@", "@example.com", "ann@@example.com", "a b@example.com",
                                 "ann@example", "x" * 250 + "@example.com"])
def test_invalid_addresses_are_refused(raw: str) -> None:
    with pytest.raises(email_addresses.InvalidEmail):
        email_addresses.normalize(raw)


def test_codes_are_six_random_digits_with_leading_zeros_kept() -> None:
    codes = {email_codes.new_code() for _ in range(2000)}
    assert all(email_codes.is_code_shaped(code) for code in codes)
    assert len(codes) > 1900  # random, not a counter
    assert any(code.startswith("0") for code in codes)


@pytest.mark.parametrize("guess", ["12345", "1234567", "12345a", "١٢٣٤٥٦", 123456, None])
def test_only_six_ascii_digits_look_like_a_code(guess: object) -> None:
    assert not email_codes.is_code_shaped(guess)


def test_code_hash_is_salted_with_the_code_id() -> None:
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    assert email_codes.code_hash(first, "123456") != email_codes.code_hash(second, "123456")
    assert "123456" not in email_codes.code_hash(first, "123456")


def test_code_limits_are_the_contracts() -> None:
    assert (email_codes.CODE_DIGITS, email_codes.CODE_TTL_SECONDS, email_codes.MAX_TRIES) == (6, 600, 5)


CONFIRMED = {"id": 7, "email": "ann@example.com", "email_verified_at": datetime(2026, 1, 1, tzinfo=timezone.utc),
             "email_notices": True, "language_code": "ru"}


def test_only_a_confirmed_address_is_mailed() -> None:
    assert email_events.wants(CONFIRMED, email_outbox.NOT_ME)
    assert not email_events.wants({**CONFIRMED, "email_verified_at": None}, email_outbox.NOT_ME)
    assert not email_events.wants({**CONFIRMED, "email": None}, email_outbox.LOGIN, "passkey")


def test_switching_notices_off_silences_only_telegram_approved_login_notices() -> None:
    quiet = {**CONFIRMED, "email_notices": False}
    assert not email_events.wants(quiet, email_outbox.LOGIN, "telegram")
    for method in ("passkey", "email"):
        assert email_events.wants(quiet, email_outbox.LOGIN, method)
    for kind in (email_outbox.NOT_ME, email_outbox.PHONE_UNLINKED, email_outbox.EMAIL_CHANGED,
                 email_outbox.PASSKEY_ADDED, email_outbox.PASSKEY_REMOVED):
        assert email_events.wants(quiet, kind)


def test_email_language_is_the_persons_telegram_language_else_the_default() -> None:
    assert email_events.language_of({"language_code": "ru-RU"}, "en") == "ru"
    assert email_events.language_of({"language_code": "de"}, "en") == "en"
    assert email_events.language_of({"language_code": None}, "ru") == "ru"


class RecordingConn:
    """Collects what `email_outbox.record` would insert (no database)."""

    def __init__(self) -> None:
        self.rows: list[tuple] = []

    def cursor(self):  # noqa: D102 - a fake
        conn = self

        class Cursor:
            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return False

            def execute(self, sql, params):
                conn.rows.append(params)

            def fetchone(self):
                return {"id": "row-1"}

        return Cursor()


def test_passkey_hook_keys_each_event_once_and_refuses_other_kinds() -> None:
    conn = RecordingConn()
    email_events.account_event(conn, CONFIRMED, email_outbox.PASSKEY_ADDED, "cred-1", {"name": "Laptop"}, "en")
    email_events.account_event(conn, CONFIRMED, email_outbox.PASSKEY_REMOVED, "cred-1", {"name": "Laptop"}, "en")
    assert [row[0] for row in conn.rows] == ["passkey_added:cred-1", "passkey_removed:cred-1"]
    assert conn.rows[0][2] == "ann@example.com" and conn.rows[0][3] == "ru"
    with pytest.raises(ValueError):
        email_events.account_event(conn, CONFIRMED, email_outbox.LOGIN, "x", {}, "en")


def test_login_notice_is_keyed_by_its_session_and_carries_a_hashed_link_token() -> None:
    conn = RecordingConn()
    session = {"id": "5b1c", "method": "email", "client_ip": "203.0.113.7", "user_agent": None,
               "decided_at": datetime(2026, 5, 1, 12, 30, tzinfo=timezone.utc)}
    email_events.login_opened(conn, session, CONFIRMED, "en")
    (event_key, kind, recipient, language, details, secret, token_hash, session_id, user_id), = conn.rows
    assert (event_key, kind, session_id) == ("login:5b1c", "login", "5b1c")
    assert token_hash == email_events.link_token_hash(secret) and secret not in token_hash
    assert len(secret) >= 40


@pytest.mark.parametrize(
    "url, host, port, tls, user",
    [
        ("smtp://user:pa%40ss@mail.example.com:587", "mail.example.com", 587, False, "user"),
        ("smtp://user:pass@mail.example.com", "mail.example.com", 587, False, "user"),
        ("smtps://user:pass@mail.example.com", "mail.example.com", 465, True, "user"),
        ("smtp://127.0.0.1:1025", "127.0.0.1", 1025, False, ""),
        ("smtp://relay.internal", "relay.internal", 25, False, ""),
    ],
)
def test_smtp_urls(url: str, host: str, port: int, tls: bool, user: str) -> None:
    server = email_config.parse_smtp_url(url)
    assert (server.host, server.port, server.implicit_tls, server.username) == (host, port, tls, user)
    assert server.requires_starttls == (bool(user) and not tls)


def test_smtp_url_password_is_unquoted() -> None:
    assert email_config.parse_smtp_url("smtp://u:pa%40ss@h:587").password == "pa@ss"


@pytest.mark.parametrize("url", ["http://mail.example.com", "smtp://", "smtp://h:notaport"])
def test_bad_smtp_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        email_config.parse_smtp_url(url)


def production(**values: object) -> Settings:
    return Settings(app_env="production", database_url="postgresql://h/db", redis_url="redis://h",
                    jwt_secret_key="k" * 40, allowed_origins=("https://site.example",), **values)


def test_production_guard_refuses_email_login_without_smtp_and_default_sender() -> None:
    assert any("EMAIL_LOGIN=on needs SMTP_URL" in p for p in production(email_login="on").problems("web"))
    problems = production(smtp_url="smtp://u:p@mail.example.com:587").problems("web")
    assert any("EMAIL_FROM" in p for p in problems)
    assert any("PUBLIC_BASE_URL" in p for p in problems)
    ready = production(smtp_url="smtp://u:p@mail.example.com:587", email_from="Site <no-reply@site.example>",
                       public_base_url="https://login.site.example", email_login="on")
    assert not [p for p in ready.problems("web") if "EMAIL" in p or "SMTP" in p or "PUBLIC" in p]


def test_email_is_optional_in_production_and_email_login_is_off_by_default() -> None:
    settings = production()
    assert not [p for p in settings.problems("web") if "EMAIL" in p or "SMTP" in p]
    assert settings.email_login == "off" and not settings.email_login_enabled
    assert any("EMAIL_LOGIN must be" in p for p in production(email_login="yes").problems("web"))


def outbox_row(kind: str, **overrides: object) -> dict:
    row = {"id": "0b6f3c8e-5d52-4bd8-9a53-0b0b0b0b0b0b", "kind": kind, "recipient": "ann@example.com",
           "language": "en", "details": {}, "secret": None}
    row.update(overrides)
    return row


def compose(row: dict):
    return email_messages.compose(row, site_name="Site", public_base_url="https://login.example",
                                  email_from="Site <no-reply@site.example>",
                                  now=datetime(2026, 5, 1, tzinfo=timezone.utc))


def test_code_email_has_the_code_in_subject_text_and_html() -> None:
    message = compose(outbox_row(email_outbox.LOGIN_CODE, secret="042917", language="ru"))
    assert "042917" in message["Subject"]
    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "042917" in plain and "042917" in html and "код" in plain
    assert message["Content-Language"] == "ru"


def test_login_notice_email_links_the_not_you_page_and_escapes_what_it_shows() -> None:
    row = outbox_row(email_outbox.LOGIN, secret="tok-123",
                     details={"method": "passkey", "ip": "203.0.113.7", "browser": "<b>Evil</b>",
                              "time": "2026-05-01T12:30:00+00:00"})
    message = compose(row)
    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "https://login.example/email/not-you/tok-123" in plain
    assert 'href="https://login.example/email/not-you/tok-123"' in html
    assert "<b>Evil</b>" not in html and "&lt;b&gt;Evil&lt;/b&gt;" in html
    assert "with a passkey" in plain and "2026-05-01 12:30 UTC" in plain


def test_message_id_is_fixed_per_outbox_row() -> None:
    row = outbox_row(email_outbox.NOT_ME)
    assert compose(row)["Message-ID"] == compose(row)["Message-ID"] == f"<{row['id']}@site.example>"
    assert compose(outbox_row(email_outbox.NOT_ME, id="another"))["Message-ID"] != compose(row)["Message-ID"]


@pytest.mark.parametrize("kind", email_outbox.KINDS)
def test_every_kind_renders_in_both_languages(kind: str) -> None:
    for language in ("ru", "en"):
        message = compose(outbox_row(kind, language=language, secret="123456",
                                     details={"phone": "+79161234567", "new": "new@example.com", "name": "Key"}))
        assert message["Subject"] and message.get_body(("plain",)).get_content().strip()


def test_email_buttons_round_trip_and_foreign_data_is_not_ours() -> None:
    from core import email_menu

    for action in email_menu.ACTIONS:
        assert email_menu.parse_callback(email_menu.callback(action)) == action
        assert len(email_menu.callback(action).encode()) <= 64  # Telegram's callback_data limit
    for foreign in ("es:123", "em:zz", "em", None, 5, "ap:x"):
        assert not email_menu.is_email_callback(foreign)


def test_bot_status_offers_notices_and_removal_only_for_a_confirmed_address() -> None:
    from core import email_menu

    confirmed = email_menu.status(CONFIRMED, "en")
    assert "ann@example.com" in confirmed.text
    assert [b.callback_data for row in confirmed.buttons for b in row] == ["em:of", "em:ar"]
    quiet = email_menu.status({**CONFIRMED, "email_notices": False}, "ru")
    assert quiet.buttons[0][0].callback_data == "em:on"
    pending = email_menu.status({**CONFIRMED, "email_verified_at": None, "email_pending": "p@example.com"}, "en")
    assert "p@example.com" in pending.text and pending.buttons == ()
