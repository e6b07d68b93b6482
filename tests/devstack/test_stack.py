"""The environment `make run` gives its children."""

from __future__ import annotations

import stat
from pathlib import Path

import limits
import pytest

from core.settings import Settings, from_environ
from devstack.run import banner
from devstack.stack import DEVELOPMENT_LIMITS, StandIn, Stack, apply_defaults, jwt_secret, load_environment


def test_jwt_secret_is_made_once_private_and_long(tmp_path: Path) -> None:
    key = jwt_secret(tmp_path)
    assert len(key) >= 64  # 48 random bytes, url-safe base64
    assert stat.S_IMODE((tmp_path / "jwt-secret").stat().st_mode) == 0o600
    assert jwt_secret(tmp_path) == key


def test_defaults_never_override_what_is_set(tmp_path: Path) -> None:
    env = {"APP_ENV": "production", "JWT_SECRET_KEY": "k" * 40, "ALLOWED_ORIGINS": "https://x", "PATH": "/bin"}
    apply_defaults(env, tmp_path)
    assert env["APP_ENV"] == "production" and env["JWT_SECRET_KEY"] == "k" * 40
    assert env["ALLOWED_ORIGINS"] == "https://x" and env["PYTHONUNBUFFERED"] == "1"
    fresh = {"PORT": "9000"}
    apply_defaults(fresh, tmp_path)
    assert fresh["APP_ENV"] == "development"
    assert fresh["ALLOWED_ORIGINS"] == "http://127.0.0.1:9000,http://localhost:9000"
    assert fresh["JWT_SECRET_KEY"] == jwt_secret(tmp_path)


def test_dotenv_fills_in_but_the_real_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("SITE_NAME=From dotenv\nLOG_LEVEL=DEBUG\n")
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    env = load_environment(tmp_path)
    assert env["SITE_NAME"] == "From dotenv" and env["LOG_LEVEL"] == "WARNING"


def test_banner_masks_passwords_and_shows_how_to_play(tmp_path: Path) -> None:
    stack = Stack(env={"PORT": "8000"}, services=[
        StandIn("postgres", False, "postgresql://app:hunter2@db.example:5432/app"),
        StandIn("telegram", True, "http://127.0.0.1:40001", "emulator"),
    ])
    text = banner(stack, ["web", "worker", "bot"], tmp_path)
    assert "hunter2" not in text and "app:***@db.example" in text
    assert "http://localhost:8000/healthz" in text and "/api/auth/init" in text
    assert "make phone TELEGRAM_API_URL=http://127.0.0.1:40001" in text


def test_banner_points_to_the_chat_page_only_with_the_embedded_emulator(tmp_path: Path) -> None:
    embedded = Stack(env={"PORT": "8000"}, services=[StandIn("telegram", True, "http://127.0.0.1:8081", "emulator")])
    text = banner(embedded, ["web"], tmp_path)
    assert "Phone       http://127.0.0.1:8081/   the Telegram emulator's chat page" in text
    assert "make phone PHONE_NUMBER=" in text  # the terminal phone stays
    real = Stack(env={"PORT": "8000"}, services=[StandIn("telegram", False, "https://api.telegram.org")])
    real_text = banner(real, ["web"], tmp_path)
    assert "chat page" not in real_text and "make phone" not in real_text
    assert "Open first  http://localhost:8000/" in real_text and "open bot_url from that answer in Telegram" in real_text


def _per_second(limit: str) -> float:
    parsed = limits.parse(limit)
    return parsed.amount / parsed.get_expiry()


def test_development_limits_are_looser_than_production_but_still_limits(tmp_path: Path) -> None:
    env: dict[str, str] = {}
    apply_defaults(env, tmp_path)
    dev, production = from_environ(env), Settings()
    assert _per_second(dev.rate_limit_init_per_ip) > 4 * _per_second(production.rate_limit_init_per_ip)
    assert _per_second(dev.rate_limit_init_per_phone) > 4 * _per_second(production.rate_limit_init_per_phone)
    assert 0 < dev.match_cooldown_seconds < production.match_cooldown_seconds
    # A newcomer pressing Start a few times a minute, for ten minutes, meets no 429.
    assert limits.parse(dev.rate_limit_init_per_phone).amount >= 20
    assert limits.parse(dev.rate_limit_init_per_ip).amount >= 30


def test_development_limits_never_override_the_user_nor_apply_outside_development(tmp_path: Path) -> None:
    mine = {"RATE_LIMIT_INIT_PER_IP": "5/minute"}
    apply_defaults(mine, tmp_path)
    assert mine["RATE_LIMIT_INIT_PER_IP"] == "5/minute"
    assert mine["RATE_LIMIT_INIT_PER_PHONE"] == DEVELOPMENT_LIMITS["RATE_LIMIT_INIT_PER_PHONE"]
    production = {"APP_ENV": "production", "JWT_SECRET_KEY": "k" * 40}
    apply_defaults(production, tmp_path)
    assert not set(DEVELOPMENT_LIMITS) & set(production)


def _embedded(mode: str | None = None, emulator: str = "http://127.0.0.1:8081", **env: str) -> Stack:
    environment = {"PORT": "8000", **env}
    if mode:
        environment["APPROVAL_MODE"] = mode
    return Stack(env=environment, services=[StandIn("telegram", True, emulator, "emulator")])


def test_banner_lists_the_demo_page_first_then_the_chat_page_the_phone_and_the_docs(tmp_path: Path) -> None:
    text = banner(_embedded(), ["web"], tmp_path)
    demo = text.index("Open first  http://localhost:8000/ ")
    chat = text.index("Phone       http://127.0.0.1:8081/ ")
    docs = text.index("http://localhost:8000/api/docs")
    phone = text.index("make phone PHONE_NUMBER=+79161234567 PHONE_SCRIPT=")
    assert demo < chat < docs < phone
    assert "make doctor" in text


def test_banner_prints_the_phone_script_of_the_approval_mode(tmp_path: Path) -> None:
    match = banner(_embedded("match"), ["web"], tmp_path)
    assert "PHONE_SCRIPT='start <bot_url>; approve <match_code>'" in match
    assert "APPROVAL_MODE=match" in match
    assert banner(_embedded(), ["web"], tmp_path) == match  # match is the default
    simple = banner(_embedded("simple"), ["web"], tmp_path)
    assert "PHONE_SCRIPT='start <bot_url>; approve'\n" in simple and "match_code" not in simple
    assert "tap 1" not in match + simple


def test_banner_prints_the_limits_in_force_beside_production_defaults(tmp_path: Path) -> None:
    env: dict[str, str] = {"PORT": "8000", "RATE_LIMIT_INIT_PER_IP": "7/minute"}
    apply_defaults(env, tmp_path)
    text = banner(Stack(env=env), ["web"], tmp_path)
    assert "production defaults are stricter" in text
    assert "RATE_LIMIT_INIT_PER_IP     7/minute " in text and "(production: 10/minute)" in text
    assert "RATE_LIMIT_INIT_PER_PHONE  30/10 minutes " in text and "(production: 3/10 minutes)" in text
    assert "MATCH_COOLDOWN_SECONDS     60 " in text and "(production: 300)" in text


def test_make_run_keeps_the_email_code_sign_in_off_unless_told_and_says_when_it_is_on(tmp_path: Path) -> None:
    fresh: dict[str, str] = {}
    apply_defaults(fresh, tmp_path)
    assert from_environ(fresh).email_login == "off"  # DESIGN.md's default, in `make run` too
    assert "Email code" not in banner(Stack(env=fresh), ["web"], tmp_path)
    told = {"EMAIL_LOGIN": "on", "SMTP_URL": "smtp://127.0.0.1:1025"}  # make run's catcher, or one configured
    apply_defaults(told, tmp_path)
    assert from_environ(told).email_login == "on"
    assert "Email code  on" in banner(Stack(env=told), ["web"], tmp_path)
    # Without an SMTP server the page offers no email sign-in (webapp/demo.py), nor does the banner.
    unsent = {"EMAIL_LOGIN": "on"}
    apply_defaults(unsent, tmp_path)
    assert "Email code" not in banner(Stack(env=unsent), ["web"], tmp_path)
