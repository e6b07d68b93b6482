"""The soak's arithmetic: growth per login after the warm-up, key kinds, and Redis's bound."""

from __future__ import annotations

import math

import pytest

from bench.soak_figures import (
    GOAL_BYTES_PER_LOGIN,
    KeyKind,
    Sample,
    after_warmup,
    bytes_per_key,
    growth_per_login,
    key_growth_per_login,
    key_kind,
    live_keys_per_login,
    logins_within,
    slope,
    steady_keys,
    unbounded_kinds,
)

MB = 2**20


def sample(seconds: float, logins: int, worker: int, kinds: dict[str, int] | None = None, keys: int = 0,
           redis_bytes: int = 0) -> Sample:
    return Sample(seconds, logins, {"worker": worker}, keys, redis_bytes, kinds or {})


def test_slope_is_least_squares_and_nan_without_spread() -> None:
    assert slope([0, 1, 2, 3], [1, 3, 5, 7]) == pytest.approx(2.0)
    assert slope([0, 1, 2], [5, 5, 5]) == 0
    assert math.isnan(slope([4, 4], [1, 2]))
    assert math.isnan(slope([1], [1]))
    with pytest.raises(ValueError):
        slope([1, 2], [1])


def test_growth_per_login_counts_only_samples_after_the_warmup() -> None:
    # 10 MB in the warm-up (the countdown tasks filling up), then 4.7 KB per login.
    samples = [sample(0, 0, 100 * MB), sample(60, 600, 110 * MB)]
    samples += [sample(60 + 10 * i, 600 + 100 * i, 110 * MB + 100 * i * 4800) for i in range(1, 10)]

    measured = after_warmup(samples, warmup_seconds=70)

    assert [s.seconds for s in measured] == [70 + 10 * i for i in range(9)]
    assert growth_per_login(measured, "worker") == pytest.approx(4800)
    assert growth_per_login(measured, "worker") > GOAL_BYTES_PER_LOGIN


def test_a_flat_process_with_one_noisy_sample_stays_within_the_goal() -> None:
    rss = [200 * MB] * 10
    rss[5] += 2 * MB  # one sample taken mid-collection
    samples = [sample(10 * i, 300 * i, value) for i, value in enumerate(rss)]

    assert growth_per_login(samples, "worker") < GOAL_BYTES_PER_LOGIN


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        ("sent-message:prompt:5d0c2a7e-1b1f-4a53-9a55-0e7c0a4b9f11", "sent-message:prompt:*"),
        ("update:123456789:4512:0f3c9a1b2c3d4e5f", "update:*:*:*"),
        ("auth-status:" + "ab" * 32, "auth-status:*"),
        ("LIMITS:LIMITER/init-ip/127.0.0.1/100000/1/minute", "LIMITS:LIMITER/init-ip/127.0.0.1/*/*/minute"),
        ("unacked", "unacked"),
    ],
)
def test_key_kind_replaces_ids(key: str, kind: str) -> None:
    assert key_kind(key) == kind


def test_logins_within_interpolates_the_window() -> None:
    samples = [sample(0, 0, 0), sample(10, 100, 0), sample(20, 300, 0)]

    assert logins_within(samples, 5) == pytest.approx(100)  # 15 s -> 200, so 300 - 200
    assert logins_within(samples, 10) == pytest.approx(200)
    assert logins_within(samples, 60) == 300  # reaches past the start: every login


def test_a_growing_kind_without_ttl_is_unbounded_and_an_expiring_one_is_not() -> None:
    kinds = [
        KeyKind("sent-message:prompt:*", 3000, 3600.0, 0, growth_per_login=1.0),
        KeyKind("leak:*", 3000, math.nan, 3000, growth_per_login=1.0),
        KeyKind("metrics:auth_logins_total", 1, math.nan, 1, growth_per_login=0.0),
    ]

    assert [k.name for k in unbounded_kinds(kinds)] == ["leak:*"]


def test_steady_keys_is_keys_per_login_times_rate_times_ttl() -> None:
    # 20 logins/s for 100 s: keys living an hour are all still there; keys living 30 s hold the last 30 s.
    samples = [sample(10 * i, 200 * i, 0) for i in range(11)]
    hour = KeyKind("sent-message:prompt:*", 2000, 3600.0, 0, growth_per_login=1.0)
    short = KeyKind("auth-status:*", 600, 30.0, 0, growth_per_login=0.0)
    constant = KeyKind("telegram-send-budget:*", 1, 1.0, 0)

    assert live_keys_per_login(hour, samples) == pytest.approx(1.0)
    assert live_keys_per_login(short, samples) == pytest.approx(1.0)
    assert math.isnan(live_keys_per_login(KeyKind("unacked", 1, math.nan, 1), samples))
    assert steady_keys([hour, short, constant], samples, logins_per_second=30) == pytest.approx(30 * 3600 + 30 * 30)


def test_bytes_per_key_and_key_growth_are_slopes() -> None:
    samples = [sample(i, 100 * i, 0, {"update:*:*:*": 100 * i}, keys=1000 + 100 * i, redis_bytes=MB + 25_000 * i)
               for i in range(5)]

    assert bytes_per_key(samples) == pytest.approx(250)
    assert key_growth_per_login(samples, "update:*:*:*") == pytest.approx(1.0)
    assert key_growth_per_login(samples, "absent:*") == 0
