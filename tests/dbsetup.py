"""Bring a fresh test database to the current schema (called by tests/conftest.py)."""

from core import migrations


def prepare_database(url: str) -> None:
    """Apply every migration to the database at `url`."""
    migrations.upgrade(url)
