"""The connection pool and migrations on real Postgres."""

from __future__ import annotations

import threading
import time

import psycopg2
import psycopg2.errors
import psycopg2.extensions
import pytest

from core import db, migrations
from core.errors import ServiceUnavailable
from core.settings import Settings

pytest_plugins = ["tests.integration.core_fixtures"]


def test_transaction_commits_and_rolls_back(core_db):
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("CREATE TEMP TABLE IF NOT EXISTS t (x int)")
    with pytest.raises(RuntimeError):
        with db.transaction() as conn, conn.cursor() as cur:
            cur.execute("INSERT INTO users (phone_number, telegram_id) VALUES ('+79161111111', 1)")
            raise RuntimeError("boom")
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM users")
        assert cur.fetchone()["n"] == 0


def test_a_one_statement_transaction_is_all_or_nothing_and_leaves_the_connection_transactional(core_db):
    after: list[str] = []
    with pytest.raises(psycopg2.errors.UniqueViolation):
        with db.transaction(one_statement=True) as conn, conn.cursor() as cur:
            cur.execute(
                "INSERT INTO users (phone_number, telegram_id) VALUES ('+79161111111', 1);"
                " INSERT INTO users (phone_number, telegram_id) VALUES ('+79161111112', 1)"
            )
    with db.transaction(one_statement=True) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM users")
        assert cur.fetchone()["n"] == 0
        db.after_commit(conn, lambda: after.append("committed"))
        with pytest.raises(RuntimeError):
            db.before_commit(conn, lambda: None)
    assert after == ["committed"]
    with db.transaction() as conn, conn.cursor() as cur:
        assert not conn.autocommit
        cur.execute("INSERT INTO users (phone_number, telegram_id) VALUES ('+79161111113', 3)")
        conn.rollback()  # a pooled connection must not have committed the insert on its own
        cur.execute("SELECT count(*) AS n FROM users")
        assert cur.fetchone()["n"] == 0


def test_pool_waits_for_a_free_connection_then_gives_up(core_settings):
    pool = db.configure(core_settings.with_overrides(db_pool_size=1, db_pool_wait=0.3))
    try:
        held = threading.Event()
        release = threading.Event()

        def hold():
            with db.transaction():
                held.set()
                release.wait(5)

        holder = threading.Thread(target=hold)
        holder.start()
        held.wait(5)
        started = time.monotonic()
        with pytest.raises(ServiceUnavailable):
            with db.transaction():
                pass
        assert 0.25 <= time.monotonic() - started < 2
        release.set()
        holder.join()
        with db.transaction() as conn, conn.cursor() as cur:  # the slot came back
            cur.execute("SELECT 1")
    finally:
        pool.close()


def test_pool_keeps_its_connections_open(core_settings):
    db.configure(core_settings.with_overrides(db_pool_size=2))
    pids = set()
    for _ in range(5):
        with db.transaction() as conn, conn.cursor() as cur:
            cur.execute("SELECT pg_backend_pid() AS pid")
            pids.add(cur.fetchone()["pid"])
    assert len(pids) == 1  # reused, not reopened


def terminate_backend(database_url: str, pid: int) -> None:
    """End one server process, as a Postgres restart or an admin would, and wait until it is gone."""
    admin = db.connect(database_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        # pg_terminate_backend only signals the process; with a timeout it waits for its exit.
        cur.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))
    admin.close()


def test_a_connection_killed_while_pooled_is_replaced_before_use(core_settings, database_url):
    db.configure(core_settings.with_overrides(db_pool_size=1))
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_backend_pid() AS pid")
        victim = cur.fetchone()["pid"]
    terminate_backend(database_url, victim)
    # The server hung up on the idle connection: seen when it is taken, so no caller pays for it.
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_backend_pid() AS pid")
        assert cur.fetchone()["pid"] != victim


def test_a_connection_killed_while_in_use_is_discarded_not_reused(core_settings, database_url):
    db.configure(core_settings.with_overrides(db_pool_size=1))
    with pytest.raises(ServiceUnavailable):
        with db.transaction() as conn, conn.cursor() as cur:
            cur.execute("SELECT pg_backend_pid() AS pid")
            victim = cur.fetchone()["pid"]
            terminate_backend(database_url, victim)
            cur.execute("SELECT 1")
    with db.transaction() as conn, conn.cursor() as cur:  # recovers without a restart
        cur.execute("SELECT pg_backend_pid() AS pid")
        assert cur.fetchone()["pid"] != victim


def test_unreachable_postgres_is_service_unavailable_quickly():
    db.configure(Settings(app_env="test", database_url="postgresql://postgres@127.0.0.1:1/none", db_pool_size=1))
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable):
        with db.transaction():
            pass
    assert time.monotonic() - started < 5


def test_migrations_are_idempotent_and_tracked(database_url):
    assert migrations.upgrade(database_url) == []
    assert migrations.pending(database_url) == []
    conn = db.connect(database_url)
    with conn.cursor() as cur:
        cur.execute("SELECT version FROM schema_migrations ORDER BY version")
        assert [r["version"] for r in cur.fetchall()] == [m.version for m in migrations.discover()]
    conn.close()


def test_migrations_on_an_empty_database_apply_all_even_concurrently(postgres_server_url, tmp_path):
    admin = psycopg2.connect(postgres_server_url)
    admin.autocommit = True
    name = f"dom_migrate_{int(time.time() * 1000)}"
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        url = psycopg2.extensions.make_dsn(postgres_server_url, dbname=name)
        results: list[list[str]] = []
        threads = [threading.Thread(target=lambda: results.append(migrations.upgrade(url))) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(len(r) for r in results) == [0, 0, len(migrations.discover())]
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.close()


def test_migration_file_names_are_checked(tmp_path):
    (tmp_path / "1_bad.sql").write_text("SELECT 1")
    with pytest.raises(ValueError):
        migrations.discover(tmp_path)
