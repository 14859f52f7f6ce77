from __future__ import annotations

import time

from backend.services.security import TokenSigner, csrf_ok, csrf_token, hash_password, verify_password


def test_password_hashing_uses_argon2() -> None:
    h = hash_password("mật khẩu rất dài")
    assert h.startswith("$argon2")
    assert verify_password("mật khẩu rất dài", h)
    assert not verify_password("sai", h)
    assert not verify_password("anything", None)
    assert not verify_password("anything", "not-a-hash")


def test_tokens_are_signed_and_expire() -> None:
    signer = TokenSigner("secret", "api")
    token = signer.sign({"sub": 7}, ttl_seconds=60)
    assert signer.verify(token)["sub"] == 7  # type: ignore[index]
    assert TokenSigner("other", "api").verify(token) is None
    assert TokenSigner("secret", "console").verify(token) is None  # purposes do not mix
    raw, mac = token.split(".")
    assert signer.verify(raw + "x." + mac) is None
    assert signer.verify("garbage") is None
    expired = signer.sign({"sub": 7}, ttl_seconds=-1)
    time.sleep(0.01)
    assert signer.verify(expired) is None


def test_csrf_tokens_bind_to_the_session() -> None:
    tok = csrf_token("s", "session-a")
    assert csrf_ok("s", "session-a", tok)
    assert not csrf_ok("s", "session-b", tok)
    assert not csrf_ok("s", "session-a", None)
