"""Member mutations: the profile and the consents, each changed by the member."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.core.context import Context
from api.core.errors import UserError, user_errors
from api.core.permissions import require_member
from api.members.inputs import SetConsentInput, UpdateProfileInput
from api.members.types import Consent, Member
from loyalty.core.errors import DomainError


@strawberry.type
class UpdateProfilePayload:
    member: Member | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


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
