"""Inputs of registering push devices and of marking inbox messages read."""

from __future__ import annotations

import strawberry

from api.notifications.types import DevicePlatform


@strawberry.input
class RegisterDeviceInput:
    platform: DevicePlatform
    token: str = strawberry.field(
        description="The APNs device token (iOS) or FCM registration token (Android)."
    )


@strawberry.input
class UnregisterDeviceInput:
    token: str


@strawberry.input
class MarkMessageReadInput:
    message_id: strawberry.ID
