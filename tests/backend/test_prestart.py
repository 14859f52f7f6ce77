"""`gopy prestart` is the step that migrates in production, where GOPY_AUTO_MIGRATE=false (docker-compose.yml)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect

from backend.app import prepare
from backend.config import Settings
from backend.container import Container
from backend.db.migrate import current_revision


def _container(tmp_path: Path) -> Container:
    settings = Settings(
        _env_file=None,
        environment="test",
        database_url=f"sqlite:///{tmp_path / 'g.db'}",  # type: ignore[call-arg]
        redis_url="",
        model_dir=tmp_path / "models",
        bootstrap_model=False,
        auto_migrate=False,
    )
    return Container(settings)


def test_prestart_migrates_even_when_automatic_migration_is_off(tmp_path: Path) -> None:
    container = _container(tmp_path)
    try:
        prepare(container, migrate=True)
        assert current_revision(container.engine) is not None
        assert "tickets" in inspect(container.engine).get_table_names()
    finally:
        container.close()


def test_server_start_leaves_migrations_to_prestart_when_automatic_migration_is_off(tmp_path: Path) -> None:
    container = _container(tmp_path)
    try:
        prepare(container, migrate=True)  # the prestart step
        prepare(container)  # a server starting afterwards: nothing to do, and it must not fail
        assert current_revision(container.engine) is not None
    finally:
        container.close()
