"""The webhooks' PostgreSQL write (one round trip per batch, on the event loop) keeps the contract of the session's
``store_batch``: each event stored once, redeliveries (later or within the batch) answered as duplicates with the
first copy's id, one citizen per sender, a chat's messages numbered in arrival order, nothing half-stored."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from backend.db.migrate import upgrade
from backend.db.models import Citizen, Message
from backend.db.session import make_engine, make_session_factory
from backend.services.intake import GroupCommit, Intake, Stored, message_from_data
from backend.services.intake_pg import PgIntake, conninfo
from bot.messages import Attachment, GeoPoint, InboundMessage
from handlers.ports import CitizenRef, Reply, Turn


@pytest.fixture
def factory(pg_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(pg_url)
    upgrade(engine)
    yield make_session_factory(engine)
    engine.dispose()


def msg(pid: str, user: str = "42", text: str = "", channel: str = "telegram", chat: str = "") -> InboundMessage:
    return InboundMessage(
        channel=channel, platform_message_id=pid, user_id=user, chat_id=chat or user, text=text or pid
    )


def echo(citizen: CitizenRef, m: InboundMessage) -> Turn:
    return Turn([Reply(m.text)])


def session_intake(factory: sessionmaker[Session]) -> Intake:
    @contextmanager
    def scope() -> Iterator[Session]:
        with factory() as s:
            yield s

    return Intake(scope, echo)


def table(factory: sessionmaker[Session]) -> list[tuple[str, str, str, str]]:
    """The stored inbound messages as (channel, platform id, sender, text), in id order."""
    with factory() as s:
        rows = s.execute(
            select(Message.channel, Message.platform_message_id, Citizen.platform_user_id, Message.text)
            .join(Citizen, Citizen.id == Message.citizen_id)
            .order_by(Message.id)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


BATCHES = [
    [msg("1"), msg("2", "43"), msg("1"), msg("1", channel="zalo")],  # a repeat within the batch; same id elsewhere
    [msg("2", "43"), msg("3"), msg("4", "44"), msg("3")],  # a redelivery of an old one, new ones, a repeat
    [msg("5", "45", chat="g-7"), msg("1", channel="zalo"), msg("6", "45", chat="g-8")],
]


def flags(results: list[list[Stored]]) -> list[list[bool]]:
    return [[s.duplicate for s in batch] for batch in results]


def test_the_postgresql_write_answers_as_the_session_write_does(pg_url: str, pg_admin_url: str) -> None:
    """The same batches through both writers, in two fresh databases: the same answers and the same rows."""
    engine = make_engine(pg_admin_url)
    outcomes = []
    for writer in ("session", "postgresql"):
        name = f"{pg_url.rsplit('/', 1)[1]}_{writer[:4]}"
        url = pg_url.rsplit("/", 1)[0] + f"/{name}"
        with psycopg.connect(conninfo(pg_admin_url), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            db = make_engine(url)
            upgrade(db)
            factory = make_session_factory(db)
            if writer == "session":
                intake = session_intake(factory)
                results = [intake.store_many(b) for b in BATCHES]
            else:
                pg = PgIntake(url)

                async def run(pg: PgIntake = pg) -> list[list[Stored]]:
                    out = [await pg.store_many(b) for b in BATCHES]
                    await pg.aclose()
                    return out

                results = asyncio.run(run())
            first_ids: dict[tuple[str, str], int] = {}
            for batch, answers in zip(BATCHES, results, strict=True):
                for m, answer in zip(batch, answers, strict=True):
                    first_ids.setdefault((m.channel, m.platform_message_id), answer.message_id)
                    assert answer.message_id == first_ids[(m.channel, m.platform_message_id)]
            with factory() as s:
                citizens = sorted(
                    (c.channel, c.platform_user_id, c.chat_id, c.last_inbound_at is not None)
                    for c in s.scalars(select(Citizen))
                )
            outcomes.append((flags(results), table(factory), citizens))
            db.dispose()
        finally:
            with psycopg.connect(conninfo(pg_admin_url), autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    engine.dispose()
    assert outcomes[0] == outcomes[1]
    assert outcomes[1][0] == [[False, False, True, False], [True, False, False, True], [False, True, False]]
    assert ("telegram", "45", "g-8", True) in outcomes[1][2]  # a new sender's chat: the batch's last message names it


def test_the_payload_is_stored_as_the_worker_reads_it(factory: sessionmaker[Session], pg_url: str) -> None:
    sent = InboundMessage(
        channel="zalo",
        platform_message_id="m-1",
        user_id="u-1",
        chat_id="u-1",
        text='Đường "ngập" \\ sâu 0,5 m',
        kind="location",
        display_name="Nguyễn Văn A",
        sent_at=datetime(2026, 11, 30, 1, 2, 3, tzinfo=UTC),
        location=GeoPoint(21.02, 105.85),
        attachments=(Attachment(kind="image", url="https://example.org/a.jpg"),),
    )
    pg = PgIntake(pg_url)

    async def run() -> Stored:
        stored = await pg.store_many([sent])
        await pg.aclose()
        return stored[0]

    stored = asyncio.run(run())
    with factory() as s:
        row = s.get(Message, stored.message_id)
        assert row is not None and row.direction == "in" and row.kind == "location" and row.process_attempts == 0
        assert message_from_data(row.data) == sent
        citizen = s.get(Citizen, stored.citizen_id)
        assert citizen is not None and citizen.display_name == "Nguyễn Văn A"


def test_concurrent_writers_store_a_new_sender_and_a_redelivery_once(
    factory: sessionmaker[Session], pg_url: str
) -> None:
    """Two processes' writers (two connections) receive the same new sender's updates at the same moment."""
    writers = [PgIntake(pg_url), PgIntake(pg_url)]

    async def run() -> list[list[Stored]]:
        batches = [[msg(str(i), "77"), msg(str(i + 1), "78")] for i in range(0, 40, 2)]
        calls = [w.store_many(b) for b in batches for w in writers]  # every batch twice, concurrently
        out = await asyncio.gather(*calls)
        for w in writers:
            await w.aclose()
        return list(out)

    results = asyncio.run(run())
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 40
        assert s.scalar(select(func.count()).select_from(Citizen)) == 2
    for a, b in zip(results[::2], results[1::2], strict=True):
        assert [x.message_id for x in a] == [y.message_id for y in b]
        assert all(x.duplicate != y.duplicate for x, y in zip(a, b, strict=True))  # exactly one copy is new


def test_a_chats_messages_are_numbered_in_arrival_order_through_the_group_commit(
    factory: sessionmaker[Session], pg_url: str
) -> None:
    pg = PgIntake(pg_url)
    group = GroupCommit(pg.store_many, transactions=3)

    async def run() -> None:
        await asyncio.gather(*(group.store(msg(f"{n:03d}", str(n % 5))) for n in range(200)))
        await pg.aclose()

    asyncio.run(run())
    rows = table(factory)
    assert len(rows) == 200
    for user in map(str, range(5)):
        mine = [pid for _, pid, sender, _ in rows if sender == user]
        assert mine == sorted(mine)


def test_a_refused_batch_stores_nothing_and_the_next_one_gets_a_new_connection(
    factory: sessionmaker[Session], pg_url: str
) -> None:
    pg = PgIntake(pg_url)
    bad = msg("bad", text="NUL \x00 is not text for PostgreSQL")

    async def run() -> list[Stored]:
        await pg.store_many([msg("warm")])  # its connection waits in the pool
        with psycopg.connect(conninfo(pg_url), autocommit=True) as admin:  # the database drops the connections
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        with pytest.raises(psycopg.OperationalError):
            await pg.store_many([msg("lost-1")])  # the batch in flight fails (its requests are not acknowledged)
        with pytest.raises(psycopg.DataError):
            await pg.store_many([msg("ok-1", "90"), bad])  # refused as a whole: "ok-1" is not half-stored
        stored = await pg.store_many([msg("ok-2"), msg("ok-1", "90")])  # a new connection
        await pg.aclose()
        return stored

    stored = asyncio.run(run())
    assert [s.duplicate for s in stored] == [False, False]  # "ok-1" was not half-stored by the refused batch
    assert [pid for _, pid, _, _ in table(factory)] == ["warm", "ok-2", "ok-1"]
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Citizen).where(Citizen.platform_user_id == "90")) == 1


def test_every_lookup_is_an_index_probe_even_when_the_statistics_are_stale(
    factory: sessionmaker[Session], pg_url: str
) -> None:
    """A flood fills a young table faster than autovacuum analyses it: the planner, believing the tables small,
    once read every stored message for each batch (a hash join, 10 ms at 50,000 messages). And PL/pgSQL keeps a
    connection's plans: one made while the tables were empty (a server's first batches) is used for every batch
    after; such a plan once probed ``ix_messages_pending`` and read every inbound message for each event."""
    with psycopg.connect(conninfo(pg_url), autocommit=True) as db:
        db.execute("ANALYZE")  # the statistics of the empty tables
        # the statements of the function as installed, with its settings; its arguments become the parameters of
        # prepared statements
        found = db.execute("SELECT prosrc, proconfig FROM pg_proc WHERE proname = 'gopy_store_inbound'").fetchone()
        assert found is not None
        source, config = found
        for setting in config or []:
            db.execute("SELECT set_config(%s, %s, false)", setting.split("=", 1))
        body = re.sub(r"--[^\n]*", "", source).split("BEGIN", 1)[1].rsplit("END", 1)[0]  # comments dropped
        statements = [part.replace("RETURN QUERY", "") for part in body.split(";") if part.strip()]
        assert len(statements) == 2
        for n, statement in enumerate(statements):
            for k, name in enumerate(("p_now", "p_citizens", "p_messages"), 1):
                statement = re.sub(rf"\b{name}\b", f"${k}", statement)
            db.execute(f"PREPARE s{n} (timestamptz, json, json) AS {statement}")
        args = (
            "now()",
            '\'[{"channel": "telegram", "user_id": "7", "chat_id": "7"}]\'',
            '\'[{"channel": "telegram", "platform_id": "p9", "user_id": "7", "kind": "text", '
            '"text": "x", "data": {}}]\'',
        )

        def plans() -> list[str]:
            explained = (db.execute(f"EXPLAIN EXECUTE s{n} ({', '.join(args)})").fetchall() for n in (0, 1))
            return ["\n".join(row[0] for row in rows) for rows in explained]

        db.execute("SET plan_cache_mode = force_generic_plan")
        plans()  # the plans a connection keeps, made now, while the tables are empty
        db.execute(
            "INSERT INTO citizens (channel, platform_user_id, chat_id, created_at) "
            "SELECT 'telegram', g::text, g::text, now() FROM generate_series(1, 5000) g"
        )
        db.execute(
            "INSERT INTO messages (channel, direction, platform_message_id, citizen_id, kind, text, data, "
            "process_attempts, created_at) SELECT 'telegram', 'in', 'p' || g, 1 + g % 5000, 'text', 'x', '{}', 0, "
            "now() FROM generate_series(1, 30000) g"
        )
        kept = plans()
        db.execute("SET plan_cache_mode = force_custom_plan")
        fresh = plans()  # made for each call, on the stale statistics
    for citizens, messages in (kept, fresh):
        for plan in (citizens, messages):
            assert "Seq Scan on citizens" not in plan and "Seq Scan on messages" not in plan, plan
            assert "Bitmap Heap Scan" not in plan and "Hash Join" not in plan, plan
        assert "Index Scan using uq_messages_platform_id" in messages, messages
        assert messages.count("Index Scan using") == 2, messages  # the sender, and the redelivery check
        assert citizens.count("uq_citizens_channel_user") >= 1 and messages.count("uq_citizens_channel_user") == 1
