"""The speed paths of issue 16 keep their guarantees: webhooks stored together (group commit) are each stored once,
and the inbound worker's batches (claimed many at once, SKIP LOCKED on PostgreSQL) process nothing twice, keep
each chat's order and let a poison message fail alone."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from backend.db.migrate import upgrade
from backend.db.models import Citizen, Message, OutboxItem
from backend.db.session import make_engine, make_session_factory
from backend.services.intake import MAX_PROCESS_ATTEMPTS, GroupCommit, Intake, SessionScope, Stored
from backend.workers.inbound import InboundWorker, claim_inbound
from bot.messages import InboundMessage
from handlers.ports import CitizenRef, Reply, Turn


@pytest.fixture
def factory(backend_urls: tuple[str, str]) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(backend_urls[0])
    upgrade(engine)
    yield make_session_factory(engine)
    engine.dispose()


def scope_of(factory: sessionmaker[Session]) -> SessionScope:
    @contextmanager
    def scope() -> Iterator[Session]:
        with factory() as s:
            yield s

    return scope


def msg(pid: str, user: str = "42", text: str = "") -> InboundMessage:
    return InboundMessage(channel="telegram", platform_message_id=pid, user_id=user, chat_id=user, text=text or pid)


def echo(citizen: CitizenRef, m: InboundMessage) -> Turn:
    return Turn([Reply(f"đã nhận {m.text}")])


def test_a_batch_stores_each_event_once_and_answers_redeliveries_as_duplicates(
    factory: sessionmaker[Session],
) -> None:
    intake = Intake(scope_of(factory), echo)
    first = intake.store_many([msg("1"), msg("2", "43"), msg("1")])  # the platform repeated itself within a batch
    assert [s.duplicate for s in first] == [False, False, True]
    assert first[0].message_id == first[2].message_id
    again = intake.store_many([msg("2", "43"), msg("3")])  # redelivered later, with a new one
    assert [s.duplicate for s in again] == [True, False]
    assert again[0].message_id == first[1].message_id
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 3
        assert s.scalar(select(func.count()).select_from(Citizen)) == 2  # one per sender, created once
        assert all(c.last_inbound_at is not None for c in s.scalars(select(Citizen)))


def test_group_commit_stores_concurrent_webhooks_together_and_a_bad_one_fails_alone(
    factory: sessionmaker[Session],
) -> None:
    intake = Intake(scope_of(factory), echo)
    batches: list[int] = []

    async def store_many(msgs: list[InboundMessage]) -> list[Stored]:
        batches.append(len(msgs))
        if any(m.platform_message_id == "bad" for m in msgs):
            raise ValueError("a payload the database refuses")
        return await asyncio.to_thread(intake.store_many, msgs)

    group = GroupCommit(store_many)

    async def main() -> list[object]:
        calls = [group.store(msg(str(i), str(i % 7))) for i in range(40)] + [group.store(msg("bad"))]
        return await asyncio.gather(*calls, return_exceptions=True)

    results = asyncio.run(main())
    assert isinstance(results[-1], ValueError)  # the refused one fails its own request only ...
    assert all(isinstance(r, Stored) and not r.duplicate for r in results[:-1])
    assert max(batches) >= 10 and len(batches) <= 20  # ... and the others still shared transactions (halves)
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 40


def test_two_workers_never_process_a_message_twice_and_keep_each_chats_order(
    factory: sessionmaker[Session],
) -> None:
    seen: list[tuple[str, str]] = []
    lock = threading.Lock()

    def handle(citizen: CitizenRef, m: InboundMessage) -> Turn:
        with lock:
            seen.append((m.user_id, m.platform_message_id))
        return echo(citizen, m)

    scope = scope_of(factory)
    intake = Intake(scope, handle)
    users = [str(u) for u in range(10)]
    intake.store_many([msg(f"{u}-{n:02d}", u) for n in range(12) for u in users])
    workers = [InboundWorker(scope, intake, batch=7), InboundWorker(scope, intake, batch=7)]

    def drain(worker: InboundWorker) -> None:
        while asyncio.run(worker.run_once()):
            pass

    threads = [threading.Thread(target=drain, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 120 and len(set(seen)) == 120  # every message once, none twice
    for u in users:
        mine = [pid for user, pid in seen if user == u]
        assert mine == sorted(mine)  # in the order they were sent
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(OutboxItem)) == 120
        assert s.scalar(select(func.count()).select_from(Message).where(Message.processed_at.is_(None))) == 0


def test_a_poison_message_fails_alone_and_is_given_up_after_its_attempts(factory: sessionmaker[Session]) -> None:
    def handle(citizen: CitizenRef, m: InboundMessage) -> Turn:
        if m.text == "poison":
            raise RuntimeError("the conversation cannot handle this")
        return echo(citizen, m)

    scope = scope_of(factory)
    intake = Intake(scope, handle)
    stored = intake.store_many([msg("p", "1", "poison"), msg("a", "2"), msg("b", "3")])
    with factory() as s:
        ids = claim_inbound(s, 10)
    assert intake.process_many(ids) == 2  # the two others are answered in the same batch
    with factory() as s:
        poison = s.get(Message, stored[0].message_id)
        assert poison is not None and poison.processed_at is None and poison.process_attempts == 1
        assert "cannot handle" in (poison.process_error or "")
        assert poison.locked_until is not None  # retried later, not at once
        assert s.scalar(select(func.count()).select_from(OutboxItem)) == 2
    for _ in range(MAX_PROCESS_ATTEMPTS - 1):
        intake.process_many([stored[0].message_id])
    with factory() as s:
        poison = s.get(Message, stored[0].message_id)
        assert poison is not None and poison.processed_at is not None  # given up: no longer blocks the chat
        assert poison.process_attempts == MAX_PROCESS_ATTEMPTS


def test_concurrent_group_commits_keep_each_senders_arrival_order(factory: sessionmaker[Session]) -> None:
    """Transactions commit concurrently, but a sender's next message waits for the commit of their previous one:
    they are numbered in the order they came, which is the order the worker answers them in."""
    intake = Intake(scope_of(factory), echo)

    async def store_many(msgs: list[InboundMessage]) -> list[Stored]:
        return await asyncio.to_thread(intake.store_many, msgs)

    group = GroupCommit(store_many, transactions=4)

    async def main() -> list[Stored]:
        results: list[Stored] = []
        for wave in range(5):  # each wave arrives while the previous ones may still be committing
            calls = [group.store(msg(f"{u}-{wave}", str(u))) for u in range(12)]
            results += await asyncio.gather(*calls)
        return results

    stored = asyncio.run(main())
    assert len({s.message_id for s in stored}) == 60
    with factory() as s:
        rows = s.execute(select(Message.id, Message.platform_message_id, Message.citizen_id)).all()
    by_sender: dict[int | None, list[tuple[int, str]]] = {}
    for row_id, pid, citizen in rows:
        by_sender.setdefault(citizen, []).append((row_id, pid or ""))
    for sent in by_sender.values():
        waves = [int(pid.rsplit("-", 1)[1]) for _, pid in sorted(sent)]
        assert waves == sorted(waves)


def test_the_group_commit_overlaps_transactions_but_never_two_of_one_sender() -> None:
    """A flood from 30 senders, 10 messages each, all at once, through a store whose transactions take uneven
    times: up to the limit run together, a lone request does not wait for a batch to fill, no sender ever has
    messages in two running transactions, and each sender's messages get increasing ids in arrival order."""
    import random

    rng = random.Random(7)
    running: list[set[str]] = []
    most = 0
    ids: dict[str, int] = {}
    counter = iter(range(1, 10_000))

    async def store_many(msgs: list[InboundMessage]) -> list[Stored]:
        nonlocal most
        senders = {m.user_id for m in msgs}
        assert all(not (senders & other) for other in running)  # no sender in two running transactions
        running.append(senders)
        most = max(most, len(running))
        out = []
        for m in msgs:  # ids are given as the statement runs (a sequence), before the commit's wait
            ids[m.platform_message_id] = next(counter)
            out.append(Stored(ids[m.platform_message_id], int(m.user_id), False))
        await asyncio.sleep(rng.uniform(0.001, 0.02))  # the commit's flush to disk, uneven
        running.remove(senders)
        return out

    group = GroupCommit(store_many, transactions=4)

    async def main() -> float:
        await asyncio.gather(*(group.store(msg(f"{u}-{n}", str(u))) for n in range(10) for u in range(30)))
        started = asyncio.get_running_loop().time()
        await group.store(msg("alone", "99"))
        return asyncio.get_running_loop().time() - started

    alone = asyncio.run(main())
    assert most == 4  # the limit was reached, never passed
    assert alone < 0.05  # written at once: nothing to wait for
    for u in range(30):
        mine = [ids[f"{u}-{n}"] for n in range(10)]
        assert mine == sorted(mine)


def test_processing_records_the_senders_last_message_and_new_chat_but_never_for_an_erased_citizen(
    factory: sessionmaker[Session],
) -> None:
    """Acknowledging writes nothing for a known sender; processing records their last inbound time and follows a
    changed chat id (replies go there), except for a citizen whose data was erased meanwhile."""
    scope = scope_of(factory)
    intake = Intake(scope, echo)
    (first,) = intake.store_many([msg("a1", "77")])
    intake.process_many([first.message_id])
    moved = InboundMessage(channel="telegram", platform_message_id="a2", user_id="77", chat_id="group-9", text="a2")
    (second,) = intake.store_many([moved])
    with factory() as s:
        citizen = s.get(Citizen, second.citizen_id)
        assert citizen is not None and citizen.chat_id == "77"  # the acknowledgement changed nothing
        before = citizen.last_inbound_at
    intake.process_many([second.message_id])
    with factory() as s:
        citizen = s.get(Citizen, second.citizen_id)
        row = s.get(Message, second.message_id)
        assert citizen is not None and row is not None
        assert citizen.chat_id == "group-9"
        assert citizen.last_inbound_at == row.created_at and before is not None and row.created_at >= before
        assert s.scalars(select(OutboxItem.chat_id).order_by(OutboxItem.id.desc())).first() == "group-9"
        citizen.erased_at, citizen.chat_id, citizen.last_inbound_at = row.created_at, "", None
        s.commit()
    (third,) = intake.store_many([msg("a3", "77")])  # stored before the erasure reached this process
    with factory() as s:  # the erased row keeps its platform id in this test: the message is attached to it
        third_row = s.get(Message, third.message_id)
        assert third_row is not None and third_row.citizen_id == second.citizen_id
    intake.process_many([third.message_id])
    with factory() as s:
        citizen = s.get(Citizen, second.citizen_id)
        assert citizen is not None and citizen.chat_id == "" and citizen.last_inbound_at is None
