"""Queries of wallet passes: `me.walletPass` (resolved from `Member.wallet_pass`)."""

from __future__ import annotations

from strawberry.types import Info

from api.core.context import Context
from api.core.errors import forbidden
from api.core.permissions import require_member
from api.wallet.types import WalletPass


async def member_wallet_pass(info: Info[Context, None], member_id: int) -> WalletPass | None:
    """The member's pass (made the first time it is asked for); null when wallet passes are
    not configured. Only the member may have it: the link opens their pass."""
    if require_member(info).member_id != member_id:
        raise forbidden("Only the member can have their wallet pass")
    wallet = info.context.services.wallet
    if wallet is None:
        return None
    return WalletPass.of(await wallet.member_pass(member_id))
