"""Events of privacy: data exports and erasure. They carry ids and dates only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from loyalty.core.event_base import Event


@dataclass(frozen=True, kw_only=True)
class DataExported(Event):
    name = "member.data_exported"
    description = "A copy of the member's data was made, for the member or for an admin."

    export_id: int
    requested_by: str


@dataclass(frozen=True, kw_only=True)
class ErasureRequested(Event):
    name = "member.erasure_requested"
    description = (
        "Erasing the member was requested; it happens at `scheduled_for` unless cancelled."
    )

    erasure_id: int
    requested_by: str
    scheduled_for: datetime


@dataclass(frozen=True, kw_only=True)
class ErasureCancelled(Event):
    name = "member.erasure_cancelled"
    description = "A requested erasure was cancelled within its grace period."

    erasure_id: int


@dataclass(frozen=True, kw_only=True)
class MemberErased(Event):
    name = "member.erased"
    description = (
        "The member's personal data was erased: their key is gone, devices, sessions and "
        "wallet registrations removed; amounts and dates stay."
    )

    erasure_id: int
