"""relatives: delegations, the session's choice of whom to act for, on-behalf-of in the audit, wishes sent by a relative

Revision ID: 0006
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa
import server.db


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('delegations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('relative_account_id', sa.Integer(), nullable=True),
    sa.Column('patient_name', sa.String(length=200), nullable=False),
    sa.Column('relative_name', sa.String(length=200), nullable=False),
    sa.Column('relation', sa.String(length=16), nullable=False),
    sa.Column('scopes', sa.String(length=64), nullable=False),
    sa.Column('ends_at', server.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', server.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', server.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('code_lookup', sa.String(length=8), nullable=True),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('code_expires_at', server.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('code_used_at', server.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('code_failed_attempts', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_delegations_patient_id_patients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['relative_account_id'], ['accounts.id'], name=op.f('fk_delegations_relative_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_delegations')),
    sa.UniqueConstraint('code_lookup', name=op.f('uq_delegations_code_lookup'))
    )
    with op.batch_alter_table('delegations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_delegations_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_delegations_relative_account_id'), ['relative_account_id'], unique=False)

    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('acting_delegation_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_sessions_acting_delegation_id_delegations'), 'delegations',
                                    ['acting_delegation_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('on_behalf_of', sa.Integer(), nullable=True))
        batch_op.create_index('ix_audit_events_patient_seq', ['patient_id', 'seq'], unique=False)
        batch_op.create_index('ix_audit_events_patient_actor', ['patient_id', 'actor_account_id'], unique=False)

    with op.batch_alter_table('meeting_wishes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('submitted_by_relative', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('meeting_wishes', schema=None) as batch_op:
        batch_op.drop_column('submitted_by_relative')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_patient_actor')
        batch_op.drop_index('ix_audit_events_patient_seq')
        batch_op.drop_column('on_behalf_of')
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_sessions_acting_delegation_id_delegations'), type_='foreignkey')
        batch_op.drop_column('acting_delegation_id')
    with op.batch_alter_table('delegations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_delegations_relative_account_id'))
        batch_op.drop_index(batch_op.f('ix_delegations_patient_id'))
    op.drop_table('delegations')
