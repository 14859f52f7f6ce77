"""The password policy: at least 12 characters, no trivial patterns, not a common password, not the login name."""

from __future__ import annotations

import pytest

from backend.services.passwords import (
    COMMON_PASSWORDS,
    WeakPassword,
    check_password,
    common_passwords,
    password_problem,
)


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("", "empty"),
        (" " * 14, "empty"),
        ("short-1", "at least 12"),
        ("ngắn-quá-1", "at least 12"),
        ("aaaaaaaaaaaa", "trivial"),
        ("abcabcabcabc", "trivial"),
        ("123456789012", "trivial"),
        ("987654321098", "trivial"),
        ("abcdefghijklmnop", "trivial"),
        ("ababababababa1", "trivial"),
        ("passwordpassword", "trivial"),
        ("1qaz2wsx3edc", "common"),
        ("qwertyuiopasdfgh", "trivial"),
        ("mnbvcxzlkjhgfdsa", "trivial"),
        ("123qweasdzxc", "common"),
        ("iloveyou2024", "common"),
        ("Password123!", "common"),
        ("Mat-Khau-123456", "common"),
        ("xa.hk-2025-secret", "login name"),
    ],
)
def test_weak_passwords_are_refused_with_a_reason(password: str, why: str) -> None:
    problem = password_problem(password, username="xa.hk")
    assert problem is not None and why in problem
    assert " / " in problem  # English / Tiếng Việt
    with pytest.raises(WeakPassword):
        check_password(password, "xa.hk")


@pytest.mark.parametrize(
    "password", ["ngõ-Hàng-Bài-đèn-sáng", "correct horse battery staple", "7kQ!vz2#Lm9p", "Tr0ub4dor&3-mattran"]
)
def test_reasonable_passwords_pass(password: str) -> None:
    assert password_problem(password, username="xa.hk") is None


def test_the_bundled_list_is_large_and_says_where_it_comes_from() -> None:
    header = [line for line in COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines() if line.startswith("#")]
    assert any("zxcvbn" in line for line in header)
    words = common_passwords()
    assert len(words) > 25_000 and {"password", "iloveyou", "matkhau"} <= words
    assert all(w == w.lower() for w in words)
