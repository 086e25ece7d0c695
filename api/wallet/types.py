"""GraphQL types of wallet passes."""

from __future__ import annotations

import strawberry

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
