"""The machine's Python reference: the fastest round counts, and CPU per login is divided by it."""

from __future__ import annotations

import pytest

from bench import costs, machine_speed, open_loop, steady


def test_the_reference_is_the_fastest_round_in_milliseconds(monkeypatch):
    rounds = iter([0.060, 0.052, 0.071])
    monkeypatch.setattr(machine_speed, "one_round", lambda: next(rounds))
    assert machine_speed.reference_cpu_ms() == pytest.approx(52.0)


def test_one_round_spends_cpu_in_proportion_to_its_iterations(monkeypatch):
    monkeypatch.setattr(machine_speed, "ITERATIONS", 200)
    short = min(machine_speed.one_round() for _ in range(3))
    monkeypatch.setattr(machine_speed, "ITERATIONS", 2000)
    long = min(machine_speed.one_round() for _ in range(3))
    assert short > 0 and 4 * short < long


def test_cpu_per_login_is_also_given_in_units_of_the_machine_reference():
    before = costs.Reading({"web": 1.0, "worker": 2.0, "bot": 0.0}, dict.fromkeys(costs.COUNTS, 0))
    after = costs.Reading({"web": 1.5, "worker": 2.3, "bot": 0.2}, dict.fromkeys(costs.COUNTS, 0))
    cost = costs.Cost(after.minus(before), logins=100, seconds=5.0)
    logins = [open_loop.OpenLogin(due=i / 30, to_prompt=0.1) for i in range(100)]
    result = steady.SteadyResult(30, open_loop.OpenLoopRun(logins, seconds=3.3, max_start_lag=0.0), cost, 0)

    figures = {f.name: f for f in steady.steady_figures(result, 20, reference_ms=50.0)}

    assert figures["CPU per login, web + worker + bot"].value == pytest.approx(10.0)
    relative = figures["CPU per login / machine reference"]
    assert relative.value == pytest.approx(0.2)
    assert "50.0 ms" in relative.note
