"""Privacy mutations: the member's export and account deletion, the back office's export and
erasure (`admin` scope)."""

from __future__ import annotations

from datetime import timedelta

import strawberry
from strawberry.types import Info

from api.core.context import Context
from api.core.errors import ApiError, ApiErrorCode, user_errors
from api.core.ids import decode, row_id
from api.core.permissions import require_member, require_scope
from api.privacy.inputs import (
    CancelAccountDeletionInput,
    DeleteAccountInput,
    EraseMemberInput,
    ExportMemberDataInput,
    RequestDataExportInput,
)
from api.privacy.types import DataExport, DataExportPayload, Erasure, ErasurePayload
from loyalty.core.errors import DomainError
from loyalty.privacy.service import PrivacyService


def _privacy(info: Info[Context, None]) -> PrivacyService:
    privacy = info.context.services.privacy
    if privacy is None:
        raise ApiError(ApiErrorCode.FORBIDDEN, "Privacy requests are not available here")
    return privacy


def download_url(info: Info[Context, None], token: str) -> str:
    settings = info.context.services.settings
    base = settings.public_url or settings.wallet_public_url
    return f"{base}/privacy/exports/{token}"


async def _export(info: Info[Context, None], member_id: int, by: str) -> DataExportPayload:
    try:
        row, token = await _privacy(info).export(member_id, by)
    except DomainError as exc:
        return DataExportPayload(user_errors=user_errors(exc))
    now = info.context.services.clock.now()
    return DataExportPayload(export=DataExport.from_row(row, download_url(info, token), now))


def _erasure_id(raw: strawberry.ID | None) -> int | None:
    if raw is None:
        return None
    kind, _, number = str(raw).partition(":")
    return row_id(number) if kind == "Erasure" else 0


@strawberry.type
class PrivacyMutations:
    @strawberry.mutation(description="A copy of everything Trouw holds about you, as JSON.")
    async def request_data_export(
        self, info: Info[Context, None], input: RequestDataExportInput
    ) -> DataExportPayload:
        principal = require_member(info)
        return await _export(info, principal.member_id, "member")

    @strawberry.mutation(
        description="Close your account: your personal data is erased after the grace period."
    )
    async def delete_account(
        self, info: Info[Context, None], input: DeleteAccountInput
    ) -> ErasurePayload:
        principal = require_member(info)
        try:
            row = await _privacy(info).request_erasure_by_member(
                principal.member_id, confirm=input.confirm, password=input.password
            )
        except DomainError as exc:
            return ErasurePayload(user_errors=user_errors(exc))
        return ErasurePayload(erasure=Erasure.from_row(row))

    @strawberry.mutation(description="Keep your account: cancel its scheduled erasure.")
    async def cancel_account_deletion(
        self, info: Info[Context, None], input: CancelAccountDeletionInput
    ) -> ErasurePayload:
        principal = require_member(info)
        try:
            row = await _privacy(info).cancel_erasure(
                principal.member_id, _erasure_id(input.erasure_id)
            )
        except DomainError as exc:
            return ErasurePayload(user_errors=user_errors(exc))
        return ErasurePayload(erasure=Erasure.from_row(row))

    @strawberry.mutation(description="A copy of a member's data, as JSON (admin).")
    async def export_member_data(
        self, info: Info[Context, None], input: ExportMemberDataInput
    ) -> DataExportPayload:
        actor = require_scope(info, "admin").name
        member_id = decode(input.member_id, "Member", "memberId")
        return await _export(info, member_id, f"admin:{actor}")

    @strawberry.mutation(
        description="Erase a member's personal data after the grace period (admin); amounts "
        "and dates stay."
    )
    async def erase_member(
        self, info: Info[Context, None], input: EraseMemberInput
    ) -> ErasurePayload:
        actor = require_scope(info, "admin").name
        member_id = decode(input.member_id, "Member", "memberId")
        grace = None if input.grace_days is None else timedelta(days=input.grace_days)
        try:
            row = await _privacy(info).request_erasure(member_id, f"admin:{actor}", grace)
        except DomainError as exc:
            return ErasurePayload(user_errors=user_errors(exc))
        return ErasurePayload(erasure=Erasure.from_row(row))
