"""periodic jobs (when each is due, how its last run went) and worker heartbeats

Revision ID: a7c3e9d2b4f6
Revises: a7c4e2f9b813
Create Date: 2026-12-05 09:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'a7c3e9d2b4f6'
down_revision = 'a7c4e2f9b813'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'periodic_job',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('next_due_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_outcome', sa.String(length=8), nullable=False),
        sa.Column('last_report', sa.String(length=500), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=False),
        sa.Column('last_worker', sa.String(length=120), nullable=False),
        sa.Column('runs', sa.Integer(), nullable=False),
        sa.Column('failures_in_a_row', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_periodic_job')),
    )
    op.create_table(
        'worker_heartbeat',
        sa.Column('id', sa.String(length=120), nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('stopped_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_worker_heartbeat')),
    )
    with op.batch_alter_table('worker_heartbeat', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_worker_heartbeat_seen_at'), ['seen_at'], unique=False)


def downgrade():
    with op.batch_alter_table('worker_heartbeat', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_worker_heartbeat_seen_at'))
    op.drop_table('worker_heartbeat')
    op.drop_table('periodic_job')
