"""The channels of this process: the registry's channel objects configured from the settings, their senders and
send rates, and what a webhook does once a request is verified (store once, wake the inbound worker, record what is
ignored, run the channel's after-accept hook in the background).

Building a sender never calls the platform: a platform that is unreachable at start must not stop the workers.
Each sender connects (and checks its token) on first use; failures are retryable send errors, so the outbox retries
and the messages stored meanwhile go out once the platform is back."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Coroutine
from contextlib import AbstractContextManager
from typing import Any

import redis.asyncio as aioredis
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.config import Settings
from backend.db.models import Message, utcnow
from backend.kv import KV
from backend.services.intake import GroupCommit, Intake, Stored, StoreMany
from backend.services.zalo_tokens import DbZaloTokenStore
from bot.base import ChannelSender, InboundResult
from bot.messages import InboundMessage
from bot.ratelimit import RateLimiter
from bot.registry import CHANNELS, Channel, ChannelHost, Registry
from bot.zalo.tokens import TokenStore

log = logging.getLogger(__name__)
SessionScope = Callable[[], AbstractContextManager[Session]]


class InboundSignal:
    """Wakes the inbound worker of this process as soon as a webhook stored a message (it polls otherwise)."""

    def __init__(self) -> None:
        self._event: asyncio.Event | None = None

    def event(self) -> asyncio.Event:
        if self._event is None:
            self._event = asyncio.Event()
        return self._event

    def wake(self) -> None:
        if self._event is not None:
            self._event.set()


class BackgroundTasks:
    """Short tasks run after a response was sent, kept referenced until done."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def record_ignored(scope: SessionScope, channel: str, raw: bytes, outcome: str) -> None:
    """Keep a record of a webhook event we do not act on (once per distinct payload): the channel, a digest of the
    payload, the outcome and the time. Never the content: group chats carry third parties' names and phone
    numbers."""
    digest = hashlib.sha256(raw).hexdigest()[:32]
    with scope() as session:
        session.add(
            Message(
                channel=channel,
                direction="in",
                platform_message_id=f"ignored:{digest}",
                kind="ignored",
                data={"outcome": outcome},
                processed_at=utcnow(),
            )
        )
        try:
            session.commit()
        except IntegrityError:
            session.rollback()


class ChannelHub(ChannelHost):
    """The configured channels of this process and the services they share (see ``bot/registry.py``)."""

    def __init__(
        self,
        settings: Settings,
        scope: SessionScope,
        kv: KV,
        intake: Callable[[], Intake],
        registry: Registry = CHANNELS,
        menu_hint: str = "",
        store_many: StoreMany | None = None,
    ) -> None:
        self._menu_hint = menu_hint  # the ``menu_hint`` template, under buttons a platform shows as a numbered list
        self._scope = scope
        self._kv = kv
        self._intake = intake  # looked up when needed: tests replace the conversation behind it
        self.channels: dict[str, Channel[Any]] = registry.build(settings.model_dump())
        self.inbound = InboundSignal()
        self.tasks = BackgroundTasks()
        self._senders: dict[str, ChannelSender] | None = None
        # one transaction for many webhooks, up to ``intake_transactions`` at once (docs/capacity.md); on SQLite
        # through the session in a thread, on PostgreSQL ``store_many`` (backend/services/intake_pg.py)
        self._group = GroupCommit(store_many or self._store_in_thread, transactions=settings.intake_transactions)

    async def _store_in_thread(self, msgs: list[InboundMessage]) -> list[Stored]:
        return await asyncio.to_thread(self._intake().store_many, msgs)

    def get(self, name: str) -> Channel[Any] | None:
        return self.channels.get(name)

    # -- ChannelHost --------------------------------------------------------------------------------------
    @property
    def redis(self) -> aioredis.Redis:
        return self._kv.aio

    def key(self, *parts: str) -> str:
        return self._kv.key(*parts)

    def token_store(self, name: str, access_token: str, refresh_token: str) -> TokenStore:
        return DbZaloTokenStore(self._scope, access_token, refresh_token, name=name)

    async def sender(self, channel: str) -> ChannelSender | None:
        return (await self.senders()).get(channel)

    async def receive(self, result: InboundResult) -> None:
        """Polling mode: store a message as its webhook would (events without a message are dropped)."""
        if result.message is not None:
            await self.accept(result.message.channel, b"", result)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        self.tasks.spawn(coro)

    # -- outbound -----------------------------------------------------------------------------------------
    async def senders(self) -> dict[str, ChannelSender]:
        """Senders for the configured platforms (none when no tokens are set: the web chat needs none)."""
        if self._senders is None:
            built = {name: ch.sender(self) for name, ch in self.channels.items() if ch.sends}
            for sender in built.values():
                sender.menu_hint = self._menu_hint
            if built:
                log.info("channels configured: %s", ", ".join(sorted(built)))
            self._senders = built
        return self._senders

    def rate_limiter(self) -> RateLimiter | None:
        """The platforms' send limits, shared by every process through Redis (None when only the web chat runs)."""
        rules = {}
        for name, channel in self.channels.items():
            rate = channel.rate
            if channel.sends and rate is not None:
                rules[name] = (rate.overall, rate.per_chat)
        return RateLimiter(self._kv.aio, rules=rules, prefix=self._kv.key("rl")) if rules else None

    # -- inbound ------------------------------------------------------------------------------------------
    async def accept(self, channel: str, raw: bytes, result: InboundResult) -> str:
        """Store a verified event once and wake the inbound worker; an ignored one is recorded (digest and outcome
        only, never processed). Returns the outcome to acknowledge with ("duplicate" for a redelivery)."""
        if result.message is None:
            await asyncio.to_thread(record_ignored, self._scope, channel, raw, result.outcome)
            return result.outcome
        stored = await self._group.store(result.message)
        if stored.duplicate:
            return "duplicate"
        self.inbound.wake()
        return result.outcome

    async def aclose(self) -> None:
        """Release the platform clients (they belong to the event loop that is ending)."""
        senders, self._senders = self._senders, None
        for sender in (senders or {}).values():
            await sender.aclose()
