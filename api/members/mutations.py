"""Member mutations: the profile and the consents, each changed by the member."""

from __future__ import annotations

from datetime import date

import strawberry
from strawberry.types import Info

from api.context import Context
from api.errors import UserError, user_errors
from api.members.types import Channel, Consent, ConsentChannel, Member
from api.permissions import require_member
from loyalty.core.errors import DomainError
from loyalty.members.service import UNSET, ProfileInput


@strawberry.input(description="Fields left out stay as they are; a field sent as null is cleared.")
class UpdateProfileInput:
    first_name: str | None = strawberry.UNSET
    last_name: str | None = strawberry.UNSET
    birth_date: date | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    locale: str | None = strawberry.UNSET
    preferred_channel: Channel | None = strawberry.UNSET
    interests: list[str] | None = strawberry.UNSET

    def to_domain(self) -> ProfileInput:
        def keep(value: object) -> object:
            return UNSET if value is strawberry.UNSET else value

        channel = self.preferred_channel
        return ProfileInput(
            first_name=keep(self.first_name),  # type: ignore[arg-type]
            last_name=keep(self.last_name),  # type: ignore[arg-type]
            birth_date=keep(self.birth_date),  # type: ignore[arg-type]
            phone=keep(self.phone),  # type: ignore[arg-type]
            locale=keep(self.locale),  # type: ignore[arg-type]
            preferred_channel=(
                UNSET if channel is strawberry.UNSET else (channel.value if channel else None)
            ),
            interests=keep(self.interests),  # type: ignore[arg-type]
        )


@strawberry.type
class UpdateProfilePayload:
    member: Member | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class SetConsentInput:
    channel: ConsentChannel
    granted: bool


@strawberry.type
class SetConsentPayload:
    consent: Consent | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class MemberMutations:
    @strawberry.mutation
    async def update_profile(
        self, info: Info[Context, None], input: UpdateProfileInput
    ) -> UpdateProfilePayload:
        principal = require_member(info)
        try:
            row = await info.context.services.profiles.update(
                principal.member_id, input.to_domain()
            )
        except DomainError as exc:
            return UpdateProfilePayload(user_errors=user_errors(exc))
        return UpdateProfilePayload(member=Member.from_row(row))

    @strawberry.mutation
    async def set_consent(
        self, info: Info[Context, None], input: SetConsentInput
    ) -> SetConsentPayload:
        principal = require_member(info)
        try:
            row = await info.context.services.profiles.set_consent(
                principal.member_id, input.channel.value, input.granted
            )
        except DomainError as exc:
            return SetConsentPayload(user_errors=user_errors(exc))
        return SetConsentPayload(consent=Consent.from_row(row))
