"""GraphQL types of members: profile, card and consents."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import relay
from strawberry.types import Info

from api.core.context import Context
from api.core.ids import row_id
from api.core.pagination import connection, decode_id_cursor, page_size
from api.core.permissions import may_see_member, restrict_for_tills
from loyalty.core.identifiers import format_member_number

if TYPE_CHECKING:
    from api.campaigns.types import CampaignEnrolment
    from api.notifications.types import InboxConnection
    from api.offers.inputs import OfferContextInput
    from api.offers.types import Offer
    from api.points.types import Balance, MemberTier, PointsTransaction
    from api.referrals.types import MemberReferral
    from api.rewards.types import Redemption
    from api.segments.types import ChurnRisk, LifecycleStage, SegmentMembership
    from api.surveys.types import Survey
    from api.wallet.types import WalletPass
    from loyalty.members.models import Member as MemberRow
    from loyalty.members.models import MemberConsent


@strawberry.enum(description="Ways to reach a member.")
class Channel(Enum):
    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"
    IN_APP = "in_app"


@strawberry.enum(description="What a member can consent to: a channel, or personalisation.")
class ConsentChannel(Enum):
    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"
    IN_APP = "in_app"
    PERSONALISATION = "personalisation"


@strawberry.enum
class MemberStatus(Enum):
    ACTIVE = "active"
    BLOCKED = "blocked"
    CLOSED = "closed"


@strawberry.enum(description="How the card's barcode is drawn.")
class BarcodeFormat(Enum):
    QR = "qr"
    CODE128 = "code128"
    PDF417 = "pdf417"
    AZTEC = "aztec"


@strawberry.type
class Consent:
    channel: ConsentChannel
    granted: bool
    updated_at: datetime

    @classmethod
    def from_row(cls, row: MemberConsent) -> Consent:
        return cls(
            channel=ConsentChannel(row.channel), granted=row.granted, updated_at=row.updated_at
        )


@strawberry.type(description="The member's loyalty card, as scanned at the till.")
class MemberCard:
    barcode_format: BarcodeFormat
    barcode_message: str
    member_number: str = strawberry.field(description="The member number grouped for reading.")


@strawberry.type
class Member(relay.Node):
    id: relay.NodeID[int]
    member_number: str
    email: str | None
    phone: str | None
    first_name: str | None
    last_name: str | None
    birth_date: date | None
    locale: str | None
    preferred_channel: Channel | None
    interests: list[str]
    time_zone: str | None = strawberry.field(
        description="The member's IANA time zone; null: the programme's time zone applies."
    )
    status: MemberStatus
    joined_at: datetime
    card_barcode: strawberry.Private[str]

    @strawberry.field
    def card(self) -> MemberCard:
        return MemberCard(
            barcode_format=BarcodeFormat.QR,
            barcode_message=self.card_barcode,
            member_number=format_member_number(self.member_number),
        )

    @strawberry.field
    async def consents(self, info: Info[Context, None]) -> list[Consent]:
        rows = await info.context.loaders.members.consents.load(self.id)
        return [Consent.from_row(r) for r in rows]

    @strawberry.field(description="Points now: exact to the second.")
    async def balance(
        self, info: Info[Context, None]
    ) -> Annotated[Balance, strawberry.lazy("api.points.types")]:
        from api.points.types import Balance

        return Balance.of(await info.context.loaders.points.balance.load(self.id))

    @strawberry.field(description="Null when the programme has no tiers.")
    async def tier(
        self, info: Info[Context, None]
    ) -> Annotated[MemberTier, strawberry.lazy("api.points.types")] | None:
        from api.points.types import MemberTier

        status = await info.context.loaders.points.tier.load(self.id)
        return MemberTier.of(status) if status else None

    @strawberry.field(description="Points history, newest first.")
    async def transactions(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> relay.Connection[Annotated[PointsTransaction, strawberry.lazy("api.points.types")]]:
        from api.points.types import PointsTransaction

        limit = page_size(first, info.context.services.settings.max_page_size)
        before = decode_id_cursor("transactions", after)
        rows = await info.context.services.points.history(self.id, limit + 1, before)
        return connection(
            rows, limit, before is not None, "transactions", PointsTransaction.from_row
        )

    @strawberry.field(description="Rewards redeemed, newest first.")
    async def redemptions(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> relay.Connection[Annotated[Redemption, strawberry.lazy("api.rewards.types")]]:
        from api.rewards.types import Redemption

        limit = page_size(first, info.context.services.settings.max_page_size)
        before = decode_id_cursor("redemptions", after)
        rows = await info.context.services.rewards.redemptions(self.id, limit + 1, before)
        return connection(rows, limit, before is not None, "redemptions", Redemption.from_row)

    @strawberry.field(
        description="The offers the member may have now, given where and when they are "
        "(`context`); every offer listed as AVAILABLE can be activated."
    )
    async def offers(
        self,
        info: Info[Context, None],
        first: int | None = None,
        after: str | None = None,
        context: Annotated[OfferContextInput, strawberry.lazy("api.offers.inputs")] | None = None,
    ) -> relay.Connection[Annotated[Offer, strawberry.lazy("api.offers.types")]]:
        from api.offers.queries import member_offers

        return await member_offers(info, self.id, first, after, context)

    @strawberry.field(description="The surveys the member may take now; only they see it.")
    async def surveys(
        self, info: Info[Context, None]
    ) -> list[Annotated[Survey, strawberry.lazy("api.surveys.types")]]:
        from api.surveys.queries import member_surveys

        return await member_surveys(info, self.id)

    @strawberry.field(description="The member's journeys through campaigns, step by step (admin).")
    async def campaign_enrolments(
        self, info: Info[Context, None]
    ) -> list[Annotated[CampaignEnrolment, strawberry.lazy("api.campaigns.types")]]:
        from api.campaigns.types import enrolments_of

        return await enrolments_of(info, self.id)

    @strawberry.field(description="The survey to ask the member now (one they started first).")
    async def pending_survey(
        self, info: Info[Context, None]
    ) -> Annotated[Survey, strawberry.lazy("api.surveys.types")] | None:
        from api.surveys.queries import pending_survey

        return await pending_survey(info, self.id)

    @strawberry.field(description="The in-app inbox, newest first; only the member sees it.")
    async def inbox(
        self,
        info: Info[Context, None],
        first: int | None = None,
        after: str | None = None,
        unread_only: bool | None = False,
    ) -> Annotated[InboxConnection, strawberry.lazy("api.notifications.types")]:
        from api.notifications.types import inbox_connection

        return await inbox_connection(info, self.id, first, after, bool(unread_only))

    @strawberry.field(
        description="The member's loyalty card for Apple Wallet (and Google Wallet); only the "
        "member sees it. Null when the installation has no wallet passes configured."
    )
    async def wallet_pass(
        self, info: Info[Context, None]
    ) -> Annotated[WalletPass, strawberry.lazy("api.wallet.types")] | None:
        from api.wallet.queries import member_wallet_pass

        return await member_wallet_pass(info, self.id)

    @strawberry.field(
        description="The member's referral code, its share link and what it brought (the "
        "member, or the back office)."
    )
    async def referral(
        self, info: Info[Context, None]
    ) -> Annotated[MemberReferral, strawberry.lazy("api.referrals.types")]:
        from api.referrals.types import member_referral

        return await member_referral(info, self.id)

    @strawberry.field(description="Lifecycle stage by the member's own rhythm, now (admin).")
    async def lifecycle_stage(
        self, info: Info[Context, None]
    ) -> Annotated[LifecycleStage, strawberry.lazy("api.segments.types")] | None:
        from api.segments.types import insight_of

        found = await insight_of(info, self.id)
        return found.stage if found else None

    @strawberry.field(description="Churn risk (0..1) and its named parts, now (admin).")
    async def churn_risk(
        self, info: Info[Context, None]
    ) -> Annotated[ChurnRisk, strawberry.lazy("api.segments.types")] | None:
        from api.segments.types import insight_of

        found = await insight_of(info, self.id)
        return found.churn if found else None

    @strawberry.field(description="The segments the member is in, with why (admin).")
    async def segments(
        self, info: Info[Context, None]
    ) -> list[Annotated[SegmentMembership, strawberry.lazy("api.segments.types")]]:
        from api.segments.types import memberships_of

        return await memberships_of(info, self.id)

    @classmethod
    def from_row(cls, row: MemberRow) -> Member:
        return cls(
            id=row.id,
            member_number=row.member_number,
            email=row.email,
            phone=row.phone,
            first_name=row.first_name,
            last_name=row.last_name,
            birth_date=row.birth_date,
            locale=row.locale,
            preferred_channel=Channel(row.preferred_channel) if row.preferred_channel else None,
            interests=list(row.interests or []),
            time_zone=row.time_zone,
            status=MemberStatus(row.status),
            joined_at=row.joined_at,
            card_barcode=row.card_barcode,
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls,
        *,
        info: Info[Context, None],
        node_ids: Iterable[str],
        required: bool = False,
    ) -> list[Member | None]:
        ids = [row_id(i) for i in node_ids]
        rows = await info.context.loaders.members.member.load_many(
            [i if may_see_member(info.context, i) else 0 for i in ids]
        )
        return [cls.from_row(r) if r is not None else None for r in rows]


# What a till sees of a member it scanned; the rest needs a key with the `members` scope.
TILL_FIELDS = {"id", "member_number", "first_name", "card", "balance", "tier", "status"}
restrict_for_tills(Member, TILL_FIELDS)
