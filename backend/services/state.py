"""Conversation state: Redis with a TTL (the in-process stand-in when embedded); memory if Redis is down."""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import redis

from backend.kv import KV
from handlers.ports import StateStore

log = logging.getLogger(__name__)


class RedisStateStore(StateStore):
    """Keys ``<GOPY_REDIS_PREFIX>:state:<key>``, e.g. ``gopy:state:conv:telegram:42``."""

    def __init__(self, kv: KV) -> None:
        self._client = kv.sync
        self._prefix = kv.key("state", "")
        self._fallback: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()
        self._warned = False

    def _down(self, exc: Exception) -> None:
        if not self._warned:
            log.warning("Redis unavailable for conversation state, using process memory: %s", exc)
            self._warned = True

    def load(self, key: str) -> dict[str, Any] | None:
        try:
            raw = self._client.get(self._prefix + key)
        except redis.RedisError as exc:
            self._down(exc)
            with self._lock:
                expires, raw_mem = self._fallback.get(key, (0.0, ""))
                raw = raw_mem if expires > time.monotonic() else None
        if raw is None:
            return None
        value: dict[str, Any] = json.loads(raw)
        return value

    def save(self, key: str, state: dict[str, Any], ttl_seconds: int) -> None:
        raw = json.dumps(state, ensure_ascii=False, default=str)
        try:
            self._client.set(self._prefix + key, raw, ex=ttl_seconds)
        except redis.RedisError as exc:
            self._down(exc)
            with self._lock:
                self._fallback[key] = (time.monotonic() + ttl_seconds, raw)

    def delete(self, key: str) -> None:
        try:
            self._client.delete(self._prefix + key)
        except redis.RedisError as exc:
            self._down(exc)
        with self._lock:
            self._fallback.pop(key, None)
