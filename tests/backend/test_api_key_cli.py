"""`gopy admin create-api-key`: every key is scoped to a unit's subtree, named explicitly and validated."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from backend.cli import app as cli
from backend.config import get_settings
from backend.db.migrate import upgrade
from backend.db.models import ApiKey, OrgUnit

UNITS = [
    ("TW", "Ủy ban Trung ương MTTQ Việt Nam", "central", None),
    ("01", "Thành phố Hà Nội", "province", "TW"),
    ("00070", "Phường Hoàn Kiếm", "commune", "01"),
]


@pytest.fixture
def db(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'g.db'}"
    monkeypatch.setenv("GOPY_DATABASE_URL", url)
    monkeypatch.setenv("GOPY_REDIS_URL", "")
    monkeypatch.setenv("GOPY_MODEL_DIR", str(tmp_path / "models"))
    engine = create_engine(url)
    upgrade(engine)
    with Session(engine) as s:
        for code, name, level, parent in UNITS:
            s.add(OrgUnit(code=code, name=name, short_name=name, level=level, parent_code=parent))
            s.flush()
        s.commit()
    engine.dispose()
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def _keys(url: str) -> list[tuple[str, str, str]]:
    engine = create_engine(url)
    with Session(engine) as s:
        rows = [(k.name, k.unit_code, k.key_hash) for k in s.scalars(select(ApiKey).order_by(ApiKey.id))]
    engine.dispose()
    return rows


def test_a_key_is_created_for_the_given_unit(db: str) -> None:
    result = CliRunner().invoke(cli, ["admin", "create-api-key", "--name", "Cổng dữ liệu Hà Nội", "--unit", "01"])
    assert result.exit_code == 0, result.output
    key = result.stdout.strip().splitlines()[-1]
    assert key.startswith("gopy_")
    assert _keys(db) == [("Cổng dữ liệu Hà Nội", "01", hashlib.sha256(key.encode()).hexdigest())]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--unit", "99999"], "unknown unit code '99999'"),
        (["--unit", ""], "unknown unit code ''"),
        (["--unit", "01", "--name", " "], "name: 1-100 characters"),
        ([], "--unit"),  # required: a key that reads the whole country is asked for with --unit TW
    ],
)
def test_the_unit_is_required_and_validated(db: str, args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["admin", "create-api-key", "--name", "x", *args])
    assert result.exit_code != 0
    assert message in " ".join(result.output.split()), result.output
    assert _keys(db) == []
