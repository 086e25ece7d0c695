"""Inputs of signing up, in and out, and refreshing a session."""

from __future__ import annotations

from datetime import date

import strawberry

from api.members.types import Channel, ConsentChannel
from loyalty.auth.service import SignUpInput as SignUpData
from loyalty.members.service import UNSET, ProfileInput


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
    referral_code: str | None = strawberry.field(
        default=None,
        description="A friend's referral code. A code that cannot be used is ignored (the "
        "sign-up still works) and `notices` says why.",
    )
    device_id: str | None = strawberry.field(
        default=None,
        description="The app's id for this device (for the referral fraud checks only).",
    )

    def to_domain(self) -> SignUpData:
        return SignUpData(
            email=self.email,
            password=self.password,
            profile=ProfileInput(
                first_name=self.first_name,
                last_name=self.last_name,
                birth_date=self.birth_date,
                phone=self.phone,
                locale=self.locale,
                preferred_channel=self.preferred_channel.value if self.preferred_channel else None,
                interests=self.interests if self.interests is not None else UNSET,
            ),
            consents={c.channel.value: c.granted for c in self.consents or ()},
            device_id=self.device_id,
            referral_code=self.referral_code,
        )


@strawberry.input
class SignInInput:
    email: str
    password: str


@strawberry.input
class RefreshSessionInput:
    refresh_token: str


@strawberry.input(
    description="Signs out the session of the access token sent, or the session "
    "of `refreshToken` when given; `allSessions` signs out every device."
)
class SignOutInput:
    refresh_token: str | None = None
    all_sessions: bool = False
