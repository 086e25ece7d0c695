"""Referral mutations (admin): reviewing a held referral."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.core.context import Context
from api.core.errors import UserError, user_errors
from api.core.ids import decode
from api.core.permissions import require_scope
from api.referrals.inputs import ReviewDecision, ReviewReferralInput
from api.referrals.types import Referral
from loyalty.core.errors import DomainError


@strawberry.type
class ReviewReferralPayload:
    referral: Referral | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ReferralMutations:
    @strawberry.mutation(description="Approve or reject a held referral (admin).")
    async def review_referral(
        self, info: Info[Context, None], input: ReviewReferralInput
    ) -> ReviewReferralPayload:
        integration = require_scope(info, "admin")
        referral_id = decode(input.referral_id, "Referral", "referralId")
        try:
            row = await info.context.services.referrals.review(
                referral_id,
                approve=input.decision == ReviewDecision.APPROVE,
                actor=f"api-key:{integration.name}"[:120],
                note=input.note,
            )
        except DomainError as exc:
            return ReviewReferralPayload(user_errors=user_errors(exc))
        return ReviewReferralPayload(referral=Referral.from_row(row))
