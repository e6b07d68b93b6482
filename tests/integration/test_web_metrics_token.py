"""METRICS_TOKEN: /metrics for its holder only when set; public (and warned about off loopback) when not."""

from __future__ import annotations

import subprocess
import sys

import pytest

from devstack import PROJECT_ROOT
from webapp import doctor

TOKEN = "metrics-token-of-the-scraper-0123456789"


@pytest.fixture
def guarded(make_app):
    """A test client of an app whose /metrics needs TOKEN."""
    return make_app(metrics_token=TOKEN).test_client()


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong-token"}, {"Authorization": f"Basic {TOKEN}"}, {"Authorization": "Bearer"}],
)
def test_a_scrape_without_the_token_gets_401_in_the_error_shape(guarded, headers):
    response = guarded.get("/metrics", headers=headers)
    assert response.status_code == 401
    body = response.get_json()
    assert set(body) == {"error"} and body["error"]["code"] == "authorization_required"
    assert body["error"]["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert b"auth_logins_total" not in response.get_data()


def test_the_tokens_holder_gets_the_metrics(guarded):
    response = guarded.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert b"auth_logins_total" in response.get_data()


def test_without_a_token_metrics_stay_public(client):
    assert client.get("/metrics").status_code == 200


def test_the_doctor_warns_of_public_metrics_on_a_reachable_bind(app, monkeypatch):
    settings = app.extensions["settings"]
    monkeypatch.setenv("HOST", "0.0.0.0")
    line = {r.name: r for r in doctor.check_settings(settings)}["metrics"]
    assert line.status == doctor.WARN and "METRICS_TOKEN" in line.detail and "0.0.0.0" in line.detail
    assert line.fix.startswith("METRICS_TOKEN=")

    with_token = settings.with_overrides(metrics_token=TOKEN)
    assert {r.name: r for r in doctor.check_settings(with_token)}["metrics"].status == doctor.OK
    monkeypatch.delenv("HOST")
    assert {r.name: r for r in doctor.check_settings(settings)}["metrics"].status == doctor.OK


def gunicorn_ready_warnings(binds: list, metrics_token: str) -> list[str]:
    """Run gunicorn.conf.py's when_ready hook in a child process; return what it logged as warnings."""
    script = (
        "import os, runpy\n"
        "config = runpy.run_path('gunicorn.conf.py')\n"
        f"os.environ['METRICS_TOKEN'] = {metrics_token!r}\n"
        "logged = []\n"
        f"cfg = type('Cfg', (), {{'address': {binds!r}}})()\n"
        "log = type('Log', (), {'warning': lambda self, fmt, *args: logged.append(fmt % args)})()\n"
        "config['when_ready'](type('Server', (), {'cfg': cfg, 'log': log})())\n"
        "print('\\n'.join(logged))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.split("\n")[:-1] if done.stdout.strip() else []


def test_gunicorn_warns_at_start_when_it_binds_a_reachable_address_without_a_token():
    warnings = gunicorn_ready_warnings([("0.0.0.0", 8000), "/tmp/web.sock"], "")
    assert len(warnings) == 1 and "METRICS_TOKEN is not set" in warnings[0] and "0.0.0.0" in warnings[0]
    assert gunicorn_ready_warnings([("0.0.0.0", 8000)], TOKEN) == []
    assert gunicorn_ready_warnings([("127.0.0.1", 8000)], "") == []
