"""Builds the platform senders that are configured (none are needed for the web chat).

Building a sender never calls the platform: a platform that is unreachable at start must not stop the workers.
Each sender connects (and checks its token) on first use; failures are retryable send errors, so the outbox retries
and the messages stored meanwhile go out once the platform is back."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from backend.container import Container

log = logging.getLogger(__name__)


async def build_senders(container: Container) -> dict[str, Any]:
    s = container.settings
    senders: dict[str, Any] = {}
    if s.telegram_token:
        from bot.telegram import TelegramSender

        # no getMe here: the sender connects on its first send and keeps retrying while Telegram is unreachable
        senders["telegram"] = TelegramSender(s.telegram_token, base_url=s.telegram_api_url)
    if s.zalo_app_id and s.zalo_oa_secret:
        senders["zalo"] = await build_zalo(container)
    if s.zalobot_token:
        from bot.zalobot import ZaloBotSender

        senders["zalobot"] = ZaloBotSender(s.zalobot_token, base_url=s.zalobot_api_url)
    if senders:
        log.info("channels configured: %s", ", ".join(sorted(senders)))
    return senders


async def build_zalo(container: Container) -> Any:
    import httpx

    from backend.services.zalo_tokens import DbZaloTokenStore
    from bot.zalo import RedisRefreshLock, ZaloOAClient

    s = container.settings
    store = DbZaloTokenStore(container.scope, s.zalo_access_token, s.zalo_refresh_token)
    return ZaloOAClient(
        httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0)),
        api_url=s.zalo_api_url,
        oauth_url=s.zalo_oauth_url,
        app_id=s.zalo_app_id,
        app_secret=s.zalo_app_secret,
        tokens=store,
        lock=RedisRefreshLock(container.kv.aio, "gopy:zalo:refresh-lock"),
    )
