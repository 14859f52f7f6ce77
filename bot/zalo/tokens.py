"""Zalo OA tokens: the access token lasts about 25 h; the refresh token is single-use and rotates on every
refresh, so exactly one refresher may run at a time across all processes (a Redis lock), and it must re-read
the stored tokens after taking the lock (another process may have refreshed already)."""

from __future__ import annotations

import abc
import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

import redis.asyncio as aioredis


@dataclass(frozen=True)
class ZaloTokens:
    access_token: str
    refresh_token: str
    expires_at: float  # epoch seconds

    def fresh(self, margin: float = 300.0) -> bool:
        return self.expires_at - margin > time.time()


class TokenStore(abc.ABC):
    @abc.abstractmethod
    async def load(self) -> ZaloTokens | None: ...

    @abc.abstractmethod
    async def save(self, tokens: ZaloTokens) -> None: ...


class MemoryTokenStore(TokenStore):
    def __init__(self, tokens: ZaloTokens | None = None) -> None:
        self.tokens = tokens

    async def load(self) -> ZaloTokens | None:
        return self.tokens

    async def save(self, tokens: ZaloTokens) -> None:
        self.tokens = tokens


class RefreshLock(abc.ABC):
    @abc.abstractmethod
    def hold(self) -> AbstractAsyncContextManager[None]: ...


class LocalRefreshLock(RefreshLock):
    def __init__(self) -> None:
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        async with self._lock:
            yield


class RedisRefreshLock(RefreshLock):
    """``SET NX PX`` with a random token; released only by its owner; expires on its own if a holder dies."""

    def __init__(self, client: aioredis.Redis, key: str, ttl: float = 30.0, wait: float = 35.0) -> None:
        self._client, self._key, self._ttl, self._wait = client, key, ttl, wait

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        token = secrets.token_hex(8)
        deadline = time.monotonic() + self._wait
        while not await self._client.set(self._key, token, nx=True, px=int(self._ttl * 1000)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not take the lock {self._key}")
            await asyncio.sleep(0.05)
        try:
            yield
        finally:
            async with self._client.pipeline(transaction=True) as pipe:
                await pipe.watch(self._key)
                current = await pipe.get(self._key)
                if current is not None and (current.decode() if isinstance(current, bytes) else current) == token:
                    pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.delete(self._key)
                    await pipe.execute()
                else:
                    await pipe.unwatch()  # type: ignore[no-untyped-call]
