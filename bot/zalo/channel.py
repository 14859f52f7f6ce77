"""Zalo Official Account as a gopy channel: settings, signed webhooks, parsing, sender, send rate, ``gopy zalo``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

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

TOKEN_NAME = "zalo_oa"  # the durable token pair shared by every process


class ZaloConfig(ChannelConfig):
    model_config = SettingsConfigDict(env_prefix="GOPY_ZALO_")

    app_id: str = ""
    app_secret: str = ""
    oa_secret: str = ""
    access_token: str = ""  # the first pair; rotated tokens are kept by the application
    refresh_token: str = ""
    api_url: str = "https://openapi.zalo.me"
    oauth_url: str = "https://oauth.zaloapp.com"
    rate_overall: float = 10.0  # Zalo publishes no figure: conservative
    rate_per_chat: float = 1.0

    def configured(self) -> bool:
        """The webhook needs the OA secret key; sending needs the app too."""
        return bool(self.oa_secret)

    def can_send(self) -> bool:
        return bool(self.app_id and self.oa_secret)


class ZaloChannel(Channel[ZaloConfig]):
    name: ClassVar[str] = "zalo"
    title: ClassVar[str] = "Zalo OA"
    help: ClassVar[str] = "Zalo Official Account: token check and refresh."
    config_class: ClassVar[type[ChannelConfig]] = ZaloConfig

    def check_headers(self, headers: Mapping[str, str]) -> None:
        if not headers.get("X-ZEvent-Signature"):
            raise WebhookRefused(401, "missing X-ZEvent-Signature")

    def verify(self, headers: Mapping[str, str], raw: bytes) -> None:
        from bot.zalo.signature import verify_signature

        signature, timestamp = headers.get("X-ZEvent-Signature"), headers.get("X-ZEvent-Timestamp")
        try:
            ok = verify_signature(raw, signature, self.config.oa_secret, timestamp)
        except (ValueError, RecursionError):
            ok = False
        if not ok:
            raise WebhookRefused(401, "invalid X-ZEvent-Signature")

    def parse(self, data: dict[str, Any]) -> InboundResult:
        from bot.zalo.inbound import parse_event

        return parse_event(data)

    @property
    def sends(self) -> bool:
        return self.config.can_send()

    def sender(self, host: ChannelHost) -> ChannelSender:
        import httpx

        from bot.zalo.client import ZaloOAClient
        from bot.zalo.tokens import RedisRefreshLock

        c = self.config
        return ZaloOAClient(
            httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0)),
            api_url=c.api_url,
            oauth_url=c.oauth_url,
            app_id=c.app_id,
            app_secret=c.app_secret,
            tokens=host.token_store(TOKEN_NAME, c.access_token, c.refresh_token),
            lock=RedisRefreshLock(host.redis, host.key("zalo", "refresh-lock")),
        )

    @property
    def rate(self) -> RateRule:
        return RateRule(self.config.rate_overall, self.config.rate_per_chat)

    @classmethod
    def commands(cls, runtime: ChannelRuntime) -> typer.Typer:
        app = typer.Typer(no_args_is_help=True)

        @app.command("check")
        def check() -> None:
            """Zalo OA: show where the tokens come from and when the access token expires; refresh it if stale."""
            import time

            from bot.zalo.client import ZaloOAClient

            channel = runtime.channel(cls.name)
            c = channel.config
            assert isinstance(c, ZaloConfig)
            if not (c.app_id and c.app_secret and c.oa_secret):
                cli_fail("set GOPY_ZALO_APP_ID, GOPY_ZALO_APP_SECRET and GOPY_ZALO_OA_SECRET first")

            async def main(host: ChannelHost) -> None:
                client = channel.sender(host)
                assert isinstance(client, ZaloOAClient)
                try:
                    tokens = await client.tokens.load()
                    if tokens is None:
                        cli_fail("no tokens: set GOPY_ZALO_ACCESS_TOKEN and GOPY_ZALO_REFRESH_TOKEN")
                    if not tokens.fresh():
                        tokens = await client.refresh(stale=tokens.access_token)
                        cli_say("access token refreshed")
                    cli_say(f"access token valid for {(tokens.expires_at - time.time()) / 3600:.1f} h")
                finally:
                    await client.aclose()

            runtime.run(main)
            cli_say("Webhook URL to enter in the Zalo developers console: https://<your host>/webhooks/zalo")

        return app
