"""Send-rate limits shared by every process through Redis (in-process fallback if Redis is down).

Time is cut into slots of ``1 / rate`` seconds; a sender claims the earliest free slot with ``SET NX`` and waits
for it, so no two sends share a slot and the rate can never exceed the limit, however many workers run.
Works with plain Redis commands (no Lua), so the embedded in-process stand-in behaves the same.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)
MAX_AHEAD = 2000  # slots to look ahead before giving up on a claim round
REDIS_RETRY_SECONDS = 5.0  # after a Redis failure, limit locally for this long before trying Redis again


class _LocalSlots:
    def __init__(self) -> None:
        self._taken: dict[str, float] = {}
        self._lock = threading.Lock()

    def claim(self, key: str, slot: int, ttl: float) -> bool:
        now = time.monotonic()
        with self._lock:
            if len(self._taken) > 50_000:
                self._taken = {k: v for k, v in self._taken.items() if v > now}
            full = f"{key}:{slot}"
            if self._taken.get(full, 0) > now:
                return False
            self._taken[full] = now + ttl
            return True


class RateLimiter:
    def __init__(
        self,
        client: aioredis.Redis | None,
        *,
        telegram_overall: float = 30.0,
        telegram_per_chat: float = 1.0,
        zalo_overall: float = 10.0,
        zalo_per_chat: float = 1.0,
        prefix: str = "gopy:rl",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._clock = clock
        self._local = _LocalSlots()
        self._warned = False
        self._redis_down_until = 0.0
        self.rules: dict[str, tuple[float, float]] = {
            "telegram": (telegram_overall, telegram_per_chat),
            "zalo": (zalo_overall, zalo_per_chat),
            "zalobot": (zalo_overall, zalo_per_chat),
        }

    async def _claim(self, key: str, slot: int, ttl: float) -> bool:
        if self._client is not None and time.monotonic() >= self._redis_down_until:
            try:
                return bool(
                    await self._client.set(f"{self._prefix}:{key}:{slot}", "1", nx=True, px=max(int(ttl * 1000), 1))
                )
            except (RedisError, OSError) as exc:
                self._redis_down_until = time.monotonic() + REDIS_RETRY_SECONDS
                if not self._warned:
                    log.warning("Redis unavailable for rate limits, limiting per process: %s", exc)
                    self._warned = True
        return self._local.claim(key, slot, ttl)

    async def _reserve(self, key: str, rate: float, not_before: float) -> float:
        """Claim the earliest free slot starting at or after ``not_before``; returns its start time."""
        width = 1.0 / rate
        slot = int(max(not_before, self._clock()) / width)
        for _ in range(MAX_AHEAD):
            if await self._claim(key, slot, width * 4 + 2):
                if (slot + 1) * width >= self._clock():
                    return slot * width
                # the claim itself took longer than a slot: that slot is over, take a current one
                slot = int(self._clock() / width)
                continue
            slot += 1
        raise RuntimeError(f"rate limiter: no free slot for {key}")

    async def acquire(self, channel: str, chat_id: str) -> None:
        """Wait until one more message to ``chat_id`` on ``channel`` is within the limits."""
        rule = self.rules.get(channel)
        if rule is None:
            return
        overall, per_chat = rule
        start = self._clock()
        if per_chat > 0:
            start = await self._reserve(f"{channel}:chat:{chat_id}", per_chat, start)
        if overall > 0:
            start = await self._reserve(f"{channel}:all", overall, start)
        delay = start - self._clock()
        if delay > 0:
            await asyncio.sleep(delay)
