"""After a browser module has finished, no event loop is left running in the main thread (async tests that follow
must be able to start their own). The name sorts this module after the browser modules of this folder."""

from __future__ import annotations

import asyncio


async def test_async_tests_still_run_after_the_browser_tests() -> None:
    await asyncio.sleep(0)


def test_no_event_loop_is_left_running() -> None:
    assert asyncio._get_running_loop() is None
