"""markets: a postcode rule from the known rules instead of a free pattern, and a return window per market

Revision ID: b3f9d2e6c481
Revises: b8e4f1c2d3a7
Create Date: 2026-12-05 13:30:00

The market's postcode pattern becomes the key of a known rule (stores/markets.py POSTCODE_RULES): DE's
`[0-9]{5}` → `5-digits`, DK's `[0-9]{4}` → `4-digits`; a pattern no rule writes the same way becomes "no
check" (the orders' postcode check was per country until now and never read the pattern). The return window is
empty (the network's OMNISTORE_RETURN_WINDOW_DAYS) until a market sets its own. The downgrade writes each rule
back as its pattern. Plain ADD/DROP COLUMNs: on SQLite a batch copy of `market` fails while locations, orders and
prices point at it.
"""
from alembic import op
import sqlalchemy as sa


revision = 'b3f9d2e6c481'
down_revision = 'b8e4f1c2d3a7'
branch_labels = None
depends_on = None

# As they were when this migration was written (a migration does not follow later code).
_RULE_PATTERNS = {
    '4-digits': '[0-9]{4}',
    '5-digits': '[0-9]{5}',
    '4-digits-letters': '[1-9][0-9]{3}[A-Z]{2}',
    '2-3-digits': '[0-9]{2}-[0-9]{3}',
}


def upgrade():
    sqlite = op.get_bind().dialect.name == 'sqlite'
    op.add_column('market', sa.Column('postcode_rule', sa.String(length=16), nullable=False, server_default=''))
    if sqlite:
        op.execute('ALTER TABLE market ADD COLUMN return_window_days INTEGER CONSTRAINT ck_market_return_window_days '
                   'CHECK (return_window_days IS NULL OR return_window_days BETWEEN 1 AND 365)')
    else:
        op.add_column('market', sa.Column('return_window_days', sa.Integer(), nullable=True))
        op.create_check_constraint(op.f('ck_market_return_window_days'), 'market',
                                   'return_window_days IS NULL OR return_window_days BETWEEN 1 AND 365')
    for rule, pattern in _RULE_PATTERNS.items():
        op.execute(sa.text('UPDATE market SET postcode_rule = :rule WHERE postcode_pattern = :pattern')
                   .bindparams(rule=rule, pattern=pattern))
    op.drop_column('market', 'postcode_pattern')
    if not sqlite:  # the models keep no server default (SQLite cannot drop one without a table copy)
        op.alter_column('market', 'postcode_rule', server_default=None)


def downgrade():
    sqlite = op.get_bind().dialect.name == 'sqlite'
    op.add_column('market', sa.Column('postcode_pattern', sa.String(length=100), nullable=False, server_default=''))
    for rule, pattern in _RULE_PATTERNS.items():
        op.execute(sa.text('UPDATE market SET postcode_pattern = :pattern WHERE postcode_rule = :rule')
                   .bindparams(rule=rule, pattern=pattern))
    if not sqlite:
        op.alter_column('market', 'postcode_pattern', server_default=None)
        op.drop_constraint(op.f('ck_market_return_window_days'), 'market', type_='check')
    op.drop_column('market', 'return_window_days')
    op.drop_column('market', 'postcode_rule')
