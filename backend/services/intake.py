"""Inbound messages: stored once (idempotent on the platform id) before anything else, then processed."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.db.models import Citizen, Message, Ticket, utcnow
from backend.domain.codes import canonical_ticket_code
from backend.services.notify import enqueue
from bot.messages import Attachment, Button, GeoPoint, InboundMessage
from handlers.ports import CitizenRef, Reply, Turn

log = logging.getLogger(__name__)
SessionScope = Callable[[], AbstractContextManager[Session]]
Handle = Callable[[CitizenRef, InboundMessage], Turn | list[Reply]]
Prepare = Callable[[list[tuple[CitizenRef, InboundMessage]]], None]
MAX_PROCESS_ATTEMPTS = 5


@dataclass(frozen=True)
class Stored:
    message_id: int
    citizen_id: int
    duplicate: bool


StoreMany = Callable[[list[InboundMessage]], Awaitable[list[Stored]]]  # one transaction for the batch
_FIELDS = tuple(f.name for f in dataclasses.fields(InboundMessage))


def message_to_data(msg: InboundMessage) -> dict[str, Any]:
    """The message as JSON-ready data (``dataclasses.asdict`` spelled out: it is on the webhooks' hot path)."""
    data = {name: getattr(msg, name) for name in _FIELDS}
    data["sent_at"] = msg.sent_at.isoformat()
    data["location"] = dataclasses.asdict(msg.location) if msg.location else None
    data["attachments"] = [dataclasses.asdict(a) for a in msg.attachments]
    return data


def message_from_data(data: dict[str, Any]) -> InboundMessage:
    values = dict(data)
    values["sent_at"] = datetime.fromisoformat(values["sent_at"])
    values["location"] = GeoPoint(**values["location"]) if values.get("location") else None
    values["attachments"] = tuple(Attachment(**a) for a in values.get("attachments") or ())
    return InboundMessage(**values)


def citizen_ref(citizen: Citizen) -> CitizenRef:
    return CitizenRef(citizen.id, citizen.channel, citizen.platform_user_id, citizen.display_name)


def own_ticket_id(session: Session, citizen_id: int, code: str | None) -> int | None:
    """The id of the citizen's own ticket with this code; ``None`` for unknown codes and other people's tickets."""
    canonical = canonical_ticket_code(code) if code else None
    if canonical is None:
        return None
    return session.scalar(select(Ticket.id).where(Ticket.code == canonical, Ticket.citizen_id == citizen_id))


def link_turn(session: Session, row: Message, citizen_id: int, turn: Turn) -> int | None:
    """Link the inbound message to the draft/ticket its turn belonged to; when the turn filed the draft, every
    earlier message of that draft (in and out) joins the ticket. Returns the ticket id for the turn's replies."""
    ticket_id = own_ticket_id(session, citizen_id, turn.ticket_code)
    row.draft_id, row.ticket_id = turn.draft_id, ticket_id
    if ticket_id is not None and turn.draft_id:
        session.execute(
            update(Message)
            .where(Message.citizen_id == citizen_id, Message.draft_id == turn.draft_id, Message.ticket_id.is_(None))
            .values(ticket_id=ticket_id)
            .execution_options(synchronize_session=False)
        )
    return ticket_id


def get_or_create_citizen(session: Session, msg: InboundMessage) -> Citizen:
    query = select(Citizen).where(Citizen.channel == msg.channel, Citizen.platform_user_id == msg.user_id)
    citizen = session.scalars(query).first()
    if citizen is None:
        try:
            with session.begin_nested():
                citizen = Citizen(
                    channel=msg.channel,
                    platform_user_id=msg.user_id,
                    chat_id=msg.chat_id,
                    display_name=msg.display_name,
                )
                session.add(citizen)
                session.flush()
        except IntegrityError:  # created concurrently by another process
            citizen = session.scalars(query).one()
    return citizen


def _insert(session: Session, table: Table) -> Any:
    """``INSERT`` in the session's dialect, which can then take ``ON CONFLICT`` (PostgreSQL and SQLite share it)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(dialect)  # pragma: no cover - gopy runs on PostgreSQL and SQLite only


_CITIZENS: Table = Citizen.__table__  # type: ignore[assignment]
_MESSAGES: Table = Message.__table__  # type: ignore[assignment]


def _citizen_ids(session: Session, msgs: list[InboundMessage]) -> dict[tuple[str, str], int]:
    """The citizen id of every sender of ``msgs``: one read for known senders, and for new ones one ``INSERT ...
    ON CONFLICT DO NOTHING RETURNING`` (a citizen created concurrently by another process is read again). Nothing
    is written for a known sender: their last inbound time and a changed chat id are recorded when the message is
    processed (``Intake._write``), off the acknowledgement's path."""
    latest = {(m.channel, m.user_id): m for m in msgs}  # the last message of each sender names its chat
    t = _CITIZENS.c
    keys = list(latest)

    def read(wanted: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
        query = select(t.id, t.channel, t.platform_user_id).where(tuple_(t.channel, t.platform_user_id).in_(wanted))
        return {(r.channel, r.platform_user_id): r.id for r in session.execute(query)}

    found = read(keys)
    new = [k for k in keys if k not in found]
    if new:
        now = utcnow()
        rows = [
            {
                "channel": c,
                "platform_user_id": u,
                "chat_id": latest[(c, u)].chat_id,
                "display_name": latest[(c, u)].display_name,
                "last_inbound_at": now,
                "created_at": now,
            }
            for c, u in new
        ]
        insert_new = _insert(session, _CITIZENS).on_conflict_do_nothing().returning(t.id, t.channel, t.platform_user_id)
        found.update({(r.channel, r.platform_user_id): r.id for r in session.execute(insert_new, rows)})
        raced = [k for k in new if k not in found]
        if raced:
            found.update(read(raced))
    return found


def first_copies(msgs: Sequence[InboundMessage]) -> dict[tuple[str, str], InboundMessage]:
    """The first copy of each event of a batch, by (channel, platform id), in arrival order (a platform may deliver
    an event twice, even within one batch)."""
    first: dict[tuple[str, str], InboundMessage] = {}
    for m in msgs:
        first.setdefault((m.channel, m.platform_message_id), m)
    return first


def answers(msgs: Sequence[InboundMessage], found: Mapping[tuple[str, str], tuple[int, int, bool]]) -> list[Stored]:
    """One answer per event, in order, from ``found``: (channel, platform id) → (message id, citizen id, stored
    before this batch). A later copy within the batch is a duplicate of the first."""
    out = []
    seen: set[tuple[str, str]] = set()
    for m in msgs:
        key = (m.channel, m.platform_message_id)
        if key not in found:
            raise RuntimeError(f"{m.channel} message {m.platform_message_id} was neither stored nor found")
        message_id, citizen_id, old = found[key]
        out.append(Stored(message_id, citizen_id, old or key in seen))
        seen.add(key)
    return out


def store_batch(session: Session, msgs: list[InboundMessage]) -> list[Stored]:
    """Store many events in the session's transaction (the caller commits): one ``INSERT ... ON CONFLICT DO
    NOTHING`` for the messages; an event already stored, or repeated in the batch, is answered ``duplicate=True``
    with the first copy's id."""
    if not msgs:
        return []
    citizens = _citizen_ids(session, msgs)
    now = utcnow()
    first = first_copies(msgs)
    rows = [
        {
            "channel": m.channel,
            "direction": "in",
            "platform_message_id": m.platform_message_id,
            "citizen_id": citizens[(m.channel, m.user_id)],
            "kind": m.kind,
            "text": m.text,
            "data": message_to_data(m),
            "process_attempts": 0,
            "created_at": now,
        }
        for m in first.values()
    ]
    c = _MESSAGES.c
    insert_new = (
        _insert(session, _MESSAGES)
        .on_conflict_do_nothing()
        .returning(c.id, c.channel, c.platform_message_id, c.citizen_id)
    )
    inserted = session.execute(insert_new, rows)  # one statement (insertmanyvalues), compiled once per process
    found = {(r.channel, r.platform_message_id): (r.id, r.citizen_id, False) for r in inserted}
    missing = [k for k in first if k not in found]
    if missing:
        query = select(Message.id, Message.citizen_id, Message.channel, Message.platform_message_id).where(
            Message.direction == "in", tuple_(Message.channel, Message.platform_message_id).in_(missing)
        )
        found.update(
            {(r.channel, r.platform_message_id): (r.id, r.citizen_id or 0, True) for r in session.execute(query)}
        )
    return answers(msgs, found)


class GroupCommit:
    """The webhooks' group commit: concurrent requests share transactions instead of one each.

    Up to ``transactions`` transactions are written at once. A request's event waits in the pending list; whenever a
    transaction may start, it takes every pending event (up to ``max_batch``) whose sender has no event in a
    transaction still running: a citizen's messages are committed, and numbered, in the order they arrived, while
    other senders never wait behind them. So a lone request is written at once, and under a flood each transaction
    carries what gathered while the others were committing (PostgreSQL then also shares the disk flushes of the
    commits that overlap). Each request is answered only after the transaction holding its event committed
    (acknowledged ⇒ stored). When a batch fails, its halves are tried again, so a bad event fails only its own
    request."""

    def __init__(self, store_many: StoreMany, max_batch: int = 500, transactions: int = 3) -> None:
        self._store_many = store_many
        self._max = max_batch
        self._limit = max(1, transactions)
        self._pending: list[tuple[InboundMessage, asyncio.Future[Stored]]] = []
        self._writing: dict[tuple[str, str], int] = {}  # sender → events of theirs in running transactions
        self._running = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def store(self, msg: InboundMessage) -> Stored:
        future: asyncio.Future[Stored] = asyncio.get_running_loop().create_future()
        self._pending.append((msg, future))
        self._start()
        return await future

    def _start(self) -> None:
        while self._pending and self._running < self._limit:
            batch: list[tuple[InboundMessage, asyncio.Future[Stored]]] = []
            held: set[tuple[str, str]] = set()  # senders whose earlier event must commit first
            rest = []
            for item in self._pending:
                sender = (item[0].channel, item[0].user_id)
                if len(batch) >= self._max or sender in held or sender in self._writing:
                    held.add(sender)
                    rest.append(item)
                else:
                    batch.append(item)
            if not batch:
                return
            self._pending = rest
            for msg, _ in batch:
                sender = (msg.channel, msg.user_id)
                self._writing[sender] = self._writing.get(sender, 0) + 1
            self._running += 1
            task = asyncio.get_running_loop().create_task(self._write(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _write(self, batch: list[tuple[InboundMessage, asyncio.Future[Stored]]]) -> None:
        try:
            await self._commit(batch)
        finally:
            for msg, _ in batch:
                sender = (msg.channel, msg.user_id)
                self._writing[sender] -= 1
                if not self._writing[sender]:
                    del self._writing[sender]
            self._running -= 1
            self._start()

    async def _commit(self, batch: list[tuple[InboundMessage, asyncio.Future[Stored]]]) -> None:
        """One transaction for the batch; when it fails, each half again, so a bad event fails alone."""
        try:
            results = await self._store_many([m for m, _ in batch])
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0][1], exc)
                return
            log.warning("storing %d events together failed; trying them in halves", len(batch), exc_info=True)
            half = len(batch) // 2
            await self._commit(batch[:half])
            await self._commit(batch[half:])
            return
        for (_, future), result in zip(batch, results, strict=True):
            _settle(future, result)


def _settle(future: asyncio.Future[Stored], outcome: Stored | BaseException) -> None:
    if future.done():  # the request went away (client disconnected): its event is stored all the same
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


class Intake:
    def __init__(self, scope: SessionScope, handle: Handle, prepare: Prepare | None = None) -> None:
        self._scope = scope
        self._handle = handle
        self._prepare = prepare  # a batch's lookups at once before its turns (the NLU's parse_many, ...); [] after

    def store_many(self, msgs: list[InboundMessage]) -> list[Stored]:
        """Store many events in one transaction (the webhooks' group commit on SQLite, see :class:`GroupCommit`;
        PostgreSQL's is :class:`backend.services.intake_pg.PgIntake`)."""
        with self._scope() as session:
            stored = store_batch(session, msgs)
            session.commit()
            return stored

    def store(self, msg: InboundMessage) -> Stored:
        """Store the event once. A redelivery returns the first copy with ``duplicate=True``."""
        return self.store_many([msg])[0]

    def process(self, message_id: int, *, deliver_inline: bool = False) -> list[Message]:
        """Run the conversation on a stored message and queue (or, for the web chat, store) the replies.

        Returns the outbound ``Message`` rows written inline (web chat), else an empty list.
        """
        with self._scope() as session:
            row = session.get(Message, message_id)
            if row is None or row.processed_at is not None:
                return []
            citizen = session.get(Citizen, row.citizen_id)
            assert citizen is not None
            msg = message_from_data(row.data)
            ref = citizen_ref(citizen)
        try:
            result = self._handle(ref, msg)
        except Exception as exc:
            log.exception("processing inbound message %s failed", message_id)
            self._failed(message_id, exc)
            raise
        with self._scope() as session:
            written = self._write(session, message_id, ref.id, msg, result, deliver_inline=deliver_inline)
            session.commit()
            return written

    def process_many(self, message_ids: list[int]) -> int:
        """Process a claimed batch: one read, ``prepare`` (the NLU's ``parse_many``) on every text at once, the
        conversation message by message (in the given order), and one transaction writing every outcome.

        A message whose conversation raises is recorded as failed (retried later, given up after
        ``MAX_PROCESS_ATTEMPTS``) without holding back the others; if the batch's transaction fails, each outcome
        is written on its own. Returns how many messages were processed."""
        with self._scope() as session:
            rows = session.scalars(select(Message).where(Message.id.in_(message_ids))).all()
            by_id = {r.id: r for r in rows if r.processed_at is None and r.citizen_id is not None}
            citizens = {
                c.id: c
                for c in session.scalars(select(Citizen).where(Citizen.id.in_({r.citizen_id for r in by_id.values()})))
            }
            work = [
                (i, message_from_data(by_id[i].data), citizen_ref(citizens[by_id[i].citizen_id or 0]))
                for i in message_ids
                if i in by_id
            ]
        done: list[tuple[int, CitizenRef, InboundMessage, Turn | list[Reply]]] = []
        try:
            if self._prepare is not None:
                self._prepare([(ref, m) for _, m, ref in work])
            for message_id, msg, ref in work:
                try:
                    done.append((message_id, ref, msg, self._handle(ref, msg)))
                except Exception as exc:
                    log.exception("processing inbound message %s failed", message_id)
                    self._failed(message_id, exc)
        finally:
            if self._prepare is not None:
                self._prepare([])
        try:
            with self._scope() as session:
                ids = [d[0] for d in done]
                # one read for the batch, held here so that ``_write``'s ``session.get`` finds the rows in the
                # session's identity map (it keeps only weak references) instead of reading each again
                held = session.scalars(select(Message).where(Message.id.in_(ids))).all()
                held_citizens = session.scalars(select(Citizen).where(Citizen.id.in_({d[1].id for d in done}))).all()
                for message_id, ref, msg, result in done:
                    self._write(session, message_id, ref.id, msg, result)
                session.commit()
                del held, held_citizens
        except Exception:
            log.warning("writing a batch of %d outcomes failed; writing them one by one", len(done), exc_info=True)
            for message_id, ref, msg, result in done:
                with self._scope() as session:
                    self._write(session, message_id, ref.id, msg, result)
                    session.commit()
        return len(done)

    def _failed(self, message_id: int, exc: Exception) -> None:
        with self._scope() as session:
            row = session.get(Message, message_id)
            assert row is not None
            row.process_attempts += 1
            row.process_error = f"{type(exc).__name__}: {exc}"
            row.locked_until = utcnow() + timedelta(seconds=5 * row.process_attempts)  # the worker retries then
            if row.process_attempts >= MAX_PROCESS_ATTEMPTS:
                row.processed_at = utcnow()
            session.commit()

    def _write(
        self,
        session: Session,
        message_id: int,
        citizen_id: int,
        msg: InboundMessage,
        result: Turn | list[Reply],
        *,
        deliver_inline: bool = False,
    ) -> list[Message]:
        """Link the message to its turn, queue (or store inline) the replies and mark it processed."""
        turn = result if isinstance(result, Turn) else Turn(list(result))
        row = session.get(Message, message_id)
        citizen = session.get(Citizen, citizen_id)
        assert row is not None and citizen is not None
        if citizen.erased_at is None:  # the sender's last inbound time and current chat (never re-identify)
            citizen.last_inbound_at = row.created_at
            if msg.chat_id and msg.chat_id != citizen.chat_id:
                citizen.chat_id = msg.chat_id
        ticket_id = link_turn(session, row, citizen.id, turn)
        written: list[Message] = []
        for reply in turn.replies:
            buttons = [{"title": b.title, "payload": b.payload} for b in reply.buttons]
            if deliver_inline:
                out = Message(
                    channel=citizen.channel,
                    direction="out",
                    citizen_id=citizen.id,
                    ticket_id=ticket_id,
                    draft_id=turn.draft_id,
                    kind="text",
                    text=reply.text,
                    data={"buttons": buttons, "in_reply_to": message_id},
                    author="bot",
                )
                session.add(out)
                written.append(out)
            else:  # the outbox worker links the sent reply like the message it answers (``reply_to``)
                enqueue(
                    session,
                    citizen,
                    reply.text,
                    buttons=[Button(**b) for b in buttons],
                    author="bot",
                    reply_to=msg.platform_message_id,
                )
        row.processed_at = utcnow()
        row.process_error = None
        return written
