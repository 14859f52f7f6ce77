from __future__ import annotations

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
