"""Whether this process is a gunicorn gevent worker: the web's speed-ups for greenlets apply only there."""

from __future__ import annotations


def is_active() -> bool:
    """Tell whether this process runs under gevent's monkey-patching (a gunicorn gevent worker)."""
    try:
        from gevent import monkey
    except ImportError:
        return False
    return bool(monkey.is_module_patched("socket"))
