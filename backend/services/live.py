"""Live updates for the console: which tickets changed, published after the unit of work commits.

- :func:`install` hooks a session factory once: after each flush it notes the tickets touched (a new ticket, a new
  history event, a changed row, a new alert), and after the commit it publishes one :class:`TicketChange` per ticket
  on the :class:`LiveBus`. A rollback forgets them: nothing is announced that did not happen. So every way a ticket
  changes (the chat, the API, the console, the SLA worker) is announced, from one hook point.
- The bus is a port; :class:`RedisLiveBus` is Redis pub/sub through ``backend/kv.py`` (the real server in production,
  shared by the web and worker processes; the in-process stand-in on the embedded default).
- :class:`LiveHub` (one per web process) reads the bus once and fans the changes out to the open event streams
  (``GET /console/events``) whose official's scope includes a unit of the ticket (:meth:`TicketChange.seen_by`).

A change carries the ticket's code, what happened (``kind``) and the units that may see it (the handling unit and
every unit alerted or escalated to), nothing personal: the page fetches what it shows through the usual, audited
routes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import redis
from sqlalchemy import event, select
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from backend.db.models import Ticket, TicketAlert, TicketEvent
from backend.kv import KV

log = logging.getLogger(__name__)
KINDS = ("updated", "reply", "status", "created", "urgent")  # by precedence: one change per ticket and commit
_PENDING = "live_pending"  # session.info key: ticket id -> kind


@dataclass(frozen=True, slots=True)
class TicketChange:
    code: str
    kind: str  # created | updated | reply | status | urgent
    units: frozenset[str]  # who may see it: the handling unit and the units alerted or escalated to
    urgent: bool = False

    def seen_by(self, scope: frozenset[str] | set[str]) -> bool:
        return not self.units.isdisjoint(scope)

    def to_json(self) -> str:
        return json.dumps({"code": self.code, "kind": self.kind, "units": sorted(self.units), "urgent": self.urgent})

    @classmethod
    def from_json(cls, raw: str) -> TicketChange | None:
        try:
            data = json.loads(raw)
            return cls(str(data["code"]), str(data["kind"]), frozenset(map(str, data["units"])), bool(data["urgent"]))
        except (ValueError, KeyError, TypeError):
            return None

    def public(self) -> str:
        """What the browser receives (the units stay on the server)."""
        return json.dumps({"code": self.code, "kind": self.kind, "urgent": self.urgent})


class LiveBus(ABC):
    """Carries ticket changes from whichever process committed them to every web process."""

    @abstractmethod
    def publish(self, changes: list[TicketChange]) -> None: ...

    @abstractmethod
    def listen(self) -> AsyncIterator[TicketChange]: ...


class RedisLiveBus(LiveBus):
    def __init__(self, kv: KV, poll_seconds: float = 1.0) -> None:
        self.kv = kv
        self.channel = kv.key("live", "tickets")
        self.poll_seconds = poll_seconds

    def publish(self, changes: list[TicketChange]) -> None:
        for change in changes:
            self.kv.sync.publish(self.channel, change.to_json())

    async def listen(self) -> AsyncIterator[TicketChange]:
        pubsub = self.kv.aio.pubsub()
        try:
            await pubsub.subscribe(self.channel)
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=self.poll_seconds)
                if message is None or message.get("type") != "message":
                    continue
                change = TicketChange.from_json(str(message["data"]))
                if change is not None:
                    yield change
        finally:
            with contextlib.suppress(Exception):  # the connection may already be gone at shutdown
                await pubsub.aclose()  # type: ignore[no-untyped-call]


# -- the publishing hook ----------------------------------------------------------------------------------------
def _kind_of(event_kind: str, urgent: bool) -> str:
    if event_kind == "created":
        return "urgent" if urgent else "created"
    return event_kind if event_kind in ("reply", "status") else "updated"


def _note(pending: dict[int, str], ticket_id: int | None, kind: str) -> None:
    if ticket_id is None:
        return
    old = pending.get(ticket_id)
    if old is None or KINDS.index(kind) > KINDS.index(old):
        pending[ticket_id] = kind


def _after_flush(session: Session, _context: Any) -> None:
    pending: dict[int, str] = session.info.setdefault(_PENDING, {})
    for obj in session.new:
        if isinstance(obj, Ticket):
            _note(pending, obj.id, "urgent" if obj.urgent else "created")
        elif isinstance(obj, TicketEvent):
            _note(pending, obj.ticket_id, _kind_of(obj.kind, False))
        elif isinstance(obj, TicketAlert):
            _note(pending, obj.ticket_id, "updated")
    for obj in session.dirty:
        if isinstance(obj, Ticket) and session.is_modified(obj, include_collections=False):
            _note(pending, obj.id, "updated")


def _resolve(session: Session, pending: dict[int, str]) -> list[TicketChange]:
    """Codes and units of the pending tickets, read in the committing transaction (before the commit)."""
    ids = sorted(pending)
    rows = session.execute(select(Ticket.id, Ticket.code, Ticket.unit_code, Ticket.urgent).where(Ticket.id.in_(ids)))
    units: dict[int, set[str]] = {}
    for ticket_id, unit in session.execute(
        select(TicketAlert.ticket_id, TicketAlert.unit_code).where(TicketAlert.ticket_id.in_(ids))
    ):
        units.setdefault(ticket_id, set()).add(unit)
    changes = []
    for ticket_id, code, unit_code, urgent in rows:
        kind = pending[ticket_id]
        if kind == "created" and urgent:
            kind = "urgent"
        changes.append(TicketChange(code, kind, frozenset({unit_code, *units.get(ticket_id, ())}), bool(urgent)))
    return changes


def _before_commit(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint released: the transaction goes on
        return
    if session.info.get(_PENDING) is None and not (session.new or session.dirty):
        return
    session.flush()  # what commit would flush, noted now so it can be resolved inside the transaction
    pending: dict[int, str] = session.info.pop(_PENDING, {})
    if pending:
        session.info["live_ready"] = _resolve(session, pending)


def install(factory: sessionmaker[Session], bus: LiveBus) -> None:
    """Announce, after each commit of a session from ``factory``, the tickets that the commit changed."""

    def after_commit(session: Session) -> None:
        if session.in_nested_transaction():
            return
        changes: list[TicketChange] = session.info.pop("live_ready", [])
        if not changes:
            return
        try:
            bus.publish(changes)
        except redis.RedisError:  # live updates are a convenience: a commit never fails because of them
            log.warning("could not publish %d live ticket change(s)", len(changes), exc_info=True)

    def forget(session: Session, previous: SessionTransaction) -> None:
        if previous.nested:  # a savepoint (a retried insert): the rest of the transaction still stands
            return
        session.info.pop(_PENDING, None)
        session.info.pop("live_ready", None)

    event.listen(factory, "after_flush", _after_flush)
    event.listen(factory, "before_commit", _before_commit)
    event.listen(factory, "after_commit", after_commit)
    event.listen(factory, "after_soft_rollback", forget)


# -- the per-process fan-out --------------------------------------------------------------------------------------
class LiveHub:
    """Reads the bus once per process and hands every change to each open stream's queue.

    :meth:`close` ends every stream (server shutdown): their queues get ``None``."""

    QUEUE = 256  # a stream that falls this far behind is told to reload instead

    def __init__(self, bus: LiveBus) -> None:
        self.bus = bus
        self._queues: dict[asyncio.Queue[TicketChange | None], frozenset[str]] = {}  # each stream's scope
        self._reader: asyncio.Task[None] | None = None
        self.closed = False

    @property
    def streams(self) -> int:
        return len(self._queues)

    async def _read(self) -> None:
        while not self.closed:
            try:
                async for change in self.bus.listen():
                    self._fan_out(change)
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis went away: retry; the streams stay open and keep their keep-alives
                log.warning("live updates: the bus failed, retrying", exc_info=True)
            await asyncio.sleep(1.0)  # before listening again (never a busy loop)

    def _fan_out(self, change: TicketChange) -> None:
        """Hand ``change`` to the streams whose official may see it (the others are not even woken)."""
        for queue, scope in list(self._queues.items()):
            if change.seen_by(scope):
                with contextlib.suppress(asyncio.QueueFull):  # a stuck stream: it ends on its time limit
                    queue.put_nowait(change)

    @contextlib.asynccontextmanager
    async def subscribe(self, scope: frozenset[str]) -> AsyncIterator[asyncio.Queue[TicketChange | None]]:
        """A queue of the changes a unit of ``scope`` may see; ``None`` in it: the hub is closing."""
        queue: asyncio.Queue[TicketChange | None] = asyncio.Queue(self.QUEUE)
        if self.closed:
            queue.put_nowait(None)
        self._queues[queue] = scope
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read(), name="live-hub")
        try:
            yield queue
        finally:
            self._queues.pop(queue, None)

    async def close(self) -> None:
        self.closed = True
        for queue in list(self._queues):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)
            if queue.full():  # make room for the end marker
                queue.get_nowait()
                queue.put_nowait(None)
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
