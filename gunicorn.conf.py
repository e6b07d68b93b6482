"""Gunicorn settings for `gunicorn wsgi:app` (GUNICORN_CMD_ARGS and the command line still win)."""

import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", 2))
# gevent: a waiting long poll is a parked greenlet (measured in README, "Scaling"), so one worker
# holds thousands; gthread would need one OS thread per waiting browser.
worker_class = "gevent"
# Simultaneous connections per worker (waiting long polls included).
worker_connections = 5000
timeout = 30
graceful_timeout = 10
accesslog = "-"
# Session ids travel in URL paths; this logger writes them as *** in the access log.
logger_class = "webapp.access_log.RedactingLogger"
limit_request_line = 4094
# gunicornc is not used, and every instance on a machine would share the one default socket path.
control_socket_disable = True


def post_worker_init(worker) -> None:
    """Make psycopg2 wait cooperatively in a gevent worker (after gunicorn's monkey patching)."""
    # Only here, in the web worker: the release command, Celery and the bot stay unpatched.
    if worker.__class__.__module__.startswith("gunicorn.workers.ggevent"):
        import psycogreen.gevent

        psycogreen.gevent.patch_psycopg()


# No post_fork pool setup: the app is not preloaded, and core.db.get_pool() builds a new pool
# whenever the process id changes, so no worker can inherit the master's connections.
