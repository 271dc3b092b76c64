"""spot-check draws, recorded so they can be verified

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "spot_check_draws",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=50), nullable=False),
        sa.Column("seed", sa.String(length=100), nullable=False),
        sa.Column("method", sa.String(length=50), nullable=False),
        sa.Column("rate", sa.Float(), nullable=False),
        sa.Column("include_key_targets", sa.Boolean(), nullable=False),
        sa.Column("population", sa.JSON(), nullable=False),
        sa.Column("selected", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"],
                                name=op.f("fk_spot_check_draws_campaign_id_campaigns")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spot_check_draws")),
    )
    with op.batch_alter_table("spot_check_draws", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_spot_check_draws_campaign_id"), ["campaign_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("spot_check_draws", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_spot_check_draws_campaign_id"))
    op.drop_table("spot_check_draws")
