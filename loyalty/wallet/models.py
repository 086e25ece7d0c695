"""The members' wallet passes and the devices registered for their updates."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.storage.base import Base
from loyalty.storage.types import BigId


class WalletPass(Base):
    """A member's pass. `update_tag` is the id of the last outbox event that changed what it
    shows (so tags only grow, installation-wide); `pushed_tag` the last one devices were pushed
    about; `pending_since` when the first change not yet pushed happened."""

    __tablename__ = "wallet_passes"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("members.id", ondelete="CASCADE"), unique=True
    )
    serial_number: Mapped[str] = mapped_column(String(64), unique=True)
    authentication_token: Mapped[str] = mapped_column(String(64))
    update_tag: Mapped[int] = mapped_column(BigInteger, default=0)
    pushed_tag: Mapped[int] = mapped_column(BigInteger, default=0)
    modified_at: Mapped[datetime]
    pending_since: Mapped[datetime | None] = mapped_column(index=True)
    created_at: Mapped[datetime]
    # Google Wallet: the tag its loyalty object shows (None: no object made yet), and when
    # the member was last notified of an update (ISO times, the last three).
    google_synced_tag: Mapped[int | None] = mapped_column(BigInteger)
    google_notices: Mapped[list[str]] = mapped_column(default=list)
    # When the member saved the card to Google Wallet (its save callback); None: not saved,
    # or deleted since.
    google_saved_at: Mapped[datetime | None]


class WalletRegistration(Base):
    """A device (Wallet's device library id) that asked for a pass's updates, with its push
    token."""

    __tablename__ = "wallet_registrations"
    __table_args__ = (UniqueConstraint("device_library_id", "pass_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    device_library_id: Mapped[str] = mapped_column(String(128))
    pass_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("wallet_passes.id", ondelete="CASCADE"), index=True
    )
    push_token: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


Index("ix_wallet_registrations_push_token", WalletRegistration.push_token)


class WalletPassMessage(Base):
    """The latest campaign message sent to the member on the `pass` channel, as the back of
    their pass shows it (one per member; kept for a pass made later, too). `event_id` is the
    `campaign.message` event's, so a message never replaces a newer one."""

    __tablename__ = "wallet_pass_messages"
    member_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    event_id: Mapped[int] = mapped_column(BigInteger)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime]
