"""Per-conversation state kept in the StateStore with a TTL, its state machine, and the small helpers the flows
share.

Every state change goes through :meth:`State.goto`, checked against ``TRANSITIONS``, which
``handlers/conversation.md`` draws as a Mermaid diagram (a test keeps the two equal).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.messages import Button
from handlers.draft import Draft
from handlers.ports import CitizenRef, Reply, StateStore
from nlu.vocab import fold

TTL_SECONDS = 24 * 3600
DRAFT_MAX_AGE_SECONDS = 24 * 3600

QUESTION_STATES = (
    "await_consent",
    "await_location",
    "await_commune",
    "await_category",
    "await_confirm",
    "await_edit",
    "await_ticket",
    "await_add_info",
    "await_withdraw_reason",
    "await_rating",
    "await_rating_comment",
)
TRANSITIONS: frozenset[tuple[str, str]] = frozenset(
    {
        ("idle", s)
        for s in (
            "await_consent",
            "await_location",
            "await_commune",
            "await_category",
            "await_confirm",
            "await_ticket",
            "await_add_info",
            "await_withdraw_reason",
            "await_rating",
        )
    }
    | {("await_consent", s) for s in ("await_location", "await_commune", "await_category", "await_confirm")}
    | {
        (a, b)
        for a in ("await_location", "await_commune", "await_category", "await_edit")
        for b in ("await_location", "await_commune", "await_category", "await_confirm")
    }
    | {
        ("await_confirm", "await_edit"),
        ("await_confirm", "await_location"),
        ("await_ticket", "await_add_info"),
        ("await_ticket", "await_withdraw_reason"),
        ("await_rating", "await_rating_comment"),
    }
    | {(s, "idle") for s in QUESTION_STATES}
    | {(s, "await_rating") for s in QUESTION_STATES}  # a ticket got answered meanwhile
)


@dataclass
class State:
    name: str = "idle"
    draft: Draft | None = None
    draft_started: str | None = None  # ISO time the draft was begun
    offered: list[str] = field(default_factory=list)  # payloads of the last buttons, for "1", "2" answers
    ticket: str | None = None  # the ticket a flow is about
    data: dict[str, Any] = field(default_factory=dict)
    recent: list[float] = field(default_factory=list)  # timestamps of recent chit-chat, for rate limiting
    offered_titles: list[str] = field(default_factory=list)  # their titles, folded, for answers typed as words
    question: dict[str, Any] = field(default_factory=dict)  # the question waiting ({text, buttons}), to ask again
    notice_shown: bool = False  # the full privacy notice was shown in this conversation (later: a short reminder)
    # What the current turn is about (never saved): the backend links the turn's messages to it.
    turn_draft: str | None = None
    turn_ticket: str | None = None

    def goto(self, new: str) -> None:
        """Move to another state; a transition missing from ``TRANSITIONS`` is a bug."""
        if new != self.name and (self.name, new) not in TRANSITIONS:
            raise AssertionError(f"undeclared transition {self.name} -> {new}")
        self.name = new

    def current_question(self) -> tuple[str, list[Button]] | None:
        """The question the citizen has not answered yet, with its buttons (to ask it again)."""
        if self.name == "idle" or not self.question.get("text"):
            return None
        buttons = [Button(str(t), str(p)) for t, p in self.question.get("buttons", [])]
        return str(self.question["text"]), buttons

    def is_stale(self, payload: str | None) -> bool:
        """A button from an earlier step: its payload is not one of the buttons offered with the current question."""
        return bool(payload) and payload not in self.offered

    def about_draft(self) -> None:
        """This turn helps build the current draft."""
        if self.draft is not None:
            self.turn_draft = self.draft.id

    def about_ticket(self, code: str) -> None:
        """This turn is about one of the citizen's own tickets (checked by the caller)."""
        self.turn_ticket = code or None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "draft": self.draft.to_dict() if self.draft is not None else None,
            "draft_started": self.draft_started,
            "offered": self.offered,
            "ticket": self.ticket,
            "data": self.data,
            "recent": self.recent,
            "offered_titles": self.offered_titles,
            "question": self.question,
            "notice_shown": self.notice_shown,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> State:
        if not raw:
            return cls()
        draft = raw.get("draft")
        return cls(
            raw.get("name", "idle"),
            Draft.from_dict(draft) if isinstance(draft, dict) else None,
            raw.get("draft_started"),
            list(raw.get("offered", [])),
            raw.get("ticket"),
            dict(raw.get("data", {})),
            list(raw.get("recent", [])),
            list(raw.get("offered_titles", [])),
            dict(raw.get("question") or {}),
            bool(raw.get("notice_shown")),
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
        self.offered_titles = []
        self.question = {}  # the privacy notice stays shown: ``notice_shown`` outlives the questions


def state_key(citizen: CitizenRef) -> str:
    return f"conv:{citizen.channel}:{citizen.user_id}"


def load(store: StateStore, citizen: CitizenRef) -> State:
    return State.from_dict(store.load(state_key(citizen)))


def save(store: StateStore, citizen: CitizenRef, state: State) -> None:
    store.save(state_key(citizen), state.to_dict(), TTL_SECONDS)


def reply(text: str, buttons: list[Button] | None = None, state: State | None = None) -> Reply:
    """A reply; the offered buttons are remembered so a typed number can choose one."""
    if state is not None:
        state.offered = [b.payload for b in buttons or []]
        state.offered_titles = [fold(b.title) for b in buttons or []]
        state.question = {"text": text, "buttons": [[b.title, b.payload] for b in buttons or []]}
    return Reply(text, tuple(buttons or ()))


def age_seconds(started: str | None, now: datetime) -> float:
    if not started:
        return 0.0
    return (now - datetime.fromisoformat(started)).total_seconds()
