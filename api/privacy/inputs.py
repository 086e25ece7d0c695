"""Inputs of the privacy mutations."""

from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum(description="The export's format.")
class DataExportFormat(Enum):
    JSON = "json"


@strawberry.input(description="Ask for a copy of your data.")
class RequestDataExportInput:
    format: DataExportFormat = DataExportFormat.JSON


@strawberry.input(
    description="Close your account: personal data is erased after the grace period, during "
    "which `cancelAccountDeletion` stops it."
)
class DeleteAccountInput:
    confirm: bool = strawberry.field(description="Must be true.")
    password: str | None = strawberry.field(
        default=None, description="Your password; required if the account has one."
    )


@strawberry.input
class CancelAccountDeletionInput:
    erasure_id: strawberry.ID | None = strawberry.field(
        default=None, description="The erasure to cancel; default: the scheduled one."
    )


@strawberry.input(description="A copy of a member's data (admin).")
class ExportMemberDataInput:
    member_id: strawberry.ID


@strawberry.input(description="Erase a member's personal data (admin).")
class EraseMemberInput:
    member_id: strawberry.ID
    grace_days: int | None = strawberry.field(
        default=None,
        description="Days until the erasure (0: now); default: the configured grace period.",
    )
