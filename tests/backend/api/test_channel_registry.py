"""One object per channel in a registry: a channel registered here (its own settings, webhook check, parsing,
sender, send rate and CLI command) gets its webhook route, its sender in the outbox and its ``gopy`` command, with
no other change anywhere."""

from __future__ import annotations

from collections.abc import Coroutine, Iterator, Mapping
from typing import Any, ClassVar

import pytest
import typer
from pydantic_settings import SettingsConfigDict
from sqlalchemy import select
from typer.testing import CliRunner

from backend.channels_cli import add_channel_commands
from backend.db.models import Citizen, Message, OutboxItem
from backend.services.notify import enqueue
from backend.workers.outbox import OutboxWorker, RetryPolicy
from bot.base import ChannelSender, InboundResult, SendReceipt
from bot.messages import InboundMessage, OutboundMessage
from bot.registry import (
    CHANNELS,
    Channel,
    ChannelConfig,
    ChannelHost,
    ChannelRuntime,
    RateRule,
    WebhookRefused,
)

from .conftest import Api


class PigeonConfig(ChannelConfig):
    model_config = SettingsConfigDict(env_prefix="GOPY_PIGEON_")

    token: str = ""
    rate_overall: float = 5.0
    rate_per_chat: float = 0.5

    def configured(self) -> bool:
        return bool(self.token)


class PigeonSender(ChannelSender):
    channel = "pigeon"
    text_limit = 1000
    supports_buttons = False
    sent: ClassVar[list[OutboundMessage]] = []

    async def send(self, msg: OutboundMessage) -> SendReceipt:
        self.sent.append(msg)
        return SendReceipt([f"pigeon-{len(self.sent)}"])


class PigeonChannel(Channel[PigeonConfig]):
    name: ClassVar[str] = "pigeon"
    title: ClassVar[str] = "Pigeon post"
    help: ClassVar[str] = "Pigeon post: say hello."
    config_class: ClassVar[type[ChannelConfig]] = PigeonConfig
    accepted: ClassVar[list[str]] = []

    def check_headers(self, headers: Mapping[str, str]) -> None:
        if headers.get("X-Pigeon-Token") != self.config.token:
            raise WebhookRefused(403, "wrong pigeon")

    def parse(self, data: dict[str, Any]) -> InboundResult:
        if not data.get("text"):
            return InboundResult(None, "ignored:empty")
        sender = str(data["from"])
        return InboundResult(InboundMessage("pigeon", str(data["id"]), sender, sender, text=str(data["text"])))

    def after_accept(self, result: InboundResult, host: ChannelHost) -> Coroutine[Any, Any, None] | None:
        return self._note(result.message.platform_message_id) if result.message is not None else None

    async def _note(self, platform_id: str) -> None:
        self.accepted.append(platform_id)

    def sender(self, host: ChannelHost) -> ChannelSender:
        return PigeonSender()

    @property
    def rate(self) -> RateRule:
        return RateRule(self.config.rate_overall, self.config.rate_per_chat)

    @classmethod
    def commands(cls, runtime: ChannelRuntime) -> typer.Typer:
        app = typer.Typer(no_args_is_help=True)

        @app.command("hello")
        def hello() -> None:
            """Say which pigeon is configured."""
            config = runtime.channel(cls.name).config
            assert isinstance(config, PigeonConfig)
            typer.echo(f"pigeon {config.token} flies at {config.rate_overall}/s")

        @app.command("noop")
        def noop() -> None:
            """Does nothing (a Typer app with one command would have no subcommands)."""

        return app


@pytest.fixture
def pigeon(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The test channel, registered (its own settings come from ``GOPY_PIGEON_*``)."""
    monkeypatch.setenv("GOPY_PIGEON_TOKEN", "pigeon-secret")
    CHANNELS.register(PigeonChannel)
    PigeonSender.sent.clear()
    PigeonChannel.accepted.clear()
    try:
        yield
    finally:
        CHANNELS.unregister("pigeon")


def test_a_registered_channel_gets_its_webhook_route(pigeon: None, api: Api) -> None:
    url = "/webhooks/pigeon"
    update = {"id": 7, "from": "u-7", "text": "Đèn đường ở Hoàn Kiếm hỏng"}
    assert api.client.post(url, json=update).status_code == 403
    assert api.client.post(url, json=update, headers={"X-Pigeon-Token": "wrong"}).status_code == 403
    headers = {"X-Pigeon-Token": "pigeon-secret"}
    r = api.client.post(url, json=update, headers=headers)
    assert r.status_code == 200 and r.json() == {"ok": True, "outcome": "accepted"}
    assert api.client.post(url, json=update, headers=headers).json()["outcome"] == "duplicate"
    assert api.client.post(url, json={"id": 8, "from": "u-7"}, headers=headers).json()["outcome"] == "ignored:empty"
    assert api.client.post(url, content=b"{not json", headers=headers).status_code == 400
    with api.container.scope() as s:
        rows = s.scalars(select(Message).where(Message.channel == "pigeon").order_by(Message.id)).all()
        assert [m.kind for m in rows] == ["text", "ignored"]  # the ignored one by digest, never its content
        assert rows[0].platform_message_id == "7" and rows[0].text == update["text"]
    assert PigeonChannel.accepted == ["7", "7"]  # the after-accept hook ran in the background
    assert api.client.post("/webhooks/carrier-crow", json=update).status_code == 404


def test_an_unconfigured_registered_channel_answers_404(
    pigeon: None, monkeypatch: pytest.MonkeyPatch, api: Api
) -> None:
    monkeypatch.setenv("GOPY_PIGEON_TOKEN", "")
    api.container.__dict__.pop("channels", None)
    r = api.client.post("/webhooks/pigeon", json={"id": 1}, headers={"X-Pigeon-Token": ""})
    assert r.status_code == 404 and "Pigeon post is not configured" in r.text


def test_a_registered_channel_gets_its_sender_and_send_rate(pigeon: None, api: Api) -> None:
    hub = api.container.channels
    with api.container.scope() as s:
        citizen = Citizen(channel="pigeon", platform_user_id="u-7", chat_id="u-7")
        s.add(citizen)
        s.flush()
        enqueue(s, citizen, "Cảm ơn bạn, Mặt trận đã nhận phản ánh.")
        s.commit()

    async def deliver() -> None:
        senders = await hub.senders()
        assert isinstance(senders["pigeon"], PigeonSender)
        limiter = hub.rate_limiter()
        assert limiter is not None
        assert limiter.rules["pigeon"] == pytest.approx((5.0 * 0.9, 0.5 * 0.9))  # the rule, with its headroom
        assert await OutboxWorker(api.container.scope, senders, limiter, RetryPolicy(3, 0.01, 0.1)).run_once() == 1

    portal = api.client.portal  # the app's event loop: the async Redis client belongs to it
    assert portal is not None
    portal.call(deliver)
    assert [(m.channel, m.chat_id, m.text) for m in PigeonSender.sent] == [
        ("pigeon", "u-7", "Cảm ơn bạn, Mặt trận đã nhận phản ánh.")
    ]
    with api.container.scope() as s:
        assert s.scalars(select(OutboxItem)).one().status == "sent"


def test_a_registered_channel_gets_its_cli_commands(pigeon: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from backend.config import get_settings

    get_settings.cache_clear()
    app = typer.Typer()
    add_channel_commands(app)
    result = CliRunner().invoke(app, ["pigeon", "hello"])
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "pigeon pigeon-secret flies at 5.0/s" in result.output
    assert {c.name for c in CHANNELS.classes()} >= {"telegram", "zalo", "zalobot", "pigeon"}


def test_the_built_in_channels_take_their_settings_from_the_application() -> None:
    from backend.config import Settings

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        telegram_token="1:abc",
        telegram_rate_overall=12.0,
        zalo_oa_secret="oa",
        zalo_rate_overall=3.0,
        zalobot_token="zb",
    )
    channels = CHANNELS.build(settings.model_dump())
    assert channels["telegram"].configured and channels["telegram"].rate == RateRule(12.0, 1.0)
    assert channels["zalo"].configured and not channels["zalo"].sends  # the webhook needs the OA secret only
    assert channels["zalobot"].rate == RateRule(3.0, 1.0)  # shares GOPY_ZALO_RATE_OVERALL with the OA
    with pytest.raises(ValueError, match="already registered"):
        CHANNELS.register(type(channels["telegram"]))
