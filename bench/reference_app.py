"""The benchmark's yardstick: what one Redis round trip costs a bare Flask view on our gunicorn.

Served by `make bench` with the project's gunicorn.conf.py (same worker class, workers, access
log) next to the real app: `/hello` answers a constant JSON body, `/redis-get` does one plain
redis-py `GET` first. Their throughput ratio is the ceiling the status poll's goal is judged
against: a pending poll also costs one Redis round trip more than `/healthz`.
"""

from __future__ import annotations

import os

import redis
from flask import Flask, Response, jsonify

app = Flask(__name__)
client = redis.Redis(connection_pool=redis.BlockingConnectionPool.from_url(os.environ["REDIS_URL"], max_connections=64))


@app.get("/hello")
def hello() -> Response:
    """Answer at once."""
    return jsonify({"status": "ok"})


@app.get("/redis-get")
def redis_get() -> Response:
    """Read one key, then answer."""
    client.get("bench:reference")
    return jsonify({"status": "ok"})
