"""Fixed-window counters on Django's cache for abuse limits (failed logins, failed token checks).

`cache.add` + `cache.incr` are atomic on Redis and on the local-memory cache, so concurrent requests
cannot slip past a limit. Production shares the counters across processes with CACHE_URL=redis://...
"""

import hashlib
import time
from dataclasses import dataclass

from django.core.cache import cache


@dataclass(frozen=True)
class Limit:
    name: str
    attempts: int
    window_seconds: int


def _key(limit: Limit, subject: str, window_start: int) -> str:
    # Hash the subject: it may be an email address or part of a token, which must not sit in the cache in clear.
    digest = hashlib.sha256(subject.encode()).hexdigest()[:32]
    return f"ratelimit:{limit.name}:{digest}:{window_start}"


def now() -> float:
    """The limiter's clock (seconds since 1970): the one place it reads the time, so tests can freeze it."""
    return time.time()


def _window(limit: Limit) -> tuple[int, int]:
    second = int(now())
    start = second - second % limit.window_seconds
    return start, start + limit.window_seconds - second


def retry_after(limits: list[tuple[Limit, str]]) -> int | None:
    """Seconds until every (limit, subject) of `limits` is under its limit again, or None when all are.

    One cache read for all of them: every API request asks this before its token is checked."""
    keys = {}
    for limit, subject in limits:
        start, remaining = _window(limit)
        keys[_key(limit, subject, start)] = (limit, remaining)
    counts = cache.get_many(list(keys))
    waits = [max(1, remaining) for key, (limit, remaining) in keys.items() if counts.get(key, 0) >= limit.attempts]
    return max(waits, default=None)


def record_failure(limit: Limit, subject: str) -> None:
    start, remaining = _window(limit)
    key = _key(limit, subject, start)
    cache.add(key, 0, timeout=remaining + 1)
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr: start the new window's count
        cache.add(key, 1, timeout=limit.window_seconds)


def client_address(request) -> str:
    # REMOTE_ADDR: behind a proxy, configure the proxy to set it (X-Forwarded-For is client-controlled).
    return request.META.get("REMOTE_ADDR", "unknown")
