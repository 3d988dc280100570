"""research interviews: meetings held (held_at, held_by), private notifications, information text versions,
request history

Revision ID: 0008
Revises: 0004
Create Date: 2026-12-04 07:05:00
"""
from alembic import op
import sqlalchemy as sa
import server.db


revision = '0008'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('held_at', server.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('held_by', sa.Integer(), nullable=True))

    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('private', sa.Boolean(), nullable=False, server_default=sa.false()))

    op.create_table('research_texts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('body_nb', sa.Text(), nullable=False),
    sa.Column('body_en', sa.Text(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', server.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_research_texts')),
    sa.UniqueConstraint('version', name=op.f('uq_research_texts_version'))
    )
    op.create_table('research_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('meeting_number', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('text_version', sa.Integer(), nullable=True),
    sa.Column('contact_method', sa.String(length=16), nullable=False),
    sa.Column('contact_when', sa.String(length=200), nullable=False),
    sa.Column('by_account_id', sa.Integer(), nullable=True),
    sa.Column('at', server.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], name=op.f('fk_research_events_meeting_id_meetings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_research_events_patient_id_patients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_research_events'))
    )
    with op.batch_alter_table('research_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_research_events_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_research_events_meeting_id'), ['meeting_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_research_events_patient_id'), ['patient_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('research_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_research_events_patient_id'))
        batch_op.drop_index(batch_op.f('ix_research_events_meeting_id'))
        batch_op.drop_index(batch_op.f('ix_research_events_at'))
    op.drop_table('research_events')
    op.drop_table('research_texts')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_column('private')
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.drop_column('held_by')
        batch_op.drop_column('held_at')
