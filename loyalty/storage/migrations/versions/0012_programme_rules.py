"""programme rules: waived claw-backs, downgrade grace, applied programme versions

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-10 09:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0012'
down_revision: Union[str, Sequence[str], None] = '0011'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('purchases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('points_waived', sa.BigInteger(), nullable=False, server_default='0'))
    with op.batch_alter_table('purchase_returns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('points_waived', sa.BigInteger(), nullable=False, server_default='0'))
    with op.batch_alter_table('member_tiers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('downgrade_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table('programme_versions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('programme_key', sa.String(length=63), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('spec', sa.JSON(), nullable=False),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('applied_by', sa.String(length=120), nullable=True),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_programme_versions')),
    sa.UniqueConstraint('programme_key', 'version', name=op.f('uq_programme_versions_programme_key'))
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('programme_versions')
    with op.batch_alter_table('member_tiers', schema=None) as batch_op:
        batch_op.drop_column('downgrade_at')
    with op.batch_alter_table('purchase_returns', schema=None) as batch_op:
        batch_op.drop_column('points_waived')
    with op.batch_alter_table('purchases', schema=None) as batch_op:
        batch_op.drop_column('points_waived')
