"""Inputs of member mutations: the profile fields to change, a consent to give or withdraw."""

from __future__ import annotations

from datetime import date

import strawberry

from api.members.types import Channel, ConsentChannel
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
    time_zone: str | None = strawberry.field(
        default=strawberry.UNSET,
        description=(
            "An IANA time zone name such as Europe/Amsterdam, for quiet hours and the daily "
            "contact cap; null: the programme's time zone."
        ),
    )

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
            time_zone=keep(self.time_zone),  # type: ignore[arg-type]
        )


@strawberry.input
class SetConsentInput:
    channel: ConsentChannel
    granted: bool
