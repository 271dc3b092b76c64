"""The store: migrations match the models, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from engine.db import Store
from engine.migrate import current_revision, head_revision
from engine.models import Base


def test_migrations_create_exactly_the_models(store: Store):
    assert current_revision(store) == head_revision()
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        assert compare_metadata(context, Base.metadata) == []


def test_sqlite_connections_are_configured(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'x.db'}")
    with store.engine.connect() as conn:
        pragmas = {p: conn.exec_driver_sql(f"PRAGMA {p}").scalar() for p in
                   ("journal_mode", "busy_timeout", "synchronous", "foreign_keys")}
    store.dispose()
    assert pragmas == {"journal_mode": "wal", "busy_timeout": 10000, "synchronous": 2, "foreign_keys": 1}
