from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from backend.db.migrate import current_revision, upgrade
from backend.db.models import Base
from backend.db.session import make_engine


def test_migrations_build_the_models_schema(backend_urls: tuple[str, str]) -> None:
    engine = make_engine(backend_urls[0])
    upgrade(engine)
    upgrade(engine)  # idempotent
    assert current_revision(engine) == "0011"
    tables = set(inspect(engine).get_table_names())
    assert {"org_units", "citizens", "tickets", "ticket_events", "messages", "officials", "outbox"} <= tables
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], f"models and migrations differ: {diff}"
    engine.dispose()
