"""/healthz and /readyz."""

from __future__ import annotations


def test_healthz(client):
    response = client.get("/healthz")
    assert (response.status_code, response.get_json()) == (200, {"status": "ok"})


def test_readyz_when_everything_is_up(client):
    response = client.get("/readyz")
    assert (response.status_code, response.get_json()) == (200, {"status": "ok", "checks": {"postgres": "ok", "redis": "ok"}})


def test_readyz_names_a_dead_redis(make_app):
    response = make_app(redis_url="redis://127.0.0.1:1/0").test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["error"]["code"] == "service_unavailable"
    assert "redis" in body["error"]["message"]
    assert body["checks"] == {"postgres": "ok", "redis": "unreachable"}


def test_readyz_names_a_dead_postgres(make_app):
    client = make_app(database_url="postgresql://postgres@127.0.0.1:1/x", db_connect_timeout=1).test_client()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"] == {"postgres": "unreachable", "redis": "ok"}
    assert "postgres" in response.get_json()["error"]["message"]
