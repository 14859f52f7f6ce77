from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import ValidationError

from backend.config import Settings


def test_development_defaults_work() -> None:
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert s.environment == "development"
    assert s.is_sqlite


def test_production_refuses_default_secret_and_sqlite() -> None:
    with pytest.raises(ValidationError, match="GOPY_SECRET_KEY"):
        Settings(_env_file=None, environment="production")  # type: ignore[call-arg]


def test_production_requires_channel_secrets() -> None:
    with pytest.raises(ValidationError, match="GOPY_TELEGRAM_SECRET"):
        Settings(
            _env_file=None,
            environment="production",
            secret_key="x" * 40,  # type: ignore[call-arg]
            database_url="postgresql+psycopg://u@h/db",
            telegram_token="1:abc",
        )


def test_production_accepts_real_configuration() -> None:
    s = Settings(
        _env_file=None,
        environment="production",
        secret_key="k" * 40,  # type: ignore[call-arg]
        database_url="postgresql+psycopg://u@h/db",
        redis_url="redis://h:6379/0",
    )
    assert not s.is_sqlite


def test_development_secret_warns_loudly_naming_the_variable(caplog: pytest.LogCaptureFixture) -> None:
    from backend.config import warn_dev_secret

    with caplog.at_level(logging.WARNING):
        assert warn_dev_secret(Settings(_env_file=None))  # type: ignore[call-arg]
    assert "GOPY_SECRET_KEY" in caplog.text and "WARNING" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert not warn_dev_secret(Settings(_env_file=None, secret_key="s" * 40))  # type: ignore[call-arg]
    assert caplog.text == ""


def test_app_and_serve_start_up_warn_about_the_development_secret(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import uvicorn
    from typer.testing import CliRunner

    from backend.app import create_app
    from backend.cli import app as cli
    from backend.config import get_settings

    with caplog.at_level(logging.WARNING):
        create_app(Settings(_env_file=None, database_url=f"sqlite:///{tmp_path / 'a.db'}"))  # type: ignore[call-arg]
    assert "GOPY_SECRET_KEY" in caplog.text
    caplog.clear()

    started: list[object] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.append(app))
    monkeypatch.setenv("GOPY_DATABASE_URL", f"sqlite:///{tmp_path / 's.db'}")
    monkeypatch.setenv("GOPY_REDIS_URL", "")
    monkeypatch.setenv("GOPY_SECRET_KEY", "change-me-dev-secret")
    get_settings.cache_clear()
    try:
        with caplog.at_level(logging.WARNING):
            result = CliRunner().invoke(cli, ["serve"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert started and "GOPY_SECRET_KEY" in caplog.text
