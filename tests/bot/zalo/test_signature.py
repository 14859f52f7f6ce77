"""X-ZEvent-Signature: mac= + sha256(app_id + raw body + timestamp + OA secret)."""

from __future__ import annotations

import hashlib
import json

from hypothesis import given
from hypothesis import strategies as st

from bot.zalo import expected_signature, verify_signature

SECRET = "oa-Secret-KEY"
RAW = json.dumps(
    {
        "app_id": "431",
        "event_name": "user_send_text",
        "timestamp": "1795000000000",
        "sender": {"id": "9"},
        "message": {"msg_id": "m1", "text": "Xin chào"},
    },
    ensure_ascii=False,
).encode()


def test_matches_the_documented_formula() -> None:
    manual = hashlib.sha256(b"431" + RAW + b"1795000000000" + SECRET.encode()).hexdigest()
    assert expected_signature(RAW, SECRET) == f"mac={manual}"
    assert verify_signature(RAW, f"mac={manual}", SECRET)
    assert verify_signature(RAW, f"MAC={manual.upper()}", SECRET)  # case of the hex digits is not significant


def test_rejects_missing_wrong_and_tampered() -> None:
    good = expected_signature(RAW, SECRET)
    assert not verify_signature(RAW, None, SECRET)
    assert not verify_signature(RAW, "", SECRET)
    assert not verify_signature(RAW, good, "other-secret")
    assert not verify_signature(RAW, good, "")  # an unset secret accepts nothing
    assert not verify_signature(RAW.replace(b"Xin", b"Xim"), good, SECRET)
    assert not verify_signature(b"not json", good, SECRET)
    assert not verify_signature(b"[1, 2]", good, SECRET)


def test_header_timestamp_is_accepted_when_it_differs_from_the_body() -> None:
    sig = expected_signature(RAW, SECRET, "1795000000123")
    assert not verify_signature(RAW, sig, SECRET)
    assert verify_signature(RAW, sig, SECRET, "1795000000123")


@given(st.binary(max_size=64))
def test_arbitrary_headers_never_raise(header: bytes) -> None:
    assert verify_signature(RAW, header.decode("latin-1"), SECRET) is False
