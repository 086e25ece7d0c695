"""Referral queries (admin): the held referrals to review, and the conversion figures. The
member's own code is `Member.referral`."""

from __future__ import annotations

import strawberry
from strawberry import relay
from strawberry.types import Info

from api.core.context import Context
from api.core.errors import UserError, user_errors
from api.core.pagination import connection, decode_id_cursor, page_size
from api.core.permissions import require_scope
from api.referrals.types import Referral, ReferralConversion
from loyalty.core.errors import DomainError
from loyalty.referrals.errors import ReferralsError

_NOTICES = {
    ReferralsError.INVALID_REFERRAL_CODE: "This is not a referral code; it was ignored",
    ReferralsError.UNKNOWN_REFERRAL_CODE: "No member has this referral code; it was ignored",
    ReferralsError.OWN_REFERRAL_CODE: "You cannot use your own referral code",
    ReferralsError.REFERRER_INACTIVE: "This referral code can no longer be used",
    ReferralsError.REFERRALS_CLOSED: "The programme has no referrals now; the code was ignored",
    ReferralsError.REFERRAL_REFUSED: "This referral cannot be accepted",
    ReferralsError.REFERRAL_UNDER_REVIEW: "This referral will be checked before it counts",
}


async def referral_notices(info: Info[Context, None], member_id: int) -> list[UserError]:
    """Why the referral code a new member signed up with was ignored, refused or held."""
    row = await info.context.services.reads.referrals.of_friend(member_id)
    if row is None or row.notice is None:
        return []
    code = ReferralsError(row.notice)
    return user_errors(DomainError(code, _NOTICES[code], "referralCode"))


@strawberry.type
class ReferralQueries:
    @strawberry.field(description="Referrals held for review, oldest first (admin).")
    async def held_referrals(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> relay.Connection[Referral]:
        require_scope(info, "admin")
        limit = page_size(first, info.context.services.settings.max_page_size)
        after_id = decode_id_cursor("held-referrals", after)
        rows = await info.context.services.reads.referrals.held(limit + 1, after_id)
        return connection(rows, limit, after_id is not None, "held-referrals", Referral.from_row)

    @strawberry.field(description="Referral figures and the conversion rate (admin).")
    async def referral_conversion(self, info: Info[Context, None]) -> ReferralConversion:
        require_scope(info, "admin")
        return ReferralConversion.of(await info.context.services.reads.referrals.conversion())
