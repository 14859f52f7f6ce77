"""Ticket operations: filing (with routing and deadlines), official replies, status changes, visibility."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, Select, and_, bindparam, false, func, or_, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.db.models import (
    Citizen,
    Official,
    OrgUnit,
    Ticket,
    TicketAlert,
    TicketEvent,
    utcnow,
)
from backend.domain import statuses as st
from backend.domain.codes import canonical_ticket_code, new_ticket_code
from backend.domain.routing import CENTRAL, Router, RoutingInput
from backend.domain.similarity import DUPLICATE_THRESHOLD, similarity
from backend.domain.sla import SlaPolicy
from backend.domain.statuses import TransitionError
from backend.domain.taxonomy import CATEGORIES
from backend.services import nlu_review
from backend.services.events import official_event
from backend.services.notify import Notifier
from handlers.ports import TicketDraft


class TicketNotFound(LookupError):
    pass


def level_of(code: str) -> str:
    if code == CENTRAL:
        return "central"
    return "province" if len(code) <= 2 else "commune"


def unit_subtree(code: str) -> Select[Any]:
    """Codes of a unit and every unit below it (central: all; a province: itself and its communes)."""
    if code == CENTRAL:
        return select(OrgUnit.code)
    children = select(OrgUnit.code).where(OrgUnit.parent_code == code)
    grandchildren = select(OrgUnit.code).where(OrgUnit.parent_code.in_(children))
    return select(OrgUnit.code).where(
        or_(OrgUnit.code == code, OrgUnit.code.in_(children), OrgUnit.code.in_(grandchildren))
    )


def unit_scope(official: Official) -> Select[Any]:
    """Codes of the units an official may see: their own; supervisors/admins also the units below."""
    own = official.unit_code
    if official.role == "officer":
        return select(OrgUnit.code).where(OrgUnit.code == own)
    return unit_subtree(own)


def visible_to(official: Official) -> ColumnElement[bool]:
    """Which tickets an official may see and act on: handled by a unit in their scope, or alerted/escalated to one.

    The one scope rule for every lookup, list and cluster operation (API and console alike). Lists over many
    tickets use :func:`resolve_scope` and :func:`scope_clause` instead: the same rule with the units and alerted
    tickets looked up first, so that the database can plan the list with its indexes.
    """
    if official.unit_code == CENTRAL and official.role != "officer":
        return true()  # the whole tree: every ticket (spelled out, the planner would scan a million rows to check)
    scope = unit_scope(official)
    alerted = select(TicketAlert.ticket_id).where(TicketAlert.unit_code.in_(scope))
    return or_(Ticket.unit_code.in_(scope), Ticket.id.in_(alerted))


MAX_LISTED_ALERTS = 2000  # beyond this many alerted tickets the scope asks the database for them instead


@dataclass(frozen=True, slots=True)
class Scope:
    """An official's scope (:func:`visible_to`) looked up once: the units whose tickets they see and the tickets
    handled elsewhere but alerted or escalated to one of those units.

    ``units`` is None for the whole tree. ``alerted`` holds (ticket id, handling unit) pairs, or is None when there
    are more than :data:`MAX_LISTED_ALERTS` of them (then the database looks them up in the query itself).
    """

    units: frozenset[str] | None
    alerted: tuple[tuple[int, str], ...] | None = ()


def resolve_scope(session: Session, official: Official) -> Scope:
    """The official's scope as literal values: the unit codes of their subtree (a province: itself and its few
    hundred communes) and the few tickets of other units alerted or escalated to one of them."""
    if official.unit_code == CENTRAL and official.role != "officer":
        return Scope(None)
    units = frozenset(session.scalars(unit_scope(official)))
    if not units:
        return Scope(frozenset())
    elsewhere = session.execute(
        select(TicketAlert.ticket_id, Ticket.unit_code)
        .join(Ticket, Ticket.id == TicketAlert.ticket_id)
        .where(TicketAlert.unit_code.in_(_listed(units)), Ticket.unit_code.not_in(_listed(units)))
        .distinct()
        .order_by(TicketAlert.ticket_id)
        .limit(MAX_LISTED_ALERTS + 1)
    ).all()
    if len(elsewhere) > MAX_LISTED_ALERTS:
        return Scope(units, None)
    return Scope(units, tuple((int(i), str(u)) for i, u in elsewhere))


def scope_clause(scope: Scope, within: frozenset[str] | None = None) -> ColumnElement[bool]:
    """The tickets of ``scope`` (see :func:`resolve_scope`), narrowed to the units ``within`` when given (the unit
    filter of the inbox: a unit and its subtree), with the unit codes and ticket ids bound as literal lists."""
    if scope.units is None:
        return true() if within is None else Ticket.unit_code.in_(_listed(within))
    units = scope.units if within is None else scope.units & within
    clauses: list[ColumnElement[bool]] = [Ticket.unit_code.in_(_listed(units))] if units else []
    if scope.alerted is None:  # too many to list: the database finds them (and the unit filter still applies)
        alerted = select(TicketAlert.ticket_id).where(TicketAlert.unit_code.in_(_listed(scope.units)))
        others = Ticket.id.in_(alerted)
        clauses.append(others if within is None else and_(others, Ticket.unit_code.in_(_listed(within))))
    else:
        ids = sorted(i for i, unit in scope.alerted if within is None or unit in within)
        if ids:
            clauses.append(Ticket.id.in_(_listed(ids)))
    if not clauses:
        return false()
    return clauses[0] if len(clauses) == 1 else or_(*clauses)


def _listed(values: Collection[Any]) -> BindParameter[Any]:
    """A list of values written into the SQL itself: the planner sees them (a province's few hundred communes),
    and a server-side prepared statement never reuses a plan made for another official's scope."""
    return bindparam(None, sorted(values), expanding=True, literal_execute=True)


class TicketOps:
    def __init__(self, router: Router, notifier: Notifier, sla: SlaPolicy | None = None) -> None:
        self.router = router
        self.notifier = notifier
        self.sla = sla or SlaPolicy()

    # -- filing -------------------------------------------------------------------------------------------
    def file(self, session: Session, citizen: Citizen, draft: TicketDraft) -> Ticket:
        decision = self.router.route(
            RoutingInput(draft.category, draft.urgent, draft.province_code, draft.commune_code)
        )
        now = utcnow()
        accept, answer = self.sla.deadlines(draft.category, level_of(decision.unit_code), draft.urgent, now)
        for _ in range(5):
            ticket = Ticket(
                code=new_ticket_code(),
                citizen_id=citizen.id,
                channel=citizen.channel,
                text=draft.text,
                intent=draft.intent,
                intent_confidence=draft.intent_confidence,
                category=draft.category,
                category_confidence=draft.category_confidence,
                location_text=draft.location_text,
                province_code=draft.province_code,
                commune_code=draft.commune_code,
                latitude=draft.geo.latitude if draft.geo else None,
                longitude=draft.geo.longitude if draft.geo else None,
                urgent=draft.urgent,
                anonymous=draft.anonymous,
                phone=None if draft.anonymous else draft.phone,
                unit_code=decision.unit_code,
                routing_rule=decision.rule,
                routing_reason=decision.reason,
                status=st.MOI,
                accept_deadline=accept,
                deadline=answer,
                nlu=draft.nlu,
                attachments=[_attachment_dict(a) for a in draft.attachments],
                created_at=now,
                updated_at=now,
            )
            try:
                with session.begin_nested():
                    session.add(ticket)
                    session.flush()
                break
            except IntegrityError:  # code collision: 40 random bits, vanishingly rare
                continue
        else:
            raise RuntimeError("could not allocate a unique ticket code")
        session.add(
            TicketEvent(
                ticket_id=ticket.id,
                kind="created",
                actor_type="citizen",
                actor_id=str(citizen.id),
                new_status=st.MOI,
                note=None,
                created_at=now,
            )
        )
        session.add(
            TicketEvent(
                ticket_id=ticket.id,
                kind="routed",
                actor_type="system",
                actor_id="router",
                note=decision.reason,
                public=False,
                data={"rule": decision.rule, "unit": decision.unit_code, "alerts": list(decision.alerts)},
                created_at=now,
            )
        )
        for unit_code in decision.alerts:
            session.add(
                TicketAlert(
                    ticket_id=ticket.id, unit_code=unit_code, kind="alert", reason=decision.reason, created_at=now
                )
            )
        self._link_duplicate(session, ticket)
        self.notifier.filed(session, ticket)  # officials' Telegram notifications, committed with the ticket
        return ticket

    DUPLICATE_WINDOW_DAYS = 14
    HANDOFF = timedelta(minutes=30)  # the citizen's free text goes to the official for this long after a reply

    def _link_duplicate(self, session: Session, ticket: Ticket) -> None:
        """Link a new ticket to an open one on the same matter: the same commune (or, when neither names one, the
        same province), the same category, filed within the window, with a similar text (see
        backend/domain/similarity.py; the threshold is calibrated by tests/bench/bench_duplicates.py)."""
        if not ticket.category or not (ticket.commune_code or ticket.province_code):
            return
        place = (
            Ticket.commune_code == ticket.commune_code
            if ticket.commune_code
            else (Ticket.commune_code.is_(None) & (Ticket.province_code == ticket.province_code))
        )
        since = ticket.created_at - timedelta(days=self.DUPLICATE_WINDOW_DAYS)
        candidates = session.scalars(
            select(Ticket)
            .where(
                Ticket.id != ticket.id,
                place,
                Ticket.category == ticket.category,
                Ticket.status.in_(st.OPEN_STATUSES),
                Ticket.created_at >= since,
            )
            .order_by(Ticket.id.desc())
            .limit(500)
        ).unique()
        best: tuple[float, Ticket] | None = None
        for other in candidates:
            score = similarity(ticket.text, other.text)
            if score >= DUPLICATE_THRESHOLD and (best is None or score > best[0]):
                best = (score, other)
        if best is None:
            return
        root = best[1].duplicate_of or best[1].id
        ticket.duplicate_of = root
        session.add(
            TicketEvent(
                ticket_id=ticket.id,
                kind="duplicate",
                actor_type="system",
                actor_id="dedup",
                note=f"Trùng nội dung với phản ánh khác cùng địa bàn (độ giống {best[0]:.2f}).",
                public=False,
                data={"root": root, "score": round(best[0], 3)},
            )
        )

    @staticmethod
    def visible_cluster(session: Session, official: Official, ticket: Ticket) -> list[Ticket]:
        """The members of the ticket's duplicate cluster this official may see (see :meth:`visible`), oldest first."""
        root = ticket.duplicate_of or ticket.id
        query = select(Ticket).where(or_(Ticket.id == root, Ticket.duplicate_of == root), visible_to(official))
        return list(session.scalars(query.order_by(Ticket.id)).unique())

    @staticmethod
    def unlink_duplicate(session: Session, official: Official, ticket: Ticket, member: Ticket) -> None:
        """Take ``member`` out of ``ticket``'s duplicate cluster (a wrong link); when it was the root, the oldest
        remaining member becomes the root. Recorded in both tickets' histories (internal events)."""
        root = ticket.duplicate_of or ticket.id
        if member.id != root and member.duplicate_of != root:
            raise TransitionError(f"{member.code} is not in the cluster of {ticket.code}")
        if member.id == root:
            rest = list(session.scalars(select(Ticket).where(Ticket.duplicate_of == root).order_by(Ticket.id)))
            if not rest:
                raise TransitionError(f"{member.code} has no duplicates")
            new_root = rest[0]
            new_root.duplicate_of = None
            for other in rest[1:]:
                other.duplicate_of = new_root.id
        member.duplicate_of = None
        now = utcnow()
        for subject, other in ((member, ticket), (ticket, member)) if member.id != ticket.id else ((member, member),):
            session.add(
                TicketEvent(
                    ticket_id=subject.id,
                    kind="unlinked",
                    actor_type="official",
                    actor_id=official.username,
                    note=f"Gỡ {member.code} khỏi nhóm phản ánh trùng (không cùng một vụ việc).",
                    public=False,
                    data={"member": member.code, "cluster": other.code, "root": root},
                    created_at=now,
                )
            )

    # -- lookups ------------------------------------------------------------------------------------------
    @staticmethod
    def by_code(session: Session, code: str) -> Ticket | None:
        canonical = canonical_ticket_code(code)
        if canonical is None:
            return None
        return session.scalars(select(Ticket).where(Ticket.code == canonical)).first()

    def visible(self, session: Session, official: Official, code: str) -> Ticket:
        """The ticket with this code if the official may see it; :class:`TicketNotFound` otherwise."""
        canonical = canonical_ticket_code(code)
        ticket = None
        if canonical is not None:
            ticket = session.scalars(select(Ticket).where(Ticket.code == canonical, visible_to(official))).first()
        if ticket is None:
            raise TicketNotFound(code)  # never reveal other units' tickets
        return ticket

    def list_for(
        self,
        session: Session,
        official: Official,
        *,
        status: str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[list[Ticket], int]:
        query = select(Ticket).where(visible_to(official))
        if status:
            query = query.where(Ticket.status == status)
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.scalars(query.order_by(Ticket.created_at.desc(), Ticket.id.desc()).offset(offset).limit(limit))
        return list(rows.unique()), total

    # -- official actions ---------------------------------------------------------------------------------
    def reply_all(self, session: Session, official: Official, ticket: Ticket, text: str, cluster: bool) -> list[Ticket]:
        """Answer one ticket, or with ``cluster`` every still-open ticket of its duplicate cluster at once."""
        targets = [ticket]
        if cluster:  # only the members this official may see: never another unit's citizens
            targets = [t for t in self.visible_cluster(session, official, ticket) if t.status not in st.FINAL_STATUSES]
        for target in targets:  # the answered ticket's code in the text (a template fills it) becomes each one's own
            self.reply(session, official, target, text.replace(ticket.code, target.code))
        return targets

    def reply(self, session: Session, official: Official, ticket: Ticket, text: str) -> TicketEvent:
        now = utcnow()
        event = official_event(session, official, ticket, "reply", note=text, public=True, at=now)
        ticket.updated_at = now
        ticket.handoff_until = now + self.HANDOFF
        if ticket.status in (st.MOI,):  # the first answer accepts the ticket
            st.check_transition(ticket.status, st.DA_TIEP_NHAN, None)
            self._set_status(session, official, ticket, st.DA_TIEP_NHAN, None, notify=False)
        self.notifier.official_reply(session, ticket, text, official)
        return event

    def change_status(
        self, session: Session, official: Official, ticket: Ticket, new: str, note: str | None
    ) -> TicketEvent:
        st.check_transition(ticket.status, new, note)
        return self._set_status(session, official, ticket, new, note, notify=True)

    def _set_status(
        self,
        session: Session,
        official: Official | None,
        ticket: Ticket,
        new: str,
        note: str | None,
        *,
        notify: bool,
    ) -> TicketEvent:
        now = utcnow()
        old = ticket.status
        event = TicketEvent(
            ticket_id=ticket.id,
            kind="status",
            actor_type="official" if official else "system",
            actor_id=official.username if official else "system",
            old_status=old,
            new_status=new,
            note=note,
            public=True,
            created_at=now,
        )
        session.add(event)
        ticket.status = new
        ticket.updated_at = now
        if notify:
            self.notifier.status_changed(session, ticket, old, new, note)
        return event

    def reassign(
        self, session: Session, official: Official, ticket: Ticket, unit_code: str, reason: str
    ) -> TicketEvent:
        """Move a ticket to another committee, with a reason; the citizen is told who handles it now."""
        if not reason.strip():
            raise TransitionError("reassigning needs a reason")
        unit = session.get(OrgUnit, unit_code)
        if unit is None or not unit.active:
            raise TransitionError(f"unknown unit '{unit_code}'")
        if unit.code == ticket.unit_code:
            raise TransitionError(f"ticket is already handled by {unit.name}")
        if ticket.status in st.FINAL_STATUSES:
            raise TransitionError("a closed or rejected ticket cannot be reassigned")
        if self._accused_unit(ticket) == unit.code:
            raise TransitionError(
                f"a complaint about officials cannot go to their own committee ({unit.name}) / "
                f"Phản ánh về cán bộ không được chuyển cho chính {unit.name}"
            )
        old = ticket.unit_code
        event = official_event(
            session, official, ticket, "reassigned", note=reason, public=True, data={"from": old, "to": unit.code}
        )
        ticket.unit_code, ticket.unit = unit.code, unit
        ticket.routing_rule, ticket.routing_reason = "manual", f"{official.username}: {reason}"
        ticket.updated_at = utcnow()
        self.notifier.reassigned(session, ticket, reason)
        return event

    def _accused_unit(self, ticket: Ticket) -> str | None:
        """For a ticket the rules route above its place (complaints about officials): the place's committee, which
        must never handle it. None for every other ticket."""
        place = ticket.commune_code or ticket.province_code
        if place is None:
            return None
        above = any(
            r.route == "above_location" and (r.categories is None or ticket.category in r.categories)
            for r in self.router.rules
        )
        return place if above else None

    def escalate_overdue(self, session: Session, ticket_id: int) -> bool:
        """Mark one overdue ticket and escalate it one level up, exactly once even with concurrent schedulers."""
        now = utcnow()
        won = session.execute(
            update(Ticket).where(Ticket.id == ticket_id, Ticket.overdue.is_(False)).values(overdue=True, updated_at=now)
        )
        if won.rowcount != 1:  # type: ignore[attr-defined]
            session.rollback()
            return False
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        session.refresh(ticket)
        parent = session.get(OrgUnit, ticket.unit_code)
        above = parent.parent_code if parent and parent.parent_code else None
        which = "accept" if ticket.status == st.MOI else "answer"
        note = f"Quá hạn {'tiếp nhận' if which == 'accept' else 'trả lời'}: báo cáo lên cấp trên."
        if above is not None:
            ticket.escalated_to = above
            session.add(
                TicketAlert(ticket_id=ticket.id, unit_code=above, kind="escalation", reason=note, created_at=now)
            )
        session.add(
            TicketEvent(
                ticket_id=ticket.id,
                kind="escalated",
                actor_type="system",
                actor_id="sla",
                note=note,
                public=True,
                data={"to": above, "deadline": which},
                created_at=now,
            )
        )
        self.notifier.escalated(session, ticket, above)
        session.commit()
        return True

    def correct_category(self, session: Session, official: Official, ticket: Ticket, category: str) -> TicketEvent:
        """An official fixes the category; the correction becomes a training example for the NLU."""
        if category not in CATEGORIES:
            raise TransitionError(f"unknown category '{category}'")
        if category == ticket.category:
            raise TransitionError(f"category is already '{category}'")
        old = ticket.category
        nlu_review.record(  # waits for an admin's review (or the officials' majority) in the NLU workbench
            session,
            official.username,
            kind="category",
            text=ticket.text,
            ticket_id=ticket.id,
            predicted=f"gui_phan_anh/{old}" if old else ticket.intent,
            corrected=f"gui_phan_anh/{category}",
            model_version=nlu_review.model_of(ticket),
        )
        ticket.category, ticket.category_confidence = category, 1.0
        ticket.updated_at = utcnow()
        note = f"Lĩnh vực: {old or '—'} → {category}"
        return official_event(session, official, ticket, "corrected", note=note, data={"from": old, "to": category})

    @staticmethod
    def assign(session: Session, official: Official, ticket: Ticket, username: str | None) -> TicketEvent | None:
        """Give the ticket to one official (``None``: to nobody); None when nothing changes.

        Eligible: an active official of the ticket's unit or a unit above it, inside the assigning official's scope.
        Officers may only take a ticket themselves (or give back their own); supervisors and admins assign anyone.
        """
        if ticket.status in st.FINAL_STATUSES:
            raise TransitionError("a closed or rejected ticket cannot be assigned / phản ánh đã đóng, không thể giao")
        if official.role == "officer" and (username or ticket.assignee) not in (official.username, None):
            raise TransitionError(
                "officers may only assign tickets to themselves / cán bộ chỉ có thể tự nhận phản ánh cho mình"
            )
        if username == ticket.assignee:
            return None
        if username is not None:
            above: list[str] = []
            code: str | None = ticket.unit_code
            while code is not None and len(above) < 4:  # the unit, its province, the centre
                above.append(code)
                code = session.scalar(select(OrgUnit.parent_code).where(OrgUnit.code == code))
            target = session.scalar(
                select(Official).where(
                    Official.username == username,
                    Official.active.is_(True),
                    Official.unit_code.in_(above),
                    Official.unit_code.in_(unit_scope(official)),
                )
            )
            if target is None:
                raise TransitionError(
                    f"'{username}' is not an active official of this ticket's unit or above / "
                    f"'{username}' không phải cán bộ đang hoạt động của đơn vị xử lý phản ánh này"
                )
        event = official_event(session, official, ticket, "assigned", data={"from": ticket.assignee, "to": username})
        ticket.assignee = username
        ticket.updated_at = utcnow()
        return event

    def add_note(self, session: Session, official: Official, ticket: Ticket, text: str) -> TicketEvent:
        return official_event(session, official, ticket, "note", note=text)


def _attachment_dict(att: Any) -> dict[str, Any]:
    return {k: getattr(att, k) for k in ("kind", "url", "platform_file_id", "name", "size")}
