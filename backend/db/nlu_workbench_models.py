"""Tables of the admins' NLU workbench: background training jobs, the models they produced (with their scores),
and the reviewed place aliases (a hamlet or local name → commune) the location extractor uses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, UTCDateTime, utcnow


class NluTrainJob(Base):
    """One training run asked for from the workbench; a worker runs it (one at a time across processes)."""

    __tablename__ = "nlu_train_jobs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)  # queued|running|done|failed
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    log: Mapped[list[str]] = mapped_column(JSON, default=list)  # the latest lines
    requested_by: Mapped[str] = mapped_column(String(64))
    version: Mapped[str | None] = mapped_column(String(64))  # the model trained, once done
    evaluation: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    confusion_png: Mapped[bytes | None] = mapped_column(LargeBinary)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class NluModelRecord(Base):
    """What the workbench knows of a model version: who trained it, on how much data, and its scores on the
    held-out files (the activation rule compares the real-world category accuracy)."""

    __tablename__ = "nlu_models"
    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_by: Mapped[str | None] = mapped_column(String(64))
    examples: Mapped[int | None] = mapped_column(Integer)
    job_id: Mapped[int | None] = mapped_column(Integer)
    scores: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # file → {accuracy, macro_f1, ...}
    realworld_category_accuracy: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class NluPlaceAlias(Base):
    """A reviewed local name (hamlet, old name, nickname) → commune, from an accepted place correction."""

    __tablename__ = "nlu_place_aliases"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(200), unique=True)
    commune_code: Mapped[str] = mapped_column(String(16))
    correction_id: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
