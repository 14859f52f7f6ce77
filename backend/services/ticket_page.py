"""What the console's ticket page shows beyond the API's ticket detail: the history with names instead of codes,
the citizen panel, the units a ticket may be handed to, the statuses in workflow order, the duplicate cluster."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from backend.db.models import Official, OrgUnit, Ticket, TicketEvent, utcnow
from backend.domain import statuses as st
from backend.domain.routing import CENTRAL
from backend.services.tickets import TicketOps

MAX_UNIT_CHOICES = 400  # a datalist stays light; a central official narrows by typing


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    kind: str
    actor_type: str  # citizen | official | system
    actor_name: str | None  # an official's full name (or login when none is recorded)
    old_status: str | None
    new_status: str | None
    note: str | None
    public: bool
    created_at: datetime
    from_name: str | None  # reassigned: unit names; assigned: officials' names; corrected: category codes
    to_name: str | None


@dataclass(frozen=True, slots=True)
class UnitChoice:
    code: str
    label: str  # "Phường Cửa Nam — Thành phố Hà Nội": unique, what the official picks in the list


@dataclass(frozen=True, slots=True)
class StatusChoice:
    code: str
    needs_note: bool


@dataclass(frozen=True, slots=True)
class CitizenPanel:
    channel: str
    anonymous: bool
    rating: int | None
    rating_comment: str | None


@dataclass(frozen=True, slots=True)
class ClusterMember:
    code: str
    text: str
    status: str
    place: str
    unit: str
    created_at: datetime
    is_root: bool


def status_choices(current: str) -> list[StatusChoice]:
    """The statuses an official may set now, in the workflow's order, each saying whether it needs a note."""
    allowed = st.TRANSITIONS.get(current, frozenset())
    return [StatusChoice(s, s in st.NOTE_REQUIRED) for s in st.ALL_STATUSES if s in allowed]


def is_overdue(ticket: Ticket, now: datetime | None = None) -> bool:
    """Flagged by the SLA worker, or past its answer deadline while still open."""
    now = now or utcnow()
    late = ticket.deadline is not None and ticket.deadline < now
    return ticket.overdue or (late and ticket.status in st.OPEN_STATUSES)


def history(session: Session, ticket: Ticket) -> list[HistoryEntry]:
    events = list(
        session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id))
    )
    logins = {e.actor_id for e in events if e.actor_type == "official" and e.actor_id}
    logins |= {v for e in events if e.kind == "assigned" for v in (e.data or {}).values() if isinstance(v, str)}
    names = {
        o.username: o.full_name or o.username
        for o in session.scalars(select(Official).where(Official.username.in_(logins)))
    }
    units = {str(v) for e in events if e.kind == "reassigned" for v in (e.data or {}).values() if isinstance(v, str)}
    unit_names = {u.code: u.name for u in session.scalars(select(OrgUnit).where(OrgUnit.code.in_(units)))}
    out = []
    for e in events:
        data = e.data or {}
        source, target = data.get("from"), data.get("to")
        if e.kind == "reassigned":
            source, target = unit_names.get(str(source), source), unit_names.get(str(target), target)
        elif e.kind == "assigned":
            source, target = names.get(str(source), source), names.get(str(target), target)
        elif e.kind != "corrected":
            source = target = None
        out.append(
            HistoryEntry(
                kind=e.kind,
                actor_type=e.actor_type,
                actor_name=names.get(e.actor_id or "", e.actor_id) if e.actor_type == "official" else None,
                old_status=e.old_status,
                new_status=e.new_status,
                note=None if e.kind == "corrected" else e.note,  # the categories are named from the data
                public=e.public,
                created_at=e.created_at,
                from_name=str(source) if source is not None else None,
                to_name=str(target) if target is not None else None,
            )
        )
    return out


def citizen_panel(ticket: Ticket) -> CitizenPanel:
    return CitizenPanel(ticket.channel, ticket.anonymous, ticket.rating, ticket.rating_comment)


def reassign_choices(session: Session, official: Official, ticket: Ticket) -> list[UnitChoice]:
    """The committees this ticket may be handed to: the one above its unit, the units beside and below it, and the
    official's own unit and the units right below it; never the unit that handles it now."""
    unit = ticket.unit
    near = [unit.code, official.unit_code]
    if unit.parent_code:
        near.append(unit.parent_code)
    query = select(OrgUnit).where(
        OrgUnit.active.is_(True),
        OrgUnit.code != ticket.unit_code,
        or_(OrgUnit.code.in_(near), OrgUnit.parent_code.in_(near)),
    )
    if official.role == "officer":  # an officer hands over only near the ticket, not across the country
        query = query.where(or_(OrgUnit.code.in_(near), OrgUnit.parent_code.in_([unit.code, unit.parent_code or ""])))
    rows = list(session.scalars(query.order_by(OrgUnit.level, OrgUnit.name).limit(MAX_UNIT_CHOICES)))
    parents = {
        p.code: p.name
        for p in session.scalars(
            select(OrgUnit).where(OrgUnit.code.in_({r.parent_code for r in rows if r.parent_code}))
        )
    }
    return [
        UnitChoice(
            r.code, r.name if r.parent_code in (None, CENTRAL) else f"{r.name} — {parents.get(r.parent_code or '', '')}"
        )
        for r in rows
    ]


def pick_unit(choices: list[UnitChoice], picked: str) -> str | None:
    """The code of the unit an official picked in the list (its label), or None when it is not one of them."""
    picked = " ".join(picked.split())
    return next((c.code for c in choices if c.label == picked), None)


def cluster_members(session: Session, official: Official, ticket: Ticket) -> list[ClusterMember]:
    """Every ticket of the duplicate cluster the official may see (the ticket itself included), oldest first."""
    members = TicketOps.visible_cluster(session, official, ticket)
    root = ticket.duplicate_of or ticket.id
    places = {
        u.code: u.name
        for u in session.scalars(
            select(OrgUnit).where(
                OrgUnit.code.in_({c for m in members for c in (m.commune_code, m.province_code) if c})
            )
        )
    }
    return [
        ClusterMember(
            code=m.code,
            text=m.text,
            status=m.status,
            place=places.get(m.commune_code or "", "") or places.get(m.province_code or "", "") or "chưa rõ",
            unit=m.unit.name,
            created_at=m.created_at,
            is_root=m.id == root,
        )
        for m in members
    ]


def official_name(session: Session, username: str | None) -> str | None:
    if not username:
        return None
    official = session.scalars(select(Official).where(Official.username == username)).first()
    return (official.full_name or official.username) if official is not None else username


def assignable_officials(session: Session, ticket: Ticket) -> list[tuple[str, str]]:
    """(username, name) of the active officials of the ticket's unit, for the assign control."""
    rows = session.scalars(
        select(Official)
        .where(Official.unit_code == ticket.unit_code, Official.active.is_(True))
        .order_by(Official.username)
    )
    return [(o.username, o.full_name or o.username) for o in rows]
