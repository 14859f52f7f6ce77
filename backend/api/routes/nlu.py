"""The NLU over HTTP."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from backend.api.deps import ContainerDep
from backend.api.schemas import NLUParseIn

router = APIRouter(prefix="/api/nlu", tags=["nlu"])


@router.post("/parse")
def parse(body: NLUParseIn, container: ContainerDep) -> dict[str, Any]:
    """Rasa-compatible parse of one message, plus gopy's category, location and urgency."""
    return container.parser.parse(body.text).to_dict()
