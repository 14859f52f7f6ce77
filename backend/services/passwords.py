"""Password policy for officials' accounts: long enough, not trivial, not a common password.

Applied wherever a password is set (``gopy admin create-official``, ``gopy admin set-password``). The reasons are
bilingual because the command line is read by administrators of either language.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from itertools import pairwise
from pathlib import Path

from backend.config import bundled_data_dir

MIN_LENGTH = 12
MAX_LENGTH = 1024
COMMON_PASSWORDS = bundled_data_dir() / "security" / "common-passwords.txt"  # shipped inside the wheel


class WeakPassword(ValueError):
    """A password the policy refuses; ``str(exc)`` says why, in English and Vietnamese."""


@lru_cache(maxsize=4)
def common_passwords(path: Path = COMMON_PASSWORDS) -> frozenset[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def _is_sequence(text: str) -> bool:
    """Every character one step after (or before) the previous: ``123456789012``, ``abcdefghijkl``, ``987654321098``."""
    if len(text) < 3:
        return False

    def step(a: str, b: str) -> int | None:
        if a.isdigit() and b.isdigit():
            return (int(b) - int(a)) % 10
        if a.isalpha() and b.isalpha() and a.isascii() and b.isascii():
            return (ord(b) - ord(a)) % 26
        return None

    steps = {step(a, b) for a, b in pairwise(text)}
    return steps in ({1}, {9}, {25})


KEYBOARD_ROWS = "qwertyuiopasdfghjklzxcvbnm 1234567890-= qwertzuiopasdfghjklyxcvbnm azertyuiopqsdfghjklmwxcvbn"


def _is_keyboard_run(text: str) -> bool:
    """A walk along the keyboard rows: ``qwertyuiopasdfgh``, ``poiuytrewqas``."""
    return text in KEYBOARD_ROWS or text in KEYBOARD_ROWS[::-1]


def _is_repetition(text: str) -> bool:
    """The same short unit over and over: ``aaaaaaaaaaaa``, ``abcabcabcabc``, ``12121212121212``."""
    n = len(text)
    return any(n % size == 0 and text[:size] * (n // size) == text for size in range(1, n // 2 + 1))


def _candidates(lowered: str) -> set[str]:
    """The password and its core: separators removed, a short run of digits or symbols cut off either end."""
    forms = {lowered, re.sub(r"[\W_]+", "", lowered)}
    for form in list(forms):
        core = re.sub(r"^[\d\W_]{1,6}", "", re.sub(r"[\d\W_]{1,6}$", "", form))
        if len(core) >= 4:
            forms.add(core)
    return forms


def password_problem(password: str, username: str = "") -> str | None:
    """Why ``password`` is refused, or ``None`` when it is acceptable."""
    password = unicodedata.normalize("NFC", password)
    lowered = password.casefold()
    if not password.strip():
        return "the password is empty / mật khẩu đang để trống"
    if len(password) < MIN_LENGTH:
        return (
            f"the password must have at least {MIN_LENGTH} characters (it has {len(password)}) / "
            f"mật khẩu phải có ít nhất {MIN_LENGTH} ký tự (mật khẩu này có {len(password)})"
        )
    if len(password) > MAX_LENGTH:
        return f"the password is longer than {MAX_LENGTH} characters / mật khẩu dài quá {MAX_LENGTH} ký tự"
    if _is_repetition(lowered) or _is_sequence(lowered) or _is_keyboard_run(lowered) or len(set(lowered)) < 4:
        return (
            "the password is a trivial pattern (repeated or consecutive characters) / "
            "mật khẩu quá đơn giản (ký tự lặp lại hoặc liên tiếp nhau)"
        )
    name = username.casefold().strip()
    if len(name) >= 3 and (name in lowered or re.sub(r"[\W_]+", "", name) in re.sub(r"[\W_]+", "", lowered)):
        return "the password must not contain the login name / mật khẩu không được chứa tên đăng nhập"
    if _candidates(lowered) & common_passwords():
        return (
            "the password is on the list of common passwords that attackers try first / "
            "mật khẩu nằm trong danh sách mật khẩu phổ biến mà kẻ tấn công thường thử đầu tiên"
        )
    return None


def check_password(password: str, username: str = "") -> None:
    """Raise :class:`WeakPassword` when the policy refuses ``password``."""
    problem = password_problem(password, username)
    if problem is not None:
        raise WeakPassword(problem)
