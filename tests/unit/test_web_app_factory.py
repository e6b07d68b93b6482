"""create_app: settings overrides, refusal of unusable settings, JWT and gunicorn configuration."""

from __future__ import annotations

import logging
import runpy
import sys
from pathlib import Path

import pytest

from core.settings import ConfigError
from core.logs import TextFormatter as OneLineFormatter
from webapp import create_app
from webapp.auth_api import wait_seconds
from webapp.errors import ApiError

BASE = {"app_env": "test", "database_url": "postgresql://unused.invalid/x", "redis_url": "redis://unused.invalid/0"}
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_settings_overrides_and_flask_config_are_split():
    app = create_app({**BASE, "access_token_ttl": 60, "TESTING": True})
    settings = app.extensions["settings"]
    assert settings.access_token_ttl == 60
    assert app.config["TESTING"] is True
    assert app.config["MAX_CONTENT_LENGTH"] == 16 * 1024
    assert app.config["JWT_ACCESS_TOKEN_EXPIRES"].total_seconds() == 60


def test_jwt_accepts_only_hs256_with_our_issuer_and_audience():
    config = create_app(BASE).config
    assert config["JWT_ALGORITHM"] == "HS256"
    assert config["JWT_DECODE_ALGORITHMS"] == ["HS256"]
    assert config["JWT_DECODE_ISSUER"] == config["JWT_ENCODE_ISSUER"] == "dance-of-mind"
    assert config["JWT_DECODE_AUDIENCE"] == config["JWT_ENCODE_AUDIENCE"] == "dance-of-mind-web"
    assert config["JWT_TOKEN_LOCATION"] == ["headers"]
    assert config["JWT_ENCODE_NBF"] is True


def test_production_without_a_strong_jwt_key_refuses_to_start():
    with pytest.raises(ConfigError, match="JWT_SECRET_KEY"):
        create_app({**BASE, "app_env": "production", "jwt_secret_key": "short"})
    app = create_app(
        {**BASE, "app_env": "production", "jwt_secret_key": "k" * 48, "allowed_origins": ("https://a.example",),
         "webauthn_rp_id": "a.example", "webauthn_rp_name": "A", "webauthn_origins": ("https://a.example",)}
    )
    assert app.config["JWT_SECRET_KEY"] == "k" * 48


def test_missing_services_are_listed():
    with pytest.raises(ConfigError) as refused:
        create_app({**BASE, "database_url": "", "redis_url": ""})
    assert "DATABASE_URL" in str(refused.value) and "REDIS_URL" in str(refused.value)


def test_an_unknown_log_level_is_refused():
    with pytest.raises(ConfigError, match="LOG_LEVEL"):
        create_app({**BASE, "log_level": "LOUD"})


def test_proxy_fix_only_with_trusted_proxies():
    assert type(create_app(BASE).wsgi_app).__name__ != "ProxyFix"
    assert type(create_app({**BASE, "trusted_proxy_count": 1}).wsgi_app).__name__ == "ProxyFix"


def test_log_records_are_one_line():
    formatter = OneLineFormatter("%(name)s: %(message)s")
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed\nbadly", None, sys.exc_info())
    line = formatter.format(record)
    assert "\n" not in line and "Traceback" in line and line.startswith("x: failed")


@pytest.mark.parametrize("raw, expected", [(None, 0), ("0", 0), ("7", 7), ("30", 30)])
def test_wait_is_read(raw, expected):
    assert wait_seconds(raw) == expected


@pytest.mark.parametrize("raw", ["31", "-1", "", " 5", "1e1", "٣", "999"])
def test_wait_out_of_range_is_refused(raw):
    with pytest.raises(ApiError) as refused:
        wait_seconds(raw)
    assert (refused.value.status, refused.value.code) == (400, "invalid_wait")


def test_gunicorn_config(monkeypatch, tmp_path):
    monkeypatch.setenv("PORT", "9123")
    monkeypatch.delenv("HOST", raising=False)
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    # Reading the file prepares the metrics directory; a given one keeps this process's env as it was.
    (tmp_path / "counter_1.db").write_bytes(b"stale")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    conf = runpy.run_path(str(PROJECT_ROOT / "gunicorn.conf.py"))
    assert list(tmp_path.iterdir()) == []  # a previous run's files would count again
    assert conf["bind"] == "127.0.0.1:9123"
    assert (conf["workers"], conf["worker_class"], conf["worker_connections"]) == (3, "gevent", 5000)
    assert (conf["timeout"], conf["graceful_timeout"], conf["accesslog"]) == (30, 10, "-")
