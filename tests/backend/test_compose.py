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


def test_every_worker_runs_in_some_service_and_messages_have_their_own() -> None:
    """The workers are split between a process that moves messages (scaled for a flood) and one for the periodic
    jobs; none is forgotten (a worker named nowhere would never run)."""
    from backend.workers.runner import WORKERS

    services = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text(encoding="utf-8"))["services"]
    named: list[str] = []
    for service in services.values():
        command = service.get("command") or []
        if command[:2] == ["gopy", "worker"]:
            assert "--only" in command, "a worker service without --only runs everything twice"
            named += command[command.index("--only") + 1].split(",")
    assert sorted(named) == sorted(name for name, _ in WORKERS)  # each exactly once
    assert services["worker"]["command"][-1] == "inbound,outbox"
    assert services["jobs"].get("restart") == "unless-stopped"
