from __future__ import annotations

from collections.abc import Callable
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from backend.db.migrate import current_revision, upgrade
from backend.db.models import Base
from backend.db.session import make_engine
from backend.domain.search import SEARCH_INDEX


def _for_dialect(dialect: str) -> Callable[..., bool]:
    """Leave out of the comparison what the models create only on another database (``Index(...).ddl_if``), such
    as the PostgreSQL-only trigram index of the inbox's search, and SQLite's FTS5 search tables (no model)."""

    def include(obj: Any, name: str | None, type_: str, reflected: bool, _compare_to: Any) -> bool:
        if type_ == "table" and reflected and dialect == "sqlite" and (name or "").startswith(SEARCH_INDEX):
            return False  # SQLite's FTS5 index of the inbox's search (migration 0012) and its shadow tables
        ddl_if = getattr(obj, "_ddl_if", None)
        return ddl_if is None or ddl_if.dialect in (None, dialect)

    return include


def test_migrations_build_the_models_schema(backend_urls: tuple[str, str]) -> None:
    engine = make_engine(backend_urls[0])
    upgrade(engine)
    upgrade(engine)  # idempotent
    assert current_revision(engine) == "0014"
    tables = set(inspect(engine).get_table_names())
    assert {"org_units", "citizens", "tickets", "ticket_events", "messages", "officials", "outbox"} <= tables
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": _for_dialect(engine.dialect.name)})
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], f"models and migrations differ: {diff}"
    engine.dispose()
