"""Password hashing (argon2), signed bearer tokens and CSRF tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# A fixed hash to verify against when the username is unknown, so timing does not reveal which usernames exist.
_DUMMY_HASH = _hasher.hash("gopy-dummy-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    """Compact signed tokens: base64(json payload) + '.' + base64(HMAC-SHA256)."""

    def __init__(self, secret: str, purpose: str) -> None:
        self._key = hashlib.sha256(f"{purpose}:{secret}".encode()).digest()

    def sign(self, payload: dict[str, Any], ttl_seconds: int) -> str:
        body = dict(payload, exp=int(time.time()) + ttl_seconds, n=secrets.token_hex(4))
        raw = _b64(json.dumps(body, separators=(",", ":")).encode())
        mac = _b64(hmac.new(self._key, raw.encode(), hashlib.sha256).digest())
        return f"{raw}.{mac}"

    def verify(self, token: str) -> dict[str, Any] | None:
        try:
            raw, mac = token.split(".", 1)
            expected = _b64(hmac.new(self._key, raw.encode(), hashlib.sha256).digest())
            if not hmac.compare_digest(mac, expected):
                return None
            body: dict[str, Any] = json.loads(_unb64(raw))
        except (ValueError, json.JSONDecodeError):
            return None
        if not isinstance(body, dict) or int(body.get("exp", 0)) < time.time():
            return None
        return body


def csrf_token(secret: str, session_token: str) -> str:
    return hmac.new(secret.encode(), f"csrf:{session_token}".encode(), hashlib.sha256).hexdigest()


def csrf_ok(secret: str, session_token: str, submitted: str | None) -> bool:
    return bool(submitted) and hmac.compare_digest(csrf_token(secret, session_token), submitted or "")
