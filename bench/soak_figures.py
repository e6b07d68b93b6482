"""Pure arithmetic of the soak (`python -m bench.soak`): memory growth per login, and Redis's bound.

A soak samples, every few seconds, how many logins have completed, the resident memory of each
process tree and Redis's keys (grouped by kind). After the warm-up, a process that keeps nothing
per login has an RSS that does not follow the login count: the least-squares slope of RSS over
completed logins is its growth per login (a slope, not last minus first, so one sample taken
during a garbage collection or an allocator's hiccup does not decide it).

Redis is bounded when every kind of key that grows with the logins expires: such a kind then
holds at most (keys per login) x (logins per second) x (its TTL) keys, whatever the run's length.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Mapping, Sequence

GOAL_BYTES_PER_LOGIN = 512  # the goal: <= 0.5 KB per login per process tree, after warm-up
# A kind that gains fewer keys than this per login is not growing with the logins (a constant key
# written again, a sweep's leftovers).
GROWING_KEYS_PER_LOGIN = 0.01

_UUID_OR_HEX = re.compile(r"^[0-9a-fA-F-]{16,}$")
_NUMBER = re.compile(r"^-?\d+$")


@dataclass(frozen=True)
class Sample:
    """One look at the system: seconds since the start, logins completed, RSS per process tree, Redis."""

    seconds: float
    logins: int
    rss: Mapping[str, int]  # process tree name -> bytes
    redis_keys: int
    redis_bytes: int
    key_kinds: Mapping[str, int] = field(default_factory=dict)  # key kind -> how many keys


@dataclass(frozen=True)
class KeyKind:
    """One kind of Redis key at the end of a run: how many, their longest TTL, how many never expire."""

    name: str
    count: int
    max_ttl_seconds: float  # the longest remaining TTL seen; NaN when no key of the kind has one
    without_ttl: int
    growth_per_login: float = 0.0  # keys gained per login after the warm-up (the slope)


def slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Return the least-squares slope of ys over xs; NaN for fewer than two distinct xs."""
    if len(xs) != len(ys):
        raise ValueError("xs and ys differ in length")
    n = len(xs)
    if n < 2:
        return math.nan
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    spread = sum((x - mean_x) ** 2 for x in xs)
    if spread == 0:
        return math.nan
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / spread


def after_warmup(samples: Sequence[Sample], warmup_seconds: float) -> list[Sample]:
    """Return the samples taken once the warm-up was over."""
    return [s for s in samples if s.seconds >= warmup_seconds]


def growth_per_login(samples: Sequence[Sample], process: str) -> float:
    """Return a process tree's RSS growth in bytes per completed login over these samples."""
    return slope([s.logins for s in samples], [s.rss[process] for s in samples])


def key_growth_per_login(samples: Sequence[Sample], kind: str) -> float:
    """Return how many keys of one kind Redis gained per completed login over these samples."""
    return slope([s.logins for s in samples], [s.key_kinds.get(kind, 0) for s in samples])


def key_kind(key: str) -> str:
    """Return a key's kind: its ids (UUIDs, hex digests, numbers) replaced by `*`.

    `sent-message:prompt:5d0c...` -> `sent-message:prompt:*`; `update:123:45:ab12...` -> `update:*:*:*`.
    """
    separators = re.split(r"([:/])", key)
    return "".join("*" if _UUID_OR_HEX.match(part) or _NUMBER.match(part) else part for part in separators)


def logins_within(samples: Sequence[Sample], seconds: float) -> float:
    """Return how many logins completed in the last `seconds` of the samples (interpolated)."""
    if not samples:
        return 0.0
    end = samples[-1]
    since = end.seconds - seconds
    if since <= samples[0].seconds:
        return float(end.logins)  # the window reaches back past the first sample: everything
    for before, after in zip(samples, samples[1:]):
        if before.seconds <= since <= after.seconds:
            share = (since - before.seconds) / (after.seconds - before.seconds) if after.seconds > before.seconds else 1.0
            return end.logins - (before.logins + share * (after.logins - before.logins))
    return 0.0


def unbounded_kinds(kinds: Sequence[KeyKind]) -> list[KeyKind]:
    """Return the kinds that grow with the logins while some of their keys never expire."""
    return [k for k in kinds if k.growth_per_login >= GROWING_KEYS_PER_LOGIN and k.without_ttl > 0]


def live_keys_per_login(kind: KeyKind, samples: Sequence[Sample]) -> float:
    """Return the keys of a kind alive now per login of its TTL's window: what one login leaves in Redis.

    A key lives at most its TTL, so the keys alive at the end were made by the logins of the last
    TTL seconds; keys deleted before their TTL (a finished login's status) make this smaller, as
    they should. NaN for a kind with no TTL.
    """
    if math.isnan(kind.max_ttl_seconds):
        return math.nan
    logins = logins_within(samples, kind.max_ttl_seconds)
    return kind.count / logins if logins else math.nan


def steady_keys(kinds: Sequence[KeyKind], samples: Sequence[Sample], logins_per_second: float) -> float:
    """Return how many keys the expiring kinds hold at most at a steady login rate (their TTLs' promise).

    Kinds that did not grow with the logins (a few constant keys) are left out.
    """
    total = 0.0
    for kind in kinds:
        per_login = live_keys_per_login(kind, samples)
        if not math.isnan(per_login) and kind.count >= GROWING_KEYS_PER_LOGIN * samples[-1].logins:
            total += per_login * logins_per_second * kind.max_ttl_seconds
    return total


def bytes_per_key(samples: Sequence[Sample]) -> float:
    """Return Redis's used memory per key over these samples (the slope of bytes over keys)."""
    return slope([s.redis_keys for s in samples], [s.redis_bytes for s in samples])
