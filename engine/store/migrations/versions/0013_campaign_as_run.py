"""the campaign as it is run: units' duties, people and their assignments, secretaries'
terms, problem lists, evidence; who a notice could not reach

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01

``unit_duties`` are the occurrences of what a unit owes (a township's 汇总表, its progress
reports), each with the next moment a reminder or escalation is due (``next_at``, along a partial
index); ``duty_actions`` the submissions and returns, append-only and hash-chained like the
refusals. ``people`` and ``assignments``: who is assigned to a case in which role, for which
period. ``secretary_terms``: an organization's secretaries and their periods in office.
``problems``: a case's problem list. ``evidence``: the files behind facts, problems and
submissions (the files live outside the database, named by SHA-256). ``notices.unreached``: the
audiences a notice found nobody for.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('people',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('unit', sa.String(length=200), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('phone', sa.String(length=30), nullable=True),
    sa.Column('email', sa.String(length=200), nullable=True),
    sa.Column('channels', sa.JSON(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('added_by', sa.String(length=50), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_people')),
    sa.UniqueConstraint('name', 'unit', name=op.f('uq_people_name_unit'))
    )
    op.create_table('secretary_terms',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('phone', sa.String(length=30), nullable=True),
    sa.Column('starts_on', sa.Date(), nullable=True),
    sa.Column('ends_on', sa.Date(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_by', sa.String(length=50), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_secretary_terms_organization_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_secretary_terms'))
    )
    with op.batch_alter_table('secretary_terms', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_secretary_terms_organization_id'), ['organization_id'], unique=False)

    op.create_table('unit_duties',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('duty', sa.String(length=50), nullable=False),
    sa.Column('occurrence', sa.Integer(), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('next_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('step', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_unit_duties_campaign_id_campaigns')),
    sa.ForeignKeyConstraint(['unit_id'], ['organizations.id'], name=op.f('fk_unit_duties_unit_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unit_duties')),
    sa.UniqueConstraint('campaign_id', 'unit_id', 'duty', 'occurrence', name=op.f('uq_unit_duties_campaign_id_unit_id_duty_occurrence'))
    )
    with op.batch_alter_table('unit_duties', schema=None) as batch_op:
        batch_op.create_index('ix_unit_duties_next_at', ['next_at'], unique=False,
                              sqlite_where=sa.text('next_at IS NOT NULL'), postgresql_where=sa.text('next_at IS NOT NULL'))
        batch_op.create_index(batch_op.f('ix_unit_duties_unit_id'), ['unit_id'], unique=False)

    op.create_table('assignments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=50), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_by', sa.String(length=50), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_assignments_case_id_cases')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_assignments_person_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assignments'))
    )
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.create_index('ix_assignments_case_role', ['case_id', 'role'], unique=False)
        batch_op.create_index(batch_op.f('ix_assignments_person_id'), ['person_id'], unique=False)

    op.create_table('duty_actions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_duty_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=50), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('files', sa.JSON(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['unit_duty_id'], ['unit_duties.id'], name=op.f('fk_duty_actions_unit_duty_id_unit_duties')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_duty_actions'))
    )
    with op.batch_alter_table('duty_actions', schema=None) as batch_op:
        batch_op.create_index('ix_duty_actions_seq', ['seq'], unique=True)
        batch_op.create_index(batch_op.f('ix_duty_actions_unit_duty_id'), ['unit_duty_id'], unique=False)

    op.create_table('problems',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('category', sa.Integer(), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('measures', sa.Text(), nullable=False),
    sa.Column('responsible', sa.String(length=100), nullable=False),
    sa.Column('responsible_person_id', sa.Integer(), nullable=True),
    sa.Column('deadline', sa.Date(), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('opened_by', sa.String(length=50), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_by', sa.String(length=50), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_problems_case_id_cases')),
    sa.ForeignKeyConstraint(['responsible_person_id'], ['people.id'], name=op.f('fk_problems_responsible_person_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_problems')),
    sa.UniqueConstraint('case_id', 'number', name=op.f('uq_problems_case_id_number'))
    )
    with op.batch_alter_table('problems', schema=None) as batch_op:
        batch_op.create_index('ix_problems_due_at', ['due_at'], unique=False)

    op.create_table('evidence',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('media_type', sa.String(length=100), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('fact', sa.String(length=50), nullable=True),
    sa.Column('problem_id', sa.Integer(), nullable=True),
    sa.Column('duty_action_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('added_by', sa.String(length=50), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_evidence_case_id_cases')),
    sa.ForeignKeyConstraint(['duty_action_id'], ['duty_actions.id'], name=op.f('fk_evidence_duty_action_id_duty_actions')),
    sa.ForeignKeyConstraint(['problem_id'], ['problems.id'], name=op.f('fk_evidence_problem_id_problems')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evidence'))
    )
    with op.batch_alter_table('evidence', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_evidence_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_evidence_sha256'), ['sha256'], unique=False)

    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unreached', sa.JSON(), nullable=False, server_default=sa.text("'[]'")))

    _append_only()


def downgrade() -> None:
    _drop_append_only()
    # ALTER TABLE … DROP COLUMN, not batch mode: copying notices would fail on the deliveries'
    # foreign keys (as in 0011, 0012).
    op.drop_column("notices", "unreached")

    with op.batch_alter_table('evidence', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evidence_sha256'))
        batch_op.drop_index(batch_op.f('ix_evidence_case_id'))

    op.drop_table('evidence')
    with op.batch_alter_table('problems', schema=None) as batch_op:
        batch_op.drop_index('ix_problems_due_at')

    op.drop_table('problems')
    with op.batch_alter_table('duty_actions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_duty_actions_unit_duty_id'))
        batch_op.drop_index('ix_duty_actions_seq')

    op.drop_table('duty_actions')
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assignments_person_id'))
        batch_op.drop_index('ix_assignments_case_role')

    op.drop_table('assignments')
    with op.batch_alter_table('unit_duties', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_unit_duties_unit_id'))
        batch_op.drop_index('ix_unit_duties_next_at')

    op.drop_table('unit_duties')
    with op.batch_alter_table('secretary_terms', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_secretary_terms_organization_id'))

    op.drop_table('secretary_terms')
    op.drop_table('people')


def _append_only() -> None:
    """Submissions and returns are never edited or deleted (the function is 0005's)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE TRIGGER duty_actions_append_only BEFORE UPDATE OR DELETE ON duty_actions "
                   "FOR EACH ROW EXECUTE FUNCTION rectify_append_only()")
        op.execute("CREATE TRIGGER duty_actions_no_truncate BEFORE TRUNCATE ON duty_actions "
                   "FOR EACH STATEMENT EXECUTE FUNCTION rectify_append_only()")
        return
    for action in ("UPDATE", "DELETE"):
        op.execute(f"CREATE TRIGGER duty_actions_no_{action.lower()} BEFORE {action} ON duty_actions BEGIN "
                   f"SELECT RAISE(ABORT, 'duty_actions is append-only (只能追加，不能修改或删除): {action} refused'); END")


def _drop_append_only() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER duty_actions_append_only ON duty_actions")
        op.execute("DROP TRIGGER duty_actions_no_truncate ON duty_actions")
        return
    for action in ("update", "delete"):
        op.execute(f"DROP TRIGGER duty_actions_no_{action}")
