"""Registering push devices and reading the inbox (members only)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api import ids
from api.context import Context
from api.errors import UserError, user_errors
from api.notifications.loaders import loaders_of
from api.notifications.types import Device, DevicePlatform, InboxMessage
from api.permissions import require_member
from loyalty.core.errors import DomainError
from loyalty.messaging.devices import DeviceService
from loyalty.messaging.inbox import InboxService


def _devices(info: Info[Context, None]) -> DeviceService:
    services = info.context.services
    return DeviceService(services.db, services.clock)


def _inbox(info: Info[Context, None]) -> InboxService:
    services = info.context.services
    return InboxService(services.db, services.clock)


@strawberry.input
class RegisterDeviceInput:
    platform: DevicePlatform
    token: str = strawberry.field(
        description="The APNs device token (iOS) or FCM registration token (Android)."
    )


@strawberry.type
class RegisterDevicePayload:
    device: Device | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class UnregisterDeviceInput:
    token: str


@strawberry.type
class UnregisterDevicePayload:
    removed: bool = strawberry.field(
        default=False, description="False when the member had no device with this token."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class MarkMessageReadInput:
    message_id: strawberry.ID


@strawberry.type
class MarkMessageReadPayload:
    message: InboxMessage | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class NotificationQueries:
    @strawberry.field(description="Unread messages in the signed-in member's inbox (a badge).")
    async def unread_message_count(self, info: Info[Context, None]) -> int:
        principal = require_member(info)
        counts = await loaders_of(info).inbox_counts.load(principal.member_id)
        return counts.unread


@strawberry.type
class NotificationMutations:
    @strawberry.mutation(
        description="Receive app pushes on this device. Call it at every app start: a token "
        "that belonged to another member moves to the signed-in one."
    )
    async def register_device(
        self, info: Info[Context, None], input: RegisterDeviceInput
    ) -> RegisterDevicePayload:
        principal = require_member(info)
        try:
            result = await _devices(info).register(
                principal.member_id, input.platform.value, input.token
            )
        except DomainError as exc:
            return RegisterDevicePayload(user_errors=user_errors(exc))
        return RegisterDevicePayload(device=Device.from_row(result.device))

    @strawberry.mutation(description="Stop app pushes to this device (e.g. at sign-out).")
    async def unregister_device(
        self, info: Info[Context, None], input: UnregisterDeviceInput
    ) -> UnregisterDevicePayload:
        principal = require_member(info)
        try:
            removed = await _devices(info).unregister(principal.member_id, input.token)
        except DomainError as exc:
            return UnregisterDevicePayload(user_errors=user_errors(exc))
        return UnregisterDevicePayload(removed=removed)

    @strawberry.mutation(description="Mark one of your inbox messages read; again is harmless.")
    async def mark_message_read(
        self, info: Info[Context, None], input: MarkMessageReadInput
    ) -> MarkMessageReadPayload:
        principal = require_member(info)
        try:
            message_id = ids.decode(input.message_id, "InboxMessage", "messageId")
            row = await _inbox(info).mark_read(principal.member_id, message_id)
        except DomainError as exc:
            return MarkMessageReadPayload(user_errors=user_errors(exc))
        loaders_of(info).forget()
        return MarkMessageReadPayload(message=InboxMessage.from_row(row))
