"""What kind of concurrency this process runs under."""

from __future__ import annotations


def gevent_is_active() -> bool:
    """Tell whether this process runs under gevent's monkey-patching (a gunicorn gevent worker)."""
    try:
        from gevent import monkey
    except ImportError:
        return False
    return bool(monkey.is_module_patched("socket"))
