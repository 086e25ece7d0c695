"""Data exports and erasures as the API shows them."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING

import strawberry

from api.core.errors import UserError

if TYPE_CHECKING:
    from loyalty.privacy import models


@strawberry.enum(description="Where a data export is.")
class DataExportState(Enum):
    READY = "ready"
    EXPIRED = "expired"


@strawberry.enum(description="Where an erasure is: scheduled (cancellable), cancelled, done.")
class ErasureState(Enum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"
    COMPLETED = "completed"


@strawberry.type(description="A copy of everything Trouw holds about a member, as JSON.")
class DataExport:
    id: strawberry.ID
    state: DataExportState
    download_url: str | None = strawberry.field(
        description="Where to download the JSON (no further authorisation; keep it private); "
        "null once expired."
    )
    expires_at: datetime

    @classmethod
    def from_row(cls, row: models.DataExport, url: str | None, now: datetime) -> DataExport:
        ready = row.expires_at > now and row.sealed is not None
        return cls(
            id=strawberry.ID(f"DataExport:{row.id}"),
            state=DataExportState.READY if ready else DataExportState.EXPIRED,
            download_url=url if ready else None,
            expires_at=row.expires_at,
        )


@strawberry.type(description="Erasing a member's personal data, after a grace period.")
class Erasure:
    id: strawberry.ID
    state: ErasureState
    scheduled_for: datetime
    completed_at: datetime | None
    cancelled_at: datetime | None

    @classmethod
    def from_row(cls, row: models.MemberErasure) -> Erasure:
        return cls(
            id=strawberry.ID(f"Erasure:{row.id}"),
            state=ErasureState(row.state),
            scheduled_for=row.scheduled_for,
            completed_at=row.completed_at,
            cancelled_at=row.cancelled_at,
        )


@strawberry.type
class DataExportPayload:
    export: DataExport | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ErasurePayload:
    erasure: Erasure | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
