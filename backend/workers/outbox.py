"""The outbox worker: claims due messages safely across processes, sends them, retries, dead-letters."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Table, bindparam, func, insert, literal_column, or_, select, tuple_, update
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.util import identity_key
from sqlalchemy.sql.elements import ColumnElement

from backend.db.models import Message, OutboxItem, TicketEvent, utcnow
from backend.workers.transient import retry_transient
from bot.base import ChannelSender, SendError
from bot.messages import Button, OutboundMessage

log = logging.getLogger(__name__)
SessionScope = Callable[[], AbstractContextManager[Session]]
LEASE = timedelta(seconds=120)


class Limiter(Protocol):
    async def acquire(self, channel: str, chat_id: str) -> None: ...


@dataclass(frozen=True)
class Claimed:
    id: int
    channel: str
    chat_id: str
    text: str
    buttons: list[dict[str, Any]]
    reply_to: str | None
    attempts: int


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base_delay: float = 2.0
    max_delay: float = 600.0
    # A platform that cannot be reached at all (reason "network") is waited for this long, however many attempts
    # that takes: its outage must not send the replies to the dead letters (they go out once it is back).
    unreachable_patience: float = 24 * 3600.0

    def keeps_waiting(self, error: SendError, created_at: datetime) -> bool:
        return error.reason == "network" and utcnow() - created_at < timedelta(seconds=self.unreachable_patience)

    def delay(self, attempts: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return float(max(retry_after, 0.0)) + random.uniform(0, 0.25)
        raw = min(self.max_delay, self.base_delay * 2 ** max(attempts - 1, 0))
        return float(raw) * random.uniform(0.5, 1.0)  # full jitter on the upper half


# the columns a claim reads, in ``Claimed``'s order
CLAIMED = (
    OutboxItem.id,
    OutboxItem.channel,
    OutboxItem.chat_id,
    OutboxItem.text,
    OutboxItem.buttons,
    OutboxItem.reply_to,
    OutboxItem.attempts,
)
_OUTBOX: Table = OutboxItem.__table__  # type: ignore[assignment]
_MESSAGES: Table = Message.__table__  # type: ignore[assignment]
# one delivery recorded: the item still pending (a retried transaction or another worker never records it twice)
_SENT = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id == bindparam("item_id"), _OUTBOX.c.status == "pending")
    .values(
        status="sent",
        sent_at=bindparam("now", type_=_OUTBOX.c.sent_at.type),
        locked_until=None,
        attempts=_OUTBOX.c.attempts + 1,
        platform_message_ids=bindparam("platform_ids", type_=_OUTBOX.c.platform_message_ids.type),
        last_error=None,
    )
)


def claim(session: Session, limit: int, channels: list[str] | None = None) -> list[Claimed]:
    """Lease up to ``limit`` due items; the oldest pending item per chat only, so order is kept per chat."""
    now = utcnow()
    older = aliased(OutboxItem)
    pending: ColumnElement[Any] = literal_column("'pending'")  # written out, not bound: the partial indexes apply
    query = (
        select(*CLAIMED)
        .where(
            OutboxItem.status == pending,
            OutboxItem.next_attempt_at <= now,
            or_(OutboxItem.locked_until.is_(None), OutboxItem.locked_until < now),
            # the chat's oldest pending item: a correlated min() is an index probe per row whatever the statistics
            # say (the NOT EXISTS anti-join it replaces could scan the whole queue per row on a young table)
            OutboxItem.id
            == select(func.min(older.id))
            .where(older.status == pending, older.channel == OutboxItem.channel, older.chat_id == OutboxItem.chat_id)
            .scalar_subquery(),
        )
        .order_by(OutboxItem.id)
        .limit(limit)
    )
    if channels is not None:
        query = query.where(OutboxItem.channel.in_(channels))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=OutboxItem)
    found = session.execute(query).all()  # plain rows: no ORM objects to build and track for a lease
    won = _lease(session, [row[0] for row in found], now) if found else set()
    session.commit()
    return [
        Claimed(item_id, channel, chat_id, text, list(buttons), reply_to, attempts)
        for item_id, channel, chat_id, text, buttons, reply_to, attempts in found
        if item_id in won
    ]


def _lease(session: Session, ids: list[int], now: datetime) -> set[int]:
    """Take the leases with one conditional update: exactly one claimer wins each item, even without row locks
    (SQLite). Returns the ids won."""
    result = session.execute(
        update(OutboxItem)
        .where(
            OutboxItem.id.in_(ids),
            OutboxItem.status == "pending",
            or_(OutboxItem.locked_until.is_(None), OutboxItem.locked_until < now),
        )
        .values(locked_until=now + LEASE)
        .returning(OutboxItem.id)
        .execution_options(synchronize_session=False)
    )
    return set(result.scalars())


def mark_sent(session: Session, item_id: int, platform_ids: list[str], *, commit: bool = True) -> None:
    mark_sent_many(session, [(item_id, platform_ids)])
    if commit:
        session.commit()


def mark_sent_many(session: Session, sent: list[tuple[int, list[str]]]) -> None:
    """Record deliveries (the caller commits): each item sent, and its outbound message linked to the ticket or
    draft of the message it answers. Two reads for the whole batch (the items still pending, the messages they
    answer) and two statements run for every item at once, in Core (the ORM's unit of work cost the outbox more CPU
    than the sends themselves)."""
    platform_ids = dict(sent)
    items = session.execute(
        select(
            OutboxItem.id,
            OutboxItem.channel,
            OutboxItem.chat_id,
            OutboxItem.citizen_id,
            OutboxItem.ticket_id,
            OutboxItem.text,
            OutboxItem.buttons,
            OutboxItem.reply_to,
            OutboxItem.author,
        )
        .where(OutboxItem.id.in_(platform_ids), OutboxItem.status == "pending")
        .order_by(OutboxItem.id)
    ).all()
    if not items:
        return
    asked = {(i.channel, i.reply_to) for i in items if i.reply_to is not None}
    answered: dict[tuple[str, str, int | None], tuple[int | None, str | None]] = {}
    if asked:
        rows = session.execute(
            select(
                Message.channel, Message.platform_message_id, Message.citizen_id, Message.ticket_id, Message.draft_id
            )
            .where(Message.direction == "in", tuple_(Message.channel, Message.platform_message_id).in_(asked))
            .order_by(Message.id)
        )
        for channel, platform_id, citizen_id, ticket_id, draft_id in rows:
            answered.setdefault((channel, platform_id or "", citizen_id), (ticket_id, draft_id))
    now = utcnow()
    session.execute(_SENT, [{"item_id": i.id, "now": now, "platform_ids": platform_ids[i.id]} for i in items])
    for item in items:  # a caller's session that holds some of these items reads them again (not its stale copy)
        held = session.identity_map.get(identity_key(OutboxItem, item.id))
        if held is not None:
            session.expire(held)
    messages = []
    for item in items:
        ids = platform_ids[item.id]
        ticket_id, draft_id = item.ticket_id, None
        if item.reply_to is not None:  # a bot reply belongs to what the message it answers belongs to
            found = answered.get((item.channel, item.reply_to, item.citizen_id))
            if found is not None:
                ticket_id, draft_id = ticket_id or found[0], found[1]
        messages.append(
            {
                "channel": item.channel,
                "direction": "out",
                "citizen_id": item.citizen_id,
                "ticket_id": ticket_id,
                "draft_id": draft_id,
                # Telegram numbers messages per chat: the chat keeps ids of different chats apart (as inbound ids do)
                "platform_message_id": f"{item.chat_id}:{ids[0]}" if ids else None,
                "kind": "text",
                "text": item.text,
                "data": {"buttons": item.buttons, "outbox_id": item.id},
                "author": item.author or "bot",
                "created_at": now,
            }
        )
    session.execute(insert(_MESSAGES), messages)


def mark_failed(session: Session, item_id: int, error: SendError, policy: RetryPolicy) -> str:
    item = session.get(OutboxItem, item_id)
    if item is None or item.status != "pending":
        return "gone"
    item.attempts += 1
    item.locked_until = None
    item.last_error = f"{error.reason}: {error}"
    if error.retryable and (item.attempts < policy.max_attempts or policy.keeps_waiting(error, item.created_at)):
        item.next_attempt_at = utcnow() + timedelta(seconds=policy.delay(item.attempts, error.retry_after))
        session.commit()
        return "retry"
    item.status = "dead"
    if item.ticket_id is not None:
        session.add(
            TicketEvent(
                ticket_id=item.ticket_id,
                kind="undelivered",
                actor_type="system",
                actor_id="outbox",
                public=False,
                note=UNDELIVERED_NOTES.get(error.reason, f"Không gửi được tin nhắn tới người dân ({error.reason})."),
                data={"outbox_id": item.id, "reason": error.reason},
            )
        )
    session.commit()
    return "dead"


UNDELIVERED_NOTES = {
    "not_interacted": "Không gửi được tin nhắn: người dân chưa tương tác với Zalo OA gần đây, OA không được phép "
    "nhắn trước. Cần liên hệ người dân bằng cách khác.",
    "blocked": "Không gửi được tin nhắn: người dân đã chặn hoặc rời khỏi kênh chat.",
}


class OutboxWorker:
    """Only ``consume``s: claim due rows, deliver each through its channel's sender, record the outcome."""

    def __init__(
        self,
        scope: SessionScope,
        senders: Mapping[str, ChannelSender],
        limiter: Limiter | None = None,
        policy: RetryPolicy | None = None,
        batch: int = 100,
    ) -> None:
        self._scope = scope
        self._senders = senders
        self._limiter = limiter
        self._policy = policy or RetryPolicy()
        self._batch = batch
        self.name = f"outbox-{secrets.token_hex(3)}"

    def _claim(self) -> list[Claimed]:
        with self._scope() as session:
            return claim(session, self._batch, ["webchat", *self._senders])

    async def consume(self, item: Claimed, sent: list[tuple[int, list[str]]] | None = None) -> str:
        """Deliver one item and record the outcome; with ``sent``, a delivery is only added to that list, for the
        caller to record with the rest of its batch (one transaction for many)."""
        if item.channel == "webchat":  # the web chat reads its messages from the database
            if sent is not None:
                sent.append((item.id, []))
            else:
                await asyncio.to_thread(self._record_sent, item.id, [])
            return "sent"
        sender = self._senders[item.channel]
        outbound = OutboundMessage(
            channel=item.channel,
            chat_id=item.chat_id,
            text=item.text,
            buttons=tuple(Button(**b) for b in item.buttons),
            reply_to=item.reply_to,
        )
        try:
            if self._limiter is not None:
                await self._limiter.acquire(item.channel, item.chat_id)
            receipt = await sender.send(outbound)
        except SendError as exc:
            outcome = await asyncio.to_thread(self._record_failed, item.id, exc)
            log.info("outbox %s to %s:%s failed (%s): %s", item.id, item.channel, item.chat_id, outcome, exc.reason)
            return outcome
        except Exception as exc:  # an unexpected bug in a sender must not lose the message
            log.exception("outbox %s: unexpected error", item.id)
            err = SendError(str(exc), reason="internal", retryable=True)
            return await asyncio.to_thread(self._record_failed, item.id, err)
        if sent is not None:
            sent.append((item.id, list(receipt.platform_message_ids)))
        else:
            await asyncio.to_thread(self._record_sent, item.id, list(receipt.platform_message_ids))
        return "sent"

    def _record_sent(self, item_id: int, ids: list[str]) -> None:
        self._record_sent_many([(item_id, ids)])

    def _record_sent_many(self, sent: list[tuple[int, list[str]]]) -> None:
        def step() -> None:
            with self._scope() as session:
                mark_sent_many(session, sent)
                session.commit()

        # the messages are out: losing the record to a dropped connection would send them again when the lease ends
        retry_transient(step, f"outbox {[i for i, _ in sent]} sent")

    def _record_failed(self, item_id: int, error: SendError) -> str:
        def step() -> str:
            with self._scope() as session:
                return mark_failed(session, item_id, error, self._policy)

        return retry_transient(step, f"outbox {item_id} failed")

    async def run_once(self) -> int:
        items = await asyncio.to_thread(self._claim)
        by_chat: dict[tuple[str, str], list[Claimed]] = {}
        for item in items:
            by_chat.setdefault((item.channel, item.chat_id), []).append(item)

        sent: list[tuple[int, list[str]]] = []

        async def _chat(queue: list[Claimed]) -> None:
            for it in queue:
                await self.consume(it, sent)

        try:
            await asyncio.gather(*(_chat(q) for q in by_chat.values()))
        finally:  # every delivery of the batch recorded in one transaction (also when the worker is stopping)
            if sent:
                await asyncio.to_thread(self._record_sent_many, sent)
        return len(items)

    async def run_forever(self, stop: asyncio.Event, idle: float = 0.5) -> None:
        while not stop.is_set():
            try:
                n = await self.run_once()
            except Exception:
                log.exception("outbox worker iteration failed")
                n = 0
            if n == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=idle)
