"""The messaging platforms gopy speaks: one object per channel, all of them in ``CHANNELS``.

In the spirit of Rasa's ``InputChannel``/``OutputChannel``, a channel object holds everything about its platform:

- its settings (``Config``: a pydantic-settings class read from ``GOPY_<NAME>_*``; values the application already
  has in its own ``Settings`` are passed in and win),
- how a webhook request is authenticated (``check_headers`` before the body is read, ``verify`` on the raw body),
- how a payload becomes a normalised message (``parse``, never raising for odd payloads),
- how replies go out (``sender``) and how fast (``rate``),
- what happens after a webhook was stored (``after_accept``, e.g. answering Telegram's button callback),
- its command-line commands (``commands``: ``gopy <name> ...``).

The application (``backend/``) reads ``CHANNELS`` to mount ``POST /webhooks/<name>``, build the outbox's senders
and rate rules and add the CLI commands. Adding a channel: a folder under ``bot/`` with its adapter and a
``Channel`` subclass, and one line in ``CHANNELS`` below. Nothing here imports ``backend``: what a channel needs
from the application (Redis, durable token storage, storing an inbound message) comes through ``ChannelHost``.
"""

from __future__ import annotations

import abc
import importlib
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, NoReturn, Protocol, TypeVar

from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.base import ChannelSender, InboundResult

if TYPE_CHECKING:
    import redis.asyncio as aioredis
    import typer

    from bot.zalo.tokens import TokenStore


class WebhookRefused(Exception):
    """A webhook request that is not from the platform (or not for us): answered with ``status`` and ``detail``."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True, slots=True)
class RateRule:
    """Messages per second a platform accepts from us: over all chats, and to one chat (0: no limit)."""

    overall: float
    per_chat: float


class ChannelConfig(BaseSettings):
    """A channel's settings. Subclasses set ``env_prefix`` (``GOPY_<NAME>_``) and their fields."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    def configured(self) -> bool:
        """True when the platform's credentials are set: else the webhook answers 404 and no sender is built."""
        return False


class ChannelHost(Protocol):
    """What the application lends its channels at run time."""

    @property
    def redis(self) -> aioredis.Redis:
        """The shared Redis (cross-process locks)."""

    def key(self, *parts: str) -> str:
        """A Redis key in this installation's namespace: ``key("zalo", "refresh-lock")``."""

    def token_store(self, name: str, access_token: str, refresh_token: str) -> TokenStore:
        """Durable storage for a rotating OAuth token pair, shared by every process, seeded from the settings."""

    async def sender(self, channel: str) -> ChannelSender | None:
        """This process's sender of ``channel`` (None when the channel is not configured)."""

    async def receive(self, result: InboundResult) -> None:
        """Store an inbound message once and wake the workers (polling mode: as a webhook would)."""

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run a short task in the background (after the webhook has been acknowledged)."""


class ChannelRuntime(Protocol):
    """What the application lends a channel's CLI commands."""

    def channel(self, name: str) -> Channel[Any]:
        """The channel ``name`` configured from the application's settings."""

    def run(self, main: Callable[[ChannelHost], Awaitable[None]], *, workers: bool = False) -> None:
        """Run ``main`` with a host (migrated database; with ``workers``: the background workers running too)."""


C = TypeVar("C", bound=ChannelConfig)


class Channel(abc.ABC, Generic[C]):
    name: ClassVar[str]  # URL, CLI and database name: /webhooks/<name>, gopy <name>, messages.channel
    title: ClassVar[str]  # what people call it ("Zalo OA")
    config_class: ClassVar[type[ChannelConfig]]
    # settings of the application to pass in, by field: default "<name>_<field>"; other names for shared ones
    setting_names: ClassVar[Mapping[str, str]] = {}

    def __init__(self, config: C) -> None:
        self.config = config

    @classmethod
    def from_settings(cls, values: Mapping[str, Any]) -> Channel[Any]:
        """The channel with its config taken from the application's settings (``Settings.model_dump()``); fields the
        application does not know are read from ``GOPY_<NAME>_*`` by the config class itself."""
        given: dict[str, Any] = {}
        for field in cls.config_class.model_fields:
            key = cls.setting_names.get(field, f"{cls.name}_{field}")
            if key in values:
                given[field] = values[key]
        return cls(cls.config_class(**given))  # type: ignore[arg-type]

    @property
    def configured(self) -> bool:
        """Credentials set: the webhook accepts requests (else 404)."""
        return self.config.configured()

    @property
    def sends(self) -> bool:
        """Whether the outbox gets a sender for this channel (by default: when it is configured)."""
        return self.configured

    # -- inbound ------------------------------------------------------------------------------------------
    def check_headers(self, headers: Mapping[str, str]) -> None:
        """Refuse (``WebhookRefused``) a request whose headers already show it is not from the platform, before
        its body is read."""

    def verify(self, headers: Mapping[str, str], raw: bytes) -> None:
        """Refuse (``WebhookRefused``) a request whose body is not signed by the platform."""

    @abc.abstractmethod
    def parse(self, data: dict[str, Any]) -> InboundResult:
        """A webhook payload as a normalised message, or an outcome saying why it is ignored."""

    def after_accept(self, result: InboundResult, host: ChannelHost) -> Coroutine[Any, Any, None] | None:
        """What to run in the background once the event is stored and acknowledged, or ``None`` for nothing (the
        usual answer: a flood's webhooks then cost no task each)."""
        return None

    # -- outbound -----------------------------------------------------------------------------------------
    @abc.abstractmethod
    def sender(self, host: ChannelHost) -> ChannelSender:
        """A sender for the outbox. Must not call the platform: it connects on its first send."""

    @property
    def rate(self) -> RateRule | None:
        """The platform's send limits (shared by every process through Redis); None: no limit."""
        return None

    # -- command line -------------------------------------------------------------------------------------
    @classmethod
    def commands(cls, runtime: ChannelRuntime) -> typer.Typer | None:
        """``gopy <name> ...`` commands (webhook registration, polling, token checks); None: no commands."""
        return None

    help: ClassVar[str] = ""  # the one-line help of ``gopy <name>``


def cli_say(text: str) -> None:
    """A line for the operator of a ``gopy <channel>`` command (on stderr, like every gopy message)."""
    import typer

    typer.echo(text, err=True)


def cli_fail(text: str) -> NoReturn:
    """Stop a ``gopy <channel>`` command with ``error: text`` and exit status 2 (wrong configuration or usage)."""
    import typer

    typer.echo(f"error: {text}", err=True)
    raise typer.Exit(2)


# The channels gopy speaks: one line each ("module:class", imported when first needed).
CHANNEL_CLASSES: list[str] = [
    "bot.telegram.channel:TelegramChannel",
    "bot.zalo.channel:ZaloChannel",
    "bot.zalobot.channel:ZaloBotChannel",
]


def _load(path: str) -> type[Channel[Any]]:
    module, _, name = path.partition(":")
    cls: type[Channel[Any]] = getattr(importlib.import_module(module), name)
    return cls


class Registry:
    """The channel classes by name; ``CHANNELS`` is the one the application uses (tests may build their own)."""

    def __init__(self, paths: list[str]) -> None:
        self._paths = paths
        self._extra: list[type[Channel[Any]]] = []

    def classes(self) -> list[type[Channel[Any]]]:
        return [*(_load(p) for p in self._paths), *self._extra]

    def register(self, channel: type[Channel[Any]]) -> type[Channel[Any]]:
        """Add a channel class (usable as a decorator); its name must be new."""
        if channel.name in {c.name for c in self.classes()}:
            raise ValueError(f"channel '{channel.name}' is already registered")
        self._extra.append(channel)
        return channel

    def unregister(self, name: str) -> None:
        self._extra = [c for c in self._extra if c.name != name]

    def build(self, values: Mapping[str, Any]) -> dict[str, Channel[Any]]:
        """Every channel, configured from the application's settings, by name."""
        return {cls.name: cls.from_settings(values) for cls in self.classes()}


CHANNELS = Registry(CHANNEL_CLASSES)
