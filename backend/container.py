"""Wires gopy together: database, Redis, NLU, conversation flows, ticket services, channels."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from backend.config import Settings
from backend.db.session import make_engine, make_session_factory
from backend.domain.routing import Router, load_rules
from backend.kv import KV, make_kv
from backend.services.citizen_port import DbTicketService
from backend.services.intake import Intake
from backend.services.notify import Notifier
from backend.services.state import RedisStateStore
from backend.services.throttle import Throttle
from backend.services.tickets import TicketOps
from backend.workers.supervisor import WorkerBoard
from bot.messages import InboundMessage
from handlers.ports import MAX_TEXT, CitizenRef, Parser, Turn

log = logging.getLogger(__name__)


def training_paths(data_dir: Path) -> list[Path]:
    """The NLU training data: everything under data/nlu except the held-out test folder."""
    root = data_dir / "nlu"
    return [p for p in sorted(root.iterdir()) if p.is_dir() and p.name != "test"]


class EngineParser(Parser):
    """The active NLU model from the model store, loaded once and swapped atomically on activation."""

    CHECK_SECONDS = 10.0

    def __init__(self, model_dir: Path, data_dir: Path, bootstrap: bool) -> None:
        self._model_dir = model_dir
        self._data_dir = data_dir
        self._bootstrap = bootstrap
        self._engine: Any = None
        self._lock = threading.Lock()
        self._checked = 0.0

    def engine(self) -> Any:
        """The active model; `gopy nlu activate` in any process is picked up within CHECK_SECONDS."""
        now = time.monotonic()
        if self._engine is not None and now - self._checked > self.CHECK_SECONDS:
            self._checked = now
            from nlu.store import ModelStore

            active = ModelStore(self._model_dir).active_version()
            if active is not None and active != self._engine.version:
                log.info("NLU model %s activated: switching from %s", active, self._engine.version)
                self.reload()
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    self._engine = self._load()
                    self._checked = now
        return self._engine

    def _load(self) -> Any:
        from nlu.engine import NLUEngine
        from nlu.store import ModelStore

        store = ModelStore(self._model_dir)
        if store.active_version() is None:
            if not self._bootstrap:
                raise RuntimeError("no active NLU model: run `gopy nlu train` then `gopy nlu activate VERSION`")
            from nlu.store import train_and_save

            log.info("no active NLU model: training one from %s", self._data_dir / "nlu")
            version = train_and_save(training_paths(self._data_dir), store)
            store.activate(version)
        return NLUEngine.load(store.active_path())

    def reload(self) -> None:
        with self._lock:
            self._engine = self._load()

    MAX_INPUT = MAX_TEXT  # the ticket text limit: longer input is cut before parsing, so parse time stays bounded

    def parse(self, text: str) -> dict[str, Any]:
        result: dict[str, Any] = self.engine().parse(text[: self.MAX_INPUT])
        return result


class Container:
    def __init__(self, settings: Settings, *, engine: Engine | None = None, kv: KV | None = None) -> None:
        self.settings = settings
        self.engine = engine or make_engine(settings.database_url)
        self.session_factory: sessionmaker[Session] = make_session_factory(self.engine)
        self.kv = kv or make_kv(settings.redis_url)
        self._senders: dict[str, Any] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._wakeup: asyncio.Event | None = None
        self.workers = WorkerBoard()  # the background workers this process runs (see /readyz)

    @contextmanager
    def scope(self) -> Iterator[Session]:
        """A unit of work: rolls back unless the caller committed."""
        session = self.session_factory()
        try:
            yield session
        finally:
            session.rollback()
            session.close()

    def validate_data(self) -> None:
        """Check the administrator-edited files now (raises ``DataFileError`` naming the file and line), then load
        them, so a malformed file stops the start-up instead of the first citizen's message."""
        from backend.datafiles import check_data_files

        check_data_files(self.settings.data_dir)
        _ = self.texts, self.router, self.ops

    @cached_property
    def throttle(self) -> Throttle:
        """Rate limits shared by every process (web chat, ticket filing, logins)."""
        return Throttle(self.kv)

    @cached_property
    def texts(self) -> Any:
        from handlers.texts import Texts

        return Texts.load(self.settings.data_dir / "templates" / "vi.yml")

    @cached_property
    def router(self) -> Router:
        from backend.services.units import unit_lookup

        rules = load_rules(self.settings.data_dir / "routing.yml")
        return unit_lookup(self.scope, rules)

    @cached_property
    def ops(self) -> TicketOps:
        from backend.domain.sla import load_sla

        return TicketOps(self.router, Notifier(self.texts), load_sla(self.settings.data_dir / "routing.yml"))

    @cached_property
    def parser(self) -> EngineParser:
        return EngineParser(self.settings.model_dir, self.settings.data_dir, self.settings.bootstrap_model)

    @cached_property
    def tickets(self) -> DbTicketService:
        return DbTicketService(self.scope, self.ops, self.throttle)

    @cached_property
    def conversation(self) -> Any:
        from handlers.conversation import Conversation

        return Conversation(
            self.parser,
            self.tickets,
            RedisStateStore(self.kv.sync),
            self.texts,
            chitchat_per_minute=self.settings.citizen_rate_per_minute,
        )

    def handle(self, citizen: CitizenRef, msg: InboundMessage) -> Turn:
        """One conversation turn: the replies and the draft/ticket they belong to (the intake links messages)."""
        turn: Turn = self.conversation.turn(citizen, msg)
        return turn

    @cached_property
    def intake(self) -> Intake:
        return Intake(self.scope, self.handle)

    # -- channels ---------------------------------------------------------------------------------------
    async def channel_senders(self) -> dict[str, Any]:
        """Senders for the configured platforms (none when no tokens are set: the web chat needs none)."""
        from backend.services.channels import build_senders

        if self._senders is None:
            self._senders = await build_senders(self)
        return self._senders

    def rate_limiter(self) -> Any:
        if not (self.settings.telegram_token or self.settings.zalo_app_id or self.settings.zalobot_token):
            return None  # the web chat needs no platform rate limit
        from bot.ratelimit import RateLimiter

        s = self.settings
        return RateLimiter(
            self.kv.aio,
            telegram_overall=s.telegram_rate_overall,
            telegram_per_chat=s.telegram_rate_per_chat,
            zalo_overall=s.zalo_rate_overall,
        )

    async def answer_telegram_callback(self, query_id: str) -> None:
        senders = await self.channel_senders()
        sender = senders.get("telegram")
        if sender is not None:
            from bot.base import SendError

            try:
                await sender.answer_callback(query_id)
            except SendError as exc:  # Telegram unreachable or the query too old: the button still works
                log.warning("could not answer Telegram callback query %s: %s (%s)", query_id, exc.reason, exc)
            except Exception:
                log.warning("could not answer Telegram callback query %s", query_id, exc_info=True)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run a short background task (kept referenced until done)."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def inbound_wakeup(self) -> asyncio.Event:
        if self._wakeup is None:
            self._wakeup = asyncio.Event()
        return self._wakeup

    def wake_inbound(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()

    def record_ignored(self, channel: str, digest: str, outcome: str) -> None:
        """Keep a record of webhook events we do not act on (once per distinct payload): the channel, a digest
        of the payload, the outcome and the time. Never the content: group chats carry third parties' names and
        phone numbers."""
        from sqlalchemy.exc import IntegrityError

        from backend.db.models import Message, utcnow

        with self.scope() as session:
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

    def db_ok(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    async def aclose(self) -> None:
        """Release what belongs to the event loop that is ending (async Redis, platform clients)."""
        if self._senders:
            for sender in self._senders.values():
                await sender.aclose()
            self._senders = None
        await self.kv.aio.aclose()

    def close(self) -> None:
        self.kv.close()
        self.engine.dispose()
