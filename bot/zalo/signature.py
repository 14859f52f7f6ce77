"""Zalo OA webhook signature: ``X-ZEvent-Signature: mac=<sha256 hex of app_id + raw body + timestamp + OA secret>``.

A plain SHA-256 of the joined string (not an HMAC), with the *OA* secret key; ``app_id`` and ``timestamp`` come
from the JSON body; the raw bytes are used as received.
"""

from __future__ import annotations

import hashlib
import hmac
import json


def expected_signature(raw: bytes, oa_secret: str, timestamp: str | None = None) -> str:
    body = json.loads(raw)
    app_id = str(body.get("app_id", ""))
    ts = timestamp if timestamp is not None else str(body.get("timestamp", ""))
    digest = hashlib.sha256(app_id.encode() + raw + ts.encode() + oa_secret.encode()).hexdigest()
    return f"mac={digest}"


def verify_signature(raw: bytes, header: str | None, oa_secret: str, header_timestamp: str | None = None) -> bool:
    """True if the header matches; body timestamp first, then the ``X-ZEvent-Timestamp`` header if given."""
    if not header or not oa_secret:
        return False
    given = header.strip().lower().removeprefix("mac=")
    try:
        candidates = [expected_signature(raw, oa_secret)]
        if header_timestamp:
            candidates.append(expected_signature(raw, oa_secret, header_timestamp))
    except (ValueError, AttributeError):  # not JSON, or not an object
        return False
    return any(hmac.compare_digest(c.removeprefix("mac=").encode(), given.encode()) for c in candidates)
