"""GraphQL types of referrals: the member's own code and counts (`Member.referral`), a
referral as admins review it, and the programme's conversion figures."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import relay
from strawberry.types import Info

from api.core.context import Context
from api.core.errors import forbidden
from api.core.permissions import require_scope

if TYPE_CHECKING:
    from collections.abc import Iterable

    from api.members.types import Member
    from loyalty.referrals.models import Referral as ReferralRow
    from loyalty.referrals.models import ReferralDecision as DecisionRow
    from loyalty.referrals.read import Conversion


@strawberry.enum(description="Where a referral stands.")
class ReferralState(Enum):
    IGNORED = "ignored"  # the code was not usable; the sign-up went through without it
    PENDING = "pending"  # waits for the friend's first qualifying purchase
    HELD = "held"  # waits for an admin's review
    QUALIFIED = "qualified"  # waits for the purchase's return window
    REWARDED = "rewarded"
    REJECTED = "rejected"
    CANCELLED = "cancelled"  # the qualifying purchase came back within the window


@strawberry.type(description="The member's own referral code, its link and what it brought.")
class MemberReferral:
    code: str
    share_url: str | None
    invited_count: int = strawberry.field(
        description="Friends who joined with the code and were let through."
    )
    rewarded_count: int = strawberry.field(
        description="Referrals for which the member got their reward."
    )


@strawberry.type(description="One decision on a referral, by the fraud checks or an admin.")
class ReferralDecision:
    decision: str
    actor: str
    risk_score: int
    reasons: list[str]
    note: str | None
    decided_at: datetime

    @classmethod
    def from_row(cls, row: DecisionRow) -> ReferralDecision:
        return cls(
            decision=row.decision,
            actor=row.actor,
            risk_score=row.risk_score,
            reasons=list(row.reasons),
            note=row.note,
            decided_at=row.decided_at,
        )


@strawberry.type(description="A friend's sign-up with a member's code, as admins see it.")
class Referral(relay.Node):
    id: relay.NodeID[int]
    state: ReferralState
    risk_score: int
    reasons: list[str] = strawberry.field(description="Reason codes of the fraud checks.")
    referrer_id: strawberry.Private[int | None]
    friend_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: ReferralRow) -> Referral:
        return cls(
            id=row.id,
            state=ReferralState(row.state),
            risk_score=row.risk_score,
            reasons=list(row.reasons),
            referrer_id=row.referrer_id,
            friend_id=row.friend_id,
        )

    @strawberry.field
    async def referrer(
        self, info: Info[Context, None]
    ) -> Annotated[Member, strawberry.lazy("api.members.types")] | None:
        from api.members.types import Member

        if self.referrer_id is None:
            return None
        row = await info.context.loaders.members.member.load(self.referrer_id)
        return Member.from_row(row) if row is not None else None

    @strawberry.field
    async def friend(
        self, info: Info[Context, None]
    ) -> Annotated[Member, strawberry.lazy("api.members.types")] | None:
        from api.members.types import Member

        row = await info.context.loaders.members.member.load(self.friend_id)
        return Member.from_row(row) if row is not None else None

    @strawberry.field(description="Every decision taken on it, oldest first.")
    async def decisions(self, info: Info[Context, None]) -> list[ReferralDecision]:
        rows = await info.context.services.reads.referrals.decisions(self.id)
        return [ReferralDecision.from_row(r) for r in rows]

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls,
        *,
        info: Info[Context, None],
        node_ids: Iterable[str],
        required: bool = False,
    ) -> list[Referral | None]:
        from api.core.ids import row_id

        require_scope(info, "admin")
        rows = await info.context.loaders.referrals.referral.load_many(
            [row_id(i) for i in node_ids]
        )
        return [cls.from_row(r) if r is not None else None for r in rows]


@strawberry.type(description="Referral figures of the programme (admin).")
class ReferralConversion:
    signed_up: int = strawberry.field(description="Let through, waiting for a purchase.")
    held: int
    rejected: int
    qualified: int = strawberry.field(description="Bought; waiting for the return window.")
    rewarded: int
    cancelled: int
    accepted: int = strawberry.field(description="Every friend let through, whatever came next.")
    conversion_rate: float = strawberry.field(description="rewarded / accepted (0 when none).")

    @classmethod
    def of(cls, c: Conversion) -> ReferralConversion:
        return cls(
            signed_up=c.signed_up,
            held=c.held,
            rejected=c.rejected,
            qualified=c.qualified,
            rewarded=c.rewarded,
            cancelled=c.cancelled,
            accepted=c.accepted,
            conversion_rate=c.conversion_rate,
        )


async def member_referral(info: Info[Context, None], member_id: int) -> MemberReferral:
    """`Member.referral`: only the member sees their own code (or the back office)."""
    from loyalty.auth.apikeys import Integration
    from loyalty.auth.service import MemberPrincipal

    principal = info.context.principal
    admin = isinstance(principal, Integration) and principal.allows("admin")
    own = isinstance(principal, MemberPrincipal) and principal.member_id == member_id
    if not (admin or own):
        raise forbidden("Only the member sees their referral code")
    code = await info.context.services.referrals.code_of(member_id)
    counts = await info.context.loaders.referrals.counts.load(member_id)
    return MemberReferral(
        code=code.code,
        share_url=code.share_url,
        invited_count=counts.invited,
        rewarded_count=counts.rewarded,
    )
