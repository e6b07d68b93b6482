"""Gunicorn settings for `gunicorn wsgi:app` (GUNICORN_CMD_ARGS and the command line still win)."""

import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", 2))
# Threads let one worker serve many short polls; long polling (a later issue) will revisit this.
worker_class = "gthread"
threads = 8
timeout = 30
graceful_timeout = 10
accesslog = "-"
# Session ids travel in URL paths; this logger writes them as *** in the access log.
logger_class = "webapp.access_log.RedactingLogger"
limit_request_line = 4094
# gunicornc is not used, and every instance on a machine would share the one default socket path.
control_socket_disable = True

# No post_fork hook: the app is not preloaded, and core.db.get_pool() builds a new pool whenever
# the process id changes, so no worker can inherit the master's connections.
