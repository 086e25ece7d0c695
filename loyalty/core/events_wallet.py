"""Events of wallet passes: a member's pass added to or removed from a wallet."""

from __future__ import annotations

from dataclasses import dataclass

from loyalty.core.event_base import Event


@dataclass(frozen=True, kw_only=True)
class WalletPassAdded(Event):
    name = "wallet.pass_added"
    description = (
        "The member's pass was added to a wallet: a device registered for its updates in Apple "
        "Wallet (`wallet` apple; one event per device), or the member saved it to Google "
        "Wallet (`wallet` google)."
    )

    wallet: str  # "apple" or "google"
    serial_number: str


@dataclass(frozen=True, kw_only=True)
class WalletPassRemoved(Event):
    name = "wallet.pass_removed"
    description = (
        "The member's pass left a wallet: a device unregistered from its updates, or APNs said "
        "the device is gone (`reason` removed or device_gone; apple), or the member deleted it "
        "from Google Wallet (google)."
    )

    wallet: str  # "apple" or "google"
    serial_number: str
    reason: str  # "removed" or "device_gone"
