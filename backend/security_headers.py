"""Security headers on every response: CSP, framing, sniffing, referrer, and no caching of officials' data.

- Officials' console (``/console``): a strict policy (scripts and styles only from the console's own static files,
  no inline code at all), ``X-Frame-Options: DENY`` with ``frame-ancestors 'none'``, ``Cache-Control: no-store``.
- JSON API, Open311 and webhooks: ``default-src 'none'``, no framing, ``Cache-Control: no-store``.
- Web chat page (``/chat``) and the API documentation (``/docs``): their own policies; their inline
  ``<script>``/``<style>`` blocks are allowed by their SHA-256 hashes, computed from the page as it is served (so
  the policy follows the page when it changes).

A header a route already set is left alone. A pure ASGI middleware, so streamed responses are not buffered
(except the small web chat page, which must be read whole to hash it).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONSOLE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)  # connect-src: the live updates (EventSource /console/events) and the list's refresh (fetch)
API_CSP = "default-src 'none'; frame-ancestors 'none'"
CHAT_CSP = (
    "default-src 'self'; script-src 'self' {scripts}; style-src 'self' {styles}; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'self'; base-uri 'none'; object-src 'none'"
)
COMMON = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer"}
_INLINE = {tag: re.compile(rf"<{tag}>(.*?)</{tag}>", re.S) for tag in ("script", "style")}
DOCS_CSP = (  # /docs (Swagger UI, bundled: backend/console/api_docs.py) and its OAuth2 redirect page
    "default-src 'none'; script-src 'self' {scripts}; style-src 'self' {styles}; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
HASHED_PAGES = {"/chat": CHAT_CSP, "/docs": DOCS_CSP, "/docs/oauth2-redirect": DOCS_CSP}


def inline_hashes(html: str, tag: str) -> list[str]:
    """CSP source expressions for the inline ``<tag>`` blocks (without attributes) of ``html``."""
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in _INLINE[tag].findall(html)
    ]


def headers_for(path: str) -> dict[str, str]:
    if path == "/console" or path.startswith("/console/"):
        extra = {"content-security-policy": CONSOLE_CSP, "x-frame-options": "DENY"}
        if not path.startswith("/console/static/"):
            extra["cache-control"] = "no-store"
        return COMMON | extra
    if path.startswith(("/api/", "/open311/", "/webhooks/")):
        return COMMON | {"content-security-policy": API_CSP, "x-frame-options": "DENY", "cache-control": "no-store"}
    if path in HASHED_PAGES:
        return dict(COMMON)
    return COMMON | {"x-frame-options": "DENY"}


def _merge(raw: Iterable[tuple[bytes, bytes]], wanted: dict[str, str]) -> list[tuple[bytes, bytes]]:
    headers = list(raw)
    present = {name.decode("latin-1").lower() for name, _ in headers}
    headers += [(k.encode(), v.encode()) for k, v in wanted.items() if k not in present]
    return headers


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        wanted = headers_for(path)
        if path in HASHED_PAGES:
            await self._hashed(scope, receive, send, wanted)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message, headers=_merge(message.get("headers", []), wanted))
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _hashed(self, scope: Scope, receive: Receive, send: Send, wanted: dict[str, str]) -> None:
        start: Message | None = None
        chunks: list[bytes] = []

        async def buffer(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            html = body.decode("utf-8", errors="replace")
            csp = HASHED_PAGES[scope["path"]].format(
                scripts=" ".join(inline_hashes(html, "script")), styles=" ".join(inline_hashes(html, "style"))
            )
            headers = _merge(start.get("headers", []), wanted | {"content-security-policy": csp})
            await send(dict(start, headers=headers))
            await send({"type": "http.response.body", "body": body, "more_body": False})

        await self.app(scope, receive, buffer)
