"""Redis clients: a real server when ``GOPY_REDIS_URL`` is set, an in-process stand-in otherwise.

Every key gopy writes starts with ``GOPY_REDIS_PREFIX`` (default ``gopy``): build keys with :meth:`KV.key`, so
several installations (or test runs) can share one Redis database without touching each other's keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio as aioredis

DEFAULT_PREFIX = "gopy"


@dataclass
class KV:
    """A synchronous and an asynchronous client sharing one Redis (or one in-process stand-in)."""

    sync: redis.Redis
    aio: aioredis.Redis
    embedded: bool
    prefix: str = DEFAULT_PREFIX

    def key(self, *parts: str) -> str:
        """``key("state", "conv:telegram:42")`` → ``"gopy:state:conv:telegram:42"``."""
        return ":".join((self.prefix, *parts))

    def ping(self) -> bool:
        try:
            return bool(self.sync.ping())
        except redis.RedisError:
            return False

    def close(self) -> None:
        self.sync.close()


def make_kv(url: str, prefix: str = DEFAULT_PREFIX) -> KV:
    if url:
        kwargs: dict[str, Any] = {"socket_timeout": 5, "socket_connect_timeout": 3, "decode_responses": True}
        return KV(
            sync=redis.Redis.from_url(url, **kwargs),
            aio=aioredis.Redis.from_url(url, **kwargs),
            embedded=False,
            prefix=prefix,
        )
    import fakeredis

    server = fakeredis.FakeServer()
    return KV(
        sync=fakeredis.FakeRedis(server=server, decode_responses=True),
        aio=fakeredis.FakeAsyncRedis(server=server, decode_responses=True),
        embedded=True,
        prefix=prefix,
    )
