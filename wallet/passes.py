"""What a member's pass shows: one view, built from the domain, that feeds Apple Wallet (and
later Google Wallet). Building a pass from a view is pure: the same view gives the same pass."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from loyalty.programme.offers_spec import StoreSpec
from loyalty.programme.wallet_spec import WalletSpec
from loyalty.wallet.messages import PassMessage


@dataclass(frozen=True)
class PassOffer:
    key: str
    title: str
    description: str
    valid_from: datetime | None
    valid_until: datetime | None


@dataclass(frozen=True)
class PassProgramme:
    """The programme's side of every pass."""

    key: str
    name: str
    currency: str
    point_value: Decimal
    timezone: str
    look: WalletSpec
    stores: tuple[StoreSpec, ...] = ()


@dataclass(frozen=True)
class PassView:
    """One member's pass as it should look now."""

    serial_number: str
    authentication_token: str
    member_name: str
    member_number: str  # grouped for reading
    barcode_message: str
    balance: int
    pending: int
    tier: str | None
    expiring_points: int
    expiring_at: datetime | None
    programme: PassProgramme
    offers: tuple[PassOffer, ...] = field(default_factory=tuple)
    modified_at: datetime | None = None
    # The latest campaign message sent on the `pass` channel (None: none yet).
    message: PassMessage | None = None

    @property
    def balance_value(self) -> Decimal:
        """The balance in the programme's money (for the `balance` semantic tag)."""
        return (self.programme.point_value * self.balance).quantize(Decimal("0.01"))
