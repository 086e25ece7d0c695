"""personal data sealed with a key per member; data exports and erasure requests

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 10:00:00

Members' email, phone, names and birth date move into one sealed column (`personal`) under a
per-member data key (`data_key`, wrapped by the master key `data_key_id`); the email address
is found through its blind index (`email_index`). Rows that exist are sealed here, with the
keyring the composition root installed on the database (`trouw migrate`, `trouw serve`).
"""
from datetime import date
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0011'
down_revision: Union[str, Sequence[str], None] = '0010'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_PLAIN = ("email", "phone", "first_name", "last_name", "birth_date")


def _seal_existing() -> None:
    bind = op.get_bind()
    members = sa.table(
        "members",
        sa.column("id", sa.BigInteger()),
        *(sa.column(name, sa.Date() if name == "birth_date" else sa.String()) for name in _PLAIN),
        sa.column("email_index", sa.LargeBinary()),
        sa.column("personal", sa.LargeBinary()),
        sa.column("data_key_id", sa.String()),
        sa.column("data_key", sa.LargeBinary()),
    )
    rows = list(bind.execute(sa.select(members.c.id, *(members.c[n] for n in _PLAIN))))
    if not rows:
        return
    config = op.get_context().config
    info = (config.attributes.get("database_info") if config else None) or {}
    keyring = info.get("keyring")
    if keyring is None:
        raise RuntimeError(
            "members exist whose personal data must be sealed: run `trouw migrate` with the "
            "privacy keys configured (docs/privacy.md)"
        )
    from loyalty.core.personal import seal

    for row in rows:
        values = {}
        for name in _PLAIN:
            value = row._mapping[name]
            if isinstance(value, date):
                value = value.isoformat()
            if value is not None:
                values[name] = value
        key, key_id, wrapped = keyring.new_data_key()
        bind.execute(
            members.update()
            .where(members.c.id == row.id)
            .values(
                personal=seal(key, values) if values else None,
                email_index=keyring.blind(values["email"]) if values.get("email") else None,
                data_key_id=key_id,
                data_key=wrapped,
            )
        )


def upgrade() -> None:
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email_index', sa.LargeBinary(length=32), nullable=True))
        batch_op.add_column(sa.Column('personal', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('data_key_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('data_key', sa.LargeBinary(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_members_email_index'), ['email_index'])
    _seal_existing()
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_index('ix_members_phone')
        batch_op.drop_constraint(batch_op.f('uq_members_email'), type_='unique')
        for name in _PLAIN:
            batch_op.drop_column(name)

    op.create_table('data_exports',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('requested_by', sa.String(length=120), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('sealed', sa.LargeBinary(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_data_exports_member_id_members'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_data_exports')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_data_exports_token_hash'))
    )
    with op.batch_alter_table('data_exports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_data_exports_member_id'), ['member_id'], unique=False)

    op.create_table('member_erasures',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('requested_by', sa.String(length=120), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('scheduled_for', sa.DateTime(timezone=True), nullable=False),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('fingerprints', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_member_erasures_member_id_members'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_member_erasures'))
    )
    with op.batch_alter_table('member_erasures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_member_erasures_member_id'), ['member_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_member_erasures_scheduled_for'), ['scheduled_for'], unique=False)


def downgrade() -> None:
    raise NotImplementedError("sealed personal data is not turned back into plain columns")
