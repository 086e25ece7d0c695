"""What wallet holds about a member: their pass, the devices registered for it and the latest
campaign message the pass shows. Deleted on erasure (the pass on the phone stops updating and
its link stops working)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.personal_data import (
    Holding,
    PersonalDataRegistry,
    delete_rows,
    rows_as_dicts,
    rows_of,
)
from loyalty.wallet.models import WalletPass, WalletPassMessage, WalletRegistration


async def _export(session: AsyncSession, member_id: int) -> Any:
    found = await session.scalar(select(WalletPass).where(WalletPass.member_id == member_id))
    if found is None:
        return None
    registrations = await session.scalars(
        select(WalletRegistration)
        .where(WalletRegistration.pass_id == found.id)
        .order_by(WalletRegistration.id)
    )
    out: dict[str, Any] = rows_as_dicts([found], ("member_id", "authentication_token"))[0]
    out["registrations"] = rows_as_dicts(list(registrations), ("push_token",))
    return out


def register(registry: PersonalDataRegistry) -> None:
    registry.add(
        Holding(
            "wallet",
            "walletPass",
            ("wallet_passes", "wallet_registrations"),
            _export,
            delete_rows(WalletPass),
            erasure="deleted, with the device registrations",
        )
    )
    registry.add(
        Holding(
            "wallet",
            "walletPassMessage",
            ("wallet_pass_messages",),
            rows_of(WalletPassMessage),
            delete_rows(WalletPassMessage),
            erasure="deleted",
        )
    )
