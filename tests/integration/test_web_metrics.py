"""GET /metrics: Prometheus text; login outcomes counted wherever they happen; nothing secret in it."""

from __future__ import annotations

import re

from prometheus_client.parser import text_string_to_metric_families

from core import auth_sessions, db, shared_metrics
from tests.integration.conftest import session_row


def scrape(client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Return every sample of /metrics by (name, sorted labels)."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain" and "version=" in response.headers["Content-Type"]
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def logins(samples, outcome: str) -> float:
    return samples.get(("auth_logins_total", (("outcome", outcome),)), 0.0)


def test_every_outcome_is_counted(client, make_app, linked_user, start_login, decide):
    before = scrape(client)
    approved = start_login(linked_user["phone_number"])
    decide(approved["session_id"], linked_user["telegram_id"], True)
    rejected = start_login(linked_user["phone_number"])
    decide(rejected["session_id"], linked_user["telegram_id"], False)
    cancelled = start_login("+79160000001")
    assert client.delete(f"/api/auth/session/{cancelled['session_id']}").status_code == 200
    expired = start_login("+79160000002")
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("UPDATE auth_sessions SET expires_at = now() - interval '1 second' WHERE id = %s",
                    (str(session_row(expired["session_id"])["id"]),))
    with db.transaction() as conn:  # what the worker's expiry task does
        assert auth_sessions.expire_if_overdue(conn, str(session_row(expired["session_id"])["id"])) is not None

    after = scrape(client)
    for outcome in shared_metrics.OUTCOMES:
        assert logins(after, outcome) - logins(before, outcome) == 1, outcome
    count = ("auth_approval_seconds_count", ())
    assert after[count] - before.get(count, 0.0) == 1
    inf = ("auth_approval_seconds_bucket", (("le", "+Inf"),))
    assert after[inf] - before.get(inf, 0.0) == 1


def test_a_rolled_back_transition_is_not_counted(client, start_login):
    before = scrape(client)
    started = start_login("+79160000003")
    try:
        with db.transaction() as conn:
            auth_sessions.cancel(conn, started["session_id"])
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    assert logins(scrape(client), "cancelled") == logins(before, "cancelled")


def test_requests_are_counted_by_route_template_and_never_reveal_secrets(client, login):
    tokens = login()
    client.get("/api/auth/status/not-a-real-session")
    client.get("/no/such/page")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'route="/api/auth/status/<path:session_id>"' in text and 'route="unmatched"' in text
    assert "not-a-real-session" not in text and "/no/such/page" not in text
    assert tokens["access_token"] not in text and tokens["refresh_token"] not in text
    # No phone number, in any form; digits inside a sample's value (a float like 1.7964760791686999e+09) are not one.
    assert not re.search(r"(?<![\d.])\+?7916\d{7}(?!\d)", text)
    assert "http_request_duration_seconds_bucket" in text


def test_rate_limit_hits_are_counted(make_app):
    client = make_app(rate_limit_init_per_ip="1/minute").test_client()
    before = scrape(client)
    for _ in range(2):
        client.post("/api/auth/init", json={"phone_number": "+79160000004"})
    key = ("rate_limit_hits_total", (("limit", "init-ip"),))
    assert scrape(client)[key] - before.get(key, 0.0) == 1


def test_telegram_failures_and_retries_are_exposed(client):
    before = scrape(client)
    shared_metrics.count(shared_metrics.PROMPT_SEND_FAILURES)
    shared_metrics.count(shared_metrics.TELEGRAM_RETRIES, 2)
    after = scrape(client)
    assert after[("telegram_prompt_send_failures_total", ())] - before[("telegram_prompt_send_failures_total", ())] == 1
    assert after[("telegram_retries_total", ())] - before[("telegram_retries_total", ())] == 2
    assert ("auth_long_polls_waiting", ()) in after
