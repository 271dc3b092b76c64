"""The store: migrations match the models, on both backends."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select, update

from engine.base.errors import DatabaseError
from engine.ops.orgs import OrgRow, import_organizations
from engine.store.db import Store
from engine.store.migrate import current_revision, head_revision
from engine.store.models import Base, Organization, OrgKind
from tests.county import seed_county


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


def test_a_long_reader_does_not_hold_up_a_writer(store):
    """A report or export reads in a snapshot: a write commits meanwhile, and the reader keeps
    seeing the database as it was when it started."""
    seed_county(store)
    with store.reading() as reader:
        before = reader.scalar(select(func.count()).select_from(Organization))
        with store.transaction() as writer:  # would wait for the reader (then fail) under BEGIN IMMEDIATE
            import_organizations(writer, [OrgRow(99, "T1-99", "城关镇第99村党支部", OrgKind.VILLAGE, "T1", None, None)],
                                 "more")
        assert reader.scalar(select(func.count()).select_from(Organization)) == before
    with store.reading() as again:
        assert again.scalar(select(func.count()).select_from(Organization)) == before + 1


def test_a_reader_cannot_write_on_postgres(store, db_url):
    if not db_url.startswith("postgresql"):
        pytest.skip("PostgreSQL enforces READ ONLY; SQLite's reader is a deferred transaction")
    seed_county(store)
    with pytest.raises(DatabaseError, match="read-only"), store.reading() as reader:
        reader.execute(update(Organization).values(name="x"))
