"""Alembic migrations of the store, run by ``rectify init`` (``engine.store.migrate``)."""
