"""Property-based fuzzing of the HTTP API from its own OpenAPI schema (schemathesis): whatever a client sends,
no 5xx, and every response matches the schema it documents. The app runs in-process on SQLite with the real
organisation tree and a trained NLU model; officials' endpoints are called with a real official's token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance
from sqlalchemy import select

from backend.app import create_app, prepare
from backend.config import Settings
from backend.container import Container
from backend.db.models import Citizen, Official
from backend.services.security import hash_password
from handlers.ports import TicketDraft

pytestmark = pytest.mark.slow

PASSWORD = "mot-mat-khau-du-dai-2025"
EXAMPLES = 25  # per operation and mode: the whole test stays well under two minutes on a small machine


@pytest.fixture(scope="module")
def fuzz_app(trained_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str, str]]:
    tmp = tmp_path_factory.mktemp("fuzz")
    config = Settings(
        _env_file=None,
        environment="test",
        database_url=f"sqlite:///{tmp / 'gopy.db'}",
        redis_url="",
        run_workers=False,
        model_dir=trained_model_dir,
        bootstrap_model=False,
        webchat_rate_per_session=10_000,
        webchat_rate_per_address=10_000,
    )
    container = Container(config)
    prepare(container)
    with container.scope() as s:
        s.add(Official(username="tw.fuzz", password_hash=hash_password(PASSWORD), role="admin", unit_code="TW"))
        citizen = Citizen(channel="webchat", platform_user_id="w-fuzz-citizen", chat_id="w-fuzz-citizen")
        s.add(citizen)
        s.flush()
        codes = [
            container.ops.file(
                s, citizen, TicketDraft(text=text, category="ha_tang", category_confidence=0.9, province_code="01")
            ).code
            for text in ("Đèn đường hỏng ở phường Hoàn Kiếm, Hà Nội", "Rác thải đổ trộm ở Sài Gòn")
        ]
        s.commit()
        assert s.scalars(select(Official)).first() is not None
    app = create_app(config, container)
    with TestClient(app) as client:
        r = client.post("/api/auth/token", data={"username": "tw.fuzz", "password": PASSWORD})
        assert r.status_code == 200, r.text
        yield app, r.json()["access_token"], codes[0]
    container.close()


@pytest.fixture
def fuzz_schema(fuzz_app: tuple[Any, str, str]) -> Any:
    app = fuzz_app[0]
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def test_api_fuzz(fuzz_app: tuple[Any, str, str], fuzz_schema: Any) -> None:
    """Every operation, valid and invalid inputs (and, for a ticket's operations, a ticket that exists): the
    failures of all operations are reported together."""
    _, token, code = fuzz_app
    failures: list[str] = []
    for result in fuzz_schema.get_all_operations():
        operation = result.ok()
        runs: list[tuple[GenerationMode, dict[str, Any] | None]] = [
            (GenerationMode.POSITIVE, None),
            (GenerationMode.NEGATIVE, None),
        ]
        if "{code}" in operation.path:
            runs.append((GenerationMode.POSITIVE, {"code": code}))
        for mode, path in runs:

            @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def run(case: Any) -> None:
                case.call_and_validate(
                    headers={"Authorization": f"Bearer {token}"},
                    checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
                )

            try:
                run()
            except Unsatisfiable:
                pass  # nothing to negate (an operation without parameters)
            except Exception as exc:  # collected: one report for every operation that fails
                failures.append(f"{operation.label} [{mode.value}{' ' + code if path else ''}]: {exc}")
    assert not failures, "\n\n".join(failures)
