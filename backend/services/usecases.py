"""What officials do with tickets, once for the JSON API and the console alike.

Each use case is one unit of work: find the ticket the official may see, do the operation through
:class:`~backend.services.tickets.TicketOps`, write the audit record, commit, and return a typed result. Routes only
parse their input, call a use case and render its result (JSON or a page); they never check visibility, audit or
commit themselves. Refusals are typed too: :class:`TicketNotFound` (the official may not see the ticket, or it does
not exist: never say which) and :class:`Refused` (the operation is not allowed, with the reason).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from backend.api.schemas import TicketDetailPublic, TicketPublic
from backend.db.models import Official, Ticket
from backend.domain import statuses as st
from backend.domain.statuses import TransitionError
from backend.services import nlu_review
from backend.services.audit import audit
from backend.services.presenters import ticket_detail, ticket_public
from backend.services.ticket_query import TicketQuery, inbox_page
from backend.services.tickets import TicketNotFound, TicketOps
from handlers.ports import MAX_TEXT

__all__ = ["Refused", "Replied", "TicketCases", "TicketList", "TicketNotFound", "TicketView"]


class Refused(Exception):
    """The official may see the ticket but not do this to it now; ``reason`` says why (English, for the API;
    the console maps it to a Vietnamese banner). ``conflict``: the request was well formed but the ticket's state
    forbids it (HTTP 409), else the input itself is wrong (422)."""

    def __init__(self, reason: str, *, conflict: bool = False, code: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.conflict = conflict
        self.code = code  # the ticket's canonical code, when the refusal is about one ticket


@dataclass(frozen=True, slots=True)
class TicketList:
    tickets: list[TicketPublic]
    count: int  # every ticket that matches, not only this page; up to COUNT_CAP + 1 (above COUNT_CAP: "more than")


@dataclass(frozen=True, slots=True)
class TicketView:
    detail: TicketDetailPublic
    next_statuses: list[str]  # what this official may change the status to now

    @property
    def code(self) -> str:
        return self.detail.code


@dataclass(frozen=True, slots=True)
class Replied:
    view: TicketView
    answered: list[str]  # the codes answered: the ticket, or with ``cluster`` its open duplicates in scope


class TicketCases:
    """The officials' ticket use cases over one database session (the request's), which they commit."""

    def __init__(self, ops: TicketOps, max_text: int = MAX_TEXT) -> None:
        self.ops = ops
        self.max_text = max_text  # the longest reply a citizen's chat is sent

    # -- reading ------------------------------------------------------------------------------------------
    def list(
        self,
        session: Session,
        official: Official,
        query: TicketQuery | None = None,
        *,
        offset: int = 0,
        limit: int = 50,
    ) -> TicketList:
        """The tickets the official may see (their unit; supervisors: and the units below) that match ``query``,
        urgent and overdue first unless it sorts otherwise. :class:`UnitOutOfScope` for a unit filter outside
        the official's scope."""
        query = query or TicketQuery()
        rows, count = inbox_page(session, official, query, offset=offset, limit=limit)
        audit(session, official, "list", "ticket", "*", **query.params(), offset=offset, count=len(rows))
        tickets = [ticket_public(session, t) for t in rows]
        session.commit()
        return TicketList(tickets, count)

    def view(self, session: Session, official: Official, code: str) -> TicketView:
        ticket = self._visible(session, official, code)
        audit(session, official, "view", "ticket", ticket.code)
        view = self._view(session, official, ticket)
        session.commit()
        return view

    # -- changing -----------------------------------------------------------------------------------------
    def reply(self, session: Session, official: Official, code: str, text: str, *, cluster: bool = False) -> Replied:
        """Answer the citizen (with ``cluster``: every open duplicate the official may see); delivered into their
        chat by the outbox."""
        ticket = self._visible(session, official, code)
        if not text.strip() or len(text) > self.max_text:
            raise Refused(f"a reply needs 1 to {self.max_text} characters", code=ticket.code)
        targets = self.ops.reply_all(session, official, ticket, text, cluster)
        for target in targets:
            audit(session, official, "reply", "ticket", target.code, cluster=cluster)
        answered = [t.code for t in targets]
        session.commit()
        return Replied(self._view(session, official, ticket), answered)

    def change_status(self, session: Session, official: Official, code: str, new: str, note: str | None) -> TicketView:
        ticket = self._visible(session, official, code)
        try:
            self.ops.change_status(session, official, ticket, new, note)
        except TransitionError as exc:
            raise Refused(str(exc), conflict=new in st.ALL_STATUSES, code=ticket.code) from None
        audit(session, official, "status", "ticket", ticket.code, new=new)
        return self._done(session, official, ticket)

    def reassign(self, session: Session, official: Official, code: str, unit: str, reason: str) -> TicketView:
        """Hand the ticket to another committee, with a reason; the citizen is told who handles it now."""
        ticket = self._visible(session, official, code)
        try:
            self.ops.reassign(session, official, ticket, unit, reason)
        except TransitionError as exc:
            raise Refused(str(exc), code=ticket.code) from None
        audit(session, official, "reassign", "ticket", ticket.code, unit=unit)
        return self._done(session, official, ticket)

    def assign(self, session: Session, official: Official, code: str, username: str | None) -> TicketView:
        """Give the ticket to one official of its unit or above (``None``: to nobody); recorded and audited."""
        ticket = self._visible(session, official, code)
        try:
            changed = self.ops.assign(session, official, ticket, username)
        except TransitionError as exc:
            raise Refused(str(exc), conflict=ticket.status in st.FINAL_STATUSES, code=ticket.code) from None
        if changed is not None:
            audit(session, official, "assign", "ticket", ticket.code, username=username)
        return self._done(session, official, ticket)

    def unlink_duplicate(self, session: Session, official: Official, code: str, member: str) -> TicketView:
        """Take ``member`` (a ticket the official may see) out of the duplicate cluster of ``code``; both histories
        record it."""
        ticket = self._visible(session, official, code)
        try:
            other = self._visible(session, official, member)
            self.ops.unlink_duplicate(session, official, ticket, other)
        except (TicketNotFound, TransitionError) as exc:
            raise Refused(f"{member} is not in the cluster: {exc}", code=ticket.code) from None
        audit(session, official, "unlink", "ticket", other.code, cluster=ticket.code)
        return self._done(session, official, ticket)

    def add_note(self, session: Session, official: Official, code: str, text: str) -> TicketView:
        """An internal note: officials see it, the citizen does not."""
        ticket = self._visible(session, official, code)
        if not text.strip():
            raise Refused("a note needs a text", code=ticket.code)
        self.ops.add_note(session, official, ticket, text)
        audit(session, official, "note", "ticket", ticket.code)
        return self._done(session, official, ticket)

    def correct_category(self, session: Session, official: Official, code: str, category: str) -> TicketView:
        """Correct the category the NLU chose; the correction is kept as a training example."""
        ticket = self._visible(session, official, code)
        try:
            self.ops.correct_category(session, official, ticket, category)
        except TransitionError as exc:
            raise Refused(str(exc), code=ticket.code) from None
        audit(session, official, "correct", "ticket", ticket.code, category=category)
        return self._done(session, official, ticket)

    def correct_place(
        self, session: Session, official: Official, code: str, commune: str, place_name: str | None = None
    ) -> TicketView:
        """Fix the commune the NLU found; kept for the admins' review (an accepted one teaches the place name)."""
        ticket = self._visible(session, official, code)
        try:
            nlu_review.correct_place(session, official, ticket, commune, place_name)
        except TransitionError as exc:
            raise Refused(str(exc), code=ticket.code) from None
        audit(session, official, "correct_place", "ticket", ticket.code, commune=commune)
        return self._done(session, official, ticket)

    def mark_not_petition(self, session: Session, official: Official, code: str) -> TicketView:
        """Say the message is not a petition; kept for the admins' review as a training example."""
        ticket = self._visible(session, official, code)
        nlu_review.mark_not_petition(session, official, ticket)
        audit(session, official, "not_petition", "ticket", ticket.code)
        return self._done(session, official, ticket)

    # -- helpers ------------------------------------------------------------------------------------------
    def _visible(self, session: Session, official: Official, code: str) -> Ticket:
        """The ticket if this official may see it; :class:`TicketNotFound` otherwise (never whether it exists)."""
        return self.ops.visible(session, official, code)

    def _done(self, session: Session, official: Official, ticket: Ticket) -> TicketView:
        session.commit()
        return self._view(session, official, ticket)

    @staticmethod
    def _view(session: Session, official: Official, ticket: Ticket) -> TicketView:
        return TicketView(ticket_detail(session, ticket, official), sorted(st.TRANSITIONS.get(ticket.status, ())))
