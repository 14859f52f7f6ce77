"""The NLU's parse result as every other layer sees it: typed, immutable, standard library only.

The Rasa-compatible JSON (``to_dict``/``from_dict``) stays the wire format of ``gopy nlu parse`` and
``POST /api/nlu/parse``, and the form stored with a ticket; inside the program the result travels as
:class:`ParseResult`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nlu.vocab import NGOAI_PHAM_VI


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


@dataclass(frozen=True, slots=True)
class Label:
    """An intent or a category with its confidence (0..1)."""

    name: str
    confidence: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "confidence": self.confidence}

    @classmethod
    def from_dict(cls, raw: Any) -> Label | None:
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
            return None
        return cls(raw["name"], _float(raw.get("confidence")))


@dataclass(frozen=True, slots=True)
class Entity:
    """A span of the message (Rasa's entity shape): ``ticket_code``, ``phone``, ``date``, ``province``..."""

    entity: str
    value: str
    start: int
    end: int
    confidence: float = 1.0
    extractor: str = "gopy_rules"
    code: str | None = None  # the unit code of a ``province``/``commune`` entity

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"entity": self.entity, "value": self.value}
        if self.code is not None:
            out["code"] = self.code
        out |= {"start": self.start, "end": self.end, "confidence": self.confidence, "extractor": self.extractor}
        return out

    @classmethod
    def from_dict(cls, raw: Any) -> Entity | None:
        if not isinstance(raw, dict) or not isinstance(raw.get("entity"), str):
            return None
        start, end = raw.get("start", 0), raw.get("end", 0)
        return cls(
            raw["entity"],
            str(raw.get("value", "")),
            start if isinstance(start, int) else 0,
            end if isinstance(end, int) else 0,
            _float(raw.get("confidence", 1.0)),
            str(raw.get("extractor", "gopy_rules")),
            _str(raw.get("code")),
        )


@dataclass(frozen=True, slots=True)
class Candidate:
    """A commune the message may mean (several communes share a name)."""

    code: str
    name: str = ""
    province_code: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "province_code": self.province_code}


@dataclass(frozen=True, slots=True)
class Location:
    """Where it happened, in today's units (34 provinces, 3,321 communes); old addresses are resolved."""

    province: str | None = None
    province_code: str | None = None  # official 2-digit code
    commune: str | None = None
    commune_code: str | None = None  # official 5-digit code
    candidates: tuple[Candidate, ...] = ()
    via_old_address: bool = False
    text: str | None = None  # what the citizen wrote

    @property
    def found(self) -> bool:
        """A province, or communes to choose from: enough to route or to ask."""
        return bool(self.province_code or self.candidates)

    def to_dict(self) -> dict[str, Any]:
        return {
            "province": self.province,
            "province_code": self.province_code,
            "commune": self.commune,
            "commune_code": self.commune_code,
            "candidates": [c.to_dict() for c in self.candidates],
            "via_old_address": self.via_old_address,
            "text": self.text,
        }

    @classmethod
    def from_dict(cls, raw: Any) -> Location | None:
        if not isinstance(raw, dict):
            return None
        candidates = tuple(
            Candidate(c["code"], str(c.get("name") or ""), _str(c.get("province_code")))
            for c in _list(raw.get("candidates"))
            if isinstance(c, dict) and isinstance(c.get("code"), str)
        )
        return cls(
            _str(raw.get("province")),
            _str(raw.get("province_code")),
            _str(raw.get("commune")),
            _str(raw.get("commune_code")),
            candidates,
            bool(raw.get("via_old_address")),
            _str(raw.get("text")),
        )


@dataclass(frozen=True, slots=True)
class ParseResult:
    """One message understood: intent, category (feedback only), entities, location, urgency, the model used."""

    text: str
    intent: Label
    intent_ranking: tuple[Label, ...] = ()
    entities: tuple[Entity, ...] = ()
    category: Label | None = None
    category_ranking: tuple[Label, ...] = ()
    location: Location | None = None
    urgent: bool = False
    low_confidence: bool = False
    model: str | None = None

    def entity_values(self, name: str) -> list[str]:
        return [e.value for e in self.entities if e.entity == name]

    def to_dict(self) -> dict[str, Any]:
        """The Rasa-compatible JSON (plus gopy's category, location and urgency)."""
        return {
            "text": self.text,
            "intent": self.intent.to_dict(),
            "intent_ranking": [r.to_dict() for r in self.intent_ranking],
            "entities": [e.to_dict() for e in self.entities],
            "category": self.category.to_dict() if self.category else None,
            "category_ranking": [r.to_dict() for r in self.category_ranking],
            "location": self.location.to_dict() if self.location else None,
            "urgent": self.urgent,
            "low_confidence": self.low_confidence,
            "model": self.model,
        }

    @classmethod
    def from_dict(cls, raw: Any) -> ParseResult:
        """Read the wire form back; missing or malformed parts take their defaults (an unknown intent is
        ``ngoai_pham_vi`` with no confidence)."""
        raw = raw if isinstance(raw, dict) else {}
        return cls(
            text=str(raw.get("text") or ""),
            intent=Label.from_dict(raw.get("intent")) or Label(NGOAI_PHAM_VI, 0.0),
            intent_ranking=tuple(x for r in _list(raw.get("intent_ranking")) if (x := Label.from_dict(r))),
            entities=tuple(y for e in _list(raw.get("entities")) if (y := Entity.from_dict(e))),
            category=Label.from_dict(raw.get("category")),
            category_ranking=tuple(x for r in _list(raw.get("category_ranking")) if (x := Label.from_dict(r))),
            location=Location.from_dict(raw.get("location")),
            urgent=bool(raw.get("urgent")),
            low_confidence=bool(raw.get("low_confidence")),
            model=_str(raw.get("model")),
        )
