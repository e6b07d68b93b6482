"""The environment `make run` gives its children."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from devstack.stack import StandIn, Stack, apply_defaults, jwt_secret, load_environment
from devstack.run import banner


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
    assert "http://127.0.0.1:8000/healthz" in text and "/api/auth/init" in text
    assert "make phone TELEGRAM_API_URL=http://127.0.0.1:40001" in text


def test_banner_points_to_the_chat_page_only_with_the_embedded_emulator(tmp_path: Path) -> None:
    embedded = Stack(env={"PORT": "8000"}, services=[StandIn("telegram", True, "http://127.0.0.1:8081", "emulator")])
    text = banner(embedded, ["web"], tmp_path)
    assert "Play the Telegram user in your browser: http://127.0.0.1:8081/" in text
    assert "make phone PHONE_NUMBER=" in text  # the terminal phone stays
    real = Stack(env={"PORT": "8000"}, services=[StandIn("telegram", False, "https://api.telegram.org")])
    assert "in your browser" not in banner(real, ["web"], tmp_path)
