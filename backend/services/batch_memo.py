"""Answers looked up for a whole batch of inbound messages at once, each used at most once.

The inbound worker processes up to a hundred messages of different citizens per batch. Looking up, per message,
whether the chat belongs to an official, the citizen's open hand-off or "please add information" ticket, their
consent and their conversation state took a session (and a round trip or three) each. The batch's lookups are made
in one statement each before the turns; a turn takes its answer once, and asks the database again for any later
question (its own writes may have changed the answer). Writers ``forget`` what they change. The memo is per thread:
the worker's batch runs in one thread, and nothing else ever sees it.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from typing import Any


class BatchMemo(threading.local):
    def __init__(self) -> None:
        self.values: dict[Hashable, Any] = {}

    def fill(self, values: dict[Hashable, Any]) -> None:
        """This thread's answers for the coming batch (the previous batch's leftovers are dropped)."""
        self.values = values

    def take(self, key: Hashable) -> tuple[bool, Any]:
        """``(True, answer)`` the first time a prefetched key is asked for, else ``(False, None)``."""
        if key in self.values:
            return True, self.values.pop(key)
        return False, None

    def forget(self, *keys: Hashable) -> None:
        for key in keys:
            self.values.pop(key, None)

    def clear(self) -> None:
        self.values = {}
