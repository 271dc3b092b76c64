"""spot-check announcements: a draw's seed committed before the draw

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "spot_check_announcements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=50), nullable=False),
        sa.Column("commitment", sa.String(length=64), nullable=False),
        sa.Column("seed", sa.String(length=100), nullable=True),
        sa.Column("draw_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"],
                                name=op.f("fk_spot_check_announcements_campaign_id_campaigns")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spot_check_announcements")),
    )
    with op.batch_alter_table("spot_check_announcements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_spot_check_announcements_campaign_id"), ["campaign_id"], unique=False)
    with op.batch_alter_table("spot_check_draws", schema=None) as batch_op:
        batch_op.add_column(sa.Column("announcement_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("spot_check_draws", schema=None) as batch_op:
        batch_op.drop_column("announcement_id")
    with op.batch_alter_table("spot_check_announcements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_spot_check_announcements_campaign_id"))
    op.drop_table("spot_check_announcements")
