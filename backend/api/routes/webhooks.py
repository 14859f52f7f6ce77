"""Platform webhooks: verify, store once, acknowledge at once; the intake worker processes afterwards."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from backend.api.deps import ChannelsDep
from bot.base import InboundResult
from bot.registry import Channel, WebhookRefused

log = logging.getLogger(__name__)
router = APIRouter(prefix="/webhooks", tags=["webhooks"])
MAX_WEBHOOK_BODY = 256_000


MAX_DEPTH = 32  # platform payloads nest a handful of levels; deeper is refused before any parsing
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


def too_deep(raw: bytes, limit: int = MAX_DEPTH) -> bool:
    """True if the JSON text nests arrays/objects deeper than ``limit`` (a flat scan, no recursion)."""
    bare = _STRINGS.sub(b"", raw)
    if bare.count(b"[") + bare.count(b"{") <= limit:
        return False  # fewer openings than the limit: no need to follow the nesting
    depth = 0
    for byte in bare:
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
    """The JSON object of a body whose nesting was checked (``_check_shape``)."""
    try:
        data = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise HTTPException(400, "invalid JSON") from None
    if not isinstance(data, dict):
        raise HTTPException(400, "expected a JSON object")
    cleaned: dict[str, Any] = _clean(data)
    return cleaned


def _parsed(channel: Channel[Any], data: dict[str, Any]) -> InboundResult:
    """The adapters give every odd payload a defined outcome; this is the net under them."""
    try:
        return channel.parse(data)
    except Exception:
        log.warning("%s update could not be parsed; ignored", channel.name, exc_info=True)
        return InboundResult(None, "ignored:malformed")


@router.post("/{name}")
async def webhook(name: str, request: Request, channels: ChannelsDep) -> JSONResponse:
    """A platform's webhook (``telegram``, ``zalo``, ``zalobot``: every channel of the registry in bot/registry.py):
    checked, stored once and acknowledged at once; the intake worker processes it afterwards."""
    channel = channels.get(name)
    if channel is None:
        raise HTTPException(404, "Not Found")
    if not channel.configured:
        raise HTTPException(404, f"{channel.title} is not configured")
    try:
        channel.check_headers(request.headers)  # before reading the body: a stranger's request costs nothing
        raw = await _read(request)
        _check_shape(raw)  # signature checks parse the body: refuse deep nesting first
        channel.verify(request.headers, raw)
    except WebhookRefused as exc:
        raise HTTPException(exc.status, exc.detail) from None
    result = _parsed(channel, _parse(raw))
    outcome = await channels.accept(channel.name, raw, result)
    channels.spawn(channel.after_accept(result, channels))
    return JSONResponse({"ok": True, "outcome": outcome})
