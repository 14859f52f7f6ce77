"""Platform webhooks: verify, store once, acknowledge at once; the intake worker processes afterwards."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from backend.api.deps import ContainerDep
from backend.container import Container
from bot.base import InboundResult

log = logging.getLogger(__name__)
router = APIRouter(prefix="/webhooks", tags=["webhooks"])
MAX_WEBHOOK_BODY = 256_000


async def _body(request: Request) -> tuple[bytes, dict[str, Any]]:
    raw = await request.body()
    if len(raw) > MAX_WEBHOOK_BODY:
        raise HTTPException(413, "payload too large")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise HTTPException(400, "invalid JSON") from None
    if not isinstance(data, dict):
        raise HTTPException(400, "expected a JSON object")
    return raw, data


async def _accept(container: Container, channel: str, raw: bytes, result: InboundResult) -> JSONResponse:
    """Store the event (idempotently) and acknowledge; ignored events are recorded, never processed."""
    if result.message is None:
        digest = hashlib.sha256(raw).hexdigest()[:32]
        await asyncio.to_thread(container.record_ignored, channel, digest, result.outcome, raw)
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
    result = parse_update(data)
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
    raw = await request.body()
    if len(raw) > MAX_WEBHOOK_BODY:
        raise HTTPException(413, "payload too large")
    signature = request.headers.get("X-ZEvent-Signature")
    if not signature:
        raise HTTPException(401, "missing X-ZEvent-Signature")
    try:
        ok = verify_signature(raw, signature, settings.zalo_oa_secret, request.headers.get("X-ZEvent-Timestamp"))
    except ValueError:
        ok = False
    if not ok:
        raise HTTPException(401, "invalid X-ZEvent-Signature")
    raw, data = await _body(request)
    return await _accept(container, "zalo", raw, parse_event(data))


@router.post("/zalobot")
async def zalobot(request: Request, container: ContainerDep) -> JSONResponse:
    from bot.zalobot import parse_update, verify_secret

    settings = container.settings
    if not settings.zalobot_token:
        raise HTTPException(404, "Zalo Bot is not configured")
    if not verify_secret(request.headers.get("X-Bot-Api-Secret-Token"), settings.zalobot_secret):
        raise HTTPException(403, "wrong secret token")
    raw, data = await _body(request)
    return await _accept(container, "zalobot", raw, parse_update(data))
