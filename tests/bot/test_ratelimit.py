"""The shared rate limiter never lets the send rate exceed the limits, across several workers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import fakeredis
import pytest
import redis.asyncio as aioredis

from bot.ratelimit import RateLimiter


@pytest.fixture(params=["embedded", "redis"])
async def client(request: pytest.FixtureRequest) -> AsyncIterator[aioredis.Redis]:
    if request.param == "embedded":
        c: aioredis.Redis = fakeredis.FakeAsyncRedis()
    else:
        c = aioredis.Redis.from_url(request.getfixturevalue("real_redis"))
    yield c
    await c.aclose()


def max_in_window(times: list[float], window: float) -> int:
    times = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - window:
            j += 1
        best = max(best, i - j + 1)
    return best


async def test_overall_and_per_chat_limits_hold_across_workers(client: aioredis.Redis) -> None:
    prefix = f"t{time.time()}"  # one key space shared by the three "processes"
    limiters = [RateLimiter(client, telegram_overall=40, telegram_per_chat=4, prefix=prefix) for _ in range(3)]
    sends: dict[str, list[float]] = {}

    async def worker(limiter: RateLimiter, chats: list[str]) -> None:
        for chat in chats:
            await limiter.acquire("telegram", chat)
            sends.setdefault(chat, []).append(time.time())

    chats = [f"c{i % 6}" for i in range(60)]
    started = time.time()
    await asyncio.gather(*(worker(lim, chats[k::3]) for k, lim in enumerate(limiters)))
    elapsed = time.time() - started
    everything = [t for ts in sends.values() for t in ts]
    assert len(everything) == 60
    assert max_in_window(everything, 0.5) <= 20 + 1  # 40/s overall
    for ts in sends.values():
        assert max_in_window(ts, 0.5) <= 2 + 1  # 4/s per chat
    assert elapsed >= 1.2  # 60 messages at 40/s cannot be faster than 1.5 s (minus the first slot)


async def test_redis_down_falls_back_to_a_local_limiter() -> None:
    broken = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    limiter = RateLimiter(broken, zalo_overall=20, zalo_per_chat=0)
    times = []
    for _ in range(10):
        await limiter.acquire("zalo", "u1")
        times.append(time.time())
    await broken.aclose()
    assert max_in_window(times, 0.25) <= 5 + 1


async def test_a_backlog_longer_than_the_claim_lifetime_still_keeps_the_limit(client: aioredis.Redis) -> None:
    """Slots claimed seconds ahead must stay claimed until they pass (a deep backlog once reused expired slots)."""
    prefix = f"b{time.time()}"
    limiters = [
        RateLimiter(client, telegram_overall=100, telegram_per_chat=0, headroom=0, prefix=prefix) for _ in range(3)
    ]
    sends: list[float] = []

    async def one(limiter: RateLimiter, i: int) -> None:
        await limiter.acquire("telegram", f"chat{i}")
        sends.append(time.time())

    await asyncio.gather(*(one(limiters[i % 3], i) for i in range(330)))  # about 3.3 s of backlog at once
    assert len(sends) == 330
    assert max_in_window(sends, 1.0) <= 100 + 2  # at most the limit (+ scheduling jitter of this machine)
    assert max(sends) - min(sends) >= 3.0


class CountingRedis(fakeredis.FakeAsyncRedis):
    """Counts the claims (SET NX) the limiter makes."""

    calls = 0

    async def set(self, *args: object, **kwargs: object) -> object:  # type: ignore[override]
        type(self).calls += 1
        return await super().set(*args, **kwargs)  # type: ignore[arg-type]


async def test_a_lifted_limit_costs_no_claims() -> None:
    """Limits raised out of reach (benchmarks, a self-hosted Bot API) are no limits: before, a per-chat rate of
    100,000/s made the limiter claim hundreds of 10-microsecond slots per message, and the outbox spent most of the
    worker's time in Redis calls."""
    client = CountingRedis()
    limiter = RateLimiter(client, telegram_overall=100_000, telegram_per_chat=100_000, prefix="lifted")
    started = time.monotonic()
    for i in range(200):
        await limiter.acquire("telegram", f"chat{i % 3}")
    assert CountingRedis.calls == 0
    assert time.monotonic() - started < 1.0
    await client.aclose()


async def test_a_send_woken_late_takes_a_new_slot_instead_of_bunching(client: aioredis.Redis) -> None:
    """A busy event loop (a long synchronous step, the machine paused) wakes every send whose slot passed meanwhile
    at once: before, they went out together with the sends of the slots after them, and the platform saw more than
    its limit in that second (31 of 30 in the outbox benchmark)."""
    prefix = f"late{time.time()}"
    limiter = RateLimiter(client, telegram_overall=30, telegram_per_chat=0, prefix=prefix)
    sends: list[float] = []

    async def one(i: int) -> None:
        await limiter.acquire("telegram", f"chat{i}")
        sends.append(time.time())

    async def stalls() -> None:
        for _ in range(4):
            await asyncio.sleep(0.35)
            time.sleep(0.3)  # noqa: ASYNC251  (the point: the loop is blocked, slots pass with their sends asleep)

    await asyncio.gather(stalls(), *(one(i) for i in range(75)))
    assert len(sends) == 75
    assert max_in_window(sends, 1.0) <= 30
