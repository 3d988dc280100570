"""push: device subscriptions, push preferences, the reminder outbox

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-04 07:10:00
"""
from alembic import op
import sqlalchemy as sa
import server.db


revision = '0007'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('push_subscriptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('endpoint', sa.String(length=1000), nullable=False),
    sa.Column('p256dh', sa.String(length=200), nullable=False),
    sa.Column('auth', sa.String(length=100), nullable=False),
    sa.Column('label', sa.String(length=100), nullable=False),
    sa.Column('created_at', server.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_success_at', server.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_push_subscriptions_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_push_subscriptions')),
    sa.UniqueConstraint('endpoint', name=op.f('uq_push_subscriptions_endpoint'))
    )
    op.create_index(op.f('ix_push_subscriptions_account_id'), 'push_subscriptions', ['account_id'], unique=False)
    op.create_table('push_preferences',
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('quiet_start', sa.String(length=5), nullable=False),
    sa.Column('quiet_end', sa.String(length=5), nullable=False),
    sa.Column('detailed', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_push_preferences_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_id', name=op.f('pk_push_preferences'))
    )
    op.create_table('reminders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('recipient_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('subject', sa.String(length=80), nullable=False),
    sa.Column('due_at', server.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('urgent', sa.Boolean(), nullable=False),
    sa.Column('message', sa.String(length=300), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('link', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('lease_until', server.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('claimed_by', sa.String(length=64), nullable=False),
    sa.Column('sent_at', server.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=200), nullable=False),
    sa.Column('notification_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_reminders_patient_id_patients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['recipient_id'], ['accounts.id'], name=op.f('fk_reminders_recipient_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reminders')),
    sa.UniqueConstraint('recipient_id', 'kind', 'subject', 'due_at', name=op.f('uq_reminders_recipient_id'))
    )
    op.create_index('ix_reminders_status_due', 'reminders', ['status', 'due_at'], unique=False)
    op.create_index(op.f('ix_reminders_patient_id'), 'reminders', ['patient_id'], unique=False)
    op.create_index(op.f('ix_reminders_recipient_id'), 'reminders', ['recipient_id'], unique=False)


def downgrade() -> None:
    op.drop_table('reminders')
    op.drop_table('push_preferences')
    op.drop_table('push_subscriptions')
