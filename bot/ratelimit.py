"""Send-rate limits shared by every process through Redis (in-process fallback if Redis is down).

Time is cut into slots of ``1 / rate`` seconds; a sender claims the earliest free slot that has not yet begun with
``SET NX`` and waits for its start, so sends are at least one slot apart and the rate can never exceed the limit,
however many workers run. Slots are ``headroom`` (10 %) wider than the limit requires, so the network's jitter
(a send delayed by a few slots on its way) still never shows the platform more than the limit in any second.
A send whose process woke too late for its slot (a busy event loop, a pause of the machine) does not go at once:
it would go out together with the sends of the slots after it. It claims a new slot instead (``MAX_LATE``).
Works with plain Redis commands (no Lua), so the embedded in-process stand-in behaves the same.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)
MAX_AHEAD = 2000  # slots to look ahead before giving up on a claim round
REDIS_RETRY_SECONDS = 5.0  # after a Redis failure, limit locally for this long before trying Redis again
MAX_LATE = 0.04  # seconds past its slot's start a send may still go (a slot is 37 ms at 27/s)
MAX_LATE_ROUNDS = 20  # new slots claimed for one send that keeps waking too late, before giving up
UNLIMITED = 1000.0  # messages/s: no platform allows this much; a rate of 0 or at least this means "no limit"


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
        headroom: float = 0.1,
        clock: Callable[[], float] = time.time,
        rules: Mapping[str, tuple[float, float]] | None = None,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._clock = clock
        self._local = _LocalSlots()
        self._warned = False
        self._redis_down_until = 0.0
        self._lead = 0.002  # running estimate of one claim's round trip, in seconds
        self._gate = asyncio.Semaphore(16)  # Redis calls in flight: a burst must not exhaust the connection pool
        self._hint: dict[str, int] = {}
        keep = 1.0 - headroom
        if rules is None:  # ``rules``: (overall, per chat) messages per second by channel, from the channel registry
            rules = {
                "telegram": (telegram_overall, telegram_per_chat),
                "zalo": (zalo_overall, zalo_per_chat),
                "zalobot": (zalo_overall, zalo_per_chat),
            }
        self.rules: dict[str, tuple[float, float]] = {
            name: (_limit(overall) * keep, _limit(per_chat) * keep) for name, (overall, per_chat) in rules.items()
        }

    async def _claim(self, key: str, slot: int, ttl: float) -> bool:
        if self._client is not None and time.monotonic() >= self._redis_down_until:
            try:
                async with self._gate:
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
        """Claim the earliest free slot starting at or after ``not_before``; returns its start time.

        The scan starts one claim round trip ahead (so the slot is not over by the time Redis answers, however slow
        Redis is under load) and after the last slot this process took for the key (no rescanning its own claims).
        """
        width = 1.0 / rate
        if len(self._hint) > 20_000:  # one entry per chat: forget old ones now and then
            self._hint.clear()
        # only whole slots: a send happens at a slot's start, never part-way into one that another send may follow
        slot = max(math.ceil((max(not_before, self._clock()) + 2 * self._lead) / width), self._hint.get(key, -1) + 1)
        for _ in range(MAX_AHEAD):
            t0 = time.monotonic()
            # the claim must outlive the slot itself, however far ahead it lies
            claimed = await self._claim(key, slot, max(slot * width - self._clock(), 0.0) + width * 4 + 2)
            self._lead = 0.8 * self._lead + 0.2 * (time.monotonic() - t0)
            if claimed:
                self._hint[key] = max(slot, self._hint.get(key, -1))
                if slot * width >= self._clock() - width / 10:
                    return slot * width
                # the slot began while claiming it (it stays unused): look further ahead
                slot = math.ceil((self._clock() + 2 * self._lead) / width)
                continue
            slot += 1
        raise RuntimeError(f"rate limiter: no free slot for {key}")

    async def acquire(self, channel: str, chat_id: str) -> None:
        """Wait until one more message to ``chat_id`` on ``channel`` is within the limits.

        The chat's slot comes first, then an overall slot at or after it. When the overall slot is later than the
        chat's, the chat's following slots up to one chat-interval after the real send time are claimed too, so
        two sends to one chat are always a full interval apart (if one is taken meanwhile, try again later).
        Woken more than ``MAX_LATE`` after its slot began, it claims another.
        """
        rule = self.rules.get(channel)
        if rule is None:
            return
        for _ in range(MAX_LATE_ROUNDS):
            send_at = await self._slot(channel, chat_id, *rule)
            delay = send_at - self._clock()
            if delay > 0:
                await asyncio.sleep(delay)
            if self._clock() - send_at <= MAX_LATE:
                return
        raise RuntimeError(f"rate limiter: woke too late for every slot of {channel}:{chat_id}")

    async def _slot(self, channel: str, chat_id: str, overall: float, per_chat: float) -> float:
        """The start of the slot claimed for the send (overall, and for the chat)."""
        start = self._clock()
        chat_key = f"{channel}:chat:{chat_id}"
        for _ in range(20):
            chat_start = start
            if per_chat > 0:
                chat_start = await self._reserve(chat_key, per_chat, start)
            send_at = await self._reserve(f"{channel}:all", overall, chat_start) if overall > 0 else chat_start
            if per_chat <= 0 or await self._cover(chat_key, per_chat, chat_start, send_at):
                break
            start = send_at
        else:
            raise RuntimeError(f"rate limiter: no consistent slot for {chat_key}")
        return send_at

    async def _cover(self, key: str, rate: float, chat_start: float, send_at: float) -> bool:
        """Claim the chat's slots that begin after ``chat_start`` and less than one interval after ``send_at``."""
        width = 1.0 / rate
        base = round(chat_start / width)
        extra = math.ceil((send_at - chat_start) / width - 1e-6)  # in slot units: exact for small offsets
        for slot in range(base + 1, base + extra + 1):
            if not await self._claim(key, slot, width * 4 + 2 + (send_at - self._clock())):
                return False
            self._hint[key] = max(slot, self._hint.get(key, -1))
        return True


def _limit(rate: float) -> float:
    """The rate to enforce; 0 for none. A rate of ``UNLIMITED`` or more is no limit: enforcing it would claim a slot
    every millisecond or less, and covering a chat's slots up to a send would take hundreds of claims per message."""
    return 0.0 if rate >= UNLIMITED else max(rate, 0.0)
