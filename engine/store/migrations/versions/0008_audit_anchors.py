"""audit anchors (each campaign's chain of its cases' heads), hash-chained refusals

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from engine.store.chain import GENESIS, anchor_hash, refusal_hash
from engine.store.models import UTCDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_anchors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("case_seq", sa.Integer(), nullable=False),
        sa.Column("event_hash", sa.String(length=64), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], name=op.f("fk_audit_anchors_campaign_id_campaigns")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_audit_anchors_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_anchors")),
        sa.UniqueConstraint("campaign_id", "seq", name=op.f("uq_audit_anchors_campaign_id_seq")),
    )
    op.create_index("ix_audit_anchors_case_seq", "audit_anchors", ["case_id", "seq"], unique=False)
    op.create_table(
        "anchor_heads",
        sa.Column("campaign_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], name=op.f("fk_anchor_heads_campaign_id_campaigns")),
        sa.PrimaryKeyConstraint("campaign_id", name=op.f("pk_anchor_heads")),
    )
    _append_only("refusals", drop=True)  # existing refusals are chained below: UPDATE must pass meanwhile
    with op.batch_alter_table("refusals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=False, server_default=""))
    _chain_existing_refusals()
    op.create_index("ix_refusals_seq", "refusals", ["seq"], unique=True)
    _append_only("refusals")
    _append_only("audit_anchors")
    _anchor_existing_heads()


def _chain_existing_refusals() -> None:
    """Hash-link the refusals recorded before this version, in their order (id)."""
    conn = op.get_bind()
    refusals = sa.table("refusals", sa.column("id", sa.Integer), sa.column("at", UTCDateTime()),
                        sa.column("login", sa.String), sa.column("actor", sa.String), sa.column("command", sa.Text),
                        sa.column("reason", sa.Text), sa.column("seq", sa.Integer), sa.column("prev_hash", sa.String),
                        sa.column("hash", sa.String))
    prev = GENESIS
    for seq, row in enumerate(conn.execute(sa.select(refusals).order_by(refusals.c.id)).all(), start=1):
        digest = refusal_hash(seq, row.at, row.login, row.actor, row.command, row.reason, prev)
        conn.execute(refusals.update().where(refusals.c.id == row.id).values(seq=seq, prev_hash=prev, hash=digest))
        prev = digest


def _anchor_existing_heads() -> None:
    """Anchor each existing case's head in its campaign's chain, in the cases' order (id): the
    history before this version is anchored as it stands now."""
    conn = op.get_bind()
    cases = sa.table("cases", sa.column("id", sa.Integer), sa.column("campaign_id", sa.Integer),
                     sa.column("event_seq", sa.Integer), sa.column("event_head", sa.String))
    anchors = sa.table("audit_anchors", sa.column("campaign_id", sa.Integer), sa.column("seq", sa.Integer),
                       sa.column("case_id", sa.Integer), sa.column("case_seq", sa.Integer),
                       sa.column("event_hash", sa.String), sa.column("prev_hash", sa.String),
                       sa.column("hash", sa.String))
    heads = sa.table("anchor_heads", sa.column("campaign_id", sa.Integer), sa.column("seq", sa.Integer),
                     sa.column("hash", sa.String))
    chains: dict[int, tuple[int, str]] = {}
    rows = []
    for case in conn.execute(sa.select(cases).where(cases.c.event_seq > 0).order_by(cases.c.id)).all():
        seq, prev = chains.get(case.campaign_id, (0, GENESIS))
        digest = anchor_hash(case.campaign_id, seq + 1, case.id, case.event_seq, case.event_head, prev)
        rows.append({"campaign_id": case.campaign_id, "seq": seq + 1, "case_id": case.id, "case_seq": case.event_seq,
                     "event_hash": case.event_head, "prev_hash": prev, "hash": digest})
        chains[case.campaign_id] = (seq + 1, digest)
    if rows:
        conn.execute(anchors.insert(), rows)
        conn.execute(heads.insert(), [{"campaign_id": c, "seq": seq, "hash": digest}
                                      for c, (seq, digest) in chains.items()])


def _append_only(table: str, drop: bool = False) -> None:
    """Refuse UPDATE and DELETE of ``table`` (and TRUNCATE on PostgreSQL), as 0005 does for the
    events and refusals; with ``drop``, take the refusal away instead."""
    if op.get_bind().dialect.name == "postgresql":  # rectify_append_only() is 0005's
        if drop:
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")
            return
        op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                   "FOR EACH ROW EXECUTE FUNCTION rectify_append_only()")
        op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION rectify_append_only()")
        return
    for action in ("UPDATE", "DELETE"):
        if drop:
            op.execute(f"DROP TRIGGER {table}_no_{action.lower()}")
        else:
            op.execute(f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} BEGIN "
                       f"SELECT RAISE(ABORT, '{table} is append-only (只能追加，不能修改或删除): {action} refused'); END")


def downgrade() -> None:
    _append_only("audit_anchors", drop=True)
    _append_only("refusals", drop=True)
    op.drop_index("ix_refusals_seq", table_name="refusals")
    with op.batch_alter_table("refusals", schema=None) as batch_op:
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("seq")
    _append_only("refusals")
    op.drop_table("anchor_heads")
    op.drop_index("ix_audit_anchors_case_seq", table_name="audit_anchors")
    op.drop_table("audit_anchors")
