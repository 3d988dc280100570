"""measure updates by a relative: the patient they acted for (on_behalf_of)

Revision ID: 0013
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('measure_updates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('on_behalf_of', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('measure_updates', schema=None) as batch_op:
        batch_op.drop_column('on_behalf_of')
