"""hardening: four-eyes staff codes, account notices, 64-bit sign counts, purge indexes

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 05:52:58.520771
"""
from alembic import op
import sqlalchemy as sa
import server.db


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('account_notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('created_at', server.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('message', sa.String(length=300), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_account_notices_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account_notices'))
    )
    with op.batch_alter_table('account_notices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_account_notices_account_id'), ['account_id'], unique=False)

    with op.batch_alter_table('credentials', schema=None) as batch_op:
        batch_op.add_column(sa.Column('issued_by', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('approved_by', sa.Integer(), nullable=True))
        batch_op.alter_column('sign_count',
               existing_type=sa.INTEGER(),
               type_=sa.BigInteger(),
               existing_nullable=False)

    with op.batch_alter_table('enrollment_codes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('needs_approval', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('approved_by', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('approved_at', server.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('revoked_by', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_enrollment_codes_revoked_by_accounts'), 'accounts', ['revoked_by'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_enrollment_codes_approved_by_accounts'), 'accounts', ['approved_by'], ['id'])

    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sessions_last_seen_at'), ['last_seen_at'], unique=False)

    with op.batch_alter_table('webauthn_challenges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webauthn_challenges_expires_at'), ['expires_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('webauthn_challenges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webauthn_challenges_expires_at'))

    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sessions_last_seen_at'))

    with op.batch_alter_table('enrollment_codes', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_enrollment_codes_approved_by_accounts'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_enrollment_codes_revoked_by_accounts'), type_='foreignkey')
        batch_op.drop_column('revoked_by')
        batch_op.drop_column('approved_at')
        batch_op.drop_column('approved_by')
        batch_op.drop_column('needs_approval')

    with op.batch_alter_table('credentials', schema=None) as batch_op:
        batch_op.alter_column('sign_count',
               existing_type=sa.BigInteger(),
               type_=sa.INTEGER(),
               existing_nullable=False)
        batch_op.drop_column('approved_by')
        batch_op.drop_column('issued_by')

    with op.batch_alter_table('account_notices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_account_notices_account_id'))

    op.drop_table('account_notices')
