"""Conversation state: Redis with a TTL (the in-process stand-in when embedded); memory if Redis is down."""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import redis

from backend.kv import KV
from backend.services.batch_memo import BatchMemo
from handlers.ports import StateStore

log = logging.getLogger(__name__)


class _Writes(threading.local):
    """The states saved during this thread's batch, waiting to be written together."""

    def __init__(self) -> None:
        self.active = False
        self.pending: dict[str, tuple[str, int]] = {}


class RedisStateStore(StateStore):
    """Keys ``<GOPY_REDIS_PREFIX>:state:<key>``, e.g. ``gopy:state:conv:telegram:42``."""

    def __init__(self, kv: KV) -> None:
        self._client = kv.sync
        self._prefix = kv.key("state", "")
        self._fallback: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()
        self._warned = False
        self._memo = BatchMemo()  # a batch's states read at once (see ``prefetch``)
        self._writes = _Writes()  # a batch's states written at once, at its end

    def prefetch(self, keys: list[str]) -> None:
        """Start a batch: read its conversations' states in one round trip (MGET), each used by one ``load``; the
        batch's ``save``s are kept (and read back by ``load``) until ``prefetch([])`` ends the batch and writes
        them in one round trip (a pipeline), before the batch's outcomes are committed. When Redis is down nothing
        is prefetched and the writes go to process memory, as a single ``save`` would."""
        if not keys:
            self._memo.clear()
            self._flush()
            return
        self._writes.active = True
        try:
            raws = self._client.mget([self._prefix + key for key in keys])
        except redis.RedisError as exc:
            self._down(exc)
            self._memo.clear()
            return
        self._memo.fill(dict(zip(keys, raws, strict=True)))

    def _flush(self) -> None:
        pending, self._writes.pending, self._writes.active = self._writes.pending, {}, False
        if not pending:
            return
        try:
            pipe = self._client.pipeline(transaction=False)
            for key, (raw, ttl) in pending.items():
                pipe.set(self._prefix + key, raw, ex=ttl)
            pipe.execute()
        except redis.RedisError as exc:
            self._down(exc)
            with self._lock:
                for key, (raw, ttl) in pending.items():
                    self._fallback[key] = (time.monotonic() + ttl, raw)

    def _down(self, exc: Exception) -> None:
        if not self._warned:
            log.warning("Redis unavailable for conversation state, using process memory: %s", exc)
            self._warned = True

    def load(self, key: str) -> dict[str, Any] | None:
        written = self._writes.pending.get(key)
        found, raw = (True, written[0]) if written is not None else self._memo.take(key)
        try:
            if not found:
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
        self._memo.forget(key)
        raw = json.dumps(state, ensure_ascii=False, default=str)
        if self._writes.active:  # within a batch: written with the others at its end
            self._writes.pending[key] = (raw, ttl_seconds)
            return
        try:
            self._client.set(self._prefix + key, raw, ex=ttl_seconds)
        except redis.RedisError as exc:
            self._down(exc)
            with self._lock:
                self._fallback[key] = (time.monotonic() + ttl_seconds, raw)

    def delete(self, key: str) -> None:
        self._memo.forget(key)
        self._writes.pending.pop(key, None)
        try:
            self._client.delete(self._prefix + key)
        except redis.RedisError as exc:
            self._down(exc)
        with self._lock:
            self._fallback.pop(key, None)
