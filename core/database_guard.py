"""The production guard's database half: how the processes connect, asked of Postgres at start.

Row-level security (migration 0003) protects nothing from a superuser, a BYPASSRLS role or the
tables' owner: Postgres lets them past every policy without a word. And Supabase's Data API
serves to anyone holding the public anon key whatever its `anon` and `authenticated` roles may
read. Settings alone can't tell any of this, so every process asks the database once at start.
"""

from __future__ import annotations

import logging

import psycopg2
import psycopg2.extras

from core.settings import ConfigError, Settings

log = logging.getLogger(__name__)

# Supabase's Data API roles: requests with the public anon key, and with a signed-in user's JWT.
DATA_API_ROLES = ("anon", "authenticated")
CONNECT_TIMEOUT_SECONDS = 5
ROLES_HELP = "connect as a login role in dance_of_mind_app (docs/operations.md, 'Database roles')"


def role_problems(conn) -> list[str]:
    """Name what lets the connected role bypass row-level security: superuser, BYPASSRLS, owning the tables."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT current_user AS role, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        )
        role = cur.fetchone()
        if role["rolsuper"]:
            return [f"DATABASE_URL connects as the superuser {role['role']}, which bypasses row-level security: {ROLES_HELP}"]
        found = []
        if role["rolbypassrls"]:
            found.append(f"DATABASE_URL connects as {role['role']}, which has BYPASSRLS: {ROLES_HELP}")
        # Owning, or inheriting the owner's rights, is the same: the owner passes every policy.
        cur.execute(
            "SELECT c.relname FROM pg_class c"
            " WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r' AND c.relrowsecurity"
            " AND pg_has_role(current_user, c.relowner, 'USAGE') ORDER BY c.relname"
        )
        owned = [row["relname"] for row in cur.fetchall()]
        if owned:
            found.append(
                f"DATABASE_URL connects as the owner of {', '.join(owned)} ({role['role']}), which bypasses "
                f"row-level security: migrate with MIGRATION_DATABASE_URL and {ROLES_HELP}"
            )
    return found


def exposure_problems(conn) -> list[str]:
    """Name the Supabase Data API roles that may read schema_migrations (a table without row-level security)."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT r.rolname FROM pg_roles r WHERE r.rolname = ANY (%s)"
            " AND to_regclass('schema_migrations') IS NOT NULL"
            " AND has_table_privilege(r.rolname, to_regclass('schema_migrations'), 'SELECT')"
            " ORDER BY r.rolname",
            (list(DATA_API_ROLES),),
        )
        readers = [row["rolname"] for row in cur.fetchall()]
    if not readers:
        return []
    return [
        f"schema_migrations is readable by {' and '.join(readers)}, which Supabase's Data API serves to anyone "
        f"with the public anon key: REVOKE ALL ON schema_migrations FROM {', '.join(readers)}"
    ]


def problems(conn) -> list[str]:
    """Name every way this connection weakens the database's protections."""
    return role_problems(conn) + exposure_problems(conn)


def ensure_safe(settings: Settings, process: str) -> None:
    """Outside development/test, raise ConfigError naming each database problem of `process`'s connection.

    An unreachable database is not judged: the process starts, and its readiness check and
    first queries report the outage as they would at any other time.
    """
    if settings.relaxed or not settings.database_url:
        return
    try:
        # Not core.db: gunicorn's master runs this, and its workers must not inherit that module's locks.
        conn = psycopg2.connect(
            settings.database_url, connect_timeout=CONNECT_TIMEOUT_SECONDS, cursor_factory=psycopg2.extras.RealDictCursor
        )
    except psycopg2.OperationalError as exc:
        log.warning("could not check the database role at start (%s)", " ".join(str(exc).split())[:200])
        return
    try:
        found = problems(conn)
    finally:
        conn.close()
    if found:
        raise ConfigError(f"refusing to start the {process} process:\n" + "\n".join(f"  - {p}" for p in found))
