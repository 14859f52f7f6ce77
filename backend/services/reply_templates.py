"""Reply templates per unit, inherited by the units below (use cases: visibility → change → audit → commit).

An official uses the templates of their own unit and of every unit above it; supervisors and admins write the
templates of the units in their subtree. Officers read only.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.db.console_models import ReplyTemplate
from backend.db.models import Official, OrgUnit, Ticket, utcnow
from backend.domain.reply_text import PLACEHOLDERS, fill, unknown_placeholders
from backend.services.audit import audit
from nlu.vocab import MAX_TEXT

MAX_NAME = 120
WRITERS = frozenset({"supervisor", "admin"})


class TemplateNotFound(LookupError):
    """No such template (or unit) in the official's scope: never say which."""


class TemplateForbidden(PermissionError):
    """Officers read templates; only supervisors and admins write them."""


class TemplateRefused(ValueError):
    """Bad input (422), or with ``conflict`` a name already used in the unit (409). ``code`` names the banner."""

    def __init__(self, reason: str, code: str, *, conflict: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.code, self.conflict = reason, code, conflict


@dataclass(frozen=True, slots=True)
class TemplateView:
    id: int
    unit_code: str
    unit_name: str
    name: str
    text: str
    filled: str | None  # the text for one ticket, when asked with a ticket
    editable: bool  # the official may change it (a supervisor or admin of a unit above or equal)


def ancestors(session: Session, code: str) -> list[str]:
    """The unit and every unit above it, nearest first."""
    chain: list[str] = []
    current: str | None = code
    while current is not None and current not in chain and len(chain) < 8:
        chain.append(current)
        unit = session.get(OrgUnit, current)
        current = unit.parent_code if unit is not None else None
    return chain


def in_subtree(session: Session, official: Official, unit_code: str) -> bool:
    return official.unit_code in ancestors(session, unit_code)


def _clean(name: str, text: str) -> tuple[str, str]:
    name = unicodedata.normalize("NFC", name).strip()
    text = unicodedata.normalize("NFC", text).strip()
    if not name or len(name) > MAX_NAME:
        raise TemplateRefused(f"a template name needs 1 to {MAX_NAME} characters", "template_name")
    if not text or len(text) > MAX_TEXT:
        raise TemplateRefused(f"a template text needs 1 to {MAX_TEXT} characters", "template_text")
    unknown = unknown_placeholders(text)
    if unknown:
        allowed = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
        raise TemplateRefused(
            f"unknown placeholder(s) {', '.join(unknown)}; allowed: {allowed}", "template_placeholder"
        )
    return name, text


def _view(session: Session, official: Official, row: ReplyTemplate, ticket: Ticket | None) -> TemplateView:
    unit = session.get(OrgUnit, row.unit_code)
    return TemplateView(
        id=row.id,
        unit_code=row.unit_code,
        unit_name=unit.name if unit is not None else row.unit_code,
        name=row.name,
        text=row.text,
        filled=fill(row.text, code=ticket.code, unit=ticket.unit.name, deadline=ticket.deadline) if ticket else None,
        editable=official.role in WRITERS and in_subtree(session, official, row.unit_code),
    )


class ReplyTemplates:
    """The reply template use cases over the request's session, which they commit."""

    @staticmethod
    def usable(session: Session, official: Official, ticket: Ticket | None = None) -> list[TemplateView]:
        """The templates of the official's unit and the units above it (nearest unit first, then by name); with
        ``ticket``, each also filled for it."""
        chain = ancestors(session, official.unit_code)
        rows = session.scalars(select(ReplyTemplate).where(ReplyTemplate.unit_code.in_(chain))).all()
        rows = sorted(rows, key=lambda r: (chain.index(r.unit_code), r.name))
        return [_view(session, official, r, ticket) for r in rows]

    @staticmethod
    def one(session: Session, official: Official, template_id: int) -> TemplateView:
        """One template the official may use (a unit above) or write (a unit below)."""
        row = session.get(ReplyTemplate, template_id)
        if row is None or not (
            row.unit_code in ancestors(session, official.unit_code) or in_subtree(session, official, row.unit_code)
        ):
            raise TemplateNotFound(str(template_id))
        return _view(session, official, row, None)

    def create(self, session: Session, official: Official, unit_code: str | None, name: str, text: str) -> int:
        unit_code = (unit_code or official.unit_code).strip()
        self._writer(official)
        unit = session.get(OrgUnit, unit_code)
        if unit is None or not in_subtree(session, official, unit_code):
            raise TemplateNotFound(unit_code)
        name, text = _clean(name, text)
        now = utcnow()
        row = ReplyTemplate(
            unit_code=unit_code, name=name, text=text, created_by=official.username, created_at=now, updated_at=now
        )
        self._save(session, row)
        audit(session, official, "template_create", "reply_template", str(row.id), unit=unit_code, name=name)
        session.commit()
        return row.id

    def update(
        self, session: Session, official: Official, template_id: int, name: str | None, text: str | None
    ) -> None:
        row = self._writable(session, official, template_id)
        row.name, row.text = _clean(row.name if name is None else name, row.text if text is None else text)
        row.updated_at = utcnow()
        self._save(session, row)
        audit(session, official, "template_update", "reply_template", str(row.id), name=row.name)
        session.commit()

    def delete(self, session: Session, official: Official, template_id: int) -> None:
        row = self._writable(session, official, template_id)
        audit(session, official, "template_delete", "reply_template", str(row.id), unit=row.unit_code, name=row.name)
        session.delete(row)
        session.commit()

    @staticmethod
    def _writer(official: Official) -> None:
        if official.role not in WRITERS:
            raise TemplateForbidden(official.username)

    def _writable(self, session: Session, official: Official, template_id: int) -> ReplyTemplate:
        row = session.get(ReplyTemplate, template_id)
        if row is None or not in_subtree(session, official, row.unit_code):
            raise TemplateNotFound(str(template_id))
        self._writer(official)
        return row

    @staticmethod
    def _save(session: Session, row: ReplyTemplate) -> None:
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
        except IntegrityError:
            raise TemplateRefused(
                "this unit already has a template with this name", "template_name_taken", conflict=True
            ) from None
