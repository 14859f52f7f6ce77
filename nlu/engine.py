"""The NLU engine: one message in, a Rasa-compatible parse out (plus category, location and urgency)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nlu import entities as rule_entities
from nlu.classifier import IntentClassifier, Prediction
from nlu.store import load_model
from nlu.urgency import is_urgent

FEEDBACK_INTENT = "gui_phan_anh"


def _location_extractor() -> Any:
    try:
        from nlu.location import LocationExtractor
    except ImportError:  # pragma: no cover - the location module ships with the package
        return None
    return LocationExtractor()


class NLUEngine:
    def __init__(self, classifier: IntentClassifier, version: str, locations: Any = None) -> None:
        self.classifier = classifier
        self.version = version
        self.locations = locations if locations is not None else _location_extractor()

    @classmethod
    def load(cls, model_dir: Path) -> NLUEngine:
        classifier, meta = load_model(Path(model_dir))
        return cls(classifier, str(meta.get("version", Path(model_dir).name)))

    def parse(self, text: str) -> dict[str, Any]:
        return self.parse_many([text])[0]

    def parse_many(self, texts: Sequence[str]) -> list[dict[str, Any]]:
        clean = [unicodedata.normalize("NFC", t).strip() for t in texts]
        predictions = self.classifier.predict_many(clean)
        return [self._result(t, p) for t, p in zip(clean, predictions, strict=True)]

    def _location(self, text: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        if self.locations is None:
            return None, []
        match = self.locations.extract(text)
        if match is None:
            return None, []
        from nlu.location import as_entities

        loc = {
            "province": match.province.name if match.province else None,
            "province_code": match.province.code if match.province else None,
            "commune": match.commune.name if match.commune else None,
            "commune_code": match.commune.code if match.commune else None,
            "candidates": [{"code": c.code, "name": c.name, "province_code": c.parent_code} for c in match.candidates],
            "via_old_address": match.via_old_address,
            "text": match.matched_text,
        }
        return loc, as_entities(match)

    def _result(self, text: str, p: Prediction) -> dict[str, Any]:
        location, loc_entities = self._location(text)
        entities = sorted(rule_entities.extract(text) + loc_entities, key=lambda e: e["start"])
        category = None
        if p.intent == FEEDBACK_INTENT and p.category is not None:
            category = {"name": p.category, "confidence": round(p.category_confidence, 4)}
        urgent = is_urgent(text, p.category if category else None, p.category_confidence if category else 0.0)
        return {
            "text": text,
            "intent": {"name": p.intent, "confidence": round(p.intent_confidence, 4)},
            "intent_ranking": [{"name": n, "confidence": round(c, 4)} for n, c in p.intent_ranking[:5]],
            "entities": entities,
            "category": category,
            "category_ranking": [{"name": n, "confidence": round(c, 4)} for n, c in p.category_ranking[:3]]
            if category
            else [],
            "location": location,
            "urgent": urgent,
            "low_confidence": p.low_confidence,
            "model": self.version,
        }
