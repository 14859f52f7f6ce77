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
