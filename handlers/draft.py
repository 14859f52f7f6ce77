"""The report a citizen is writing: built from their messages and the NLU's parses until it is filed.

Kept in the conversation state between turns (``to_dict``/``from_dict``, JSON in the StateStore); turned into the
backend's :class:`~handlers.ports.TicketDraft` when the citizen sends it.
"""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass, field
from typing import Any

from bot.messages import Attachment, GeoPoint, InboundMessage, geo_point
from handlers.ports import TicketDraft
from nlu.result import Location, ParseResult
from nlu.vocab import FEEDBACK_INTENT, MAX_TEXT, OTHER_CATEGORY

_ATTACHMENT_FIELDS = {f.name for f in dataclasses.fields(Attachment)}


def new_draft_id() -> str:
    return secrets.token_hex(8)


@dataclass
class Draft:
    id: str = field(default_factory=new_draft_id)  # idempotency key of filing; links the draft's messages
    text: str = ""  # the citizen's words, at most ``MAX_TEXT`` characters
    attachments: list[Attachment] = field(default_factory=list)
    geo: GeoPoint | None = None
    phone: str | None = None
    asked: list[str] = field(default_factory=list)  # questions already asked (each at most once)
    nlu: ParseResult | None = None  # the latest parse of the citizen's words
    intent_confidence: float = 0.0
    category: str | None = None
    category_confidence: float = 0.0
    ranking: list[str] = field(default_factory=list)  # the NLU's best categories, for offering a choice
    category_margin: float = 1.0  # how far the best category is ahead of the second (small: ask the citizen)
    category_by_citizen: bool = False  # the citizen chose the category from the buttons
    urgent: bool = False
    province_code: str | None = None
    commune_code: str | None = None
    candidates: list[str] = field(default_factory=list)  # commune codes the place may mean
    location_text: str | None = None

    @classmethod
    def begin(cls, text: str, parsed: ParseResult) -> Draft:
        """A new draft with its own id; text beyond ``MAX_TEXT`` is cut (callers tell the citizen)."""
        draft = cls(text=text[:MAX_TEXT])
        draft.apply_parse(parsed)
        phones = parsed.entity_values("phone")
        if phones:
            draft.phone = phones[-1]
        return draft

    def apply_parse(self, parsed: ParseResult) -> None:
        """Take what a (new) parse says: the better category wins, urgency sticks, a place found replaces."""
        self.nlu = parsed
        self.intent_confidence = parsed.intent.confidence
        category = parsed.category
        if category and (not self.category or category.confidence > self.category_confidence):
            self.category, self.category_confidence = category.name, category.confidence
            self.ranking = [r.name for r in parsed.category_ranking][:3]
            second = parsed.category_ranking[1].confidence if len(parsed.category_ranking) > 1 else 0.0
            self.category_margin = round(category.confidence - second, 4)
        self.urgent = self.urgent or parsed.urgent
        self.apply_location(parsed.location)

    def apply_location(self, loc: Location | None) -> bool:
        """Use the place the parse found; ``False`` (nothing changed) when it found none."""
        if loc is None or not loc.found:
            return False
        self.province_code = loc.province_code
        self.commune_code = loc.commune_code
        self.candidates = [c.code for c in loc.candidates]
        self.location_text = loc.text
        return True

    def append_text(self, text: str) -> bool:
        """Add the citizen's words; ``False``, adding nothing, when the ticket text would pass the limit."""
        joined = f"{self.text}\n{text}".strip()
        if len(joined) > MAX_TEXT:
            return False
        self.text = joined
        return True

    def add_attachments(self, msg: InboundMessage) -> None:
        self.attachments += msg.attachments
        if msg.location is not None:
            self.geo = msg.location

    def to_ticket_draft(self, anonymous: bool) -> TicketDraft:
        return TicketDraft(
            text=self.text,
            intent=FEEDBACK_INTENT,
            intent_confidence=self.intent_confidence,
            category=self.category or OTHER_CATEGORY,
            category_confidence=self.category_confidence,
            province_code=self.province_code,
            commune_code=self.commune_code,
            location_text=self.location_text,
            geo=self.geo,
            urgent=self.urgent,
            anonymous=anonymous,
            phone=None if anonymous else self.phone,
            attachments=list(self.attachments),
            nlu={**(self.nlu.to_dict() if self.nlu else {}), **self._choice()},
            draft_id=self.id,
        )

    def _choice(self) -> dict[str, Any]:
        """Kept with the ticket's NLU data: the category the citizen chose (the NLU's guess is in ``category``)."""
        return {"category_chosen_by_citizen": self.category} if self.category_by_citizen else {}

    # -- the stored form (JSON) -------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "attachments": [dataclasses.asdict(a) for a in self.attachments],
            "geo": {"latitude": self.geo.latitude, "longitude": self.geo.longitude} if self.geo else None,
            "phone": self.phone,
            "asked": list(self.asked),
            "nlu": self.nlu.to_dict() if self.nlu else None,
            "intent_confidence": self.intent_confidence,
            "category": self.category,
            "category_confidence": self.category_confidence,
            "ranking": list(self.ranking),
            "category_margin": self.category_margin,
            "category_by_citizen": self.category_by_citizen,
            "urgent": self.urgent,
            "province_code": self.province_code,
            "commune_code": self.commune_code,
            "candidates": list(self.candidates),
            "location_text": self.location_text,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Draft:
        """Read a stored draft back (drafts saved before ids existed get one now)."""

        def text_or_none(key: str) -> str | None:
            value = raw.get(key)
            return value if isinstance(value, str) and value else None

        def number(key: str) -> float:
            value = raw.get(key)
            return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0

        def strings(key: str) -> list[str]:
            value = raw.get(key)
            return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []

        geo = raw.get("geo")
        return cls(
            id=text_or_none("id") or new_draft_id(),
            text=str(raw.get("text") or ""),
            attachments=[
                Attachment(**{k: v for k, v in a.items() if k in _ATTACHMENT_FIELDS})
                for a in raw.get("attachments") or []
                if isinstance(a, dict) and isinstance(a.get("kind"), str)
            ],
            geo=geo_point(geo.get("latitude"), geo.get("longitude")) if isinstance(geo, dict) else None,
            phone=text_or_none("phone"),
            asked=strings("asked"),
            nlu=ParseResult.from_dict(raw["nlu"]) if isinstance(raw.get("nlu"), dict) else None,
            intent_confidence=number("intent_confidence"),
            category=text_or_none("category"),
            category_confidence=number("category_confidence"),
            ranking=strings("ranking"),
            category_margin=number("category_margin") if "category_margin" in raw else 1.0,
            category_by_citizen=bool(raw.get("category_by_citizen")),
            urgent=bool(raw.get("urgent")),
            province_code=text_or_none("province_code"),
            commune_code=text_or_none("commune_code"),
            candidates=strings("candidates"),
            location_text=text_or_none("location_text"),
        )
