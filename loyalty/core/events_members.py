"""Events of members: sign-up, profile and consent."""

from __future__ import annotations

from dataclasses import dataclass

from loyalty.core.event_base import Event


@dataclass(frozen=True, kw_only=True)
class MemberSignedUp(Event):
    name = "member.signed_up"
    description = (
        "A member joined the programme (in the app, through the brand's identity provider, "
        "or by an import)."
    )

    channel: str


@dataclass(frozen=True, kw_only=True)
class ProfileCompleted(Event):
    name = "member.profile_completed"
    description = "The member's profile has every field the programme asks for."


@dataclass(frozen=True, kw_only=True)
class ProfileUpdated(Event):
    name = "member.profile_updated"
    description = "The member changed their profile; the names of the fields that changed."

    fields: str  # comma-separated field names


@dataclass(frozen=True, kw_only=True)
class ConsentChanged(Event):
    name = "member.consent_changed"
    description = "The member granted or withdrew a consent (a channel, or personalisation)."

    channel: str
    granted: bool
