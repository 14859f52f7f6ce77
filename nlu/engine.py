"""The NLU engine: one message in, a :class:`~nlu.result.ParseResult` out (intent, category, location, urgency).

``ParseResult.to_dict()`` is the Rasa-compatible JSON of ``gopy nlu parse`` and ``POST /api/nlu/parse``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nlu import entities as rule_entities
from nlu.classifier import IntentClassifier, Prediction
from nlu.result import Candidate, Entity, Label, Location, ParseResult
from nlu.store import load_model
from nlu.urgency import is_urgent
from nlu.vocab import FEEDBACK_INTENT, nfc


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
        """The model of ``model_dir``; the location index and the compiled word segmenter come from the cache
        directory of its store (``nlu.cache``), built there on the first load."""
        classifier, meta = load_model(Path(model_dir))
        from nlu import segment
        from nlu.aliases import with_aliases  # the model store's reviewed place aliases (the NLU workbench)
        from nlu.cache import cache_dir_of

        store_root = Path(model_dir).parent
        segment.configure(cache_dir_of(store_root))
        return cls(classifier, str(meta.get("version", Path(model_dir).name)), with_aliases(store_root))

    def parse(self, text: str) -> ParseResult:
        return self.parse_many([text])[0]

    def parse_many(self, texts: Sequence[str]) -> list[ParseResult]:
        clean = [nfc(t).strip() for t in texts]
        predictions = self.classifier.predict_many(clean)
        return [self._result(t, p) for t, p in zip(clean, predictions, strict=True)]

    def _location(self, text: str) -> tuple[Location | None, list[dict[str, Any]]]:
        if self.locations is None:
            return None, []
        match = self.locations.extract(text)
        if match is None:
            return None, []
        from nlu.location import as_entities

        loc = Location(
            province=match.province.name if match.province else None,
            province_code=match.province.code if match.province else None,
            commune=match.commune.name if match.commune else None,
            commune_code=match.commune.code if match.commune else None,
            candidates=tuple(Candidate(c.code, c.name, c.parent_code) for c in match.candidates),
            via_old_address=match.via_old_address,
            text=match.matched_text,
        )
        return loc, as_entities(match)

    def _result(self, text: str, p: Prediction) -> ParseResult:
        location, loc_entities = self._location(text)
        entities = sorted(rule_entities.extract(text) + loc_entities, key=lambda e: e["start"])
        category = None
        if p.intent == FEEDBACK_INTENT and p.category is not None:
            category = Label(p.category, round(p.category_confidence, 4))
        urgent = is_urgent(text, p.category if category else None, p.category_confidence if category else 0.0)
        return ParseResult(
            text=text,
            intent=Label(p.intent, round(p.intent_confidence, 4)),
            intent_ranking=tuple(Label(n, round(c, 4)) for n, c in p.intent_ranking[:5]),
            entities=tuple(e for raw in entities if (e := Entity.from_dict(raw)) is not None),
            category=category,
            category_ranking=tuple(Label(n, round(c, 4)) for n, c in p.category_ranking[:3]) if category else (),
            location=location,
            urgent=urgent,
            low_confidence=p.low_confidence,
            model=self.version,
        )
