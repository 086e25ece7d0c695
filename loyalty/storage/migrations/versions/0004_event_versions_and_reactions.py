"""event versions and reaction receipts

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 01:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0004'
down_revision: Union[str, Sequence[str], None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('outbox_events', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('version', sa.SmallInteger(), server_default='1', nullable=False)
        )
    op.create_table('reaction_receipts',
    sa.Column('reaction', sa.String(length=100), nullable=False),
    sa.Column('event_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['outbox_events.id'], name=op.f('fk_reaction_receipts_event_id_outbox_events'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('reaction', 'event_id', name=op.f('pk_reaction_receipts'))
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('reaction_receipts')
    with op.batch_alter_table('outbox_events', schema=None) as batch_op:
        batch_op.drop_column('version')
