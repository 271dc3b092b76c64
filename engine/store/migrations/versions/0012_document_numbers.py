"""document numbers (发文字号): a yearly register per prefix, and each notice's number

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03

``document_counters`` holds the last number given for each (prefix, year): ×组通〔2014〕12号
is prefix ×组通, year 2014, number 12. ``notices.document_number`` is the number a notice was
issued under, unique when given (NULL for a notice that is not an official document; a unique
index lets several NULLs through on SQLite and PostgreSQL alike).
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "document_counters",
        sa.Column("prefix", sa.String(length=40), nullable=False),
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("prefix", "year", name=op.f("pk_document_counters")),
    )
    # ADD COLUMN and CREATE UNIQUE INDEX: batch mode copies no table for either (a copy of
    # notices would fail on the deliveries that reference it).
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("document_number", sa.String(length=60), nullable=True))
        batch_op.create_index(batch_op.f("ix_notices_document_number"), ["document_number"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notices_document_number"))
    # ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35), not batch mode: copying notices would fail on
    # the foreign keys of deliveries (as in 0011).
    op.drop_column("notices", "document_number")
    op.drop_table("document_counters")
