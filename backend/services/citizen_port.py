"""The database-backed ``TicketService`` port the conversation flows use on behalf of one citizen."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable
from contextlib import AbstractContextManager
from typing import Any, Literal, cast

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement, UnaryExpression

from backend.db.models import Citizen, OrgUnit, Ticket, TicketEvent, utcnow
from backend.domain import statuses as st
from backend.domain.statuses import TransitionError
from backend.services.batch_memo import BatchMemo
from backend.services.throttle import Limit, Throttle
from backend.services.tickets import TicketOps
from bot.messages import Attachment, GeoPoint
from handlers.ports import CitizenRef, TicketDraft, TicketError, TicketService, TicketSummary

SessionScope = Callable[[], AbstractContextManager[Session]]
TICKETS_PER_HOUR = Limit(10, 3600)  # new tickets one citizen may file per hour (repeats of a draft do not count)
RECENT_FILINGS = 50  # how many of the citizen's latest tickets are checked for a repeated draft


def summary(session: Session, ticket: Ticket) -> TicketSummary:
    last = session.scalars(
        select(TicketEvent)
        .where(
            TicketEvent.ticket_id == ticket.id,
            TicketEvent.public.is_(True),
            TicketEvent.note.is_not(None),
            TicketEvent.actor_type != "citizen",
        )
        .order_by(TicketEvent.id.desc())
    ).first()
    return TicketSummary(
        code=ticket.code,
        status=ticket.status,
        category=ticket.category,
        unit_name=ticket.unit.name,
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
        last_note=last.note if last else None,
        deadline=ticket.deadline,
    )


def change_status(
    session: Session,
    ticket: Ticket,
    new: str,
    note: str | None,
    *,
    actor: str,
    actor_id: str,
    public: bool = True,
    data: dict[str, Any] | None = None,
) -> TicketEvent:
    """A status change made by the citizen or by gopy on their behalf: checked against the actor's transition table
    (:func:`backend.domain.statuses.check_transition`, raises ``TransitionError``) and recorded as an event."""
    old = ticket.status
    st.check_transition(old, new, note, actor=actor)
    event = TicketEvent(
        ticket_id=ticket.id,
        kind="status",
        actor_type=actor,
        actor_id=actor_id,
        old_status=old,
        new_status=new,
        note=note,
        public=public,
        data=data,
    )
    session.add(event)
    ticket.status = new
    ticket.updated_at = utcnow()
    return event


Question = Literal["handoff", "awaiting"]
QUESTIONS: tuple[Question, ...] = ("handoff", "awaiting")


def _latest_codes(session: Session, kind: Question, citizen_ids: list[int]) -> dict[int, str]:
    """For each of these citizens who has one, the code of their latest ticket in an official's hand-off
    (``handoff``: the conversation goes to the official until ``handoff_until``) or asked for more information
    (``awaiting``): what every turn asks first."""
    where: list[ColumnElement[bool]]
    newest: list[UnaryExpression[Any]]
    if kind == "handoff":
        now = utcnow()
        where = [Ticket.handoff_until.is_not(None), Ticket.handoff_until > now, Ticket.status.in_(st.OPEN_STATUSES)]
        newest = [Ticket.handoff_until.desc()]
    else:
        where, newest = [Ticket.status == st.CAN_BO_SUNG], [Ticket.updated_at.desc(), Ticket.id.desc()]
    rows = session.execute(
        select(Ticket.citizen_id, Ticket.code)
        .where(Ticket.citizen_id.in_(citizen_ids), *where)
        .order_by(Ticket.citizen_id, *newest)
    )
    latest: dict[int, str] = {}
    for citizen_id, code in rows:
        latest.setdefault(citizen_id, code)  # rows come newest first per citizen
    return latest


class DbTicketService(TicketService):
    def __init__(self, scope: SessionScope, ops: TicketOps, throttle: Throttle | None = None) -> None:
        self._scope = scope
        self._ops = ops
        self._throttle = throttle  # None: no limit on tickets per citizen (tests, scripts)
        self._memo = BatchMemo()  # the inbound worker's batch lookups (see ``prefetch``)

    def prefetch(self, citizen_ids: list[int]) -> None:
        """Look up, for a batch of citizens at once, what every turn asks first: the open hand-off ticket, the
        ticket an official asked more information about, and the consent (three statements in all, instead of
        three sessions per message). Each answer is used once (``BatchMemo``); ``prefetch([])`` drops them."""
        if not citizen_ids:
            self._memo.clear()
            return
        ids = sorted(set(citizen_ids))
        with self._scope() as session:
            latest = {kind: _latest_codes(session, kind, ids) for kind in QUESTIONS}
            consent = dict(session.execute(select(Citizen.id, Citizen.consent).where(Citizen.id.in_(ids))).all())
        values: dict[Hashable, Any] = {(kind, i): codes.get(i) for kind, codes in latest.items() for i in ids}
        values.update({("consent", i): consent[i] for i in ids if i in consent})  # unknown: the port raises
        self._memo.fill(values)

    def _forget(self, citizen: CitizenRef) -> None:
        """A write about this citizen: their prefetched answers may be stale now."""
        self._memo.forget(("handoff", citizen.id), ("awaiting", citizen.id), ("consent", citizen.id))

    # helpers
    @staticmethod
    def _citizen(session: Session, ref: CitizenRef) -> Citizen:
        citizen = session.get(Citizen, ref.id)
        if citizen is None:
            raise TicketError("not_found", "unknown citizen")
        return citizen

    def _mine(self, session: Session, ref: CitizenRef, code: str) -> Ticket:
        ticket = self._ops.by_code(session, code)
        if ticket is None or ticket.citizen_id != ref.id:
            raise TicketError("not_found")
        return ticket

    @staticmethod
    def _lock_citizen(session: Session, citizen_id: int) -> None:
        """Serialise filings by one citizen until commit: a row lock on PostgreSQL; on SQLite a no-op write takes
        the database's single write lock (a plain read would not, and two filings could both miss each other)."""
        if session.get_bind().dialect.name == "postgresql":
            session.execute(select(Citizen.id).where(Citizen.id == citizen_id).with_for_update())
        else:
            session.execute(update(Citizen).where(Citizen.id == citizen_id).values(channel=Citizen.channel))

    @staticmethod
    def _filed_from(session: Session, citizen_id: int, draft_id: str) -> Ticket | None:
        """The ticket already filed from this draft, if any (the draft id is kept in its ``created`` event)."""
        events = session.scalars(
            select(TicketEvent)
            .join(Ticket, Ticket.id == TicketEvent.ticket_id)
            .where(Ticket.citizen_id == citizen_id, TicketEvent.kind == "created")
            .order_by(TicketEvent.id.desc())
            .limit(RECENT_FILINGS)
        )
        for event in events:
            if (event.data or {}).get("draft_id") == draft_id:
                return session.get(Ticket, event.ticket_id)
        return None

    # port
    def file(self, citizen: CitizenRef, draft: TicketDraft) -> TicketSummary:
        """File once per draft: a repeated or concurrent "send" of the same draft returns the first ticket."""
        self._forget(citizen)
        with self._scope() as session:
            row = self._citizen(session, citizen)
            self._lock_citizen(session, row.id)
            if draft.draft_id:
                earlier = self._filed_from(session, row.id, draft.draft_id)
                if earlier is not None:
                    return dataclasses.replace(summary(session, earlier), repeated=True)
            if self._throttle is not None:
                wait = self._throttle.hit("tickets", f"citizen:{row.id}", TICKETS_PER_HOUR)
                if wait is not None:
                    raise TicketError("rate_limited", "too many tickets this hour", retry_after=wait)
            if draft.anonymous is False and draft.phone and not row.phone:
                row.phone = draft.phone
            ticket = self._ops.file(session, row, draft)
            session.flush()
            if draft.draft_id:
                created = session.scalars(
                    select(TicketEvent).where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "created")
                ).one()
                created.data = {**(created.data or {}), "draft_id": draft.draft_id}
            result = summary(session, ticket)
            session.commit()
            return result

    def list_mine(self, citizen: CitizenRef, limit: int = 10) -> list[TicketSummary]:
        with self._scope() as session:
            rows = session.scalars(
                select(Ticket)
                .where(Ticket.citizen_id == citizen.id)
                .order_by(Ticket.updated_at.desc(), Ticket.id.desc())
                .limit(limit)
            ).unique()
            return [summary(session, t) for t in rows]

    def get_mine(self, citizen: CitizenRef, code: str) -> TicketSummary | None:
        with self._scope() as session:
            try:
                return summary(session, self._mine(session, citizen, code))
            except TicketError:
                return None

    def add_info(
        self,
        citizen: CitizenRef,
        code: str,
        text: str,
        attachments: list[Attachment] | None = None,
        geo: GeoPoint | None = None,
    ) -> TicketSummary:
        self._forget(citizen)
        with self._scope() as session:
            ticket = self._mine(session, citizen, code)
            if ticket.status in st.FINAL_STATUSES:
                raise TicketError("closed")
            data: dict[str, Any] = {}
            if attachments:
                data["attachments"] = [
                    {k: getattr(a, k) for k in ("kind", "url", "platform_file_id", "name", "size")} for a in attachments
                ]
                ticket.attachments = [*ticket.attachments, *data["attachments"]]
            if geo:
                data["geo"] = {"latitude": geo.latitude, "longitude": geo.longitude}
                if ticket.latitude is None:
                    ticket.latitude, ticket.longitude = geo.latitude, geo.longitude
            session.add(
                TicketEvent(
                    ticket_id=ticket.id,
                    kind="info",
                    actor_type="citizen",
                    actor_id=str(citizen.id),
                    note=text or None,
                    public=True,
                    data=data,
                )
            )
            ticket.updated_at = utcnow()
            if ticket.status == st.CAN_BO_SUNG:  # the information asked for has come: back to processing
                change_status(session, ticket, st.DANG_XU_LY, None, actor=st.SYSTEM, actor_id="citizen_info")
            result = summary(session, ticket)
            session.commit()
            return result

    def withdraw(self, citizen: CitizenRef, code: str, reason: str | None) -> TicketSummary:
        self._forget(citizen)
        with self._scope() as session:
            ticket = self._mine(session, citizen, code)
            note = "Người dân rút phản ánh" + (f": {reason}" if reason else "")
            try:  # the citizen's own transition table: only while the ticket is still being handled
                change_status(
                    session,
                    ticket,
                    st.TU_CHOI,
                    note,
                    actor=st.CITIZEN,
                    actor_id=str(citizen.id),
                    data={"reason": "citizen_withdrew"},
                )
            except TransitionError:
                raise TicketError("closed") from None
            result = summary(session, ticket)
            session.commit()
            return result

    def rate(self, citizen: CitizenRef, code: str, stars: int, comment: str | None) -> TicketSummary:
        self._forget(citizen)
        if not 1 <= stars <= 5:
            raise TicketError("bad_rating")
        with self._scope() as session:
            ticket = self._mine(session, citizen, code)
            if ticket.status not in (st.DA_TRA_LOI, st.DA_DONG):
                raise TicketError("not_answered")
            if ticket.rating is not None:
                raise TicketError("already_rated")
            ticket.rating, ticket.rating_comment = stars, comment
            session.add(
                TicketEvent(
                    ticket_id=ticket.id,
                    kind="rating",
                    actor_type="citizen",
                    actor_id=str(citizen.id),
                    note=comment,
                    public=False,
                    data={"stars": stars},
                )
            )
            if stars <= 2:  # a low rating reopens the ticket for the leaders to review
                note = f"Mở lại để lãnh đạo xem xét: người dân đánh giá {stars}/5"
                change_status(session, ticket, st.DANG_XU_LY, note, actor=st.SYSTEM, actor_id="rating", public=False)
            ticket.updated_at = utcnow()
            result = summary(session, ticket)
            session.commit()
            return result

    def handoff_ticket(self, citizen: CitizenRef) -> str | None:
        return self._latest(citizen, "handoff")

    def awaiting_info(self, citizen: CitizenRef) -> str | None:
        return self._latest(citizen, "awaiting")

    def _latest(self, citizen: CitizenRef, kind: Question) -> str | None:
        found, code = self._memo.take((kind, citizen.id))
        if found:
            return cast(str | None, code)
        with self._scope() as session:
            return _latest_codes(session, kind, [citizen.id]).get(citizen.id)

    def unit_candidates(self, commune_codes: list[str]) -> list[tuple[str, str]]:
        with self._scope() as session:
            rows = session.scalars(select(OrgUnit).where(OrgUnit.code.in_(commune_codes)))
            names = {u.code: u for u in rows}
            out = []
            for code in commune_codes:
                unit = names.get(code)
                if unit is not None:
                    parent = session.get(OrgUnit, unit.parent_code) if unit.parent_code else None
                    out.append((code, f"{unit.name}, {parent.name}" if parent else unit.name))
            return out

    def get_consent(self, citizen: CitizenRef) -> str | None:
        found, consent = self._memo.take(("consent", citizen.id))
        if found:
            return cast(str | None, consent)
        with self._scope() as session:
            return self._citizen(session, citizen).consent

    def set_consent(self, citizen: CitizenRef, value: str | None) -> None:
        self._forget(citizen)
        with self._scope() as session:
            row = self._citizen(session, citizen)
            row.consent = value
            row.consent_at = utcnow() if value else None
            session.commit()
