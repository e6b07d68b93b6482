"""The production guard asks Postgres how the processes connect: no role that row-level security lets past.

Roles belong to the whole server, so each test creates its own with a random name and drops it.
"""

from __future__ import annotations

import contextlib
import secrets
import urllib.parse
from typing import Callable, Iterator

import psycopg2
import psycopg2.errors
import pytest

from core import database_guard, db
from core.migrations import MIGRATIONS_DIR
from core.settings import ConfigError, Settings
from tests.integration.test_db_roles import APP_GROUP, as_role, make_role, run_as_admin  # noqa: F401

STRONG_PASSWORD = "Vq3xN8pL2rT7wY4z"


def problems_as(url: str) -> list[str]:
    conn = db.connect(url)
    try:
        return database_guard.problems(conn)
    finally:
        conn.close()


def production(url: str) -> Settings:
    return Settings(app_env="production", database_url=url, redis_url="redis://127.0.0.1:1/0")


@pytest.fixture
def make_special_role(postgres_server_url: str, database_url: str) -> Iterator[Callable[[str], str]]:
    """Return a function creating a login role with extra attributes (SUPERUSER, BYPASSRLS); it returns its URL."""
    created: list[str] = []

    def make(attributes: str) -> str:
        role = f"dom_test_role_{secrets.token_hex(4)}"
        password = secrets.token_urlsafe(16)
        run_as_admin(postgres_server_url, f"CREATE ROLE {role} LOGIN PASSWORD '{password}' {attributes} IN ROLE {APP_GROUP}")
        created.append(role)
        return as_role(database_url, role, password)

    yield make
    for role in created:
        run_as_admin(database_url, f"DROP OWNED BY {role}")
        run_as_admin(postgres_server_url, f"DROP ROLE {role}")


@pytest.fixture
def api_roles(postgres_server_url: str, database_url: str) -> Iterator[None]:
    """Create Supabase's anon and authenticated roles when the server lacks them; drop the ones made here."""
    made = []
    for role in database_guard.DATA_API_ROLES:
        conn = psycopg2.connect(postgres_server_url)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
                exists = cur.fetchone() is not None
        finally:
            conn.close()
        if not exists:
            # Another test run on the same server may be creating it too.
            with contextlib.suppress(psycopg2.errors.DuplicateObject, psycopg2.errors.UniqueViolation):
                run_as_admin(postgres_server_url, f"CREATE ROLE {role} NOLOGIN")
                made.append(role)
    yield
    for role in database_guard.DATA_API_ROLES:
        run_as_admin(database_url, f"REVOKE ALL ON schema_migrations FROM {role}")
    for role in made:
        run_as_admin(database_url, f"DROP OWNED BY {role}")
        # Another run's database may hold grants to it still: then that run drops it.
        with contextlib.suppress(psycopg2.errors.DependentObjectsStillExist):
            run_as_admin(postgres_server_url, f"DROP ROLE {role}")


def test_a_login_role_of_the_app_group_passes(make_role):
    assert problems_as(make_role(in_app_group=True)) == []


def test_a_superuser_is_named(database_url):
    # The test server's admin connection is a superuser, as a default Postgres install gives you.
    [problem] = problems_as(database_url)
    assert problem.startswith("DATABASE_URL connects as the superuser")
    assert "row-level security" in problem


def test_a_role_with_bypassrls_is_named(make_special_role):
    [problem] = problems_as(make_special_role("BYPASSRLS"))
    assert "BYPASSRLS" in problem


def test_the_tables_owner_is_named_with_the_tables(make_role, database_url):
    owner_url = make_role(in_app_group=False)
    owner = urllib.parse.urlsplit(owner_url).username
    run_as_admin(database_url, f"ALTER TABLE token_families OWNER TO {owner}")
    try:
        [problem] = problems_as(owner_url)
    finally:
        run_as_admin(database_url, "ALTER TABLE token_families OWNER TO CURRENT_USER")
    assert problem.startswith(f"DATABASE_URL connects as the owner of token_families ({owner})")
    assert "MIGRATION_DATABASE_URL" in problem


def test_a_member_of_the_owner_role_counts_as_the_owner(make_role, database_url, postgres_server_url):
    owner_url, member_url = make_role(in_app_group=False), make_role(in_app_group=True)
    owner, member = urllib.parse.urlsplit(owner_url).username, urllib.parse.urlsplit(member_url).username
    run_as_admin(database_url, f"ALTER TABLE users OWNER TO {owner}")
    run_as_admin(postgres_server_url, f"GRANT {owner} TO {member}")
    try:
        [problem] = problems_as(member_url)
    finally:
        run_as_admin(database_url, "ALTER TABLE users OWNER TO CURRENT_USER")
    assert problem.startswith("DATABASE_URL connects as the owner of users")


def test_schema_migrations_readable_by_supabases_api_roles_is_named(make_role, api_roles, database_url):
    app_url = make_role(in_app_group=True)
    assert problems_as(app_url) == []
    run_as_admin(database_url, "GRANT SELECT ON schema_migrations TO anon, authenticated")
    [problem] = problems_as(app_url)
    assert problem.startswith("schema_migrations is readable by anon and authenticated")
    assert "REVOKE ALL ON schema_migrations FROM anon, authenticated" in problem


def test_the_migration_takes_back_supabases_default_grant(make_role, api_roles, database_url):
    # Supabase's default privileges grant every new table of the public schema to its API roles.
    run_as_admin(database_url, "GRANT ALL ON schema_migrations TO anon, authenticated")
    [migration] = MIGRATIONS_DIR.glob("0007_*.sql")
    sql = migration.read_text(encoding="utf-8")
    run_as_admin(database_url, sql[sql.index("DO $$"):])  # its indexes exist already
    assert problems_as(make_role(in_app_group=True)) == []


def test_production_refuses_to_start_naming_each_problem_and_development_does_not(database_url, make_role):
    with pytest.raises(ConfigError) as refused:
        database_guard.ensure_safe(production(database_url), "worker")
    assert str(refused.value).startswith("refusing to start the worker process:\n  - DATABASE_URL connects as the superuser")
    database_guard.ensure_safe(production(database_url).with_overrides(app_env="development"), "worker")
    database_guard.ensure_safe(production(make_role(in_app_group=True)), "web")


def test_an_unreachable_database_is_not_judged():
    database_guard.ensure_safe(production(f"postgresql://app:{STRONG_PASSWORD}@127.0.0.1:1/dance"), "bot")
