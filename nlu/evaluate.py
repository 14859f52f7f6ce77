"""Evaluation with Rasa-style reports: intent_report.json, intent_errors.json, a confusion-matrix PNG."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, f1_score

from nlu.classifier import IntentClassifier
from nlu.rasa_data import Example, NluDataError


@dataclass
class Evaluation:
    labels: list[str]
    gold: list[str]
    predicted: list[str]
    confidences: list[float]
    examples: list[Example]

    @property
    def accuracy(self) -> float:
        return float(accuracy_score(self.gold, self.predicted))

    def report(self) -> dict[str, Any]:
        result: dict[str, Any] = classification_report(
            self.gold, self.predicted, labels=self.labels, output_dict=True, zero_division=0
        )
        return result

    def summary(self) -> dict[str, Any]:
        rep = self.report()
        return {
            "accuracy": round(self.accuracy, 4),
            "macro_f1": round(
                float(f1_score(self.gold, self.predicted, labels=self.labels, average="macro", zero_division=0)), 4
            ),
            "weighted_f1": round(
                float(f1_score(self.gold, self.predicted, labels=self.labels, average="weighted", zero_division=0)), 4
            ),
            "labels": {
                label: {
                    "precision": round(float(rep[label]["precision"]), 4),
                    "recall": round(float(rep[label]["recall"]), 4),
                    "f1": round(float(rep[label]["f1-score"]), 4),
                    "support": int(rep[label]["support"]),
                }
                for label in self.labels
            },
        }

    def matrix(self) -> np.ndarray:
        result: np.ndarray = confusion_matrix(self.gold, self.predicted, labels=self.labels)
        return result

    def errors(self) -> list[dict[str, Any]]:
        return [
            {"text": ex.text, "intent": g, "intent_prediction": {"name": p, "confidence": round(c, 4)}}
            for ex, g, p, c in zip(self.examples, self.gold, self.predicted, self.confidences, strict=True)
            if g != p
        ]


def evaluate(classifier: IntentClassifier, examples: list[Example], level: str = "label") -> Evaluation:
    """``level``: "label" (intent or intent/category), "intent" or "category" (feedback examples only)."""
    known = set(classifier.labels)
    for ex in examples:
        if ex.label not in known:
            raise NluDataError(f"{ex.source}: label '{ex.label}' is unknown to the model")
    if level == "category":
        examples = [e for e in examples if e.category is not None]
    preds = classifier.predict_many([e.text for e in examples])
    if level == "intent":
        gold = [e.intent for e in examples]
        predicted = [p.intent for p in preds]
        conf = [p.intent_confidence for p in preds]
    elif level == "category":
        gold = [e.category or "" for e in examples]
        predicted = [p.category or p.intent for p in preds]
        conf = [p.category_confidence for p in preds]
    else:
        gold = [e.label for e in examples]
        predicted = [f"{p.intent}/{p.category}" if p.category else p.intent for p in preds]
        conf = [p.intent_confidence for p in preds]
    labels = sorted(set(gold))
    return Evaluation(labels, gold, predicted, conf, examples)


def write_reports(ev: Evaluation, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    report_path = out / "intent_report.json"
    report_path.write_text(json.dumps(ev.report(), ensure_ascii=False, indent=2), encoding="utf-8")
    errors_path = out / "intent_errors.json"
    errors_path.write_text(json.dumps(ev.errors(), ensure_ascii=False, indent=2), encoding="utf-8")
    png = out / "intent_confusion_matrix.png"
    _plot(ev, png)
    return [report_path, errors_path, png]


def _plot(ev: Evaluation, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = ev.matrix()
    size = max(6, len(ev.labels) * 0.45)
    fig, ax = plt.subplots(figsize=(size + 2, size))
    ax.imshow(m, cmap="Blues")
    ax.set_xticks(range(len(ev.labels)), ev.labels, rotation=90, fontsize=7)
    ax.set_yticks(range(len(ev.labels)), ev.labels, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            if m[i, j]:
                ax.text(
                    j,
                    i,
                    str(m[i, j]),
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="white" if m[i, j] > m.max() / 2 else "black",
                )
    ax.set_title(f"accuracy {ev.accuracy:.3f}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
