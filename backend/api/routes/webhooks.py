"""Platform webhooks: verify, store once, acknowledge at once; the intake worker processes afterwards."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from backend.api.deps import ContainerDep
from backend.container import Container
from bot.base import InboundResult

log = logging.getLogger(__name__)
router = APIRouter(prefix="/webhooks", tags=["webhooks"])
MAX_WEBHOOK_BODY = 256_000


MAX_DEPTH = 32  # platform payloads nest a handful of levels; deeper is refused before any parsing
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


def too_deep(raw: bytes, limit: int = MAX_DEPTH) -> bool:
    """True if the JSON text nests arrays/objects deeper than ``limit`` (a flat scan, no recursion)."""
    depth = 0
    for byte in _STRINGS.sub(b"", raw):
        if byte in b"[{":
            depth += 1
            if depth > limit:
                return True
        elif byte in b"]}":
            depth -= 1
    return False


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _clean(value: Any) -> Any:
    """Lone surrogates (valid JSON escapes, invalid text) become U+FFFD; depth is bounded by ``too_deep``."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8") if not value.isascii() else value
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


async def _read(request: Request) -> bytes:
    """The body, read chunk by chunk and refused (413) as soon as it passes MAX_WEBHOOK_BODY."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_WEBHOOK_BODY:
            raise HTTPException(413, "payload too large")
        chunks.append(chunk)
    return b"".join(chunks)


def _check_shape(raw: bytes) -> None:
    if too_deep(raw):
        raise HTTPException(400, "JSON nested too deeply")


def _parse(raw: bytes) -> dict[str, Any]:
    _check_shape(raw)
    try:
        data = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise HTTPException(400, "invalid JSON") from None
    if not isinstance(data, dict):
        raise HTTPException(400, "expected a JSON object")
    cleaned: dict[str, Any] = _clean(data)
    return cleaned


async def _body(request: Request) -> tuple[bytes, dict[str, Any]]:
    raw = await _read(request)
    return raw, _parse(raw)


def _parsed(parse: Callable[[dict[str, Any]], InboundResult], data: dict[str, Any], channel: str) -> InboundResult:
    """The adapters give every odd payload a defined outcome; this is the net under them."""
    try:
        return parse(data)
    except Exception:
        log.warning("%s update could not be parsed; ignored", channel, exc_info=True)
        return InboundResult(None, "ignored:malformed")


async def _accept(container: Container, channel: str, raw: bytes, result: InboundResult) -> JSONResponse:
    """Store the event (idempotently) and acknowledge; ignored events are recorded (digest and outcome only,
    never their content), never processed."""
    if result.message is None:
        digest = hashlib.sha256(raw).hexdigest()[:32]
        await asyncio.to_thread(container.record_ignored, channel, digest, result.outcome)
        return JSONResponse({"ok": True, "outcome": result.outcome})
    stored = await asyncio.to_thread(container.intake.store, result.message)
    if not stored.duplicate:
        container.wake_inbound()
    return JSONResponse({"ok": True, "outcome": "duplicate" if stored.duplicate else result.outcome})


@router.post("/telegram")
async def telegram(request: Request, container: ContainerDep) -> JSONResponse:
    from bot.telegram import parse_update, verify_secret

    settings = container.settings
    if not settings.telegram_token:
        raise HTTPException(404, "Telegram is not configured")
    if not verify_secret(request.headers.get("X-Telegram-Bot-Api-Secret-Token"), settings.telegram_secret):
        raise HTTPException(403, "wrong secret token")
    raw, data = await _body(request)
    result = _parsed(parse_update, data, "telegram")
    response = await _accept(container, "telegram", raw, result)
    callback_id = getattr(result, "callback_query_id", None)
    if callback_id:
        container.spawn(container.answer_telegram_callback(callback_id))
    return response


@router.post("/zalo")
async def zalo(request: Request, container: ContainerDep) -> JSONResponse:
    from bot.zalo import parse_event, verify_signature

    settings = container.settings
    if not settings.zalo_oa_secret:
        raise HTTPException(404, "Zalo OA is not configured")
    raw = await _read(request)
    signature = request.headers.get("X-ZEvent-Signature")
    if not signature:
        raise HTTPException(401, "missing X-ZEvent-Signature")
    _check_shape(raw)  # the signature check parses the body: refuse deep nesting first
    try:
        ok = verify_signature(raw, signature, settings.zalo_oa_secret, request.headers.get("X-ZEvent-Timestamp"))
    except (ValueError, RecursionError):
        ok = False
    if not ok:
        raise HTTPException(401, "invalid X-ZEvent-Signature")
    return await _accept(container, "zalo", raw, _parsed(parse_event, _parse(raw), "zalo"))


@router.post("/zalobot")
async def zalobot(request: Request, container: ContainerDep) -> JSONResponse:
    from bot.zalobot import parse_update, verify_secret

    settings = container.settings
    if not settings.zalobot_token:
        raise HTTPException(404, "Zalo Bot is not configured")
    if not verify_secret(request.headers.get("X-Bot-Api-Secret-Token"), settings.zalobot_secret):
        raise HTTPException(403, "wrong secret token")
    raw, data = await _body(request)
    return await _accept(container, "zalobot", raw, _parsed(parse_update, data, "zalobot"))
