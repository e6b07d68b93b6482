"""The long poll's gevent waiter: woken, timed out, or woken while it was not waiting yet.

gevent's monkey-patching can't be undone inside pytest, so the cases run in a patched child
process (as in a gunicorn gevent worker) that prints what it saw as JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from devstack import PROJECT_ROOT

SCENARIO = textwrap.dedent(
    """
    from gevent import monkey; monkey.patch_all()
    import json, time
    import gevent
    from webapp import status_waits

    listener = status_waits.Listener("redis://127.0.0.1:1")  # never started: only its waiter class
    seen = {"class": listener.waiter_class.__name__}

    returns = []

    def timed(waiter, seconds):
        started = time.monotonic()
        woken = waiter.wait(seconds)
        returns.append(time.monotonic())
        return [woken, round(returns[-1] - started, 3)]

    def started_before(woke_at):
        return bool(woke_at) and returns[-1] >= woke_at[0]

    waiter = listener.waiter_class()
    seen["timeout"] = timed(waiter, 0.2)

    # Timers count from the loop's cached clock, which may lag `started`: the wait is judged
    # against the moment the wake really happened, not against the nominal 0.1 s.
    woke_at = []

    def wake(waiter):
        woke_at.append(time.monotonic())
        waiter.wake()

    waiter = listener.waiter_class()
    gevent.spawn_later(0.1, wake, waiter)
    seen["woken"] = timed(waiter, 5)
    seen["returned_after_the_wake"] = started_before(woke_at)

    waiter = listener.waiter_class()
    waiter.wake()  # while the request reads the status, before it waits
    seen["woken_before"] = timed(waiter, 5)
    seen["then_times_out"] = timed(waiter, 0.1)

    print(json.dumps(seen))
    """
)


def test_the_gevent_waiter_wakes_times_out_and_keeps_an_early_wake() -> None:
    done = subprocess.run([sys.executable, "-c", SCENARIO], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["class"] == "GreenletWaiter"
    woken, seconds = seen["timeout"]
    assert woken is False and 0.2 <= seconds < 1
    woken, seconds = seen["woken"]
    assert woken is True and 0.05 <= seconds < 1
    assert seen["returned_after_the_wake"] is True  # it waited for the wake, not returned early
    woken, seconds = seen["woken_before"]
    assert woken is True and seconds < 0.05
    assert seen["then_times_out"][0] is False  # one wake, one woken wait


def test_without_gevent_the_listener_uses_thread_events() -> None:
    from webapp import status_waits

    assert status_waits.Listener("redis://127.0.0.1:1").waiter_class is status_waits.Waiter
