"""worklist: the clinic marks a decline, a proposed time or an unconfirmed moved meeting as dealt with

Revision ID: 0009
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa
import server.db


revision = '0009'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('handled_at', server.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('handled_by', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_column('handled_by')
        batch_op.drop_column('handled_at')
