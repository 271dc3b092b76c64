"""natural order: organizations and cases get a sort_key (digit runs compared as numbers)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from engine.base.natural import SEPARATOR, natural_key

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHUNK = 10_000
SORT_KEY = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")  # compared by code point
_SLASHES = "length(path) - length(replace(path, '/', ''))"  # a path "/1/7/42/" has depth + 1


def upgrade() -> None:
    # NOT NULL needs a default to be added on SQLite; the rows get their real keys below, and
    # PostgreSQL drops the default after (SQLite could only by copying the table, which its
    # foreign keys forbid inside the migration's transaction). The code always sets the key.
    for table in ("organizations", "cases"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("sort_key", SORT_KEY, nullable=False, server_default=""))
    bind = op.get_bind()
    _fill(bind, "organizations", "code")
    _prefix_superiors(bind)
    _fill(bind, "cases", "ref")
    if bind.dialect.name == "postgresql":
        for table in ("organizations", "cases"):
            op.alter_column(table, "sort_key", server_default=None)
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_organizations_sort_key"), ["sort_key"], unique=False)
    # 'case list' (and '--state X --limit 20') read cases in natural reference order from these,
    # as 0007's index gave them in text order.
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index("ix_cases_campaign_sort_key", ["campaign_id", "sort_key"], unique=False)
        batch_op.create_index("ix_cases_campaign_state_sort_key", ["campaign_id", "state", "sort_key"], unique=False)
        batch_op.drop_index("ix_cases_campaign_state_ref")


def _fill(bind: sa.Connection, table: str, column: str) -> None:
    """Every row's own natural key, by keyset pages of ids (a province's rows never sit in memory)."""
    last = 0
    while True:
        rows = bind.execute(sa.text(f"SELECT id, {column} FROM {table} WHERE id > :last ORDER BY id LIMIT :n"),
                            {"last": last, "n": CHUNK}).all()
        if not rows:
            return
        bind.execute(sa.text(f"UPDATE {table} SET sort_key = :key WHERE id = :id"),
                     [{"id": row_id, "key": natural_key(text)} for row_id, text in rows])
        last = rows[-1][0]


def _prefix_superiors(bind: sa.Connection) -> None:
    """Each organization's key preceded by its superior's (engine.base.natural.hierarchy_key),
    one level at a time from the top: a level's superiors already hold their whole key."""
    deepest = bind.execute(sa.text(f"SELECT max({_SLASHES}) FROM organizations")).scalar() or 0
    for slashes in range(3, deepest + 1):
        bind.execute(sa.text(
            "UPDATE organizations SET sort_key = (SELECT up.sort_key FROM organizations up "
            f"WHERE up.id = organizations.parent_id) || :sep || sort_key WHERE {_SLASHES} = :slashes "
            "AND parent_id IS NOT NULL"), {"sep": SEPARATOR, "slashes": slashes})


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index("ix_cases_campaign_state_ref", ["campaign_id", "state", "ref"], unique=False)
        batch_op.drop_index("ix_cases_campaign_state_sort_key")
        batch_op.drop_index("ix_cases_campaign_sort_key")
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_organizations_sort_key"))
    # ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35), not batch mode: copying a table that others
    # reference would fail on its foreign keys.
    for table in ("cases", "organizations"):
        op.drop_column(table, "sort_key")
