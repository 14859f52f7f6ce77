"""Officials' corrections of the NLU wait for an admin's review before they become training data.

Each correction is one official's vote about one text (its normalised :func:`text_key`) of one kind: ``category``
(the petition's field), ``not_petition`` (the message is not a petition: label ``ngoai_pham_vi``) or ``place`` (the
commune; the text is the local name when the official gave one). When at least two officials voted about the same
text, the label a strict majority chose is accepted at once (reviewer ``majority``); a single vote or a tie waits for
an admin, who accepts (optionally with another label) or rejects the whole group. Only accepted corrections are
exported and trained on; accepted places become reviewed aliases (:mod:`backend.services.nlu_workbench`).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Sequence
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.models import NluCorrection, Official, OrgUnit, Ticket, TicketEvent, utcnow
from backend.domain.statuses import TransitionError
from backend.services.events import official_event
from nlu.rasa_data import strip_entities
from nlu.vocab import CATEGORIES, FEEDBACK_INTENT, INTENTS, NGOAI_PHAM_VI, nfc

KINDS: Final = ("category", "not_petition", "place")
STATUSES: Final = ("pending", "accepted", "rejected")
MAJORITY: Final = "majority"  # the reviewer of a group a majority of officials decided
NOT_PETITION_LABEL: Final = NGOAI_PHAM_VI
_EDGES = re.compile(r"^[\W_]+|[\W_]+$")


def text_key(text: str) -> str:
    """The same text whatever its case, spacing, entity annotations or surrounding punctuation."""
    norm = _EDGES.sub("", " ".join(nfc(strip_entities(text)).lower().split()))
    return hashlib.sha1(norm.encode("utf-8"), usedforsecurity=False).hexdigest()


def training_labels() -> frozenset[str]:
    """The labels an accepted text example may carry: a petition's category, or another intent."""
    return frozenset({f"{FEEDBACK_INTENT}/{c}" for c in CATEGORIES} | (set(INTENTS) - {FEEDBACK_INTENT}))


def record(
    session: Session,
    official: str,
    *,
    kind: str,
    text: str,
    predicted: str,
    corrected: str,
    ticket_id: int | None = None,
    model_version: str | None = None,
) -> NluCorrection:
    """Store one official's correction and apply the majority rule to its group (flushed, not committed)."""
    if kind not in KINDS:
        raise ValueError(f"unknown correction kind '{kind}'")
    row = NluCorrection(
        ticket_id=ticket_id,
        text=text,
        predicted=predicted[:100],
        corrected=corrected,
        model_version=model_version,
        official=official,
        kind=kind,
        text_key=text_key(text),
        status="pending",
    )
    session.add(row)
    session.flush()
    apply_majority(session, kind, row.text_key)
    return row


def group(session: Session, kind: str, key: str) -> list[NluCorrection]:
    """Every correction of this kind about the same text, oldest first."""
    query = select(NluCorrection).where(NluCorrection.kind == kind, NluCorrection.text_key == key)
    return list(session.scalars(query.order_by(NluCorrection.id)))


def majority(votes: Sequence[NluCorrection]) -> str | None:
    """The label a strict majority of the officials chose (each official's latest vote counts once); None for a
    single vote or a tie."""
    latest: dict[str, str] = {}
    for row in sorted(votes, key=lambda r: r.id):
        latest[row.official] = row.corrected
    if len(latest) < 2:
        return None
    (top, n), *rest = Counter(latest.values()).most_common()
    if rest and rest[0][1] == n:
        return None
    return top


def apply_majority(session: Session, kind: str, key: str) -> None:
    """Decide a group the officials agree on; a group an admin decided stays decided (a new vote waits alone)."""
    open_rows = [
        r
        for r in group(session, kind, key)
        if r.reviewer is None or r.reviewer == MAJORITY  # not decided by an admin
    ]
    label = majority(open_rows)
    now = utcnow()
    for row in open_rows:
        if label is None:
            row.status, row.label, row.reviewer, row.reviewed_at = "pending", None, None, None
        else:
            row.status, row.label, row.reviewer, row.reviewed_at = "accepted", label, MAJORITY, now


def decide(session: Session, row: NluCorrection, reviewer: str, status: str, label: str | None) -> list[NluCorrection]:
    """An admin accepts (with ``label``) or rejects a correction: the whole group of the same text follows."""
    now = utcnow()
    rows = [
        r
        for r in group(session, row.kind, row.text_key)
        if r.status == "pending" or r.reviewer == MAJORITY or r.id == row.id
    ]
    for r in rows:
        r.status, r.label, r.reviewer, r.reviewed_at = status, label, reviewer, now
    return rows


def model_of(ticket: Ticket) -> str | None:
    """The NLU model version that labelled the ticket, if it was recorded."""
    return str((ticket.nlu or {}).get("model") or "") or None


def mark_not_petition(session: Session, official: Official, ticket: Ticket) -> TicketEvent:
    """An official says the message is not a petition at all: a ``not_petition`` correction for review."""
    record(
        session,
        official.username,
        kind="not_petition",
        text=ticket.text,
        ticket_id=ticket.id,
        predicted=f"{FEEDBACK_INTENT}/{ticket.category}" if ticket.category else ticket.intent,
        corrected=NOT_PETITION_LABEL,
        model_version=model_of(ticket),
    )
    return official_event(
        session,
        official,
        ticket,
        "corrected",
        note="Không phải phản ánh (chờ duyệt cho dữ liệu huấn luyện)",
        data={"to": "-"},
    )


def correct_place(
    session: Session, official: Official, ticket: Ticket, commune_code: str, place_name: str | None
) -> TicketEvent:
    """An official fixes the commune of a ticket; with ``place_name`` (the words of the text naming the place, e.g.
    a hamlet) the accepted correction becomes an alias the location extractor learns."""
    unit = session.get(OrgUnit, commune_code)
    if unit is None or unit.level != "commune":
        raise TransitionError(f"unknown commune '{commune_code}'")
    if commune_code == ticket.commune_code:
        raise TransitionError(f"the commune is already '{commune_code}'")
    name = " ".join((place_name or "").split())
    if name and nfc(name).lower() not in " ".join(nfc(ticket.text).lower().split()):
        raise TransitionError("place_name must be words of the ticket's text")
    old = ticket.commune_code
    record(
        session,
        official.username,
        kind="place",
        text=name or ticket.text,
        ticket_id=ticket.id,
        predicted=old or "",
        corrected=commune_code,
        model_version=model_of(ticket),
    )
    ticket.commune_code, ticket.province_code = commune_code, unit.parent_code or ticket.province_code
    ticket.updated_at = utcnow()
    return official_event(
        session,
        official,
        ticket,
        "corrected",
        note=f"Địa bàn: {old or '—'} → {unit.name}",
        data={"from": old, "to": commune_code},
    )
