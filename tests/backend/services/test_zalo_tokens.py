"""Zalo OA tokens in the database: seeded from the settings once, rotated by exactly one process at a time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.config import Settings
from backend.container import Container
from backend.db.migrate import upgrade
from backend.services.zalo_tokens import DbZaloTokenStore
from bot.messages import OutboundMessage
from bot.zalo import ZaloTokens
from tests.fakes.zalo_server import APP_ID, APP_SECRET, FakeZalo, fake_zalo


@pytest.fixture
def fake() -> Iterator[FakeZalo]:
    with fake_zalo() as f:
        yield f


def settings(db: str, redis: str, fake: FakeZalo, tmp_path: Path, refresh: str | None = None) -> Settings:
    return Settings(
        _env_file=None,
        environment="test",
        database_url=db,
        redis_url=redis,  # type: ignore[call-arg]
        model_dir=tmp_path / "models",
        zalo_app_id=APP_ID,
        zalo_app_secret=APP_SECRET,
        zalo_oa_secret="s",
        zalo_access_token=fake.access_token,
        zalo_refresh_token=refresh or fake.refresh_token,
        zalo_api_url=fake.url,
        zalo_oauth_url=fake.url,
    )


async def test_seeded_once_then_the_database_is_the_truth(
    backend_urls: tuple[str, str], fake: FakeZalo, tmp_path: Path
) -> None:
    container = Container(settings(*backend_urls, fake, tmp_path))
    upgrade(container.engine)
    store = DbZaloTokenStore(container.scope, "configured-access", "configured-refresh")
    first = await store.load()
    assert first is not None and first.access_token == "configured-access" and first.fresh()
    await store.save(ZaloTokens("rotated-access", "rotated-refresh", time.time() + 90_000))
    again = await DbZaloTokenStore(container.scope, "configured-access", "configured-refresh").load()
    assert again is not None and again.refresh_token == "rotated-refresh"  # the settings no longer win
    reauthorised = await DbZaloTokenStore(container.scope, "new-access", "new-refresh").load()
    assert reauthorised is not None and reauthorised.refresh_token == "new-refresh"  # a new pair from the operator
    assert await DbZaloTokenStore(container.scope).load() is not None
    await container.aclose()
    container.close()


async def test_nothing_configured_means_no_tokens(
    backend_urls: tuple[str, str], fake: FakeZalo, tmp_path: Path
) -> None:
    container = Container(settings(*backend_urls, fake, tmp_path))
    upgrade(container.engine)
    assert await DbZaloTokenStore(container.scope).load() is None
    await container.aclose()
    container.close()


async def test_three_processes_refresh_once(pg_url: str, real_redis: str, fake: FakeZalo, tmp_path: Path) -> None:
    """Three containers (one per process in production) share PostgreSQL and Redis; the token expires under all
    of them at once; exactly one refresh reaches Zalo and every message is delivered with the new token."""
    fake.refresh_delay = 0.3
    containers = [Container(settings(pg_url, real_redis, fake, tmp_path)) for _ in range(3)]
    upgrade(containers[0].engine)
    clients = [c.channels.channels["zalo"].sender(c.channels) for c in containers]
    await clients[0].send(OutboundMessage("zalo", "u0", "trước khi hết hạn"))
    fake.expire_access_token()
    await asyncio.gather(*(c.send(OutboundMessage("zalo", f"u{i}", f"tin {i}")) for i, c in enumerate(clients)))
    assert fake.refreshes == 1 and fake.refused_refreshes == 0
    assert sorted(fake.texts()[1:]) == ["tin 0", "tin 1", "tin 2"]
    stored = await DbZaloTokenStore(containers[0].scope, fake.access_token, "refresh-1").load()
    assert stored is not None and stored.refresh_token == fake.refresh_token
    for c, k in zip(clients, containers, strict=True):
        await c.aclose()
        await k.aclose()
        k.close()


async def test_concurrent_first_loads_seed_once(backend_urls: tuple[str, str], fake: FakeZalo, tmp_path: Path) -> None:
    container = Container(settings(*backend_urls, fake, tmp_path))
    upgrade(container.engine)
    stores = [DbZaloTokenStore(container.scope, "a", "r") for _ in range(8)]
    loaded = await asyncio.gather(*(s.load() for s in stores))
    assert {t.refresh_token for t in loaded if t is not None} == {"r"} and None not in loaded
    await container.aclose()
    container.close()
