"""wallet passes: when the member saved the card to Google Wallet

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 09:00:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("wallet_passes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("google_saved_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("wallet_passes", schema=None) as batch_op:
        batch_op.drop_column("google_saved_at")
