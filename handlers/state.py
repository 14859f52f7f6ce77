"""Per-conversation state kept in the StateStore with a TTL, and the small helpers the flows share."""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.messages import Button
from handlers.ports import CitizenRef, Reply, StateStore

TTL_SECONDS = 24 * 3600
DRAFT_MAX_AGE_SECONDS = 24 * 3600


@dataclass
class State:
    name: str = "idle"
    draft: dict[str, Any] | None = None
    draft_started: str | None = None  # ISO time the draft was begun
    offered: list[str] = field(default_factory=list)  # payloads of the last buttons, for "1", "2" answers
    ticket: str | None = None  # the ticket a flow is about
    data: dict[str, Any] = field(default_factory=dict)
    recent: list[float] = field(default_factory=list)  # timestamps of recent chit-chat, for rate limiting
    # What the current turn is about (never saved): the backend links the turn's messages to it.
    turn_draft: str | None = None
    turn_ticket: str | None = None

    def about_draft(self) -> None:
        """This turn helps build the current draft."""
        if self.draft is not None:
            self.turn_draft = draft_id(self.draft)

    def about_ticket(self, code: str) -> None:
        """This turn is about one of the citizen's own tickets (checked by the caller)."""
        self.turn_ticket = code or None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "draft": self.draft,
            "draft_started": self.draft_started,
            "offered": self.offered,
            "ticket": self.ticket,
            "data": self.data,
            "recent": self.recent,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> State:
        if not raw:
            return cls()
        return cls(
            raw.get("name", "idle"),
            raw.get("draft"),
            raw.get("draft_started"),
            list(raw.get("offered", [])),
            raw.get("ticket"),
            dict(raw.get("data", {})),
            list(raw.get("recent", [])),
        )

    def reset(self) -> None:
        self.name, self.draft, self.draft_started, self.ticket, self.data, self.offered = (
            "idle",
            None,
            None,
            None,
            {},
            [],
        )


def draft_id(draft: dict[str, Any]) -> str:
    """The draft's id, given when it is begun (drafts saved before ids existed get one now)."""
    value = draft.get("id")
    if not isinstance(value, str) or not value:
        value = draft["id"] = new_draft_id()
    return value


def new_draft_id() -> str:
    return secrets.token_hex(8)


def state_key(citizen: CitizenRef) -> str:
    return f"conv:{citizen.channel}:{citizen.user_id}"


def load(store: StateStore, citizen: CitizenRef) -> State:
    return State.from_dict(store.load(state_key(citizen)))


def save(store: StateStore, citizen: CitizenRef, state: State) -> None:
    store.save(state_key(citizen), state.to_dict(), TTL_SECONDS)


def fold(text: str) -> str:
    text = unicodedata.normalize("NFD", unicodedata.normalize("NFC", text).lower().replace("đ", "d"))
    return " ".join(re.sub(r"[^\w\s/]", " ", "".join(c for c in text if unicodedata.category(c) != "Mn")).split())


def reply(text: str, buttons: list[Button] | None = None, state: State | None = None) -> Reply:
    """A reply; the offered buttons are remembered so a typed number can choose one."""
    if state is not None:
        state.offered = [b.payload for b in buttons or []]
    return Reply(text, tuple(buttons or ()))


def age_seconds(started: str | None, now: datetime) -> float:
    if not started:
        return 0.0
    return (now - datetime.fromisoformat(started)).total_seconds()
