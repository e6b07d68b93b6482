"""Retention on real Postgres: finished logins and ended families go after RETENTION_DAYS, nothing else."""

from __future__ import annotations

import uuid

import pytest

import celeryconfig
from core import db, retention, token_families
from tasks import retention as retention_task
from tests.factories import make_session, make_user

pytest_plugins = ["tests.integration.core_fixtures"]

DAYS = 30
REFRESH_TTL = 7 * 24 * 3600
FINISHED = ("approved", "consumed", "rejected", "expired", "cancelled")


def finished_session(conn, status: str, ended_days_ago: int) -> str:
    """Insert a login that left `pending` for `status` that many days ago; return its id."""
    session = make_session(conn)
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE auth_sessions SET status = %s, created_at = now() - make_interval(days => %s),"
            " expires_at = now() - make_interval(days => %s), decided_at = now() - make_interval(days => %s),"
            " consumed_at = CASE WHEN %s = 'consumed' THEN now() - make_interval(days => %s) END"
            " WHERE id = %s",
            (status, ended_days_ago, ended_days_ago, ended_days_ago, status, ended_days_ago, session.row["id"]),
        )
    return str(session.row["id"])


def family(conn, user_id: int, session_pk: str | None, *, revoked_days_ago: int | None = None,
           last_used_days_ago: int = 0) -> str:
    """Insert a token family last used (created or refreshed) that many days ago; revoked if asked."""
    row = token_families.start(conn, user_id=user_id, auth_session_pk=session_pk, client_ip="203.0.113.7", user_agent="UA")
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE token_families SET created_at = now() - make_interval(days => %s),"
            " revoked_at = now() - make_interval(days => %s), revoked_reason = CASE WHEN %s THEN 'logout' END"
            " WHERE id = %s",
            (last_used_days_ago, revoked_days_ago, revoked_days_ago is not None, row["id"]),
        )
    return str(row["id"])


def remaining(table: str) -> set[str]:
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute(f"SELECT id::text AS id FROM {table}")
        return {row["id"] for row in cur.fetchall()}


def purge() -> retention.Purged:
    with db.transaction() as conn:
        return retention.purge_batch(conn, DAYS, REFRESH_TTL)


@pytest.mark.parametrize("status", FINISHED)
def test_a_finished_login_older_than_the_retention_period_is_deleted(core_db, status):
    with db.transaction() as conn:
        old = finished_session(conn, status, DAYS + 1)
        recent = finished_session(conn, status, DAYS - 1)
    assert purge() == retention.Purged(token_families=0, auth_sessions=1)
    assert remaining("auth_sessions") == {recent}
    assert old not in remaining("auth_sessions")


def test_a_pending_login_is_kept_unless_its_expiry_passed_a_whole_retention_period_ago(core_db):
    with db.transaction() as conn:
        live = str(make_session(conn).row["id"])
        overdue = str(make_session(conn).row["id"])
        forgotten = str(make_session(conn).row["id"])  # never expired by a worker
        with conn.cursor() as cur:
            cur.execute("UPDATE auth_sessions SET expires_at = now() - interval '1 day' WHERE id = %s", (overdue,))
            cur.execute(
                "UPDATE auth_sessions SET created_at = now() - make_interval(days => %s),"
                " expires_at = now() - make_interval(days => %s) WHERE id = %s",
                (DAYS + 2, DAYS + 1, forgotten),
            )
    purge()
    assert remaining("auth_sessions") == {live, overdue}


def test_revoked_and_ended_families_go_after_the_period_and_a_live_one_stays(core_db):
    with db.transaction() as conn:
        user = make_user(conn)
        revoked_long_ago = family(conn, user["id"], None, revoked_days_ago=DAYS + 1, last_used_days_ago=DAYS + 5)
        revoked_lately = family(conn, user["id"], None, revoked_days_ago=DAYS - 1, last_used_days_ago=DAYS + 5)
        # Its last refresh token died (REFRESH_TOKEN_TTL after its last use) more than DAYS ago.
        ended_long_ago = family(conn, user["id"], None, last_used_days_ago=DAYS + 8)
        ended_lately = family(conn, user["id"], None, last_used_days_ago=DAYS + 6)
        active = family(conn, user["id"], None, last_used_days_ago=1)
    assert purge().token_families == 2
    assert remaining("token_families") == {revoked_lately, ended_lately, active}
    assert {revoked_long_ago, ended_long_ago}.isdisjoint(remaining("token_families"))
    assert remaining("users") == {str(user["id"])}  # an account is not a finished login


def test_a_login_is_kept_while_the_family_it_started_is_kept(core_db):
    with db.transaction() as conn:
        user = make_user(conn)
        still_logged_in = finished_session(conn, "consumed", DAYS + 3)
        logged_out = finished_session(conn, "consumed", DAYS + 3)
        active = family(conn, user["id"], still_logged_in, last_used_days_ago=1)
        family(conn, user["id"], logged_out, revoked_days_ago=DAYS + 1, last_used_days_ago=DAYS + 3)
    assert purge() == retention.Purged(token_families=1, auth_sessions=1)
    assert remaining("auth_sessions") == {still_logged_in}
    assert remaining("token_families") == {active}
    with db.transaction() as conn:
        assert token_families.is_live_for(conn, active, user["id"])


def test_a_deleted_family_reads_as_revoked(core_db):
    # Deleting instead of keeping a revoked row must never bring its tokens back.
    missing = str(uuid.uuid4())
    with db.transaction() as conn:
        user = make_user(conn)
        assert not token_families.is_live_for(conn, missing, user["id"])
        rotation = token_families.rotate(conn, missing, "jti", max_age_seconds=30 * 86400)
        assert rotation.outcome is token_families.RotationOutcome.UNKNOWN


def test_running_twice_deletes_nothing_more(core_db):
    with db.transaction() as conn:
        finished_session(conn, "rejected", DAYS + 1)
        kept = finished_session(conn, "rejected", 1)
    assert purge().total == 1
    assert purge().total == 0
    assert remaining("auth_sessions") == {kept}


def test_the_task_works_through_a_backlog_in_batches(core_db, monkeypatch):
    monkeypatch.setattr(retention, "BATCH_SIZE", 2)
    with db.transaction() as conn:
        for _ in range(5):
            finished_session(conn, "expired", DAYS + 1)
        kept = finished_session(conn, "expired", 1)
    batches = []
    real_purge_batch = retention.purge_batch

    def counting_purge_batch(conn, *args, **kwargs):
        batches.append(real_purge_batch(conn, *args, **kwargs))
        return batches[-1]

    monkeypatch.setattr(retention, "purge_batch", counting_purge_batch)
    retention_task.purge_finished_logins()
    assert remaining("auth_sessions") == {kept}
    assert [b.auth_sessions for b in batches] == [2, 2, 1]


def test_beat_runs_the_retention_task_periodically():
    entries = [entry["task"] for entry in celeryconfig.beat_schedule.values()]
    assert retention_task.PURGE_FINISHED_LOGINS in entries
    assert "tasks.retention" in celeryconfig.imports
