"""variant stock summary and trigram search index

- variant_stock: per variant, on_hand / allocated / versions / levels summed over its stock_level rows,
  kept by services.stock; filled here from the rows already there.
- PostgreSQL only: pg_trgm and a GIN trigram index on product.search_text, so the catalogue search's
  LIKE '%word%' is an index probe. SQLite keeps scanning the products.
- product.updated_at indexed: the newest change is the search's cheap cue that the catalogue changed.

Revision ID: b046dea4fa35
Revises: 7c3e9a1f0b52
Create Date: 2026-11-22 12:18:46.992089

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b046dea4fa35'
down_revision = '7c3e9a1f0b52'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('variant_stock',
    sa.Column('variant_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('on_hand', sa.BigInteger(), nullable=False),
    sa.Column('allocated', sa.BigInteger(), nullable=False),
    sa.Column('versions', sa.BigInteger(), nullable=False),
    sa.Column('levels', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['variant_id'], ['variant.id'], name=op.f('fk_variant_stock_variant_id_variant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('variant_id', name=op.f('pk_variant_stock'))
    )
    op.execute(
        "INSERT INTO variant_stock (variant_id, on_hand, allocated, versions, levels) "
        "SELECT variant_id, sum(on_hand), sum(allocated), sum(version), count(*) FROM stock_level GROUP BY variant_id"
    )
    with op.batch_alter_table('product', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_product_updated_at'), ['updated_at'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
        op.create_index('ix_product_search_text_trgm', 'product', ['search_text'], unique=False,
                        postgresql_using='gin', postgresql_ops={'search_text': 'gin_trgm_ops'})


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_index('ix_product_search_text_trgm', table_name='product')
    with op.batch_alter_table('product', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_product_updated_at'))
    op.drop_table('variant_stock')
