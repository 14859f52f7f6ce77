"""The web chat page."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from nlu.vocab import MAX_TEXT

router = APIRouter(include_in_schema=False)
# The text box takes as much as a ticket keeps: the shared limit (nlu.vocab.MAX_TEXT), never a number of its own.
_PAGE = (Path(__file__).parent / "chat.html").read_text(encoding="utf-8").replace("{{MAX_TEXT}}", str(MAX_TEXT))


@router.get("/chat", response_class=HTMLResponse)
def chat_page() -> HTMLResponse:
    return HTMLResponse(_PAGE)
