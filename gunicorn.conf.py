"""Gunicorn settings for `gunicorn wsgi:app` (GUNICORN_CMD_ARGS and the command line still win)."""

import logging
import os
import shutil
import sys
import tempfile

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", 2))
# gevent: a waiting long poll is a parked greenlet (measured in docs/operations.md, "Scaling"), so one worker
# holds thousands; gthread would need one OS thread per waiting browser.
worker_class = "gevent"
# Simultaneous connections per worker (waiting long polls included).
worker_connections = 5000
timeout = 30
graceful_timeout = 10
# Keep idle keep-alive connections longer than a client's poll interval (and than the 60 s idle
# timeout of common load balancers): with gunicorn's default of 2 s, a browser polling every 2 s
# races the server closing its connection and sees "connection reset".
keepalive = 65
accesslog = "-"
# Session ids travel in URL paths; this logger writes them as *** in the access log. A top-level
# module, so that the master never imports the app: modules imported before a gevent worker
# monkey-patches keep real thread locks, and a real lock held across a greenlet switch hangs
# the whole worker (seen: two first requests building a Redis pool under one).
logger_class = "access_log.RedactingLogger"
# gunicorn's default line plus the request's id (webapp/request_id.py), to join it with the app's lines.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" request_id=%({x-request-id}o)s'
limit_request_line = 4094
# gunicornc is not used, and every instance on a machine would share the one default socket path.
control_socket_disable = True


def post_worker_init(worker) -> None:
    """Tune a gevent worker (after gunicorn's monkey patching): cooperative psycopg2, light greenlets."""
    # Only here, in the web worker: the release command, Celery and the bot stay unpatched.
    if worker.__class__.__module__.startswith("gunicorn.workers.ggevent"):
        import gevent
        import psycogreen.gevent

        psycogreen.gevent.patch_psycopg()
        # Each connection's greenlet would keep a copy of the stack that spawned it (a debugging
        # aid): 0.5 KB more per waiting long poll, and time at every new connection.
        gevent.config.track_greenlet_tree = False
        worker.wsgi = direct_wsgi_callable(worker.wsgi)


def direct_wsgi_callable(app):
    """Return the Flask app's `wsgi_app` (all that `Flask.__call__` calls), else the app itself.

    Calling the app object goes through C (a class's __call__), so each request's greenlet keeps
    one more interpreter C frame on its stack: about 1.1 KB more per waiting long poll, measured.
    """
    from flask import Flask

    return app.wsgi_app if isinstance(app, Flask) else app


# No post_fork pool setup: the app is not preloaded, and core.db.get_pool() builds a new pool
# whenever the process id changes, so no worker can inherit the master's connections.


def _prepare_metrics_dir() -> str | None:
    """Give this master's workers one fresh directory for their shared Prometheus metrics; return it if ours."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        # prometheus_client's rule: wipe the directory between runs, or old workers' files count again.
        os.makedirs(given, exist_ok=True)
        for name in os.listdir(given):
            if name.endswith(".db"):
                os.unlink(os.path.join(given, name))
        return None
    created = tempfile.mkdtemp(prefix="dom-prometheus-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = created
    return created


# Here, while gunicorn reads this file, not in on_starting: the master imports prometheus_client
# (through logger_class's package) before that hook, and it picks its storage at import time.
_metrics_dir_created = _prepare_metrics_dir()


def on_starting(server) -> None:
    """Refuse an unsafe database role; with LOG_FORMAT=json, make gunicorn's own lines JSON too."""
    from core import database_guard, logs, settings

    settings.load_dotenv_file()
    # Here, once in the master, not in create_app: the release command and tests build the app too.
    try:
        database_guard.ensure_safe(settings.get_settings(), "web")
    except settings.ConfigError as exc:
        print(exc, file=sys.stderr, flush=True)
        raise SystemExit(2) from None
    log_format = os.environ.get("LOG_FORMAT", "").strip().lower() or "text"
    # Text keeps gunicorn's own layout; an unknown value is refused by the app's settings check.
    if log_format == "json":
        for name in ("gunicorn.error", "gunicorn.access"):
            logs.apply_format(logging.getLogger(name), log_format)


def when_ready(server) -> None:
    """Warn in the master's log when /metrics is open to other machines (METRICS_TOKEN unset)."""
    from core import config_checks

    # The addresses really bound: HOST, or a --bind of the command line or GUNICORN_CMD_ARGS
    # (.env is already in the environment: on_starting read it).
    hosts = [address[0] for address in server.cfg.address if isinstance(address, tuple)]
    for warning in config_checks.metrics_token_warnings(os.environ.get("METRICS_TOKEN", "").strip(), hosts):
        server.log.warning("%s", warning)


def child_exit(server, worker) -> None:
    """Drop a dead worker's live gauges (its waiting long polls) from /metrics."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server) -> None:
    """Remove the metrics directory this master created."""
    if _metrics_dir_created:
        shutil.rmtree(_metrics_dir_created, ignore_errors=True)
