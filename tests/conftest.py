"""Shared fixtures: real PostgreSQL and Redis (required when CI=true), SQLite, one trained NLU model."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

CI = os.environ.get("CI", "").lower() == "true"
PG_ADMIN_URL = os.environ.get("GOPY_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("GOPY_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _unavailable(what: str, exc: Exception) -> None:
    message = f"{what} is not reachable ({type(exc).__name__}: {exc})"
    if CI:
        pytest.fail(f"CI=true requires the real server: {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    try:
        engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        _unavailable("PostgreSQL", exc)
    return PG_ADMIN_URL


@pytest.fixture
def pg_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"gopy_test_{secrets.token_hex(6)}"
    admin = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = pg_admin_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def redis_url() -> str:
    import redis

    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        client.ping()
        client.close()
    except Exception as exc:
        _unavailable("Redis", exc)
    return REDIS_URL


@pytest.fixture
def redis_prefix(monkeypatch: pytest.MonkeyPatch) -> str:
    """A Redis key prefix of this test's own, set as ``GOPY_REDIS_PREFIX`` for every ``Settings`` it makes."""
    prefix = f"gopytest:{secrets.token_hex(8)}"
    monkeypatch.setenv("GOPY_REDIS_PREFIX", prefix)
    return prefix


def delete_prefixed(client: Any, prefix: str) -> int:
    """Delete the keys under ``prefix`` (SCAN, never KEYS or FLUSHDB: other runs share the database)."""
    deleted = 0
    batch: list[Any] = []
    for key in client.scan_iter(match=f"{prefix}:*", count=500):
        batch.append(key)
        if len(batch) >= 500:
            deleted += client.delete(*batch)
            batch.clear()
    if batch:
        deleted += client.delete(*batch)
    return deleted


@pytest.fixture
def real_redis(redis_url: str, redis_prefix: str) -> Iterator[str]:
    """The shared test Redis (``GOPY_TEST_REDIS_URL``); the test writes under its own prefix, and only its own
    keys are deleted afterwards, so parallel runs against one database do not wipe each other."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        yield redis_url
    finally:
        delete_prefixed(client, redis_prefix)
        client.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_urls(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """(database URL, Redis URL): SQLite with the in-process Redis stand-in, or real PostgreSQL + Redis."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'gopy.db'}", ""
    return request.getfixturevalue("pg_url"), request.getfixturevalue("real_redis")


@pytest.fixture(scope="session")
def trained_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One NLU model trained from the project's data and activated, shared by the whole test session."""
    from backend.config import bundled_data_dir
    from nlu.store import ModelStore, ensure_active_model

    store = ModelStore(tmp_path_factory.mktemp("models"))
    ensure_active_model(store, bundled_data_dir())  # the same training folders as `gopy serve` and `gopy nlu train`
    return store.root
