"""the to-do list's indexes: a state's cases by deadline (of the campaign, of one township) and the
open problems by deadline

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN = sa.text("status IN ('open', 'reopened')")


def upgrade() -> None:
    # 我的待办 reads the first few cases of each state by deadline (engine.store.todo_queries): the
    # (campaign, state, sort_key) index gave them in reference order, so the earliest deadlines of
    # a state meant sorting every case in it (tens of thousands at 250 000 cases). ``id`` breaks
    # ties inside the index: a whole state often shares one deadline (11-30).
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index("ix_cases_campaign_state_due_at", ["campaign_id", "state", "due_at", "id"],
                              unique=False)
        batch_op.create_index("ix_cases_township_campaign_state_due_at",
                              ["township_id", "campaign_id", "state", "due_at", "id"], unique=False)
    # Closed problems are most of them by the end of a campaign: the open ones get a small index.
    with op.batch_alter_table("problems", schema=None) as batch_op:
        batch_op.create_index("ix_problems_open_due_at", ["due_at", "id"], unique=False,
                              sqlite_where=_OPEN, postgresql_where=_OPEN)


def downgrade() -> None:
    with op.batch_alter_table("problems", schema=None) as batch_op:
        batch_op.drop_index("ix_problems_open_due_at")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_township_campaign_state_due_at")
        batch_op.drop_index("ix_cases_campaign_state_due_at")
