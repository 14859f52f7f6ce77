"""Wires gopy together: database, Redis, NLU, conversation flows, ticket services, channels."""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from backend.config import Settings
from backend.db.session import make_engine, make_session_factory
from backend.domain.routing import Router, load_rules
from backend.domain.sla import load_sla
from backend.kv import KV, make_kv
from backend.services.channels import ChannelHub
from backend.services.citizen_port import DbTicketService
from backend.services.intake import Intake
from backend.services.intake_pg import PgIntake
from backend.services.live import LiveBus, RedisLiveBus
from backend.services.live import install as install_live
from backend.services.notify import Notifier
from backend.services.official_telegram import OfficialAlerts, OfficialTelegram
from backend.services.state import RedisStateStore
from backend.services.throttle import Throttle
from backend.services.tickets import TicketOps
from backend.services.units import unit_lookup
from backend.services.usecases import TicketCases
from backend.workers.supervisor import WorkerBoard
from bot.messages import InboundMessage
from handlers.conversation import Conversation
from handlers.ports import MAX_TEXT, CitizenRef, Parser, Reply, Turn
from handlers.state import state_key
from handlers.texts import Texts
from nlu.result import ParseResult

log = logging.getLogger(__name__)


def _freeze() -> None:
    """The loaded model's objects (dictionaries, gazetteer: hundreds of thousands) live as long as it is active: out
    of the collector's full passes (``gc.freeze``), which otherwise walked them all, 50-130 ms each, inside message
    batches. Garbage is collected first, so none of it is frozen."""
    gc.collect()
    gc.freeze()


class EngineParser(Parser):
    """The active NLU model from the model store, loaded once and swapped atomically on activation.

    On a first start (no active model, ``GOPY_BOOTSTRAP_MODEL``) it trains and activates the default model from the
    data directory. ``gopy serve`` does that in the background (:meth:`warm_up_in_background`): while it runs,
    :attr:`starting_up` is true and the chat answers a polite "starting up" text instead of waiting."""

    CHECK_SECONDS = 10.0

    def __init__(self, model_dir: Path, data_dir: Path, bootstrap: bool) -> None:
        self._model_dir = model_dir
        self._data_dir = data_dir
        self._bootstrap = bootstrap
        self._engine: Any = None
        self._lock = threading.Lock()
        self._checked = 0.0
        self._warming: threading.Thread | None = None
        self._prepared: tuple[Any, dict[str, ParseResult]] = (None, {})  # (engine, text → result) of the last batch

    @property
    def starting_up(self) -> bool:
        """True while the background warm-up is still loading (or training) the model."""
        warming = self._warming
        return self._engine is None and warming is not None and warming.is_alive()

    def warm_up_in_background(self) -> threading.Thread:
        """Load the active model in a background thread, training and activating the default one first when there
        is none, so a server answers at once while it trains."""
        thread = threading.Thread(target=self._warm_up, name="nlu-warm-up", daemon=True)
        self._warming = thread
        thread.start()
        return thread

    def _warm_up(self) -> None:
        try:
            self.engine()
            log.info("NLU model %s ready", self._engine.version if self._engine is not None else "?")
        except Exception:  # the chat then fails visibly, as without the warm-up; the cause is logged here
            log.exception("could not load or train the NLU model from %s", self._model_dir)

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
                    _freeze()
        return self._engine

    def _load(self) -> Any:
        from nlu.engine import NLUEngine
        from nlu.store import ModelStore

        store = ModelStore(self._model_dir)
        if store.active_version() is None:
            if not self._bootstrap:
                raise RuntimeError("no active NLU model: run `gopy nlu train` then `gopy nlu activate VERSION`")
            from nlu.store import ensure_active_model

            ensure_active_model(store, self._data_dir, announce=log.info)
        return NLUEngine.load(store.active_path())

    def reload(self) -> None:
        with self._lock:
            gc.unfreeze()  # the model being replaced can be collected once it is swapped out
            self._engine = self._load()
            _freeze()

    MAX_INPUT = MAX_TEXT  # the ticket text limit: longer input is cut before parsing, so parse time stays bounded

    def prepare(self, texts: list[str]) -> None:
        """Parse a batch of texts at once (``parse_many``, much faster than one by one); the turns that follow find
        their results here. Only the last batch is kept; nothing is done before the model was first loaded."""
        engine = self._engine
        if engine is None or not texts:
            return
        cut = [t[: self.MAX_INPUT] for t in texts]
        self._prepared = (engine, dict(zip(cut, engine.parse_many(cut), strict=True)))

    def parse(self, text: str) -> ParseResult:
        engine = self.engine()
        prepared_by, results = self._prepared
        found = results.get(text[: self.MAX_INPUT]) if prepared_by is engine else None
        if found is not None:
            return found
        result: ParseResult = engine.parse(text[: self.MAX_INPUT])
        return result


class Container:
    """Wiring only: builds each service once, from the settings, and hands it out. Behaviour lives in the services
    (``backend/services``); FastAPI routes get them through one dependency each (``backend/api/deps.py``)."""

    def __init__(self, settings: Settings, *, engine: Engine | None = None, kv: KV | None = None) -> None:
        self.settings = settings
        self.engine = engine or make_engine(settings.database_url)
        self.session_factory: sessionmaker[Session] = make_session_factory(self.engine)
        self.kv = kv or make_kv(settings.redis_url, settings.redis_prefix)
        self.live_bus: LiveBus = RedisLiveBus(self.kv)  # ticket changes, announced after each commit (console)
        install_live(self.session_factory, self.live_bus)
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
    def texts(self) -> Texts:
        return Texts.load(self.settings.data_dir / "templates" / "vi.yml")

    @cached_property
    def router(self) -> Router:
        rules = load_rules(self.settings.data_dir / "routing.yml")
        return unit_lookup(self.scope, rules)

    @cached_property
    def ops(self) -> TicketOps:
        notifier = Notifier(self.texts, ask_rating=self._ask_rating, staff=self.official_alerts)
        return TicketOps(self.router, notifier, load_sla(self.settings.data_dir / "routing.yml"))

    @cached_property
    def official_alerts(self) -> OfficialAlerts:
        """Ticket notifications to officials' linked Telegram chats (through the outbox)."""
        return OfficialAlerts(self.texts, self.settings.public_url)

    @cached_property
    def official_telegram(self) -> OfficialTelegram:
        """Officials on Telegram: link codes, and the bot's side for linked chats (notifications answered by reply)."""
        return OfficialTelegram(self.scope, self.cases, self.texts, self.settings.secret_key, self.throttle)

    def _ask_rating(self, citizen: CitizenRef, code: str) -> list[Reply]:
        """A ticket was answered or closed: the conversation asks the citizen to rate it (see ``Notifier``)."""
        return self.conversation.on_ticket_answered(citizen, code)

    @cached_property
    def cases(self) -> TicketCases:
        """What officials do with tickets (API and console alike)."""
        return TicketCases(self.ops)  # the text limit is the shared vocabulary's MAX_TEXT

    @cached_property
    def parser(self) -> EngineParser:
        return EngineParser(self.settings.model_dir, self.settings.data_dir, self.settings.bootstrap_model)

    @cached_property
    def tickets(self) -> DbTicketService:
        return DbTicketService(self.scope, self.ops, self.throttle)

    @cached_property
    def states(self) -> RedisStateStore:
        """The conversations' state (Redis with a TTL; the in-process stand-in when embedded)."""
        return RedisStateStore(self.kv)

    @cached_property
    def conversation(self) -> Conversation:
        return Conversation(
            self.parser,
            self.tickets,
            self.states,
            self.texts,
            chitchat_per_minute=self.settings.citizen_rate_per_minute,
        )

    @cached_property
    def intake(self) -> Intake:
        return Intake(self.scope, self._turn, prepare=self._prepare)

    def _prepare(self, batch: list[tuple[CitizenRef, InboundMessage]]) -> None:
        """Before a batch's turns: its texts parsed at once, and what every turn looks up first read in one
        statement each (officials' chats, hand-off and information requests, consent, conversation states).
        ``[]`` after the batch drops what is left. Looked up per batch: tests replace the parser with their own."""
        prepare = getattr(self.parser, "prepare", None)
        if prepare is not None and batch:
            prepare([m.text for _, m in batch if m.text])
        self.official_telegram.prefetch([m.chat_id for _, m in batch if m.channel == "telegram"])
        self.tickets.prefetch([c.id for c, _ in batch])
        self.states.prefetch([state_key(c) for c, _ in batch])

    def _turn(self, citizen: CitizenRef, msg: InboundMessage) -> Turn:
        official = self.official_telegram.turn(msg)  # a link command or an official's linked chat: never a petition
        if official is not None:
            return official
        if self.parser.starting_up:  # first start: the model is still training in the background (gopy serve)
            return Turn([Reply(self.texts.render("starting_up"))])
        return self.conversation.turn(citizen, msg)  # looked up per turn: tests replace the conversation

    @cached_property
    def channels(self) -> ChannelHub:
        """The platforms of the channel registry configured here: webhooks, senders, send rates."""
        hint = self.texts.render("menu_hint")
        store = None if self.pg_intake is None else self.pg_intake.store_many
        return ChannelHub(self.settings, self.scope, self.kv, lambda: self.intake, menu_hint=hint, store_many=store)

    @cached_property
    def pg_intake(self) -> PgIntake | None:
        """The webhooks' durable write on PostgreSQL (one round trip per batch, on the event loop); on SQLite the
        session's ``Intake.store_many`` runs in a thread instead."""
        return None if self.settings.is_sqlite else PgIntake(self.settings.database_url)

    def db_ok(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    async def aclose(self) -> None:
        """Release what belongs to the event loop that is ending (async Redis, platform clients)."""
        if "channels" in self.__dict__:
            await self.channels.aclose()
        pg_intake = self.__dict__.get("pg_intake")
        if pg_intake is not None:
            await pg_intake.aclose()
        await self.kv.aio.aclose()

    def close(self) -> None:
        self.kv.close()
        self.engine.dispose()
