"""tamper-evident events (hash chain, append-only triggers), refusals, official logins

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from engine.store.chain import GENESIS, event_hash
from engine.store.models import UTCDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = ("events", "refusals")


def upgrade() -> None:
    with op.batch_alter_table("officials", schema=None) as batch_op:
        batch_op.add_column(sa.Column("login", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("admin", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_unique_constraint(batch_op.f("uq_officials_login"), ["login"])
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("event_seq", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("event_head", sa.String(length=64), nullable=False, server_default=""))
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=False, server_default=""))
    op.create_table(
        "refusals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("login", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=50), nullable=True),
        sa.Column("command", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refusals")),
    )
    _chain_existing_events()
    _append_only_triggers()


def _chain_existing_events() -> None:
    """Hash-link the events written before this version, in their order per case."""
    conn = op.get_bind()
    events = sa.table("events", sa.column("id", sa.Integer), sa.column("case_id", sa.Integer),
                      sa.column("seq", sa.Integer), sa.column("at", UTCDateTime()), sa.column("actor", sa.String),
                      sa.column("kind", sa.String), sa.column("trigger", sa.String),
                      sa.column("from_state", sa.String), sa.column("to_state", sa.String),
                      sa.column("round", sa.Integer), sa.column("note", sa.Text), sa.column("data", sa.JSON),
                      sa.column("prev_hash", sa.String), sa.column("hash", sa.String))
    cases = sa.table("cases", sa.column("id", sa.Integer), sa.column("event_seq", sa.Integer),
                     sa.column("event_head", sa.String))
    heads: dict[int, tuple[int, str]] = {}
    rows = conn.execute(sa.select(events).order_by(events.c.case_id, events.c.seq)).all()
    for row in rows:
        prev = heads.get(row.case_id, (0, GENESIS))[1]
        digest = event_hash(row.case_id, row.seq, row.at, row.actor, row.kind, row.trigger, row.from_state,
                            row.to_state, row.round, row.note, row.data or {}, prev)
        conn.execute(events.update().where(events.c.id == row.id).values(prev_hash=prev, hash=digest))
        heads[row.case_id] = (row.seq, digest)
    for case_id, (seq, head) in heads.items():
        conn.execute(cases.update().where(cases.c.id == case_id).values(event_seq=seq, event_head=head))


def _append_only_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION rectify_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '% is append-only (只能追加，不能修改或删除): % refused', TG_TABLE_NAME, TG_OP;
            END $$""")
        for table in APPEND_ONLY:
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION rectify_append_only()")
            op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION rectify_append_only()")
        return
    for table in APPEND_ONLY:
        for action in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} BEGIN "
                       f"SELECT RAISE(ABORT, '{table} is append-only (只能追加，不能修改或删除): {action} refused'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION rectify_append_only()")
    else:
        for table in APPEND_ONLY:
            for action in ("update", "delete"):
                op.execute(f"DROP TRIGGER {table}_no_{action}")
    op.drop_table("refusals")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("event_head")
        batch_op.drop_column("event_seq")
    with op.batch_alter_table("officials", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_officials_login"), type_="unique")
        batch_op.drop_column("admin")
        batch_op.drop_column("login")
