"""Queries of wallet passes: `me.walletPass` (resolved from `Member.wallet_pass`), and for
admins how many passes are in Apple Wallet and Google Wallet now."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.core.context import Context
from api.core.errors import forbidden
from api.core.permissions import require_member, require_scope
from api.wallet.types import WalletInstalls, WalletPass


async def member_wallet_pass(info: Info[Context, None], member_id: int) -> WalletPass | None:
    """The member's pass (made the first time it is asked for); null when wallet passes are
    not configured. Only the member may have it: the link opens their pass."""
    if require_member(info).member_id != member_id:
        raise forbidden("Only the member can have their wallet pass")
    wallet = info.context.services.wallet
    if wallet is None:
        return None
    return WalletPass.of(await wallet.member_pass(member_id))


@strawberry.type
class WalletQueries:
    @strawberry.field(
        description="How many members' passes are in Apple Wallet and Google Wallet now "
        "(admin); null when the installation has no wallet passes configured."
    )
    async def wallet_installs(self, info: Info[Context, None]) -> WalletInstalls | None:
        require_scope(info, "admin")
        wallet = info.context.services.wallet
        if wallet is None:
            return None
        return WalletInstalls.of(await wallet.passes.installs())
