"""audit: unsealed events (an id for every event, chain position and hashes given later by the sealer),
one event per list of patients with a side table naming them

Revision ID: 0011
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa
import server.db


revision = '0011'
down_revision = '0013'
branch_labels = None
depends_on = None

_COLUMNS = ("at", "actor_account_id", "actor_role", "patient_id", "on_behalf_of", "action", "outcome", "request_id",
            "detail", "prev_hash", "hash")


def _indexes() -> None:
    op.create_index('ix_audit_events_patient_event', 'audit_events', ['patient_id', 'id'], unique=False)
    op.create_index('ix_audit_events_unsealed', 'audit_events', ['id'], unique=False,
                    sqlite_where=sa.text('seq IS NULL'), postgresql_where=sa.text('seq IS NULL'))


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        # Existing events keep their position as their id.
        op.execute('ALTER TABLE audit_events ADD COLUMN id INTEGER')
        op.execute('UPDATE audit_events SET id = seq')
        op.execute('CREATE SEQUENCE audit_events_id_seq OWNED BY audit_events.id')
        op.execute("SELECT setval('audit_events_id_seq', COALESCE(MAX(id), 0) + 1, false) FROM audit_events")
        op.execute('ALTER TABLE audit_events DROP CONSTRAINT pk_audit_events')
        op.execute("ALTER TABLE audit_events ALTER COLUMN id SET DEFAULT nextval('audit_events_id_seq'), "
                   "ALTER COLUMN id SET NOT NULL, ALTER COLUMN seq DROP NOT NULL, "
                   "ALTER COLUMN prev_hash DROP NOT NULL, ALTER COLUMN hash DROP NOT NULL, "
                   "ADD COLUMN patient_count INTEGER, ADD CONSTRAINT pk_audit_events PRIMARY KEY (id)")
        op.execute('ALTER TABLE audit_events ADD CONSTRAINT uq_audit_events_seq UNIQUE (seq)')
        op.drop_index('ix_audit_events_patient_seq', table_name='audit_events')
        op.drop_index('ix_audit_events_patient_id', table_name='audit_events')
    else:
        # SQLite cannot change a primary key in place: a new table, the rows copied, the old one dropped.
        op.create_table('audit_events_new',
            sa.Column('id', sa.Integer(), nullable=False),
            sa.Column('seq', sa.Integer(), nullable=True),
            sa.Column('at', server.db.UTCDateTime(timezone=True), nullable=False),
            sa.Column('actor_account_id', sa.Integer(), nullable=True),
            sa.Column('actor_role', sa.String(length=32), nullable=False),
            sa.Column('patient_id', sa.Integer(), nullable=True),
            sa.Column('on_behalf_of', sa.Integer(), nullable=True),
            sa.Column('action', sa.String(length=64), nullable=False),
            sa.Column('outcome', sa.String(length=16), nullable=False),
            sa.Column('request_id', sa.String(length=64), nullable=False),
            sa.Column('detail', sa.String(length=200), nullable=False),
            sa.Column('patient_count', sa.Integer(), nullable=True),
            sa.Column('prev_hash', sa.String(length=64), nullable=True),
            sa.Column('hash', sa.String(length=64), nullable=True),
            sa.PrimaryKeyConstraint('id', name='pk_audit_events'),
            sa.UniqueConstraint('seq', name='uq_audit_events_seq'),
            sa.UniqueConstraint('hash', name='uq_audit_events_hash'),
        )
        columns = ", ".join(_COLUMNS)
        op.execute(f'INSERT INTO audit_events_new (id, seq, {columns}) SELECT seq, seq, {columns} FROM audit_events')
        op.drop_table('audit_events')
        op.rename_table('audit_events_new', 'audit_events')
        op.create_index('ix_audit_events_actor_account_id', 'audit_events', ['actor_account_id'], unique=False)
        op.create_index('ix_audit_events_patient_actor', 'audit_events', ['patient_id', 'actor_account_id'],
                        unique=False)
    _indexes()
    op.create_table('audit_event_patients',
        sa.Column('patient_id', sa.Integer(), nullable=False),
        sa.Column('event_id', sa.Integer(), nullable=False),
        sa.Column('actor_account_id', sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint('patient_id', 'event_id', name='pk_audit_event_patients'),
    )
    op.create_index('ix_audit_event_patients_patient_actor', 'audit_event_patients', ['patient_id', 'actor_account_id'],
                    unique=False)
    op.create_index('ix_audit_event_patients_event', 'audit_event_patients', ['event_id'], unique=False)


def downgrade() -> None:
    # Only a fully sealed log without list events can go back (run `samhandling seal` first).
    bind = op.get_bind()
    if bind.execute(sa.text('SELECT COUNT(*) FROM audit_events WHERE seq IS NULL OR patient_count IS NOT NULL')).scalar():
        raise RuntimeError("unsealed or list audit events: they have no place in the old schema")
    op.drop_table('audit_event_patients')
    op.drop_index('ix_audit_events_unsealed', table_name='audit_events')
    op.drop_index('ix_audit_events_patient_event', table_name='audit_events')
    with op.batch_alter_table('audit_events', schema=None, recreate='always') as batch_op:
        batch_op.drop_constraint('uq_audit_events_seq', type_='unique')
        batch_op.drop_column('patient_count')
        batch_op.drop_column('id')
        batch_op.alter_column('seq', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('prev_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_primary_key('pk_audit_events', ['seq'])
        batch_op.create_index('ix_audit_events_patient_seq', ['patient_id', 'seq'], unique=False)
        batch_op.create_index('ix_audit_events_patient_id', ['patient_id'], unique=False)
