"""how an official acted on a duty's filing or return (web, api, cli, local), as events record it

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02

A plain ``ALTER TABLE … ADD COLUMN``, not batch mode: ``duty_actions`` is append-only (triggers
refuse UPDATE and DELETE) and a batch copy would have to drop and remake them. Actions written
before this have no ``via``, and their hashes are computed without it.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("duty_actions", sa.Column("via", sa.String(length=10), nullable=True))


def downgrade() -> None:
    op.drop_column("duty_actions", "via")
