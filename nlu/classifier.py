"""Intent + category classifier: TF-IDF views → multinomial logistic regression over the full label set.

Labels are Rasa intents, optionally with a retrieval part (``gui_phan_anh/ha_tang``). The probability of an
intent is the sum over its labels, and the category distribution is the intent's labels renormalised, so one
calibrated model answers both questions.

Training fits scikit-learn's pipeline; predictions come from its arrays (:class:`nlu.linear.LinearModel`), so a
loaded model answers without importing scikit-learn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nlu.features import views
from nlu.linear import LinearModel

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
    def __init__(self, c: float = 20.0, model: LinearModel | None = None) -> None:
        self.c = c
        self.pipeline: Any = None  # scikit-learn's fitted pipeline, in the process that trained the model only
        self.model: LinearModel | None = None
        self.labels: list[str] = []
        self._intents: list[tuple[str, list[int]]] = []
        self._categories: dict[str, list[tuple[str, int]]] = {}
        if model is not None:
            self._use(model)

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> IntentClassifier:
        if len(set(labels)) < 2:
            raise ValueError("training needs at least two different labels")
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import Pipeline

        from nlu.features import build_features

        pipeline = Pipeline([("features", build_features()), ("model", LogisticRegression(C=self.c, max_iter=3000))])
        pipeline.fit([views(t) for t in texts], list(labels))
        self.pipeline = pipeline
        self._use(LinearModel.from_pipeline(pipeline))
        return self

    def _use(self, model: LinearModel) -> None:
        self.model = model
        self.labels = list(model.labels)
        intents: dict[str, list[int]] = {}
        categories: dict[str, list[tuple[str, int]]] = {}
        for i, label in enumerate(self.labels):
            intent, slash, category = label.partition("/")
            intents.setdefault(intent, []).append(i)
            if slash:
                categories.setdefault(intent, []).append((category, i))
        self._intents = list(intents.items())
        self._categories = categories

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        if self.model is None:
            raise RuntimeError("classifier is not trained")
        return self.model.probabilities([views(t) for t in texts])

    def predict_many(self, texts: Sequence[str]) -> list[Prediction]:
        return [self._decode(row) for row in self.probabilities(texts).tolist()]

    def predict(self, text: str) -> Prediction:
        return self.predict_many([text])[0]

    def _decode(self, probs: list[float]) -> Prediction:
        by_intent = []
        for name, indices in self._intents:
            total = 0.0
            for i in indices:
                total += probs[i]
            by_intent.append((name, total))
        ranking = sorted(by_intent, key=lambda kv: kv[1], reverse=True)
        intent, intent_p = ranking[0]
        cats = [(c, probs[i]) for c, i in self._categories.get(intent, ())]
        if not cats:
            return Prediction(intent, intent_p, ranking, None, 0.0, [])
        total = sum(p for _, p in cats) or 1.0
        cat_ranking = sorted(((c, p / total) for c, p in cats), key=lambda kv: kv[1], reverse=True)
        return Prediction(intent, intent_p, ranking, cat_ranking[0][0], cat_ranking[0][1], cat_ranking)
