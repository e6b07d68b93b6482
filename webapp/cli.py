"""`flask --app wsgi db upgrade`: apply pending SQL migrations (the Procfile's release step)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from core import migrations
from core.settings import Settings

db_cli = AppGroup("db", help="Manage the database schema.")


@db_cli.command("upgrade")
def upgrade_command() -> None:
    """Apply every pending migration, printing the versions applied."""
    settings: Settings = current_app.extensions["settings"]
    applied = migrations.upgrade(settings.release_database_url)
    if applied:
        click.echo(f"applied migrations: {', '.join(applied)}")
    else:
        click.echo("database is up to date")
