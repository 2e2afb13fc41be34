"""Line rejections at pick time: who rejected which units of an order line, why, and what became of them

Revision ID: a7e3c1d05b92
Revises: 26c03e04ea77
Create Date: 2026-12-05 09:20:00

A new table only: nothing existing is rewritten.
"""
from alembic import op
import sqlalchemy as sa



revision = 'a7e3c1d05b92'
down_revision = '26c03e04ea77'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'line_rejection',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('order_id', sa.Integer(), nullable=False),
        sa.Column('line_id', sa.Integer(), nullable=False),
        sa.Column('variant_id', sa.Integer(), nullable=False),
        sa.Column('location_id', sa.Integer(), nullable=False),
        sa.Column('quantity', sa.Integer(), nullable=False),
        sa.Column('reason', sa.String(length=16), nullable=False),
        sa.Column('staff_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('exclude_until', sa.DateTime(timezone=True), nullable=False),
        sa.Column('outcome', sa.String(length=16), nullable=False),
        sa.Column('choice_due_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('decided_by', sa.String(length=10), nullable=False),
        sa.Column('replacement_line_id', sa.Integer(), nullable=True),
        sa.Column('replacement_order_id', sa.Integer(), nullable=True),
        sa.CheckConstraint("reason IN ('not_found', 'damaged', 'wrong_item')", name=op.f('ck_line_rejection_reason')),
        sa.CheckConstraint("outcome IN ('pending', 'resourced', 'moved', 'dropped', 'unavailable')",
                           name=op.f('ck_line_rejection_outcome')),
        sa.CheckConstraint("decided_by IN ('', 'system', 'customer', 'default')",
                           name=op.f('ck_line_rejection_decided_by')),
        sa.CheckConstraint('quantity > 0', name=op.f('ck_line_rejection_quantity')),
        sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_line_rejection_order_id_orders'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['line_id'], ['order_line.id'], name=op.f('fk_line_rejection_line_id_order_line'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['variant_id'], ['variant.id'], name=op.f('fk_line_rejection_variant_id_variant')),
        sa.ForeignKeyConstraint(['location_id'], ['location.id'],
                                name=op.f('fk_line_rejection_location_id_location')),
        sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_line_rejection_staff_id_staff')),
        sa.ForeignKeyConstraint(['replacement_line_id'], ['order_line.id'],
                                name=op.f('fk_line_rejection_replacement_line_id_order_line'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['replacement_order_id'], ['orders.id'],
                                name=op.f('fk_line_rejection_replacement_order_id_orders'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_line_rejection')),
    )
    op.create_index(op.f('ix_line_rejection_order_id'), 'line_rejection', ['order_id'], unique=False)
    op.create_index('ix_line_rejection_variant_until', 'line_rejection', ['variant_id', 'exclude_until'], unique=False)
    op.create_index('ix_line_rejection_location_at', 'line_rejection', ['location_id', 'created_at'], unique=False)
    op.create_index('ix_line_rejection_outcome_due', 'line_rejection', ['outcome', 'choice_due_at'], unique=False)


def downgrade():
    op.drop_index('ix_line_rejection_outcome_due', table_name='line_rejection')
    op.drop_index('ix_line_rejection_location_at', table_name='line_rejection')
    op.drop_index('ix_line_rejection_variant_until', table_name='line_rejection')
    op.drop_index(op.f('ix_line_rejection_order_id'), table_name='line_rejection')
    op.drop_table('line_rejection')
