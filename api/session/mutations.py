"""Signing up, in and out, and refreshing a session."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.core.context import Context
from api.core.errors import UserError, user_errors
from api.members.types import Member
from api.referrals.queries import referral_notices
from api.session.inputs import RefreshSessionInput, SignInInput, SignOutInput, SignUpInput
from api.session.types import Session
from loyalty.auth.service import MemberPrincipal
from loyalty.core.errors import DomainError


@strawberry.type
class SignUpPayload:
    session: Session | None = None
    member: Member | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
    notices: list[UserError] = strawberry.field(
        default_factory=list,
        description="What did not go as asked although the sign-up worked: a referral code "
        "that was ignored or is held for review (`field` is `referralCode`).",
    )


@strawberry.type
class SessionPayload:
    session: Session | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class SignOutPayload:
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class SessionMutations:
    @strawberry.mutation
    async def sign_up(self, info: Info[Context, None], input: SignUpInput) -> SignUpPayload:
        ctx = info.context
        try:
            row, issued = await ctx.services.auth.sign_up(
                input.to_domain(), client=ctx.client_address, user_agent=ctx.user_agent
            )
        except DomainError as exc:
            return SignUpPayload(user_errors=user_errors(exc))
        notices = await referral_notices(info, row.id) if input.referral_code is not None else []
        return SignUpPayload(
            session=Session.from_issued(issued), member=Member.from_row(row), notices=notices
        )

    @strawberry.mutation
    async def sign_in(self, info: Info[Context, None], input: SignInInput) -> SessionPayload:
        ctx = info.context
        try:
            issued = await ctx.services.auth.sign_in(
                input.email, input.password, client=ctx.client_address, user_agent=ctx.user_agent
            )
        except DomainError as exc:
            return SessionPayload(user_errors=user_errors(exc))
        return SessionPayload(session=Session.from_issued(issued))

    @strawberry.mutation
    async def refresh_session(
        self, info: Info[Context, None], input: RefreshSessionInput
    ) -> SessionPayload:
        try:
            issued = await info.context.services.auth.refresh(input.refresh_token)
        except DomainError as exc:
            return SessionPayload(user_errors=user_errors(exc))
        return SessionPayload(session=Session.from_issued(issued))

    @strawberry.mutation
    async def sign_out(self, info: Info[Context, None], input: SignOutInput) -> SignOutPayload:
        principal = info.context.principal
        try:
            await info.context.services.auth.sign_out(
                principal=principal if isinstance(principal, MemberPrincipal) else None,
                refresh_token=input.refresh_token,
                everywhere=input.all_sessions,
            )
        except DomainError as exc:
            return SignOutPayload(user_errors=user_errors(exc))
        return SignOutPayload()
