"""Apply the numbered SQL files in `migrations/`, each once, tracked in `schema_migrations`."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from core import db
from core.settings import PROJECT_ROOT

log = logging.getLogger(__name__)

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"
MIGRATION_FILE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
# Any constant works; it only has to be the same in every process that migrates concurrently.
ADVISORY_LOCK_KEY = 7_305_001


@dataclass(frozen=True)
class Migration:
    """One numbered SQL file."""

    version: str
    path: Path


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """List the migration files in version order, refusing duplicate numbers."""
    found: dict[str, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = MIGRATION_FILE.match(path.name)
        if not match:
            raise ValueError(f"migration file name must look like 0001_name.sql: {path.name}")
        version = match.group(1)
        if version in found:
            raise ValueError(f"two migrations share version {version}")
        found[version] = Migration(version, path)
    return [found[v] for v in sorted(found)]


def upgrade(dsn: str, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply every pending migration, each in its own transaction; return the versions applied.

    An advisory lock makes two `release` commands running at once take turns, so each file is
    applied exactly once.
    """
    applied_now: list[str] = []
    conn = db.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
            cur.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version text PRIMARY KEY,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            conn.commit()
            cur.execute("SELECT version FROM schema_migrations")
            done = {row["version"] for row in cur.fetchall()}
        for migration in discover(directory):
            if migration.version in done:
                continue
            with conn.cursor() as cur:
                cur.execute(migration.path.read_text(encoding="utf-8"))
                cur.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (migration.version,))
            conn.commit()
            log.info("applied migration %s", migration.path.name)
            applied_now.append(migration.version)
    except BaseException:
        conn.rollback()
        raise
    finally:
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_LOCK_KEY,))
            conn.commit()
        finally:
            conn.close()
    return applied_now


def pending(dsn: str, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Return the versions not yet applied (all of them on an empty database)."""
    conn = db.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT to_regclass('schema_migrations') AS t")
            if cur.fetchone()["t"] is None:
                done: set[str] = set()
            else:
                cur.execute("SELECT version FROM schema_migrations")
                done = {row["version"] for row in cur.fetchall()}
        return [m.version for m in discover(directory) if m.version not in done]
    finally:
        conn.close()
