"""GraphQL types of wallet passes."""

from __future__ import annotations

import strawberry

from loyalty.wallet.service import Installs
from wallet.service import MemberPass


@strawberry.type(description="The member's loyalty card as a wallet pass.")
class WalletPass:
    serial_number: str
    apple_wallet_url: str = strawberry.field(
        description="Opens the member's current Apple Wallet pass (.pkpass); a signed link "
        "that works without other credentials for a short time, so fetch it when needed."
    )
    google_wallet_save_url: str | None = strawberry.field(
        description="Google Wallet save link; null while Google Wallet is not configured."
    )

    @classmethod
    def of(cls, found: MemberPass) -> WalletPass:
        return cls(
            serial_number=found.serial_number,
            apple_wallet_url=found.apple_wallet_url,
            google_wallet_save_url=found.google_wallet_save_url,
        )


@strawberry.type(
    description="Where the members' passes are now (from the installs and removals "
    "Apple Wallet and Google Wallet report)."
)
class WalletInstalls:
    apple_passes: int = strawberry.field(
        description="Passes with at least one device registered for their updates."
    )
    apple_devices: int = strawberry.field(description="Devices registered, over all passes.")
    google_passes: int = strawberry.field(description="Cards saved in Google Wallet.")

    @classmethod
    def of(cls, found: Installs) -> WalletInstalls:
        return cls(
            apple_passes=found.apple_passes,
            apple_devices=found.apple_devices,
            google_passes=found.google_passes,
        )
