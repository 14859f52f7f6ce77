"""The Zalo Bot platform as a gopy channel: settings, webhook secret, parsing, sender, send rate, ``gopy zalobot``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

import typer
from pydantic_settings import SettingsConfigDict

from bot.base import ChannelSender, InboundResult
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


class ZaloBotConfig(ChannelConfig):
    model_config = SettingsConfigDict(env_prefix="GOPY_ZALOBOT_")

    token: str = ""
    secret: str = ""
    api_url: str = "https://bot-api.zaloplatforms.com/bot"
    rate_overall: float = 10.0  # shares GOPY_ZALO_RATE_OVERALL with the OA (see ``setting_names``)
    rate_per_chat: float = 1.0

    def configured(self) -> bool:
        return bool(self.token)


class ZaloBotChannel(Channel[ZaloBotConfig]):
    name: ClassVar[str] = "zalobot"
    title: ClassVar[str] = "Zalo Bot"
    help: ClassVar[str] = "Zalo Bot platform: webhook registration."
    config_class: ClassVar[type[ChannelConfig]] = ZaloBotConfig
    setting_names: ClassVar[Mapping[str, str]] = {"rate_overall": "zalo_rate_overall"}

    def check_headers(self, headers: Mapping[str, str]) -> None:
        from bot.zalobot.inbound import verify_secret

        if not verify_secret(headers.get("X-Bot-Api-Secret-Token"), self.config.secret):
            raise WebhookRefused(403, "wrong secret token")

    def parse(self, data: dict[str, Any]) -> InboundResult:
        from bot.zalobot.inbound import parse_update

        return parse_update(data)

    def sender(self, host: ChannelHost) -> ChannelSender:
        from bot.zalobot.sender import ZaloBotSender

        return ZaloBotSender(self.config.token, base_url=self.config.api_url)

    @property
    def rate(self) -> RateRule:
        return RateRule(self.config.rate_overall, self.config.rate_per_chat)

    @classmethod
    def commands(cls, runtime: ChannelRuntime) -> typer.Typer:
        app = typer.Typer(no_args_is_help=True)

        @app.command("set-webhook")
        def set_webhook(
            url: Annotated[str, typer.Argument(help="Public HTTPS URL, e.g. https://gopy.example.vn/webhooks/zalobot")],
        ) -> None:
            """Register the webhook with the Zalo Bot platform, with the secret token."""
            import asyncio

            from bot.zalobot.sender import ZaloBotSender

            c = runtime.channel(cls.name).config
            assert isinstance(c, ZaloBotConfig)
            if not c.token or not c.secret:
                cli_fail("set GOPY_ZALOBOT_TOKEN and GOPY_ZALOBOT_SECRET first")

            async def main() -> None:
                sender = ZaloBotSender(c.token, base_url=c.api_url)
                try:
                    await sender.set_webhook(url, c.secret)
                finally:
                    await sender.aclose()

            asyncio.run(main())
            cli_say(f"webhook set to {url}")

        return app
