"""``gopy <channel> ...``: each channel's own commands (``bot/registry.py``), run with the application's settings.

``gopy telegram set-webhook|poll``, ``gopy zalo check``, ``gopy zalobot set-webhook``: the commands live with their
channel; this module lends them the settings, a migrated database and, for polling, the background workers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import typer

from backend.config import get_settings
from bot.registry import CHANNELS, Channel, ChannelHost, ChannelRuntime, Registry


class CliRuntime(ChannelRuntime):
    """The application as a channel's CLI commands see it; the settings are read when a command runs."""

    def channel(self, name: str) -> Channel[Any]:
        return CHANNELS.build(get_settings().model_dump())[name]

    def run(self, main: Callable[[ChannelHost], Awaitable[None]], *, workers: bool = False) -> None:
        from backend.app import prepare
        from backend.container import Container

        container = Container(get_settings())
        if workers:
            prepare(container)  # migrate and seed, as `gopy serve` does

        async def go() -> None:
            from backend.workers.runner import run_workers

            stop = asyncio.Event()
            running = asyncio.create_task(run_workers(container, stop)) if workers else None
            try:
                await main(container.channels)
            finally:
                stop.set()
                if running is not None:
                    await running
                await container.aclose()

        try:
            asyncio.run(go())
        finally:
            container.close()


def add_channel_commands(app: typer.Typer, registry: Registry = CHANNELS) -> None:
    """Add ``gopy <name>`` for every channel of the registry that has commands."""
    runtime = CliRuntime()
    for cls in registry.classes():
        commands = cls.commands(runtime)
        if commands is not None:
            app.add_typer(commands, name=cls.name, help=cls.help or None)
