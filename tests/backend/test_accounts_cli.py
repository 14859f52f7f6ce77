"""`gopy admin create-official / set-password / revoke-tokens / deactivate-official`: the password policy and
revocation of an official's sessions and API tokens from the command line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from backend.cli import app as cli
from backend.config import get_settings
from backend.db.migrate import upgrade
from backend.db.models import AuditLog, Official, OfficialSession, OrgUnit
from backend.services.accounts import open_console_session
from backend.services.security import verify_password


@pytest.fixture
def db(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'g.db'}"
    monkeypatch.setenv("GOPY_DATABASE_URL", url)
    monkeypatch.setenv("GOPY_REDIS_URL", "")
    monkeypatch.setenv("GOPY_MODEL_DIR", str(tmp_path / "models"))
    engine = create_engine(url)
    upgrade(engine)
    with Session(engine) as s:
        s.add(OrgUnit(code="TW", name="Ủy ban Trung ương MTTQ Việt Nam", short_name="TW", level="central"))
        s.commit()
    engine.dispose()
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def _create(username: str, password: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli,
        ["admin", "create-official", "--username", username, "--unit", "TW", "--password-stdin"],
        input=password + "\n",
    )
    return result.exit_code, result.output


def _officials(url: str) -> dict[str, tuple[bool, int, str]]:
    engine = create_engine(url)
    with Session(engine) as s:
        rows = {o.username: (o.active, o.token_version, o.password_hash) for o in s.scalars(select(Official))}
    engine.dispose()
    return rows


@pytest.mark.parametrize(
    ("password", "english", "vietnamese"),
    [
        ("ngan-qua", "at least 12 characters", "ít nhất 12 ký tự"),
        ("aaaaaaaaaaaa", "trivial pattern", "quá đơn giản"),
        ("abcabcabcabc", "trivial pattern", "quá đơn giản"),
        ("123456789012", "trivial pattern", "quá đơn giản"),
        ("qwertyuiopasdfgh", "trivial pattern", "quá đơn giản"),
        ("iloveyou2024", "common passwords", "mật khẩu phổ biến"),
    ],
)
def test_create_official_says_why_a_password_is_refused(db: str, password: str, english: str, vietnamese: str) -> None:
    code, output = _create("canbo.tw", password)
    flat = " ".join(output.split())
    assert code != 0 and english in flat and vietnamese in flat, output
    assert password not in output
    assert _officials(db) == {}


def test_create_official_with_a_good_password(db: str) -> None:
    code, output = _create("canbo.tw", "đèn-đường-Hàng-Bài-2025")
    assert code == 0, output
    assert verify_password("đèn-đường-Hàng-Bài-2025", _officials(db)["canbo.tw"][2])


def test_set_password_applies_the_policy_and_revokes_sessions(db: str) -> None:
    assert _create("canbo.tw", "đèn-đường-Hàng-Bài-2025")[0] == 0
    args = ["admin", "set-password", "--username", "canbo.tw", "--password-stdin"]
    result = CliRunner().invoke(cli, args, input="aaaaaaaaaaaa\n")
    assert result.exit_code != 0 and "quá đơn giản" in result.output
    result = CliRunner().invoke(cli, args, input="cầu-Long-Biên-mùa-lũ\n")
    assert result.exit_code == 0, result.output
    active, version, password_hash = _officials(db)["canbo.tw"]
    assert active and version == 1 and verify_password("cầu-Long-Biên-mùa-lũ", password_hash)


def test_revoke_tokens_and_deactivate_end_sessions(db: str) -> None:
    assert _create("canbo.tw", "đèn-đường-Hàng-Bài-2025")[0] == 0
    engine = create_engine(db)
    with Session(engine) as s:
        open_console_session(s, s.scalars(select(Official)).one(), 3600)
        s.commit()
    result = CliRunner().invoke(cli, ["admin", "revoke-tokens", "--username", "canbo.tw"])
    assert result.exit_code == 0, result.output
    with Session(engine) as s:
        assert s.scalars(select(OfficialSession)).one().revoked_at is not None
        assert s.scalars(select(Official)).one().token_version == 1
    result = CliRunner().invoke(cli, ["admin", "deactivate-official", "--username", "canbo.tw"])
    assert result.exit_code == 0, result.output
    assert _officials(db)["canbo.tw"][:2] == (False, 2)
    with Session(engine) as s:
        assert [a.action for a in s.scalars(select(AuditLog).order_by(AuditLog.id))] == [
            "create",
            "revoke_tokens",
            "deactivate",
        ]
    engine.dispose()
    result = CliRunner().invoke(cli, ["admin", "revoke-tokens", "--username", "khong.co"])
    assert result.exit_code != 0 and "khong.co" in result.output
