"""Telegram as a gopy channel: settings, webhook check, parsing, sender, send rate and ``gopy telegram``."""

from __future__ import annotations

import logging
from collections.abc import Coroutine, Mapping
from typing import Annotated, Any, ClassVar

import typer
from pydantic_settings import SettingsConfigDict

from bot.base import ChannelSender, InboundResult, SendError
from bot.registry import (
    Channel,
    ChannelConfig,
    ChannelHost,
    ChannelRuntime,
    RateRule,
    WebhookRefused,
    cli_fail,
    cli_say,
)

log = logging.getLogger(__name__)


class TelegramConfig(ChannelConfig):
    model_config = SettingsConfigDict(env_prefix="GOPY_TELEGRAM_")

    token: str = ""
    secret: str = ""
    api_url: str = "https://api.telegram.org/bot"
    rate_overall: float = 30.0  # messages per second, all chats (Telegram: about 30)
    rate_per_chat: float = 1.0

    def configured(self) -> bool:
        return bool(self.token)


class TelegramChannel(Channel[TelegramConfig]):
    name: ClassVar[str] = "telegram"
    title: ClassVar[str] = "Telegram"
    help: ClassVar[str] = "Telegram bot: webhook registration, polling mode."
    config_class: ClassVar[type[ChannelConfig]] = TelegramConfig

    def check_headers(self, headers: Mapping[str, str]) -> None:
        from bot.telegram.inbound import verify_secret

        if not verify_secret(headers.get("X-Telegram-Bot-Api-Secret-Token"), self.config.secret):
            raise WebhookRefused(403, "wrong secret token")

    def parse(self, data: dict[str, Any]) -> InboundResult:
        from bot.telegram.inbound import parse_update

        return parse_update(data)

    def after_accept(self, result: InboundResult, host: ChannelHost) -> Coroutine[Any, Any, None] | None:
        """A button press: answer its callback query, so the citizen's client stops showing it as pending."""
        return self._answer_callback(result.callback_query_id, host) if result.callback_query_id else None

    async def _answer_callback(self, query_id: str, host: ChannelHost) -> None:
        sender = await host.sender(self.name)
        answer = getattr(sender, "answer_callback", None)
        if answer is None:
            return
        try:
            await answer(query_id)
        except SendError as exc:  # Telegram unreachable or the query too old: the button still works
            log.warning("could not answer Telegram callback query %s: %s (%s)", query_id, exc.reason, exc)
        except Exception:
            log.warning("could not answer Telegram callback query %s", query_id, exc_info=True)

    def sender(self, host: ChannelHost) -> ChannelSender:
        from bot.telegram.sender import TelegramSender, http_client

        # no getMe here: the sender connects on its first send and keeps retrying while Telegram is unreachable
        return TelegramSender(self.config.token, base_url=self.config.api_url, http=http_client())

    @property
    def rate(self) -> RateRule:
        return RateRule(self.config.rate_overall, self.config.rate_per_chat)

    @classmethod
    def commands(cls, runtime: ChannelRuntime) -> typer.Typer:
        app = typer.Typer(no_args_is_help=True)

        @app.command("set-webhook")
        def set_webhook(
            url: Annotated[
                str, typer.Argument(help="Public HTTPS URL, e.g. https://gopy.example.vn/webhooks/telegram")
            ],
        ) -> None:
            """Register the webhook with Telegram, with the secret token and the update kinds gopy handles."""
            import asyncio

            from bot.telegram.sender import set_webhook as register

            config = runtime.channel(cls.name).config
            assert isinstance(config, TelegramConfig)
            if not config.token or not config.secret:
                cli_fail("set GOPY_TELEGRAM_TOKEN and GOPY_TELEGRAM_SECRET first")
            asyncio.run(register(config.token, url, config.secret, base_url=config.api_url))
            cli_say(f"webhook set to {url}")

        @app.command("poll")
        def poll() -> None:
            """Development: fetch updates with getUpdates instead of a webhook (no public URL needed)."""
            from bot.telegram.sender import TelegramSender, poll_updates

            if not runtime.channel(cls.name).configured:
                cli_fail("set GOPY_TELEGRAM_TOKEN first")

            async def main(host: ChannelHost) -> None:
                sender = await host.sender(cls.name)
                assert isinstance(sender, TelegramSender)
                await poll_updates(sender, host.receive)

            runtime.run(main, workers=True)

        return app
