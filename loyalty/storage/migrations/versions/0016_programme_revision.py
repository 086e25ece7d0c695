"""the programme's revision: a token that changes with every applied file, so that processes
keep the parsed programme in memory and check one small column for changes

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 10:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0016'
down_revision: Union[str, Sequence[str], None] = '0015'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('programmes') as batch_op:
        batch_op.add_column(
            sa.Column('revision', sa.String(length=32), nullable=False, server_default='')
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('programmes') as batch_op:
        batch_op.drop_column('revision')
