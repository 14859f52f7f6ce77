"""Zalo OA token refresh while Redis (the refresh lock) is unreachable: a retryable network error, so the outbox
waits for Redis like for an unreachable platform, instead of an unexpected exception that uses up the retries."""

from __future__ import annotations

import time

import httpx
import pytest
import redis.asyncio as aioredis

from bot.base import SendError
from bot.messages import OutboundMessage
from bot.zalo import MemoryTokenStore, RedisRefreshLock, ZaloOAClient, ZaloTokens
from tests.liveserver import free_port


async def test_refresh_with_redis_down_is_a_retryable_network_error() -> None:
    dead = aioredis.Redis(port=free_port(), socket_connect_timeout=0.5)  # nothing listens there
    stale = MemoryTokenStore(ZaloTokens("old", "refresh-1", time.time() - 10))  # needs a refresh before sending
    client = ZaloOAClient(
        httpx.AsyncClient(),
        api_url="http://127.0.0.1:9",
        oauth_url="http://127.0.0.1:9",
        app_id="1",
        app_secret="s",
        tokens=stale,
        lock=RedisRefreshLock(dead, "gopy:test:zalo-lock"),
    )
    with pytest.raises(SendError) as err:
        await client.send(OutboundMessage("zalo", "8291700012345678901", "Xin chào Ông/Bà"))
    assert err.value.retryable and err.value.reason == "network"
    await client.aclose()
    await dead.aclose()
