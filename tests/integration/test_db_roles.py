"""Database roles on real Postgres: the app's role moves rows but changes no schema; RLS hides rows.

Roles belong to the whole server, so each test creates its own with a random name and drops it.
"""

from __future__ import annotations

import secrets
import urllib.parse
from typing import Any, Callable, Iterator

import psycopg2
import psycopg2.errors
import pytest
from flask import Flask

from core import db, migrations
from devstack.services import create_database, drop_database
from tests.integration.test_web_cli import flask_db_upgrade

APP_GROUP = "dance_of_mind_app"
APP_TABLES = ("users", "auth_sessions", "token_families")


def as_role(url: str, role: str, password: str) -> str:
    """Return `url` with its user and password replaced (host, port, database and options kept)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{role}:{password}@{host}"))


def run_as_admin(url: str, *statements: str) -> None:
    """Run statements as the test server's superuser, each committed."""
    conn = psycopg2.connect(url, connect_timeout=5)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
    finally:
        conn.close()


@pytest.fixture
def make_role(postgres_server_url: str, database_url: str) -> Iterator[Callable[..., str]]:
    """Return a function creating a login role (in the app group or not); it returns the role's URL."""
    created: list[str] = []

    def make(in_app_group: bool) -> str:
        role = f"dom_test_role_{secrets.token_hex(4)}"
        password = secrets.token_urlsafe(16)
        membership = f" IN ROLE {APP_GROUP}" if in_app_group else ""
        run_as_admin(postgres_server_url, f"CREATE ROLE {role} LOGIN PASSWORD '{password}'{membership}")
        created.append(role)
        return as_role(database_url, role, password)

    yield make
    db.get_pool().close()  # the app's pool may hold connections as these roles
    for role in created:
        # Grants in the test database keep a role from being dropped; DROP OWNED removes them.
        run_as_admin(database_url, f"DROP OWNED BY {role}")
        run_as_admin(postgres_server_url, f"DROP ROLE {role}")


def connect(url: str) -> Any:
    conn = psycopg2.connect(url, connect_timeout=5)
    conn.autocommit = True
    return conn


def refused(conn: Any, statement: str) -> bool:
    """Tell whether Postgres refuses `statement` for lack of privilege."""
    with conn.cursor() as cur:
        try:
            cur.execute(statement)
        except psycopg2.errors.InsufficientPrivilege:
            return True
    return False


def test_the_migrations_put_every_table_under_row_level_security_with_an_app_policy(database_url):
    conn = connect(database_url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT c.relname, c.relrowsecurity,"
                " EXISTS (SELECT 1 FROM pg_policy p JOIN pg_roles r ON r.oid = ANY (p.polroles)"
                "         WHERE p.polrelid = c.oid AND r.rolname = %s) AS app_policy"
                " FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'"
                " AND c.relname <> 'schema_migrations' ORDER BY c.relname",
                (APP_GROUP,),
            )
            tables = {name: (rls, policy) for name, rls, policy in cur.fetchall()}
    finally:
        conn.close()
    # A new table must come with its grant and policy (see migration 0003): this test says so.
    assert set(APP_TABLES) <= set(tables)
    assert tables == {name: (True, True) for name in tables}


def test_the_app_role_reads_and_writes_rows_but_changes_no_schema(make_role, clean_tables):
    conn = connect(make_role(in_app_group=True))
    try:
        with conn.cursor() as cur:
            cur.execute(
                "INSERT INTO users (phone_number, telegram_id) VALUES ('+79161234567', 4242) RETURNING id"
            )
            user_id = cur.fetchone()[0]
            cur.execute("UPDATE users SET first_name = 'Anna' WHERE id = %s", (user_id,))
            cur.execute(
                "INSERT INTO auth_sessions (secret_hash, start_token, phone_number, user_id, expires_at)"
                " VALUES ('\\x01', 'tok', '+79161234567', %s, now() + interval '5 minutes') RETURNING id",
                (user_id,),
            )
            session_id = cur.fetchone()[0]
            cur.execute(
                "INSERT INTO token_families (id, user_id, auth_session_id, current_refresh_jti)"
                " VALUES (gen_random_uuid(), %s, %s, 'jti')",
                (user_id, session_id),
            )
            cur.execute("SELECT count(*) FROM users JOIN auth_sessions ON auth_sessions.user_id = users.id")
            assert cur.fetchone()[0] == 1
            cur.execute("DELETE FROM users WHERE id = %s", (user_id,))
            assert cur.rowcount == 1

        assert refused(conn, "CREATE TABLE planted (id int)")
        assert refused(conn, "CREATE SCHEMA planted")
        assert refused(conn, "DROP TABLE token_families")
        assert refused(conn, "ALTER TABLE users ADD COLUMN planted text")
        assert refused(conn, "ALTER TABLE users DISABLE ROW LEVEL SECURITY")
        assert refused(conn, "TRUNCATE token_families")
        assert refused(conn, "CREATE INDEX planted ON users (first_name)")
        assert refused(conn, "SELECT * FROM schema_migrations")
    finally:
        conn.close()


def test_a_role_outside_the_app_group_sees_no_rows_even_with_select(
    make_role, clean_tables, database_url, postgres_server_url
):
    outsider_url = make_role(in_app_group=False)
    outsider = urllib.parse.urlsplit(outsider_url).username
    run_as_admin(
        database_url,
        "INSERT INTO users (phone_number, telegram_id) VALUES ('+79161234568', 4343)",
        "INSERT INTO auth_sessions (secret_hash, start_token, phone_number, user_id, expires_at)"
        " SELECT '\\x02', 'tok2', phone_number, id, now() + interval '5 minutes' FROM users",
        "INSERT INTO token_families (id, user_id, auth_session_id, current_refresh_jti)"
        " SELECT gen_random_uuid(), user_id, id, 'jti2' FROM auth_sessions",
        # A reporting role, say, given read access to everything.
        f"GRANT SELECT, INSERT ON {', '.join(APP_TABLES)} TO {outsider}",
    )
    conn = connect(outsider_url)
    try:
        with conn.cursor() as cur:
            for table in APP_TABLES:
                cur.execute(f"SELECT count(*) FROM {table}")
                assert cur.fetchone()[0] == 0, table
            with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="row-level security"):
                cur.execute("INSERT INTO users (phone_number, telegram_id) VALUES ('+79161234569', 4444)")
    finally:
        conn.close()


@pytest.fixture
def app(make_app: Callable[..., Flask], make_role: Callable[..., str]) -> Flask:
    """The web app connected as a login role of the app group, as in production."""
    return make_app(database_url=make_role(in_app_group=True))


def test_a_whole_login_works_as_the_app_role(client, login):
    tokens = login()
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200, me.get_json()
    refreshed = client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.get_json()
    logout = client.post("/api/auth/logout", headers={"Authorization": f"Bearer {refreshed.get_json()['access_token']}"})
    assert logout.status_code == 204


@pytest.fixture
def empty_database(postgres_server_url: str) -> Iterator[str]:
    """Yield the URL of a new database without any table, dropped afterwards."""
    name = f"dom_test_roles_{secrets.token_hex(4)}"
    url = create_database(postgres_server_url, name)
    try:
        yield url
    finally:
        drop_database(postgres_server_url, name)


def test_the_release_migrates_with_the_migration_url_and_not_as_the_app(make_role, empty_database, redis_url):
    app_url = urllib.parse.urlunsplit(
        urllib.parse.urlsplit(make_role(in_app_group=True))._replace(
            path=urllib.parse.urlsplit(empty_database).path
        )
    )
    env = {"APP_ENV": "test", "DATABASE_URL": app_url, "REDIS_URL": redis_url}

    as_app = flask_db_upgrade(env)
    assert as_app.returncode != 0 and "permission denied" in as_app.stderr
    assert migrations.pending(empty_database) == [m.version for m in migrations.discover()]

    as_owner = flask_db_upgrade({**env, "MIGRATION_DATABASE_URL": empty_database})
    assert as_owner.returncode == 0, as_owner.stderr
    assert migrations.pending(empty_database) == []
