"""Rate limits shared by every process through Redis (or the embedded stand-in): fixed windows, INCR + EXPIRE.

A limit throttles, it never locks anyone out for good: when the window has passed the counter is gone.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import redis

from backend.kv import KV

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limit:
    """At most ``count`` hits per ``window`` seconds."""

    count: int
    window: int


class Throttle:
    def __init__(self, kv: KV) -> None:
        self._kv = kv
        self._prefix = kv.key("throttle")  # <GOPY_REDIS_PREFIX>:throttle:<name>:<subject>:<window slot>

    def _key(self, name: str, subject: str, window: int) -> tuple[str, int]:
        now = int(time.time())
        slot = now // window
        return f"{self._prefix}:{name}:{subject}:{slot}", (slot + 1) * window - now

    def hit(self, name: str, subject: str, limit: Limit) -> float | None:
        """Count one hit; return the seconds to wait (Retry-After) when over the limit, else ``None``.

        When Redis is unreachable the request is let through (fail open) and the fault is logged: refusing every
        citizen because the counter store is down would be worse than an unthrottled minute.
        """
        key, remaining = self._key(name, subject, limit.window)
        try:
            pipe = self._kv.sync.pipeline()
            pipe.incr(key)
            pipe.expire(key, limit.window + 1)
            count = int(pipe.execute()[0])
        except redis.RedisError as exc:
            log.warning("rate limit %s not checked, Redis unavailable: %s", name, exc)
            return None
        return float(max(remaining, 1)) if count > limit.count else None

    def peek(self, name: str, subject: str, limit: Limit) -> float | None:
        """Like :meth:`hit` without counting: is ``subject`` already over the limit?"""
        key, remaining = self._key(name, subject, limit.window)
        try:
            value = self._kv.sync.get(key)
        except redis.RedisError:
            return None
        return float(max(remaining, 1)) if value is not None and int(value) >= limit.count else None

    def reset(self, name: str, subject: str, limit: Limit) -> None:
        key, _ = self._key(name, subject, limit.window)
        try:
            self._kv.sync.delete(key)
        except redis.RedisError:
            return
