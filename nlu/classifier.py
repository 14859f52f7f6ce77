"""Intent + category classifier: TF-IDF views → multinomial logistic regression over the full label set.

Labels are Rasa intents, optionally with a retrieval part (``gui_phan_anh/ha_tang``). The probability of an
intent is the sum over its labels, and the category distribution is the intent's labels renormalised, so one
calibrated model answers both questions.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from nlu.features import build_features, views

INTENT_THRESHOLD = 0.5
CATEGORY_THRESHOLD = 0.45


@dataclass(frozen=True, slots=True)
class Prediction:
    intent: str
    intent_confidence: float
    intent_ranking: list[tuple[str, float]]
    category: str | None
    category_confidence: float
    category_ranking: list[tuple[str, float]]

    @property
    def low_confidence(self) -> bool:
        if self.intent_confidence < INTENT_THRESHOLD:
            return True
        return self.category is not None and self.category_confidence < CATEGORY_THRESHOLD


class IntentClassifier:
    def __init__(self, c: float = 20.0) -> None:
        self.c = c
        self.pipeline: Pipeline | None = None
        self.labels: list[str] = []

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> IntentClassifier:
        if len(set(labels)) < 2:
            raise ValueError("training needs at least two different labels")
        self.pipeline = Pipeline(
            [("features", build_features()), ("model", LogisticRegression(C=self.c, max_iter=3000))]
        )
        self.pipeline.fit([views(t) for t in texts], list(labels))
        self.labels = [str(x) for x in self.pipeline.classes_]
        return self

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        if self.pipeline is None:
            raise RuntimeError("classifier is not trained")
        result: np.ndarray = self.pipeline.predict_proba([views(t) for t in texts])
        return result

    def predict_many(self, texts: Sequence[str]) -> list[Prediction]:
        return [self._decode(row) for row in self.probabilities(texts)]

    def predict(self, text: str) -> Prediction:
        return self.predict_many([text])[0]

    def _decode(self, probs: np.ndarray) -> Prediction:
        by_intent: dict[str, float] = defaultdict(float)
        for label, p in zip(self.labels, probs, strict=True):
            by_intent[label.split("/", 1)[0]] += float(p)
        ranking = sorted(by_intent.items(), key=lambda kv: kv[1], reverse=True)
        intent, intent_p = ranking[0]
        cats = [
            (label.split("/", 1)[1], float(p))
            for label, p in zip(self.labels, probs, strict=True)
            if label.startswith(intent + "/")
        ]
        if not cats:
            return Prediction(intent, intent_p, ranking, None, 0.0, [])
        total = sum(p for _, p in cats) or 1.0
        cat_ranking = sorted(((c, p / total) for c, p in cats), key=lambda kv: kv[1], reverse=True)
        return Prediction(intent, intent_p, ranking, cat_ranking[0][0], cat_ranking[0][1], cat_ranking)
