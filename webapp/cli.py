"""`flask --app wsgi db upgrade` (the Procfile's release step) and `flask --app wsgi doctor`."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from core import migrations
from core.settings import Settings
from webapp import doctor

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


@click.command("doctor")
@with_appcontext
def doctor_command() -> None:
    """Check the settings, Postgres, Redis, the bot token, the webhook and a worker; one line each."""
    app_settings = current_app.extensions.get("settings")
    results = doctor.run(app_settings)
    for result in results:
        click.echo(result.line())
    failed = sum(result.status == doctor.FAIL for result in results)
    click.echo(f"{failed} check(s) failed" if failed else "all checks passed")
    if failed:
        raise SystemExit(1)


def doctor_requested(argv: list[str]) -> bool:
    """Tell whether this process is `flask ... doctor`."""
    return "doctor" in argv[1:] and argv[0].endswith(("flask", "flask/__main__.py"))


def doctor_app() -> Flask:
    """Return a bare app that only knows `doctor`: it must run where create_app() refuses to start."""
    app = Flask("doctor")
    app.cli.add_command(doctor_command)
    return app
