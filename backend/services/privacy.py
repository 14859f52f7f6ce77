"""Citizens' personal data (Decree 13/2023/NĐ-CP): export it, erase it, and let it expire after the retention period.

Erasure removes what identifies a person or repeats their words (names, phones, platform ids, message texts and
payloads, ticket text, place description, coordinates, attachments, rating comments, the conversation state) and
keeps what reports count (category, unit, place codes, status, dates, deadlines, rating stars), so statistics do not
change. It is idempotent. The same per-ticket erasure serves ``gopy admin citizen erase`` and the retention worker.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from backend.db.models import (
    AuditLog,
    Citizen,
    Message,
    NluCorrection,
    OrgUnit,
    OutboxItem,
    Ticket,
    TicketEvent,
    utcnow,
)
from backend.domain import statuses as st
from backend.domain.deadlines import VN_TZ
from handlers.ports import CitizenRef, StateStore
from handlers.state import state_key

EXPORT_FORMAT = "gopy.citizen-export/1"
ERASED_TEXT = "[Đã xoá dữ liệu cá nhân theo Nghị định 13/2023/NĐ-CP]"
REDACTED = "[…]"
RETENTION_ACTOR = "system:retention"
# What an erased ticket keeps of its NLU result and of citizens' event payloads: labels and codes, never words.
_NLU_KEEP = ("model", "intent", "category", "urgent", "low_confidence")
_CITIZEN_EVENT_DATA_KEEP = ("stars", "reason")


# -- lookups ----------------------------------------------------------------------------------------------------
def find_citizen(session: Session, channel: str, user: str) -> Citizen | None:
    """The citizen known on ``channel`` by the platform's user id ``user`` (None once erased: the id is gone)."""
    user = unicodedata.normalize("NFC", user.strip())
    return session.scalars(
        select(Citizen).where(Citizen.channel == channel.strip(), Citizen.platform_user_id == user)
    ).first()


def citizen_ref(citizen: Citizen) -> CitizenRef:
    return CitizenRef(citizen.id, citizen.channel, citizen.platform_user_id, citizen.display_name)


def write_audit(session: Session, actor: str, action: str, object_type: str, object_id: str, **detail: Any) -> None:
    """An audit row for an operator or a system job (officials' actions go through ``services.audit``)."""
    session.add(
        AuditLog(actor=actor[:64], action=action, object_type=object_type, object_id=object_id[:64], detail=detail)
    )


# -- export -----------------------------------------------------------------------------------------------------
def _utc(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def _vn(value: datetime | None) -> str | None:
    return value.astimezone(VN_TZ).isoformat() if value else None


def _times(**values: datetime | None) -> dict[str, str | None]:
    """Each time twice: UTC (ISO 8601) and Vietnam time for the person who reads the export."""
    out: dict[str, str | None] = {}
    for name, value in values.items():
        out[name] = _utc(value)
        out[f"{name}_vn"] = _vn(value)
    return out


def _author(author: str | None) -> str | None:
    """Citizens see the unit, not the person: officials' login names stay out of the export."""
    return author if author in (None, "bot", "citizen", "system") else "official"


def export_citizen(session: Session, citizen: Citizen, *, state: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything held about one citizen, as JSON-ready data (the caller audits and writes it)."""
    tickets = list(session.scalars(select(Ticket).where(Ticket.citizen_id == citizen.id).order_by(Ticket.id)).unique())
    codes = {t.id: t.code for t in tickets}
    ticket_ids = list(codes)
    events = (
        list(session.scalars(select(TicketEvent).where(TicketEvent.ticket_id.in_(ticket_ids)).order_by(TicketEvent.id)))
        if ticket_ids
        else []
    )
    by_ticket: dict[int, list[TicketEvent]] = {}
    for event in events:
        by_ticket.setdefault(event.ticket_id, []).append(event)
    units = {
        u.code: u.name for u in session.scalars(select(OrgUnit).where(OrgUnit.code.in_({t.unit_code for t in tickets})))
    }

    ratings: list[dict[str, Any]] = []
    attachments: list[dict[str, Any]] = []
    ticket_rows: list[dict[str, Any]] = []
    for t in tickets:
        for att in t.attachments or []:
            attachments.append({"ticket": t.code, "source": "ticket", **dict(att)})
        history = []
        for e in by_ticket.get(t.id, []):
            history.append(
                {
                    "kind": e.kind,
                    "actor_type": e.actor_type,
                    "old_status": e.old_status,
                    "new_status": e.new_status,
                    "note": e.note,
                    "public": e.public,
                    "data": e.data,
                    **_times(created_at=e.created_at),
                }
            )
            if e.actor_type == "citizen" and e.kind == "info":
                for att in (e.data or {}).get("attachments", []):
                    attachments.append({"ticket": t.code, "source": "info", **dict(att), **_times(at=e.created_at)})
            if e.kind == "rating":
                ratings.append(
                    {
                        "ticket": t.code,
                        "stars": (e.data or {}).get("stars"),
                        "comment": e.note,
                        **_times(at=e.created_at),
                    }
                )
        ticket_rows.append(
            {
                "code": t.code,
                "channel": t.channel,
                "status": t.status,
                "intent": t.intent,
                "category": t.category,
                "text": t.text,
                "location_text": t.location_text,
                "province_code": t.province_code,
                "commune_code": t.commune_code,
                "latitude": t.latitude,
                "longitude": t.longitude,
                "urgent": t.urgent,
                "anonymous": t.anonymous,
                "phone": t.phone,
                "unit": {"code": t.unit_code, "name": units.get(t.unit_code)},
                "rating": t.rating,
                "rating_comment": t.rating_comment,
                "attachments": t.attachments,
                "nlu": t.nlu,
                **_times(
                    created_at=t.created_at,
                    updated_at=t.updated_at,
                    accept_deadline=t.accept_deadline,
                    deadline=t.deadline,
                    personal_data_erased_at=t.personal_data_erased_at,
                ),
                "events": history,
            }
        )

    messages = [
        {
            "id": m.id,
            "direction": m.direction,
            "channel": m.channel,
            "kind": m.kind,
            "text": m.text,
            "data": m.data,
            "ticket": codes.get(m.ticket_id) if m.ticket_id else None,
            "draft_id": m.draft_id,
            "author": _author(m.author),
            **_times(created_at=m.created_at),
        }
        for m in session.scalars(select(Message).where(Message.citizen_id == citizen.id).order_by(Message.id))
    ]
    outbox = [
        {
            "id": o.id,
            "channel": o.channel,
            "ticket": codes.get(o.ticket_id) if o.ticket_id else None,
            "text": o.text,
            "buttons": o.buttons,
            "status": o.status,
            "attempts": o.attempts,
            "author": _author(o.author),
            **_times(created_at=o.created_at, sent_at=o.sent_at),
        }
        for o in session.scalars(select(OutboxItem).where(OutboxItem.citizen_id == citizen.id).order_by(OutboxItem.id))
    ]
    corrections = (
        [
            {
                "ticket": codes.get(c.ticket_id) if c.ticket_id else None,
                "text": c.text,
                "predicted": c.predicted,
                "corrected": c.corrected,
                **_times(created_at=c.created_at),
            }
            for c in session.scalars(
                select(NluCorrection).where(NluCorrection.ticket_id.in_(ticket_ids)).order_by(NluCorrection.id)
            )
        ]
        if ticket_ids
        else []
    )
    now = utcnow()
    return {
        "format": EXPORT_FORMAT,
        **_times(exported_at=now),
        "citizen": {
            "id": citizen.id,
            "channel": citizen.channel,
            "platform_user_id": citizen.platform_user_id,
            "chat_id": citizen.chat_id,
            "display_name": citizen.display_name,
            "phone": citizen.phone,
            **_times(
                created_at=citizen.created_at, last_inbound_at=citizen.last_inbound_at, erased_at=citizen.erased_at
            ),
        },
        "consent": {"value": citizen.consent, **_times(at=citizen.consent_at)},
        "tickets": ticket_rows,
        "messages": messages,
        "outbox": outbox,
        "ratings": ratings,
        "attachments": attachments,
        "nlu_corrections": corrections,
        "conversation_state": state,
    }


# -- erasure ----------------------------------------------------------------------------------------------------
@dataclass
class Erasure:
    """What one erasure changed (counts only: nothing personal)."""

    tickets: int = 0
    messages: int = 0
    outbox: int = 0
    events: int = 0
    corrections: int = 0
    identity: bool = False
    ticket_codes: list[str] = field(default_factory=list)

    def add(self, other: Erasure) -> None:
        self.tickets += other.tickets
        self.messages += other.messages
        self.outbox += other.outbox
        self.events += other.events
        self.corrections += other.corrections
        self.identity = self.identity or other.identity
        self.ticket_codes += other.ticket_codes

    def as_detail(self) -> dict[str, Any]:
        return {
            "tickets": self.tickets,
            "messages": self.messages,
            "outbox": self.outbox,
            "events": self.events,
            "corrections": self.corrections,
            "identity": self.identity,
        }


class Redactor:
    """Blanks a citizen's name and phone numbers where officials' own words repeat them (replies, notes)."""

    def __init__(self, names: Iterable[str | None], phones: Iterable[str | None]) -> None:
        parts: list[str] = []
        for name in {unicodedata.normalize("NFC", n).strip() for n in names if n}:
            if len(name) >= 3:
                parts.append(re.escape(name))
        for phone in {p for p in phones if p}:
            digits = re.sub(r"\D", "", phone)
            if len(digits) >= 8:
                core = digits[-9:]
                parts.append(r"(?:(?:\+?84|0)[\s.\-]?)?" + r"[\s.\-]?".join(core))
        self._pattern = re.compile("|".join(sorted(parts, key=len, reverse=True)), re.IGNORECASE) if parts else None

    def __call__(self, text: str | None) -> str | None:
        if text is None or self._pattern is None:
            return text
        return self._pattern.sub(REDACTED, unicodedata.normalize("NFC", text))


def _wipe_message(m: Message, now: datetime) -> None:
    m.text = ""
    m.data = {"erased": True}
    m.platform_message_id = f"erased:{m.id}"  # platform ids embed chat ids; unique per message
    m.process_error = None
    if m.processed_at is None:
        m.processed_at = now  # nothing left to process
        m.locked_until = None


def _wipe_outbox(o: OutboxItem) -> None:
    o.text = ""
    o.buttons = []
    o.chat_id = ""
    o.reply_to = None
    o.platform_message_ids = []
    o.last_error = None
    if o.status == "pending":
        o.status = "erased"  # never delivered now: there is nothing left to say, nor anyone to say it to
        o.locked_until = None


def _messages_of_ticket(session: Session, ticket: Ticket) -> list[Message]:
    """The messages that built the ticket or followed it: linked to it, to its draft, or answering those."""
    linked = list(session.scalars(select(Message).where(Message.ticket_id == ticket.id)))
    drafts = {m.draft_id for m in linked if m.draft_id}
    if drafts:
        seen = {m.id for m in linked}
        linked += [m for m in session.scalars(select(Message).where(Message.draft_id.in_(drafts))) if m.id not in seen]
    inbound = {m.id for m in linked if m.direction == "in"}
    if inbound:
        seen = {m.id for m in linked}
        replies = session.scalars(
            select(Message).where(
                Message.citizen_id == ticket.citizen_id, Message.direction == "out", Message.ticket_id.is_(None)
            )
        )
        linked += [m for m in replies if m.id not in seen and (m.data or {}).get("in_reply_to") in inbound]
    return linked


def erase_ticket(session: Session, ticket: Ticket, redact: Redactor, now: datetime | None = None) -> Erasure:
    """Remove one ticket's personal data and words; keep what statistics count. Idempotent."""
    now = now or utcnow()
    done = Erasure(tickets=0 if ticket.personal_data_erased_at else 1, ticket_codes=[ticket.code])
    messages = _messages_of_ticket(session, ticket)
    reply_ids = {m.platform_message_id for m in messages if m.direction == "in" and m.platform_message_id}
    for m in messages:
        if m.data != {"erased": True} or m.text:
            done.messages += 1
        _wipe_message(m, now)
    outbox_query = select(OutboxItem).where(OutboxItem.ticket_id == ticket.id)
    if reply_ids:
        outbox_query = select(OutboxItem).where(
            or_(OutboxItem.ticket_id == ticket.id, OutboxItem.reply_to.in_(reply_ids))
        )
    for o in session.scalars(outbox_query):
        if o.text:
            done.outbox += 1
        _wipe_outbox(o)
    for e in session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)):
        if e.actor_type == "citizen":
            kept = {k: v for k, v in (e.data or {}).items() if k in _CITIZEN_EVENT_DATA_KEEP}
            if e.note is not None or e.data != kept:
                done.events += 1
            e.note, e.data = None, kept
        else:
            note = redact(e.note)
            if note != e.note:
                done.events += 1
                e.note = note
    for c in session.scalars(select(NluCorrection).where(NluCorrection.ticket_id == ticket.id)):
        if c.text:
            done.corrections += 1
        c.text = ""  # the export of corrections skips empty examples; the labels stay for model statistics
    ticket.text = ERASED_TEXT
    ticket.location_text = None
    ticket.latitude = ticket.longitude = None
    ticket.phone = None
    ticket.attachments = []
    ticket.rating_comment = None
    ticket.nlu = {k: v for k, v in (ticket.nlu or {}).items() if k in _NLU_KEEP}
    ticket.routing_reason = redact(ticket.routing_reason) or ""
    if ticket.personal_data_erased_at is None:
        ticket.personal_data_erased_at = now
    return done


def redactor_for(session: Session, citizen: Citizen) -> Redactor:
    phones = [citizen.phone, *session.scalars(select(Ticket.phone).where(Ticket.citizen_id == citizen.id))]
    return Redactor([citizen.display_name], phones)


def erase_citizen(
    session: Session,
    citizen: Citizen,
    *,
    states: StateStore | None,
    actor: str,
    now: datetime | None = None,
    action: str = "citizen_erase",
) -> Erasure:
    """Erase everything personal about one citizen (tickets stay, anonymised), audited; the caller commits.

    The platform identity becomes a random placeholder: nothing links it back to the person, the unique constraint
    holds, and a new message from the same person starts a fresh conversation.
    """
    now = now or utcnow()
    done = Erasure()
    redact = redactor_for(session, citizen)
    if states is not None and not citizen.erased_at:
        states.delete(state_key(citizen_ref(citizen)))
    for ticket in session.scalars(select(Ticket).where(Ticket.citizen_id == citizen.id).order_by(Ticket.id)).unique():
        done.add(erase_ticket(session, ticket, redact, now))
    for m in session.scalars(select(Message).where(Message.citizen_id == citizen.id)):
        if m.text or m.data != {"erased": True}:
            done.messages += 1
        _wipe_message(m, now)
    for o in session.scalars(select(OutboxItem).where(OutboxItem.citizen_id == citizen.id)):
        if o.text:
            done.outbox += 1
        _wipe_outbox(o)
    if citizen.erased_at is None:
        done.identity = True
        citizen.platform_user_id = "erased:" + secrets.token_hex(16)
        citizen.chat_id = ""
        citizen.display_name = None
        citizen.phone = None
        citizen.consent = None
        citizen.consent_at = None
        citizen.last_inbound_at = None
        citizen.erased_at = now
    write_audit(session, actor, action, "citizen", str(citizen.id), **done.as_detail())
    return done


# -- retention --------------------------------------------------------------------------------------------------
def months_before(moment: datetime, months: int) -> datetime:
    """The same day and time ``months`` calendar months earlier (clamped to the month's last day)."""
    index = moment.year * 12 + (moment.month - 1) - months
    year, month = divmod(index, 12)
    month += 1
    for day in range(moment.day, 27, -1):
        try:
            return moment.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    return moment.replace(year=year, month=month, day=min(moment.day, 28))


def closed_before(session: Session, cutoff: datetime, limit: int = 200) -> list[int]:
    """Closed or rejected tickets whose closing lies before ``cutoff`` and whose personal data is still held."""
    closed = (
        select(TicketEvent.ticket_id.label("ticket_id"), func.max(TicketEvent.created_at).label("closed_at"))
        .where(TicketEvent.kind == "status", TicketEvent.new_status.in_(st.FINAL_STATUSES))
        .group_by(TicketEvent.ticket_id)
        .subquery()
    )
    closed_at = func.coalesce(closed.c.closed_at, Ticket.updated_at)
    return list(
        session.scalars(
            select(Ticket.id)
            .outerjoin(closed, closed.c.ticket_id == Ticket.id)
            .where(
                Ticket.status.in_(st.FINAL_STATUSES),
                Ticket.personal_data_erased_at.is_(None),
                closed_at < cutoff,
            )
            .order_by(Ticket.id)
            .limit(limit)
        )
    )


def dormant_citizens(session: Session, cutoff: datetime, limit: int = 200) -> list[int]:
    """Citizens silent since before ``cutoff`` whose tickets (if any) are all erased: nothing justifies keeping them."""
    held = select(Ticket.id).where(Ticket.citizen_id == Citizen.id, Ticket.personal_data_erased_at.is_(None))
    return list(
        session.scalars(
            select(Citizen.id)
            .where(
                Citizen.erased_at.is_(None),
                func.coalesce(Citizen.last_inbound_at, Citizen.created_at) < cutoff,
                ~held.exists(),
            )
            .order_by(Citizen.id)
            .limit(limit)
        )
    )


def expire_ticket(session: Session, ticket_id: int, now: datetime) -> Erasure | None:
    """Erase one expired ticket, once even with several workers (the first to mark it wins); the caller commits."""
    won = session.execute(
        update(Ticket)
        .where(Ticket.id == ticket_id, Ticket.personal_data_erased_at.is_(None))
        .values(personal_data_erased_at=now)
    )
    if won.rowcount != 1:  # type: ignore[attr-defined]
        return None
    ticket = session.get(Ticket, ticket_id)
    assert ticket is not None
    session.refresh(ticket)
    citizen = session.get(Citizen, ticket.citizen_id)
    assert citizen is not None
    done = erase_ticket(session, ticket, redactor_for(session, citizen), now)
    done.tickets = 1
    write_audit(session, RETENTION_ACTOR, "retention_erase", "ticket", ticket.code, **done.as_detail())
    return done
