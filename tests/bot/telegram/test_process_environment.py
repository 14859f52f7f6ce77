"""Importing the Telegram adapter leaves the process environment alone, and a flood limit still becomes a retryable
error with its wait, without PTB's deprecation warning (which PTB silences only through an environment variable)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = """
import asyncio
import os
import warnings

warnings.simplefilter("error")  # PTB's deprecation warning would fail the send
before = dict(os.environ)

import bot.telegram
from bot.base import SendError
from bot.messages import OutboundMessage
from tests.fakes.telegram_server import fake_telegram

assert dict(os.environ) == before, sorted(set(os.environ) ^ set(before))


async def main() -> None:
    with fake_telegram() as fake:
        fake.fail("sendMessage", 429, retry_after=7)
        sender = bot.telegram.TelegramSender(fake.token, base_url=fake.base_url)
        try:
            await sender.send(OutboundMessage("telegram", "42", "xin chào"))
        except SendError as exc:
            assert (exc.reason, exc.retryable, exc.retry_after) == ("rate_limited", True, 7.0), exc
        else:
            raise AssertionError("no flood limit")
        await sender.aclose()


asyncio.run(main())
assert dict(os.environ) == before
print("ok")
"""


def test_importing_the_adapter_changes_no_environment_variable() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PTB_TIMEDELTA"}
    run = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stdout + run.stderr
