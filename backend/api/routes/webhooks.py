"""Platform webhooks (``POST /webhooks/{name}``): verify, store once, acknowledge at once; the intake worker
processes afterwards.

The one path of the API served as a bare ASGI app in front of FastAPI (``backend/app.py`` hands it every
``/webhooks/`` request): during a flood it takes thousands of requests a second, and FastAPI's middleware layers,
dependency solving and response classes cost several times the work of the webhook itself (docs/capacity.md). It
does itself what those layers did for it: the body limit, the security headers of the JSON API, errors as
``{"detail": ...}`` with their status, and a logged 500 for anything unexpected.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Callable
from typing import Any

from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send

from backend.http_limits import CLOSE, TOO_LARGE, declared_length_refusal
from backend.security_headers import headers_for
from backend.services.channels import ChannelHub
from bot.base import InboundResult
from bot.registry import Channel, WebhookRefused

log = logging.getLogger(__name__)
PREFIX = "/webhooks/"
MAX_WEBHOOK_BODY = 256_000


class Refused(Exception):
    """A request answered with an error status and ``{"detail": detail}``."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers or {}


MAX_DEPTH = 32  # platform payloads nest a handful of levels; deeper is refused before any parsing
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")  # the escapes of U+D800..U+DFFF
_LONE = re.compile("[\ud800-\udfff]")


def too_deep(raw: bytes, limit: int = MAX_DEPTH) -> bool:
    """True if the JSON text nests arrays/objects deeper than ``limit`` (a flat scan, no recursion)."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False  # fewer openings than the limit, even counting those inside strings
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
        return _LONE.sub("\ufffd", value) if not value.isascii() else value
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


async def _read(receive: Receive, headers: Headers) -> bytes:
    """The body: refused (413) at once when its declared length passes MAX_WEBHOOK_BODY, and while streaming as soon
    as the bytes received pass it, without reading the rest (the connection is then closed)."""
    refusal = declared_length_refusal(headers, MAX_WEBHOOK_BODY)
    if refusal is not None:
        raise Refused(*refusal, CLOSE)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away: nothing to store, nobody to answer
            raise Refused(400, "request not received whole")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_WEBHOOK_BODY:
            raise Refused(413, TOO_LARGE, CLOSE)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _check_shape(raw: bytes) -> None:
    if too_deep(raw):
        raise Refused(400, "JSON nested too deeply")


def _parse(raw: bytes) -> dict[str, Any]:
    """The JSON object of a body whose nesting was checked (``_check_shape``)."""
    try:
        data = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise Refused(400, "invalid JSON") from None
    if not isinstance(data, dict):
        raise Refused(400, "expected a JSON object")
    if not _SURROGATE.search(raw):
        return data  # no escape that could decode to a lone surrogate: nothing to clean
    cleaned: dict[str, Any] = _clean(data)
    return cleaned


def _parsed(channel: Channel[Any], data: dict[str, Any]) -> InboundResult:
    """The adapters give every odd payload a defined outcome; this is the net under them."""
    try:
        return channel.parse(data)
    except Exception:
        log.warning("%s update could not be parsed; ignored", channel.name, exc_info=True)
        return InboundResult(None, "ignored:malformed")


async def receive_webhook(channels: ChannelHub, name: str, scope: Scope, receive: Receive) -> str:
    """A platform's webhook (``telegram``, ``zalo``, ``zalobot``: every channel of the registry in bot/registry.py):
    checked, stored once and acknowledged at once; the intake worker processes it afterwards."""
    channel = channels.get(name)
    if channel is None:
        raise Refused(404, "Not Found")
    if not channel.configured:
        raise Refused(404, f"{channel.title} is not configured")
    headers = Headers(scope=scope)
    try:
        channel.check_headers(headers)  # before reading the body: a stranger's request costs nothing
        raw = await _read(receive, headers)
        _check_shape(raw)  # signature checks parse the body: refuse deep nesting first
        channel.verify(headers, raw)
    except WebhookRefused as exc:
        raise Refused(exc.status, exc.detail) from None
    result = _parsed(channel, _parse(raw))
    outcome = await channels.accept(channel.name, raw, result)
    follow_up = channel.after_accept(result, channels)
    if follow_up is not None:
        channels.spawn(follow_up)
    return outcome


_SECURITY = [(k.encode(), v.encode()) for k, v in headers_for(PREFIX).items()]
_JSON = [(b"content-type", b"application/json")]


Answer = tuple[list[tuple[bytes, bytes]], bytes]  # the response's headers and body


def _answer(body: dict[str, Any], extra: dict[str, str] | None = None) -> Answer:
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    headers = [*_JSON, (b"content-length", str(len(content)).encode()), *_SECURITY]
    headers += [(k.lower().encode(), v.encode()) for k, v in (extra or {}).items()]
    return headers, content


@functools.lru_cache(maxsize=64)  # bounded: a platform names the events it sends (ignored:<event>)
def _acknowledgement(outcome: str) -> Answer:
    """The answer to a stored event, built once per outcome (a handful: accepted, duplicate, ignored:...)."""
    return _answer({"ok": True, "outcome": outcome})


async def _respond(send: Send, status: int, answer: Answer) -> None:
    await send({"type": "http.response.start", "status": status, "headers": answer[0]})
    await send({"type": "http.response.body", "body": answer[1]})


def document(schema: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """The endpoint in the OpenAPI document (it is not a FastAPI route, so FastAPI cannot describe it)."""
    detail = {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPError"}}}
    refusals = {
        "400": "invalid JSON, nesting deeper than 32 levels, or not a JSON object",
        "403": "the platform's secret token or signature does not match",
        "404": "no such channel, or the channel is not configured",
        "413": f"body over {MAX_WEBHOOK_BODY:,} bytes",
        "500": "not stored (the platform delivers the update again)",
    }
    ok = {"type": "object", "properties": {"ok": {"type": "boolean"}, "outcome": {"type": "string"}}}
    schema.setdefault("components", {}).setdefault("schemas", {}).setdefault(
        "HTTPError", {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}
    )
    schema.setdefault("paths", {})[PREFIX + "{name}"] = {
        "post": {
            "tags": ["webhooks"],
            "summary": "A platform's webhook",
            "description": receive_webhook.__doc__ or "",
            "operationId": "webhook",
            "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"enum": names}}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
            "responses": {
                "200": {
                    "description": "stored, or a redelivery (outcome duplicate), or an update gopy ignores",
                    "content": {"application/json": {"schema": ok}},
                },
                **{code: {"description": text, "content": detail} for code, text in refusals.items()},
            },
        }
    }
    return schema


class WebhookEndpoint:
    """Every request under ``/webhooks/``, as a bare ASGI app (see the module's docstring)."""

    def __init__(self, channels: Callable[[], ChannelHub]) -> None:
        self._channels = channels  # looked up per request: tests replace the container's services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        name = scope["path"][len(PREFIX) :]
        try:
            if not name or "/" in name:
                raise Refused(404, "Not Found")
            if scope["method"] != "POST":
                raise Refused(405, "Method Not Allowed", {"allow": "POST"})
            outcome = await receive_webhook(self._channels(), name, scope, receive)
        except Refused as exc:
            await _respond(send, exc.status, _answer({"detail": exc.detail}, exc.headers))
            return
        except Exception:
            log.exception("webhook %s could not be stored", name[:40])  # not acknowledged: the platform retries
            await _respond(send, 500, _answer({"detail": "Internal Server Error"}))
            return
        await _respond(send, 200, _acknowledgement(outcome))
