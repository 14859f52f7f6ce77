"""Every Redis key gopy writes starts with ``GOPY_REDIS_PREFIX``, and a test run deletes only its own keys, so
installations and parallel test runs can share one Redis database."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from backend.app import create_app
from backend.config import Settings
from backend.container import Container
from backend.services.state import RedisStateStore
from backend.services.throttle import Limit

CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"
INNER_TEST = """
import os

import redis


def test_writes_under_its_prefix(real_redis: str, redis_prefix: str) -> None:
    assert os.environ["GOPY_REDIS_PREFIX"] == redis_prefix
    client = redis.Redis.from_url(real_redis)
    client.set(f"{redis_prefix}:state:conv:webchat:x", "1")
    client.close()
    with open(os.environ["INNER_PREFIX_FILE"], "w") as out:
        out.write(redis_prefix)
"""


def test_a_test_run_leaves_other_runs_keys_alone(redis_url: str, tmp_path: Path) -> None:
    """Another run's keys survive this run's Redis fixture; this run's own keys are gone after it."""
    other = f"other-run-{secrets.token_hex(6)}:state:conv:telegram:42"
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.set(other, "theirs", ex=300)
    try:
        (tmp_path / "conftest.py").write_text(CONFTEST.read_text(encoding="utf-8"), encoding="utf-8")
        (tmp_path / "test_inner.py").write_text(INNER_TEST, encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if k != "GOPY_REDIS_PREFIX"}
        env.update(GOPY_TEST_REDIS_URL=redis_url, INNER_PREFIX_FILE=str(tmp_path / "prefix"), CI="true")
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path), str(tmp_path)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stdout + run.stderr
        assert client.get(other) == "theirs"  # a FLUSHDB would have wiped it
        inner = (tmp_path / "prefix").read_text(encoding="utf-8")
        assert inner.startswith("gopytest:")
        assert list(client.scan_iter(match=f"{inner}:*")) == []  # its own keys were deleted
    finally:
        client.delete(other)
        client.close()


def test_every_key_the_app_writes_has_the_prefix(
    real_redis: str, redis_prefix: str, trained_model_dir: Path, tmp_path: Path
) -> None:
    client = redis.Redis.from_url(real_redis, decode_responses=True)
    before = set(client.scan_iter(count=1000))
    settings = Settings(
        _env_file=None,
        environment="test",
        database_url=f"sqlite:///{tmp_path / 'g.db'}",
        redis_url=real_redis,
        model_dir=trained_model_dir,
        run_workers=False,
    )
    assert settings.redis_prefix == redis_prefix
    container = Container(settings)
    with TestClient(create_app(settings, container)) as http:
        r = http.post("/api/webchat/messages", json={"session": "prefix-test-1", "text": "xin chào"})
        assert r.status_code == 200, r.text
        container.throttle.hit("test", "someone", Limit(5, 60))
        RedisStateStore(container.kv).save("conv:webchat:probe", {"name": "idle"}, 60)
    container.close()
    new = set(client.scan_iter(count=1000)) - before
    client.close()
    assert new, "the app should have written some keys"
    assert {k for k in new if not k.startswith(f"{redis_prefix}:")} == set()
    assert f"{redis_prefix}:state:conv:webchat:probe" in new
    assert any(k.startswith(f"{redis_prefix}:throttle:test:someone:") for k in new)


@pytest.mark.parametrize("bad", ["", "has space", "a*b", "x" * 65, "trailing:"])
def test_a_bad_prefix_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="redis_prefix"):
        Settings(_env_file=None, redis_prefix=bad)
