"""``gopy <channel> ...``: each channel's own commands (``bot/registry.py``), run with the application's settings.

``gopy telegram set-webhook|poll``, ``gopy zalo check``, ``gopy zalobot set-webhook``: the commands live with their
channel; this module lends them the settings, a migrated database and, for polling, the background workers.

The main ``gopy`` group (:class:`ChannelCommandsGroup`) builds the channels' commands only when one of them is asked
for or the commands are listed, so ``gopy nlu parse`` and the other commands never import the channel adapters
(their platform clients take a third of a second to import).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperGroup

from backend.config import get_settings
from bot.registry import CHANNELS, Channel, ChannelHost, ChannelRuntime, Registry

if TYPE_CHECKING:
    from typer import _click as click  # the click typer builds its commands with


class CliRuntime(ChannelRuntime):
    """The application as a channel's CLI commands see it; the settings are read when a command runs."""

    def channel(self, name: str) -> Channel[Any]:
        return CHANNELS.build(get_settings().model_dump())[name]

    def run(self, main: Callable[[ChannelHost], Awaitable[None]], *, workers: bool = False) -> None:
        import asyncio

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


def channel_commands(registry: Registry = CHANNELS) -> dict[str, click.Command]:
    """The ``gopy <name>`` command group of every channel of the registry that has commands."""
    runtime = CliRuntime()
    holder = typer.Typer()
    for cls in registry.classes():
        commands = cls.commands(runtime)
        if commands is not None:
            holder.add_typer(commands, name=cls.name, help=cls.help or None)
    group = typer.main.get_group(holder)
    return dict(group.commands)


class ChannelCommandsGroup(TyperGroup):
    """The main ``gopy`` group: its own commands at once, the channels' commands (:func:`channel_commands`) when a
    command it does not know is asked for, or when the commands are listed (help)."""

    _channels_added = False

    def _add_channels(self) -> None:
        if self._channels_added:
            return
        self._channels_added = True
        for name, command in channel_commands().items():
            if name not in self.commands:
                self.add_command(command, name)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is None:
            self._add_channels()
            found = super().get_command(ctx, cmd_name)
        return found

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._add_channels()
        return super().list_commands(ctx)
