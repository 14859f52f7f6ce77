"""One training job of the NLU workbench, run by the ``nlu-train`` worker in a child process of its own.

The job trains on the training folders of the data directory plus the accepted corrections of the database, except
a held-back tenth of them (chosen by the text's key, so the same texts stay held back from one run to the next),
saves the new version in the model store (never activating it), then scores the new and the active model on the
same data: every file of the held-out folder (the team-written ``heldout`` and the ``realworld`` one) and the
held-back corrections. Progress and log lines are written to the job's row as it goes; any error fails the job with
the error in its log.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.models import NluCorrection, utcnow
from backend.db.nlu_workbench_models import NluModelRecord, NluTrainJob
from backend.domain.deadlines import VN_TZ
from backend.services.nlu_review import text_key
from nlu.classifier import IntentClassifier
from nlu.evaluate import Evaluation, write_reports
from nlu.rasa_data import Example, load_examples
from nlu.store import ModelStore, load_model, train
from nlu.training_data import heldout_path, training_paths
from nlu.vocab import FEEDBACK_INTENT

REALWORLD = "realworld"  # the held-out file whose category accuracy decides activation
CORRECTIONS = "corrections"  # the held-back tenth of the accepted corrections
MAX_CHANGED = 200
LOG_LINES = 50

Scope = Callable[[], AbstractContextManager[Session]]


def held_back(key: str) -> bool:
    """One accepted correction in ten is kept for evaluation, never trained on."""
    return int(key[:8], 16) % 10 == 0


def accepted_examples(session: Session) -> tuple[list[Example], list[Example]]:
    """(to train on, held back): the accepted text corrections, one per text (the latest decision wins)."""
    rows = session.scalars(
        select(NluCorrection)
        .where(
            NluCorrection.status == "accepted",
            NluCorrection.kind.in_(("category", "not_petition")),
            NluCorrection.label.is_not(None),
        )
        .order_by(NluCorrection.reviewed_at, NluCorrection.id)
    )
    by_key: dict[str, Example] = {}
    for row in rows:
        text = " ".join(row.text.split())
        if text and row.label:
            by_key[row.text_key] = Example(text, row.label, f"correction #{row.id}")
    train_on = [ex for k, ex in by_key.items() if not held_back(k)]
    kept = [ex for k, ex in by_key.items() if held_back(k)]
    return train_on, kept


class _Job:
    """Writes progress and log lines to the job's row, each in a short transaction of its own."""

    def __init__(self, scope: Scope, job_id: int) -> None:
        self.scope = scope
        self.id = job_id

    def update(self, line: str | None = None, progress: float | None = None, **fields: Any) -> None:
        with self.scope() as session:
            job = session.get(NluTrainJob, self.id)
            if job is None:
                raise LookupError(f"no training job {self.id}")
            if line is not None:
                stamp = utcnow().astimezone(VN_TZ)  # officials read Vietnam time
                job.log = [*list(job.log or []), f"{stamp:%H:%M:%S} {line}"][-LOG_LINES:]
            if progress is not None:
                job.progress = progress
            for name, value in fields.items():
                setattr(job, name, value)
            session.commit()


def _predicted(classifier: IntentClassifier, examples: list[Example]) -> list[tuple[str, str | None, float]]:
    preds = classifier.predict_many([e.text for e in examples])
    return [(f"{p.intent}/{p.category}" if p.category else p.intent, p.category, p.intent_confidence) for p in preds]


def score(classifier: IntentClassifier, examples: list[Example]) -> tuple[dict[str, Any], list[str], Evaluation]:
    """Accuracy, macro-F1, per-label F1 and the category accuracy (petitions only) of one model on one file; labels
    the model never saw simply count as wrong. An empty file has no figures (None)."""
    if not examples:
        empty: dict[str, Any] = {"examples": 0, "accuracy": None, "macro_f1": None, "category_accuracy": None, "f1": {}}
        return empty, [], Evaluation([], [], [], [], [])
    preds = _predicted(classifier, examples)
    gold = [e.label for e in examples]
    predicted = [p[0] for p in preds]
    ev = Evaluation(sorted(set(gold)), gold, predicted, [p[2] for p in preds], examples)
    summary = ev.summary()
    petitions = [(e.category, p[1]) for e, p in zip(examples, preds, strict=True) if e.intent == FEEDBACK_INTENT]
    category_accuracy = sum(g == p for g, p in petitions) / len(petitions) if petitions else None
    figures = {
        "examples": len(examples),
        "accuracy": summary["accuracy"],
        "macro_f1": summary["macro_f1"],
        "category_accuracy": round(category_accuracy, 4) if category_accuracy is not None else None,
        "f1": {label: row["f1"] for label, row in summary["labels"].items()},
    }
    return figures, predicted, ev


def evaluation_sets(data_dir: Path, held: list[Example]) -> dict[str, list[Example]]:
    sets = {p.stem: load_examples([p]) for p in sorted(heldout_path(data_dir).glob("*.yml"))}
    sets[CORRECTIONS] = held
    return sets


def compare(
    new: IntentClassifier, active: IntentClassifier | None, sets: dict[str, list[Example]]
) -> tuple[dict[str, Any], Evaluation | None]:
    """The new model against the active one, file by file: figures, per-label F1 deltas, changed predictions."""
    files: dict[str, Any] = {}
    changed: list[dict[str, Any]] = []
    everything: list[Example] = []
    for name, examples in sets.items():
        new_fig, new_pred, _ = score(new, examples)
        entry: dict[str, Any] = {"examples": len(examples), "new": new_fig, "active": None, "labels": {}}
        if active is not None:
            old_fig, old_pred, _ = score(active, examples)
            entry["active"] = old_fig
            for ex, a, b in zip(examples, old_pred, new_pred, strict=True):
                if a != b and len(changed) < MAX_CHANGED:
                    changed.append({"file": name, "text": ex.text, "gold": ex.label, "active": a, "new": b})
        for label, f1 in new_fig["f1"].items():
            before = entry["active"]["f1"].get(label) if entry["active"] else None
            entry["labels"][label] = {
                "new": f1,
                "active": before,
                "delta": round(f1 - before, 4) if before is not None else None,
            }
        files[name] = entry
        everything.extend(examples)
    combined = score(new, everything)[2] if everything else None
    return {"files": files, "changed": changed}, combined


def _confusion_png(ev: Evaluation) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        png = next(p for p in write_reports(ev, Path(tmp)) if p.suffix == ".png")
        return png.read_bytes()


def _record(session: Session, version: str, figures: dict[str, Any], **fields: Any) -> None:
    rec = session.get(NluModelRecord, version)
    if rec is None:
        rec = NluModelRecord(version=version)
        session.add(rec)
    rec.scores = {name: {k: v for k, v in f.items() if k != "f1"} for name, f in figures.items()}
    rec.realworld_category_accuracy = (figures.get(REALWORLD) or {}).get("category_accuracy")
    for name, value in fields.items():
        setattr(rec, name, value)


def run_job(scope: Scope, job_id: int, model_dir: Path, data_dir: Path) -> str:
    """Run one queued-and-claimed job to its end; returns the new version (the job row says done or failed)."""
    job = _Job(scope, job_id)
    try:
        return _run(scope, job, ModelStore(model_dir), data_dir)
    except Exception as exc:
        job.update(f"Lỗi: {exc}", status="failed", error=str(exc)[:2000], finished_at=utcnow())
        raise


def _run(scope: Scope, job: _Job, store: ModelStore, data_dir: Path) -> str:
    job.update("Đang nạp dữ liệu huấn luyện.", 0.05)
    base = load_examples(training_paths(data_dir))
    with scope() as session:
        requested_by = session.get(NluTrainJob, job.id).requested_by  # type: ignore[union-attr]
        accepted, held = accepted_examples(session)
    overridden = {text_key(e.text) for e in (*accepted, *held)}
    examples = [e for e in base if text_key(e.text) not in overridden] + accepted
    job.update(
        f"{len(examples)} ví dụ ({len(accepted)} sửa đổi đã duyệt; giữ lại {len(held)} để đánh giá). Đang huấn luyện.",
        0.15,
    )
    classifier, meta = train(examples)
    meta["trained_by"] = requested_by
    job.update(f"Đã huấn luyện xong trong {meta['train_seconds']} giây.", 0.6)
    store.save(classifier, meta)
    version = str(meta["version"])
    job.update(f"Đã lưu phiên bản {version} (chưa kích hoạt). Đang đánh giá.", 0.7)
    active_version = store.active_version()
    active = load_model(store.active_path())[0] if active_version else None
    sets = evaluation_sets(data_dir, held)
    evaluation, combined = compare(classifier, active, sets)
    evaluation.update({"version": version, "active_version": active_version})
    png = _confusion_png(combined) if combined is not None else None
    job.update("Đã đánh giá mô hình mới và mô hình đang dùng.", 0.95)
    with scope() as session:
        new_figures = {name: f["new"] for name, f in evaluation["files"].items()}
        _record(session, version, new_figures, created_by=requested_by, examples=len(examples), job_id=job.id)
        if active_version is not None:
            old_figures = {name: f["active"] for name, f in evaluation["files"].items()}
            _record(session, active_version, old_figures)
        session.commit()
    job.update(
        f"Xong: phiên bản {version}.",
        1.0,
        status="done",
        version=version,
        evaluation=evaluation,
        confusion_png=png,
        finished_at=utcnow(),
    )
    return version
