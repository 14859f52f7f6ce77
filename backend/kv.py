"""Redis clients: a real server when ``GOPY_REDIS_URL`` is set, an in-process stand-in otherwise."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio as aioredis


@dataclass
class KV:
    """A synchronous and an asynchronous client sharing one Redis (or one in-process stand-in)."""

    sync: redis.Redis
    aio: aioredis.Redis
    embedded: bool

    def ping(self) -> bool:
        try:
            return bool(self.sync.ping())
        except redis.RedisError:
            return False

    def close(self) -> None:
        self.sync.close()


def make_kv(url: str) -> KV:
    if url:
        kwargs: dict[str, Any] = {"socket_timeout": 5, "socket_connect_timeout": 3, "decode_responses": True}
        return KV(
            sync=redis.Redis.from_url(url, **kwargs),
            aio=aioredis.Redis.from_url(url, **kwargs),
            embedded=False,
        )
    import fakeredis

    server = fakeredis.FakeServer()
    return KV(
        sync=fakeredis.FakeRedis(server=server, decode_responses=True),
        aio=fakeredis.FakeAsyncRedis(server=server, decode_responses=True),
        embedded=True,
    )
