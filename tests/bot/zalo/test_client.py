"""ZaloOAClient against the fake Zalo servers over real HTTP: sending, splitting, errors, token rotation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest
import redis.asyncio as aioredis

from bot.base import SendError
from bot.messages import Button, OutboundMessage
from bot.zalo import LocalRefreshLock, MemoryTokenStore, RedisRefreshLock, ZaloOAClient, ZaloTokens
from bot.zalo.tokens import RefreshLock, TokenStore
from tests.fakes.zalo_server import APP_ID, APP_SECRET, FakeZalo, fake_zalo

USER = "8291700012345678901"


@pytest.fixture
def fake() -> Iterator[FakeZalo]:
    with fake_zalo() as f:
        yield f


def client(fake: FakeZalo, tokens: TokenStore, lock: RefreshLock | None = None) -> ZaloOAClient:
    return ZaloOAClient(
        httpx.AsyncClient(),
        api_url=fake.url,
        oauth_url=fake.url,
        app_id=APP_ID,
        app_secret=APP_SECRET,
        tokens=tokens,
        lock=lock or LocalRefreshLock(),
    )


def fresh(fake: FakeZalo) -> MemoryTokenStore:
    return MemoryTokenStore(ZaloTokens(fake.access_token, fake.refresh_token, time.time() + 80_000))


async def test_text_and_numbered_buttons(fake: FakeZalo) -> None:
    c = client(fake, fresh(fake))
    receipt = await c.send(
        OutboundMessage("zalo", USER, "Ông/Bà có đồng ý không?", (Button("Đồng ý", "yes"), Button("Không", "no")))
    )
    await c.aclose()
    (text,) = fake.texts(USER)
    assert text.startswith("Ông/Bà có đồng ý không?") and "1. Đồng ý" in text and "2. Không" in text
    assert receipt.platform_message_ids == ["zmsg1"]


async def test_long_text_is_split_at_2000(fake: FakeZalo) -> None:
    text = "Ủy ban Mặt trận đã tiếp nhận và chuyển phản ánh tới cơ quan chức năng. " * 80
    c = client(fake, fresh(fake))
    receipt = await c.send(OutboundMessage("zalo", USER, text))
    await c.aclose()
    parts = fake.texts(USER)
    assert len(parts) == len(receipt.platform_message_ids) == 3
    assert all(len(p) <= 2000 for p in parts) and " ".join(parts) == text.strip()


async def test_expired_token_is_refreshed_once_and_the_message_retried(fake: FakeZalo) -> None:
    store = fresh(fake)
    fake.expire_access_token()  # the stored token still looks fresh locally but the platform says -216
    c = client(fake, store)
    await c.send(OutboundMessage("zalo", USER, "Xin chào"))
    await c.aclose()
    assert fake.refreshes == 1 and fake.texts(USER) == ["Xin chào"]
    saved = await store.load()
    assert saved is not None and saved.refresh_token == fake.refresh_token and saved.access_token == fake.access_token


async def test_token_near_expiry_is_refreshed_before_sending(fake: FakeZalo) -> None:
    store = MemoryTokenStore(ZaloTokens(fake.access_token, fake.refresh_token, time.time() + 60))
    c = client(fake, store)
    await c.send(OutboundMessage("zalo", USER, "Xin chào"))
    await c.aclose()
    assert fake.refreshes == 1 and fake.cs_attempts == 1


async def test_many_concurrent_senders_refresh_once(fake: FakeZalo) -> None:
    """Ten workers in one process share a store and a lock: exactly one refresh, nothing refused."""
    fake.refresh_delay = 0.2
    store = MemoryTokenStore(ZaloTokens("stale", fake.refresh_token, time.time() - 1))
    lock = LocalRefreshLock()
    clients = [client(fake, store, lock) for _ in range(10)]
    await asyncio.gather(*(c.send(OutboundMessage("zalo", USER, f"tin {i}")) for i, c in enumerate(clients)))
    for c in clients:
        await c.aclose()
    assert fake.refreshes == 1 and fake.refused_refreshes == 0
    assert sorted(fake.texts(USER)) == sorted(f"tin {i}" for i in range(10))


async def test_refresh_under_a_real_redis_lock_across_clients(
    fake: FakeZalo, real_redis: str, redis_prefix: str
) -> None:
    """Separate Redis connections stand for separate processes; the shared store stands for the database."""
    fake.refresh_delay = 0.2
    fake.expire_access_token()
    store = MemoryTokenStore(ZaloTokens("stale", fake.refresh_token, time.time() + 80_000))
    conns = [aioredis.from_url(real_redis) for _ in range(4)]
    clients = [client(fake, store, RedisRefreshLock(r, f"{redis_prefix}:zalo-lock")) for r in conns]
    await asyncio.gather(*(c.send(OutboundMessage("zalo", USER, f"m{i}")) for i, c in enumerate(clients)))
    for c in clients:
        await c.aclose()
    for r in conns:
        assert await r.get(f"{redis_prefix}:zalo-lock") is None  # released by its owner
        await r.aclose()
    assert fake.refreshes == 1 and fake.refused_refreshes == 0 and len(fake.texts(USER)) == 4


async def test_user_who_has_not_interacted_is_a_permanent_failure(fake: FakeZalo) -> None:
    fake.not_interacted.add(USER)
    c = client(fake, fresh(fake))
    with pytest.raises(SendError) as err:
        await c.send(OutboundMessage("zalo", USER, "Phản ánh đã được giải quyết"))
    await c.aclose()
    assert err.value.reason == "not_interacted" and not err.value.retryable


@pytest.mark.parametrize(
    ("status", "error", "reason", "retryable"),
    [
        (500, None, "server_error", True),
        (429, None, "rate_limited", True),
        (200, -32, "rate_limited", True),
        (200, -201, "bad_request", False),
    ],
)
async def test_platform_errors_are_classified(
    fake: FakeZalo, status: int, error: int | None, reason: str, retryable: bool
) -> None:
    fake.fail(status, error=error)
    c = client(fake, fresh(fake))
    with pytest.raises(SendError) as err:
        await c.send(OutboundMessage("zalo", USER, "x"))
    await c.aclose()
    assert (err.value.reason, err.value.retryable) == (reason, retryable)


async def test_refused_refresh_is_retryable_and_keeps_the_stored_tokens(fake: FakeZalo) -> None:
    store = MemoryTokenStore(ZaloTokens("stale", "an-old-refresh-token", time.time() - 1))
    c = client(fake, store)
    with pytest.raises(SendError) as err:
        await c.send(OutboundMessage("zalo", USER, "x"))
    await c.aclose()
    assert err.value.reason == "token_expired" and err.value.retryable
    assert (await store.load()) == ZaloTokens("stale", "an-old-refresh-token", (await store.load()).expires_at)  # type: ignore[union-attr]


async def test_unreachable_platform_is_a_network_error() -> None:
    c = ZaloOAClient(
        httpx.AsyncClient(),
        api_url="http://127.0.0.1:9",
        oauth_url="http://127.0.0.1:9",
        app_id=APP_ID,
        app_secret=APP_SECRET,
        tokens=MemoryTokenStore(ZaloTokens("a", "r", time.time() + 9999)),
        lock=LocalRefreshLock(),
    )
    with pytest.raises(SendError) as err:
        await c.send(OutboundMessage("zalo", USER, "x"))
    await c.aclose()
    assert err.value.reason == "network" and err.value.retryable
