"""the web workspace's accounts: passwords set through invitations, browser sessions, API and
CLI-client tokens, and the service's shared keys

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02

Tokens and invitations are stored as their SHA-256 only; passwords as argon2id hashes.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table('web_accounts',
    sa.Column('official_id', sa.Integer(), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=True),
    sa.Column('password_set_at', _WHEN, nullable=True),
    sa.Column('invite_hash', sa.String(length=64), nullable=True),
    sa.Column('invite_expires', _WHEN, nullable=True),
    sa.Column('invited_at', _WHEN, nullable=True),
    sa.Column('invited_by', sa.String(length=50), nullable=True),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', _WHEN, nullable=True),
    sa.Column('disabled_at', _WHEN, nullable=True),
    sa.ForeignKeyConstraint(['official_id'], ['officials.id'], name=op.f('fk_web_accounts_official_id_officials')),
    sa.PrimaryKeyConstraint('official_id', name=op.f('pk_web_accounts')),
    sa.UniqueConstraint('invite_hash', name=op.f('uq_web_accounts_invite_hash'))
    )
    op.create_table('web_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('official_id', sa.Integer(), nullable=False),
    sa.Column('created_at', _WHEN, nullable=False),
    sa.Column('expires_at', _WHEN, nullable=False),
    sa.Column('last_seen_at', _WHEN, nullable=False),
    sa.Column('revoked_at', _WHEN, nullable=True),
    sa.ForeignKeyConstraint(['official_id'], ['officials.id'], name=op.f('fk_web_sessions_official_id_officials')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_web_sessions')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_web_sessions_token_hash'))
    )
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_web_sessions_official_id'), ['official_id'], unique=False)
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('official_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('label', sa.String(length=100), nullable=False),
    sa.Column('created_at', _WHEN, nullable=False),
    sa.Column('created_by', sa.String(length=50), nullable=False),
    sa.Column('expires_at', _WHEN, nullable=True),
    sa.Column('last_used_at', _WHEN, nullable=True),
    sa.Column('revoked_at', _WHEN, nullable=True),
    sa.ForeignKeyConstraint(['official_id'], ['officials.id'], name=op.f('fk_api_tokens_official_id_officials')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_official_id'), ['official_id'], unique=False)
    op.create_table('service_keys',
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('value', sa.String(length=200), nullable=False),
    sa.Column('created_at', _WHEN, nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_service_keys'))
    )


def downgrade() -> None:
    op.drop_table('service_keys')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_official_id'))
    op.drop_table('api_tokens')
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_web_sessions_official_id'))
    op.drop_table('web_sessions')
    op.drop_table('web_accounts')
