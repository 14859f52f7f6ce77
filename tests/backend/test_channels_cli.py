"""``gopy zalobot set-webhook`` and ``gopy zalo check`` against the fake Zalo servers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from backend.cli import app
from backend.config import get_settings
from tests.fakes.zalo_server import APP_ID, APP_SECRET, FakeZalo, fake_zalo


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeZalo]:
    with fake_zalo() as f:
        env = {
            "GOPY_DATABASE_URL": f"sqlite:///{tmp_path / 'g.db'}",
            "GOPY_ZALO_APP_ID": APP_ID,
            "GOPY_ZALO_APP_SECRET": APP_SECRET,
            "GOPY_ZALO_OA_SECRET": "oa",
            "GOPY_ZALO_API_URL": f.url,
            "GOPY_ZALO_OAUTH_URL": f.url,
            "GOPY_ZALO_ACCESS_TOKEN": "",
            "GOPY_ZALO_REFRESH_TOKEN": f.refresh_token,
            "GOPY_ZALOBOT_TOKEN": f.bot_token,
            "GOPY_ZALOBOT_SECRET": "zb-secret-1",
            "GOPY_ZALOBOT_API_URL": f.bot_base_url,
        }
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        get_settings.cache_clear()
        yield f
    get_settings.cache_clear()


def test_zalobot_set_webhook(fake: FakeZalo) -> None:
    result = CliRunner().invoke(app, ["zalobot", "set-webhook", "https://gopy.example.vn/webhooks/zalobot"])
    assert result.exit_code == 0, result.output
    assert "webhook set" in result.output


def test_zalo_check_refreshes_a_missing_access_token(fake: FakeZalo) -> None:
    from backend.db.migrate import upgrade
    from backend.db.session import make_engine

    engine = make_engine(get_settings().database_url)
    upgrade(engine)
    engine.dispose()
    result = CliRunner().invoke(app, ["zalo", "check"])
    assert result.exit_code == 0, result.output
    assert "refreshed" in result.output and fake.refreshes == 1


def test_zalo_check_without_configuration_fails_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOPY_ZALO_APP_ID", "")
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["zalo", "check"])
    get_settings.cache_clear()
    assert result.exit_code == 2 and "GOPY_ZALO_APP_ID" in result.output
