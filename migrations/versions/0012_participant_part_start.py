"""participant part start: when a participant invited for part of the meeting joins (UTC)

Revision ID: 0012
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa
import server.db


revision = '0012'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('meeting_participants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('part_starts_at', server.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('meeting_participants', schema=None) as batch_op:
        batch_op.drop_column('part_starts_at')
