"""The ports the conversation flows need; ``backend`` provides the real adapters.

Handlers never import ``backend``: they receive these objects. Tests use fakes that subclass them.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.messages import Attachment, Button, GeoPoint
from nlu.result import ParseResult
from nlu.vocab import FEEDBACK_INTENT
from nlu.vocab import MAX_TEXT as MAX_TEXT  # the one text limit, defined in the shared vocabulary


@dataclass(frozen=True, slots=True)
class Reply:
    """What the flow wants to say; the channel adapter renders it (buttons may degrade to numbered text)."""

    text: str
    buttons: tuple[Button, ...] = ()


@dataclass(slots=True)
class Turn:
    """One conversation turn: the replies, and what the turn was about, so the backend can link the inbound
    message and the replies to it. A ticket's page shows only the messages linked to that ticket; greetings,
    help and chit-chat belong to nothing.
    """

    replies: list[Reply]
    draft_id: str | None = None  # the draft the turn built (linked to its ticket once filed)
    ticket_code: str | None = None  # the citizen's own ticket the turn was about (filed, looked up, added to...)


@dataclass(frozen=True, slots=True)
class CitizenRef:
    """Who is talking: the backend's citizen id plus the channel identity."""

    id: int
    channel: str
    user_id: str
    display_name: str | None = None


@dataclass(slots=True)
class TicketDraft:
    """Everything needed to file a ticket."""

    text: str
    intent: str = FEEDBACK_INTENT
    intent_confidence: float = 0.0
    category: str | None = None
    category_confidence: float = 0.0
    province_code: str | None = None  # official 2-digit code
    commune_code: str | None = None  # official 5-digit code
    location_text: str | None = None  # what the citizen wrote
    geo: GeoPoint | None = None
    urgent: bool = False
    anonymous: bool = False
    phone: str | None = None
    attachments: list[Attachment] = field(default_factory=list)
    nlu: dict[str, Any] = field(default_factory=dict)  # the latest parse, as stored with the ticket (ParseResult JSON)
    draft_id: str | None = None  # idempotency key: filing the same draft twice returns the first ticket


@dataclass(frozen=True, slots=True)
class TicketSummary:
    """What a citizen may see of one of their tickets."""

    code: str
    status: str  # SPEC §6 status code (``nlu.vocab.STATUSES``), e.g. "moi"
    category: str | None
    unit_name: str
    created_at: datetime
    updated_at: datetime
    last_note: str | None = None  # last public reply or status note
    deadline: datetime | None = None  # when an answer is due
    repeated: bool = False  # ``file`` found this ticket already filed from the same draft


class TicketError(Exception):
    """A ticket operation refused for a reason the citizen should hear (e.g. already closed)."""

    def __init__(self, code: str, message: str = "", *, retry_after: float | None = None) -> None:
        super().__init__(message or code)
        self.code = code  # machine code: "not_found", "closed", "already_rated", "rate_limited", ...
        self.retry_after = retry_after  # seconds to wait, for "rate_limited"


class TicketService(abc.ABC):
    """Ticket operations on behalf of one citizen. Only the citizen's own tickets are visible."""

    @abc.abstractmethod
    def file(self, citizen: CitizenRef, draft: TicketDraft) -> TicketSummary:
        """File a ticket. Idempotent on ``draft.draft_id`` (the summary says ``repeated``); raises
        ``TicketError("rate_limited", retry_after=...)`` when the citizen filed too many tickets lately."""

    @abc.abstractmethod
    def list_mine(self, citizen: CitizenRef, limit: int = 10) -> list[TicketSummary]: ...

    @abc.abstractmethod
    def get_mine(self, citizen: CitizenRef, code: str) -> TicketSummary | None:
        """None when the code is unknown *or* belongs to someone else (never tell which)."""

    @abc.abstractmethod
    def add_info(
        self,
        citizen: CitizenRef,
        code: str,
        text: str,
        attachments: list[Attachment] | None = None,
        geo: GeoPoint | None = None,
    ) -> TicketSummary: ...

    @abc.abstractmethod
    def withdraw(self, citizen: CitizenRef, code: str, reason: str | None) -> TicketSummary: ...

    @abc.abstractmethod
    def rate(self, citizen: CitizenRef, code: str, stars: int, comment: str | None) -> TicketSummary: ...

    @abc.abstractmethod
    def handoff_ticket(self, citizen: CitizenRef) -> str | None:
        """Code of the ticket an official is actively talking on with this citizen, if any."""

    @abc.abstractmethod
    def awaiting_info(self, citizen: CitizenRef) -> str | None:
        """Code of the citizen's ticket on which an official asked for more information (``can_bo_sung``), if any:
        the citizen's next message answers it."""

    @abc.abstractmethod
    def unit_candidates(self, commune_codes: list[str]) -> list[tuple[str, str]]:
        """(code, full name) of the given units, for offering choices."""

    @abc.abstractmethod
    def get_consent(self, citizen: CitizenRef) -> str | None:
        """ "named", "anonymous" or None (not given, or withdrawn)."""

    @abc.abstractmethod
    def set_consent(self, citizen: CitizenRef, value: str | None) -> None: ...


class StateStore(abc.ABC):
    """Per-conversation state with a time to live (Redis in production, in-process when embedded)."""

    @abc.abstractmethod
    def load(self, key: str) -> dict[str, Any] | None: ...

    @abc.abstractmethod
    def save(self, key: str, state: dict[str, Any], ttl_seconds: int) -> None: ...

    @abc.abstractmethod
    def delete(self, key: str) -> None: ...


class Parser(abc.ABC):
    """The NLU: text in, a typed parse out (``nlu.engine``; ``ParseResult.to_dict()`` is the Rasa-compatible JSON)."""

    @abc.abstractmethod
    def parse(self, text: str) -> ParseResult: ...

    @property
    def starting_up(self) -> bool:
        """True while the first model is still being trained: the chat then answers a polite "starting up" text."""
        return False
