"""The WSGI app for gunicorn (`gunicorn wsgi:app`) and the flask CLI (`flask --app wsgi ...`)."""

import sys

from webapp import cli, create_app

# `doctor` must run where the configured app refuses to start: that is when it is needed most.
app = cli.doctor_app() if cli.doctor_requested(sys.argv) else create_app()
