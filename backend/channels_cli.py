"""``gopy telegram``: register the webhook, or poll for updates in development."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console

from backend.config import get_settings

telegram_app = typer.Typer(no_args_is_help=True)
console = Console(stderr=True)


@telegram_app.command("set-webhook")
def set_webhook(
    url: Annotated[str, typer.Argument(help="Public HTTPS URL, e.g. https://gopy.example.vn/webhooks/telegram")],
) -> None:
    """Register the webhook with Telegram, with the secret token and the update kinds gopy handles."""
    from bot.telegram import set_webhook as register

    s = get_settings()
    if not s.telegram_token or not s.telegram_secret:
        console.print("[red]error:[/red] set GOPY_TELEGRAM_TOKEN and GOPY_TELEGRAM_SECRET first")
        raise typer.Exit(2)
    asyncio.run(register(s.telegram_token, url, s.telegram_secret, base_url=s.telegram_api_url))
    console.print(f"webhook set to {url}")


@telegram_app.command("poll")
def poll() -> None:
    """Development: fetch updates with getUpdates instead of a webhook (no public URL needed)."""
    from backend.app import prepare
    from backend.container import Container
    from bot.telegram import poll_updates

    s = get_settings()
    if not s.telegram_token:
        console.print("[red]error:[/red] set GOPY_TELEGRAM_TOKEN first")
        raise typer.Exit(2)
    container = Container(s)
    prepare(container)

    async def main() -> None:
        from backend.workers.runner import run_workers

        stop = asyncio.Event()
        senders = await container.channel_senders()

        async def handle(result: object) -> None:
            message = getattr(result, "message", None)
            if message is not None:
                await asyncio.to_thread(container.intake.store, message)
                container.wake_inbound()

        workers = asyncio.create_task(run_workers(container, stop))
        try:
            await poll_updates(senders["telegram"], handle)
        finally:
            stop.set()
            await workers

    asyncio.run(main())


zalo_app = typer.Typer(no_args_is_help=True)


@zalo_app.command("check")
def zalo_check() -> None:
    """Zalo OA: show where the tokens come from and when the access token expires; refresh it if it is stale."""
    import time

    from backend.container import Container
    from backend.services.channels import build_zalo

    s = get_settings()
    if not (s.zalo_app_id and s.zalo_app_secret and s.zalo_oa_secret):
        console.print("[red]error:[/red] set GOPY_ZALO_APP_ID, GOPY_ZALO_APP_SECRET and GOPY_ZALO_OA_SECRET first")
        raise typer.Exit(2)
    container = Container(s)

    async def main() -> None:
        client = await build_zalo(container)
        try:
            tokens = await client.tokens.load()
            if tokens is None:
                console.print("[red]error:[/red] no tokens: set GOPY_ZALO_ACCESS_TOKEN and GOPY_ZALO_REFRESH_TOKEN")
                raise typer.Exit(2)
            if not tokens.fresh():
                tokens = await client.refresh(stale=tokens.access_token)
                console.print("access token refreshed")
            console.print(f"access token valid for {(tokens.expires_at - time.time()) / 3600:.1f} h")
        finally:
            await client.aclose()
            await container.aclose()

    asyncio.run(main())
    console.print("Webhook URL to enter in the Zalo developers console: https://<your host>/webhooks/zalo")


zalobot_app = typer.Typer(no_args_is_help=True)


@zalobot_app.command("set-webhook")
def zalobot_set_webhook(
    url: Annotated[str, typer.Argument(help="Public HTTPS URL, e.g. https://gopy.example.vn/webhooks/zalobot")],
) -> None:
    """Register the webhook with the Zalo Bot platform, with the secret token."""
    from bot.zalobot import ZaloBotSender

    s = get_settings()
    if not s.zalobot_token or not s.zalobot_secret:
        console.print("[red]error:[/red] set GOPY_ZALOBOT_TOKEN and GOPY_ZALOBOT_SECRET first")
        raise typer.Exit(2)

    async def main() -> None:
        sender = ZaloBotSender(s.zalobot_token, base_url=s.zalobot_api_url)
        try:
            await sender.set_webhook(url, s.zalobot_secret)
        finally:
            await sender.aclose()

    asyncio.run(main())
    console.print(f"webhook set to {url}")
