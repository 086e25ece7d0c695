"""The wallet as the API and the web service use it: passes for members, their signed
archives, download links, and the PassKit bookkeeping (`loyalty.wallet`)."""

from __future__ import annotations

from dataclasses import dataclass

from loyalty.wallet.service import PassState, WalletService
from wallet.apple.pkpass import PassIssuer, build_pkpass
from wallet.google.service import GoogleWallet
from wallet.links import DownloadLinks
from wallet.views import PassViews


@dataclass(frozen=True)
class MemberPass:
    serial_number: str
    apple_wallet_url: str
    google_wallet_save_url: str | None


@dataclass
class Wallet:
    passes: WalletService
    views: PassViews
    issuer: PassIssuer
    links: DownloadLinks
    google: GoogleWallet | None = None

    @property
    def pass_type_id(self) -> str:
        return self.issuer.pass_type_id

    async def member_pass(self, member_id: int) -> MemberPass:
        state = await self.passes.pass_of(member_id)
        google = await self.google.save_url(state) if self.google is not None else None
        return MemberPass(state.serial_number, self.links.url(state.serial_number), google)

    async def pkpass(self, state: PassState) -> bytes | None:
        """The signed pass as it is now; None when its member is gone."""
        view = await self.views.view(state)
        return build_pkpass(view, self.issuer) if view is not None else None

    async def close(self) -> None:
        self.passes.close()
        if self.google is not None:
            await self.google.close()
