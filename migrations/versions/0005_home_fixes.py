"""home fixes: an invitation's answer to the old time after the meeting was moved

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 07:05:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('answer_before_move', sa.String(length=16), server_default='', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_column('answer_before_move')
