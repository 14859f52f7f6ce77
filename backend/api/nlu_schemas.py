"""Request and response bodies of the NLU workbench API (``/api/nlu/...``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from backend.api.schemas import Inbound


class CorrectionPublic(BaseModel):
    id: int
    kind: str = Field(description="category | not_petition | place")
    text: str
    predicted: str
    corrected: str = Field(description="What the official chose (a label, or a commune code for a place)")
    official: str
    created_at: str
    status: str = Field(description="pending | accepted | rejected")
    label: str | None = Field(description="The reviewed label (or commune code)")
    reviewer: str | None = Field(description="The admin who decided, or 'majority'")
    reviewed_at: str | None
    model_version: str | None
    ticket_id: int | None


class CorrectionsPublic(BaseModel):
    data: list[CorrectionPublic]
    count: int


class CorrectionDecision(Inbound):
    label: str | None = Field(default=None, max_length=100, description="Another label than the official's")
    alias: str | None = Field(
        default=None, max_length=200, description="Place corrections: the local name (words of the text)"
    )


class ReviewItem(BaseModel):
    code: str
    text: str
    category: str | None
    confidence: float
    corrections: int
    model: str | None


class ReviewPublic(BaseModel):
    data: list[ReviewItem]
    count: int


class ReviewLabel(Inbound):
    label: str = Field(max_length=100, description="A category code, gui_phan_anh/<category> or another intent")


class JobCreated(BaseModel):
    id: int


class JobPublic(BaseModel):
    id: int
    status: str = Field(description="queued | running | done | failed")
    progress: float
    log: list[str]
    requested_by: str
    version: str | None
    evaluation: dict[str, Any] | None
    error: str | None
    created_at: str
    started_at: str | None
    finished_at: str | None
    confusion_matrix: str | None = Field(description="URL of the confusion-matrix PNG, when done")


class ModelPublic(BaseModel):
    version: str
    created_at: str | None
    created_by: str
    examples: int | None
    labels: int
    scores: dict[str, Any]
    realworld_category_accuracy: float | None
    active: bool


class ModelsPublic(BaseModel):
    data: list[ModelPublic]
    count: int


class ActivateIn(Inbound):
    force: bool = False
    reason: str | None = Field(default=None, max_length=500, description="Required with force")


class Activated(BaseModel):
    version: str
    previous: str | None
    forced: bool
