"""customer profiles: visits, wishlist, access log, merges; trigram name search on PostgreSQL

Revision ID: 187e45ff2139
Revises: 5b1c0e7d2a41
Create Date: 2026-11-22 12:12:21.224880

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '187e45ff2139'
down_revision = '5b1c0e7d2a41'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        # Partial name search ("muel" finds "Müller") through a trigram index.
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table('customer_access',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=8), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('location_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("action IN ('view', 'export', 'erase', 'merge')", name=op.f('ck_customer_access_action')),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_customer_access_customer_id_customer'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['location_id'], ['location.id'], name=op.f('fk_customer_access_location_id_location')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_customer_access_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_access'))
    )
    with op.batch_alter_table('customer_access', schema=None) as batch_op:
        batch_op.create_index('ix_customer_access_customer_at', ['customer_id', 'created_at'], unique=False)

    op.create_table('customer_merge',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('survivor_id', sa.Integer(), nullable=False),
    sa.Column('merged_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('location_id', sa.Integer(), nullable=True),
    sa.Column('merged_snapshot', sa.JSON(), nullable=False),
    sa.Column('moved', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['location_id'], ['location.id'], name=op.f('fk_customer_merge_location_id_location')),
    sa.ForeignKeyConstraint(['merged_id'], ['customer.id'], name=op.f('fk_customer_merge_merged_id_customer')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_customer_merge_staff_id_staff')),
    sa.ForeignKeyConstraint(['survivor_id'], ['customer.id'], name=op.f('fk_customer_merge_survivor_id_customer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_merge'))
    )
    with op.batch_alter_table('customer_merge', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_merge_merged_id'), ['merged_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_merge_survivor_id'), ['survivor_id'], unique=False)

    op.create_table('customer_visit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=True),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("channel IN ('web', 'store', 'app', 'phone')", name=op.f('ck_customer_visit_channel')),
    sa.CheckConstraint("kind IN ('visit', 'check_in', 'appointment')", name=op.f('ck_customer_visit_kind')),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_customer_visit_customer_id_customer'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['location_id'], ['location.id'], name=op.f('fk_customer_visit_location_id_location')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_customer_visit_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_visit'))
    )
    with op.batch_alter_table('customer_visit', schema=None) as batch_op:
        batch_op.create_index('ix_customer_visit_customer_at', ['customer_id', 'created_at'], unique=False)

    op.create_table('wishlist_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('variant_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=True),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("channel IN ('web', 'store', 'app', 'phone')", name=op.f('ck_wishlist_item_channel')),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_wishlist_item_customer_id_customer'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['location_id'], ['location.id'], name=op.f('fk_wishlist_item_location_id_location')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_wishlist_item_staff_id_staff')),
    sa.ForeignKeyConstraint(['variant_id'], ['variant.id'], name=op.f('fk_wishlist_item_variant_id_variant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wishlist_item')),
    sa.UniqueConstraint('customer_id', 'variant_id', name=op.f('uq_wishlist_item_customer_id_variant_id'))
    )
    with op.batch_alter_table('wishlist_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_wishlist_item_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_wishlist_item_variant_id'), ['variant_id'], unique=False)

    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locale', sa.String(length=5), server_default='de', nullable=False))
        batch_op.add_column(sa.Column('merged_into_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_customer_merged_into_id'), ['merged_into_id'], unique=False)
        batch_op.create_index('ix_customer_search_name_trgm', ['search_name'], unique=False, postgresql_using='gin', postgresql_ops={'search_name': 'gin_trgm_ops'})
        batch_op.create_foreign_key(batch_op.f('fk_customer_merged_into_id_customer'), 'customer', ['merged_into_id'], ['id'])
        batch_op.create_check_constraint(op.f('ck_customer_locale'), "locale IN ('en', 'de', 'da')")



def downgrade():
    # pg_trgm stays installed: other schemas may use it.
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_customer_locale'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_customer_merged_into_id_customer'), type_='foreignkey')
        batch_op.drop_index('ix_customer_search_name_trgm', postgresql_using='gin', postgresql_ops={'search_name': 'gin_trgm_ops'})
        batch_op.drop_index(batch_op.f('ix_customer_merged_into_id'))
        batch_op.drop_column('merged_into_id')
        batch_op.drop_column('locale')

    with op.batch_alter_table('wishlist_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_wishlist_item_variant_id'))
        batch_op.drop_index(batch_op.f('ix_wishlist_item_customer_id'))

    op.drop_table('wishlist_item')
    with op.batch_alter_table('customer_visit', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_visit_customer_at')

    op.drop_table('customer_visit')
    with op.batch_alter_table('customer_merge', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_merge_survivor_id'))
        batch_op.drop_index(batch_op.f('ix_customer_merge_merged_id'))

    op.drop_table('customer_merge')
    with op.batch_alter_table('customer_access', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_access_customer_at')

    op.drop_table('customer_access')
