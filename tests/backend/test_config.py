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
    monkeypatch.setenv("GOPY_VAR_DIR", str(tmp_path / "var"))  # no model here: no training in the background
    monkeypatch.setenv("GOPY_BOOTSTRAP_MODEL", "false")
    get_settings.cache_clear()
    try:
        with caplog.at_level(logging.WARNING):
            result = CliRunner().invoke(cli, ["serve"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert started and "GOPY_SECRET_KEY" in caplog.text


# -- one place for local state: GOPY_VAR_DIR ------------------------------------------------------------------------
@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("VAR_DIR", "DATABASE_URL", "MODEL_DIR", "DATA_DIR"):
        monkeypatch.delenv(f"GOPY_{name}", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_database_and_models_are_anchored_to_the_var_dir_resolved_once(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert s.var_dir == clean_env / "var" and s.var_dir.is_absolute()
    assert s.database_url == f"sqlite:///{clean_env / 'var' / 'gopy.db'}"
    assert s.model_dir == clean_env / "var" / "models"
    monkeypatch.chdir(clean_env.parent)  # later directory changes move nothing
    assert s.model_dir == clean_env / "var" / "models"

    monkeypatch.setenv("GOPY_VAR_DIR", "state")
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert s.model_dir == clean_env.parent / "state" / "models"
    assert s.database_url == f"sqlite:///{clean_env.parent / 'state' / 'gopy.db'}"


def test_explicit_database_url_and_model_dir_win_over_the_var_dir(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOPY_VAR_DIR", str(clean_env / "state"))
    monkeypatch.setenv("GOPY_DATABASE_URL", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("GOPY_MODEL_DIR", "models-elsewhere")
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert s.database_url == "postgresql+psycopg://u@h/db"
    assert s.model_dir == clean_env / "models-elsewhere"


def test_dotenv_sets_the_var_dir_for_every_command(clean_env: Path) -> None:
    from backend.config import get_settings

    (clean_env / ".env").write_text("GOPY_VAR_DIR=/srv/gopy\n", encoding="utf-8")
    get_settings.cache_clear()
    try:
        assert get_settings().model_dir == Path("/srv/gopy/models")
        assert get_settings().database_url == "sqlite:////srv/gopy/gopy.db"
    finally:
        get_settings.cache_clear()


def test_the_default_data_is_the_bundled_resource_package(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from backend.config import bundled_data_dir
    from nlu.training_data import heldout_path, training_paths

    data = Settings(_env_file=None).data_dir  # type: ignore[call-arg]
    assert data == bundled_data_dir()
    for name in ("routing.yml", "templates/vi.yml", "security/common-passwords.txt"):
        assert (data / name).is_file(), name
    assert [p.name for p in training_paths(data)] == ["categories", "intents", "seed", "corrections", "realworld"]
    assert (heldout_path(data) / "heldout.yml").is_file()

    monkeypatch.setenv("GOPY_DATA_DIR", "mydata")
    assert Settings(_env_file=None).data_dir == clean_env / "mydata"  # type: ignore[call-arg]


def test_serve_trains_the_first_model_in_the_background_and_says_so(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn
    from typer.testing import CliRunner

    from backend.cli import app as cli
    from backend.config import get_settings
    from backend.container import EngineParser

    warmed: list[EngineParser] = []
    monkeypatch.setattr(EngineParser, "warm_up_in_background", lambda self: warmed.append(self))
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: None)
    monkeypatch.setenv("GOPY_REDIS_URL", "")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["serve"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert len(warmed) == 1  # started before the server, which does not wait for it
    assert "training the default model in the background" in " ".join(result.output.split())
    assert (clean_env / "var" / "gopy.db").is_file()  # the database went where the settings say
