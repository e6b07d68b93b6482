"""The steady-rate stage's pure parts: the open-loop schedule and the per-login costs."""

from __future__ import annotations

import math
import re

import pytest

from bench import costs, open_loop, steady


def test_the_schedule_spaces_logins_evenly_whatever_happens_to_them():
    dues = open_loop.schedule(30, 20, start=5.0)
    assert len(dues) == 600
    assert dues[0] == 5.0 and dues[-1] == pytest.approx(5.0 + 599 / 30)
    gaps = {round(b - a, 9) for a, b in zip(dues, dues[1:])}
    assert gaps == {round(1 / 30, 9)}


def test_a_fractional_schedule_rounds_down():
    assert len(open_loop.schedule(45, 0.1)) == 4
    with pytest.raises(ValueError):
        open_loop.schedule(0, 10)


def test_a_cost_divides_what_happened_by_the_logins_done():
    before = costs.Reading({"web": 1.0, "worker": 2.0}, {"celery_tasks": 10, "redis_commands": 100})
    after = costs.Reading({"web": 1.6, "worker": 2.3}, {"celery_tasks": 110, "redis_commands": 4100})
    cost = costs.Cost(after.minus(before), logins=100, seconds=3.0)

    assert cost.cpu_ms_per_login("web", "worker") == pytest.approx(9.0)
    assert cost.per_login("celery_tasks") == 1.0 and cost.per_login("redis_commands") == 40.0
    assert cost.cpu_share("web") == pytest.approx(0.2)
    assert math.isnan(costs.Cost(after.minus(before), logins=0, seconds=1.0).cpu_ms_per_login("web"))


def test_redis_commands_add_up_every_command_of_info_commandstats():
    stats = {"cmdstat_get": {"calls": 7, "usec": 10}, "cmdstat_evalsha": {"calls": 3, "usec": 5}}
    assert costs.redis_commands(stats) == 10


def test_the_logs_count_access_lines_and_received_tasks(tmp_path):
    web = tmp_path / "web.log"
    web.write_text('127.0.0.1 - - [05/Dec/2026:10:52:04 +0000] "POST /api/auth/init HTTP/1.1" 201 181 "-" "x"\n'
                   "[2026-12-05 10:53:09 +0000] [6302] [INFO] Worker exiting (pid: 6302)\n"
                   '127.0.0.1 - - [05/Dec/2026:10:52:05 +0000] "GET /api/auth/status/*** HTTP/1.1" 200 99 "-" "x"\n')
    worker = tmp_path / "worker.log"
    worker.write_text("INFO celery.worker.strategy: Task tasks.send_approval_prompt[7b849315-7cdd-4478-b549-d562bb6fa90c] received\n"
                      "INFO celery.app.trace: Task tasks.send_approval_prompt[7b849315-7cdd-4478-b549-d562bb6fa90c] succeeded in 0.02s\n")
    assert costs.count_in_log(web, costs.ACCESS_LINE) == 2
    assert costs.count_in_log(worker, costs.TASK_RECEIVED) == 1
    assert costs.count_in_log(tmp_path / "missing.log", costs.ACCESS_LINE) == 0


def test_a_process_trees_cpu_includes_this_process():
    import os

    assert costs.tree_cpu_seconds(os.getpid()) > 0
    assert costs.tree_cpu_seconds(2**22 + 12345) == 0.0  # no such process


def test_redis_commands_are_also_counted_by_name_most_frequent_first():
    named = costs.redis_commands_by_name({"cmdstat_evalsha": {"calls": 30}, "cmdstat_lpush": {"calls": 10},
                                          "cmdstat_get": {"calls": 3}})
    assert named == {"redis:evalsha": 30, "redis:lpush": 10, "redis:get": 3}
    before = costs.Reading({}, {"redis:evalsha": 0, "redis:lpush": 0, "redis:get": 3})
    cost = costs.Cost(costs.Reading({}, named).minus(before), logins=10, seconds=1.0)
    assert cost.redis_per_login(top=5) == [("evalsha", 3.0), ("lpush", 1.0)]


def test_the_backlog_note_compares_the_first_and_last_tenth_of_the_logins():
    logins = [open_loop.OpenLogin(due=i / 30, to_prompt=0.1 + i * 0.01) for i in range(100)]
    run = open_loop.OpenLoopRun(logins, seconds=3.3, max_start_lag=0.0)
    # First tenth: 0.10 .. 0.19 s; last tenth: 1.00 .. 1.09 s (nearest-rank medians).
    assert steady.backlog_note(run) == "p50 of the first / last tenth: 140 / 1,040 ms"
