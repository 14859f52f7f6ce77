"""An app over a small organisation tree, with the NLU and the texts replaced by deterministic doubles."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from backend.app import create_app
from backend.config import Settings
from backend.container import Container
from backend.db.migrate import upgrade
from backend.db.models import Official, OrgUnit
from backend.services.security import hash_password
from tests.fakes.parsers import KeywordParser

UNITS = [
    ("TW", "Ủy ban Trung ương MTTQ Việt Nam", "central", None),
    ("01", "Thành phố Hà Nội", "province", "TW"),
    ("00070", "Phường Hoàn Kiếm", "commune", "01"),
    ("00073", "Phường Cửa Nam", "commune", "01"),
    ("79", "Thành phố Hồ Chí Minh", "province", "TW"),
    ("26734", "Phường Sài Gòn", "commune", "79"),
]


class RecordingTexts:
    def render(self, key: str, /, **kw: object) -> str:
        return key + "|" + "|".join(f"{k}={v}" for k, v in sorted(kw.items()))

    def status_name(self, code: str) -> str:
        return f"<{code}>"

    def category_name(self, code: str) -> str:
        return f"<{code}>"


@dataclass
class Api:
    client: TestClient
    container: Container

    def login(self, username: str, password: str = "mat-khau-123") -> dict[str, str]:
        r = self.client.post("/api/auth/token", data={"username": username, "password": password})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}


def add_official(container: Container, username: str, unit: str, role: str = "officer") -> None:
    with container.scope() as s:
        s.add(Official(username=username, password_hash=hash_password("mat-khau-123"), role=role, unit_code=unit))
        s.commit()


@pytest.fixture
def api(backend_urls: tuple[str, str], tmp_path: Path) -> Iterator[Api]:
    settings = Settings(
        _env_file=None,
        environment="test",
        database_url=backend_urls[0],  # type: ignore[call-arg]
        redis_url=backend_urls[1],
        run_workers=False,
        model_dir=tmp_path / "models",
    )
    container = Container(settings)
    upgrade(container.engine)
    with container.scope() as s:
        for code, name, level, parent in UNITS:
            s.add(OrgUnit(code=code, name=name, short_name=name, level=level, parent_code=parent))
            s.flush()
        s.commit()
    container.parser = KeywordParser()  # type: ignore[assignment]
    container.texts = RecordingTexts()
    with TestClient(create_app(settings, container)) as client:
        yield Api(client, container)
    container.close()
