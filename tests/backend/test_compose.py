"""docker-compose.yml: long-running services come back by themselves after a crash."""

from __future__ import annotations

import yaml

from backend.config import PROJECT_ROOT


def test_long_running_services_restart_after_a_crash() -> None:
    services = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text(encoding="utf-8"))["services"]
    for name in ("api", "worker", "postgres", "redis"):
        assert services[name].get("restart") in ("unless-stopped", "always", "on-failure"), name
    assert "restart" not in services["prestart"]  # a one-shot step: it must end, not loop
    assert "/readyz" in " ".join(services["api"]["healthcheck"]["test"])
