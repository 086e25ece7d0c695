"""Signing up, in and out, and refreshing a session."""

from __future__ import annotations

from datetime import date, datetime

import strawberry
from strawberry.types import Info

from api.context import Context
from api.errors import UserError, user_errors
from api.members.types import Channel, ConsentChannel, Member
from loyalty.auth.service import IssuedSession, MemberPrincipal
from loyalty.auth.service import SignUpInput as SignUpData
from loyalty.core.errors import DomainError
from loyalty.members.service import UNSET, ProfileInput


@strawberry.type(
    description="Tokens for a signed-in member. Send the access token as "
    "`Authorization: Bearer …`; trade the refresh token for new ones before "
    "`expiresAt`. Each refresh token works once."
)
class Session:
    access_token: str
    refresh_token: str
    expires_at: datetime

    @classmethod
    def from_issued(cls, issued: IssuedSession) -> Session:
        return cls(
            access_token=issued.access_token,
            refresh_token=issued.refresh_token,
            expires_at=issued.expires_at,
        )


@strawberry.input
class ConsentInput:
    channel: ConsentChannel
    granted: bool


@strawberry.input
class SignUpInput:
    email: str
    password: str
    first_name: str | None = None
    last_name: str | None = None
    birth_date: date | None = None
    phone: str | None = None
    locale: str | None = None
    preferred_channel: Channel | None = None
    interests: list[str] | None = None
    consents: list[ConsentInput] | None = None


@strawberry.type
class SignUpPayload:
    session: Session | None = None
    member: Member | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class SignInInput:
    email: str
    password: str


@strawberry.input
class RefreshSessionInput:
    refresh_token: str


@strawberry.type
class SessionPayload:
    session: Session | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input(
    description="Signs out the session of the access token sent, or the session "
    "of `refreshToken` when given; `allSessions` signs out every device."
)
class SignOutInput:
    refresh_token: str | None = None
    all_sessions: bool = False


@strawberry.type
class SignOutPayload:
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class SessionMutations:
    @strawberry.mutation
    async def sign_up(self, info: Info[Context, None], input: SignUpInput) -> SignUpPayload:
        ctx = info.context
        data = SignUpData(
            email=input.email,
            password=input.password,
            profile=ProfileInput(
                first_name=input.first_name,
                last_name=input.last_name,
                birth_date=input.birth_date,
                phone=input.phone,
                locale=input.locale,
                preferred_channel=input.preferred_channel.value
                if input.preferred_channel
                else None,
                interests=input.interests if input.interests is not None else UNSET,
            ),
            consents={c.channel.value: c.granted for c in input.consents or ()},
        )
        try:
            row, issued = await ctx.services.auth.sign_up(
                data, client=ctx.client_address, user_agent=ctx.user_agent
            )
        except DomainError as exc:
            return SignUpPayload(user_errors=user_errors(exc))
        return SignUpPayload(session=Session.from_issued(issued), member=Member.from_row(row))

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
