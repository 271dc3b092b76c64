"""officials.admin_since: when an administrator's login first ran rectify (ends bootstrap)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01

Bootstrap mode used to end as soon as an administrator was *registered*, which locked out the
person doing the set-up when they registered someone else's login. It now ends once a
registered administrator's own login has run a command. A database that already has
administrators is already out of bootstrap: their ``admin_since`` is set to the upgrade time
so that nothing changes for it.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("officials", schema=None) as batch_op:
        batch_op.add_column(sa.Column("admin_since", sa.DateTime(timezone=True), nullable=True))
    officials = sa.table("officials", sa.column("admin", sa.Boolean()),
                         sa.column("admin_since", sa.DateTime(timezone=True)))
    op.execute(officials.update().where(officials.c.admin.is_(True))
               .values(admin_since=sa.func.current_timestamp()))


def downgrade() -> None:
    with op.batch_alter_table("officials", schema=None) as batch_op:
        batch_op.drop_column("admin_since")
