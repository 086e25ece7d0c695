"""Notification mutations: registering push devices and reading the inbox (members only)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.core import ids
from api.core.context import Context
from api.core.errors import UserError, user_errors
from api.core.permissions import require_member
from api.notifications.inputs import (
    MarkMessageReadInput,
    RegisterDeviceInput,
    UnregisterDeviceInput,
)
from api.notifications.types import Device, InboxMessage
from loyalty.core.errors import DomainError


@strawberry.type
class RegisterDevicePayload:
    device: Device | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class UnregisterDevicePayload:
    removed: bool = strawberry.field(
        default=False, description="False when the member had no device with this token."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class MarkMessageReadPayload:
    message: InboxMessage | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


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
            result = await info.context.services.devices.register(
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
            removed = await info.context.services.devices.unregister(
                principal.member_id, input.token
            )
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
            row = await info.context.services.inbox.mark_read(principal.member_id, message_id)
        except DomainError as exc:
            return MarkMessageReadPayload(user_errors=user_errors(exc))
        info.context.loaders.notifications.forget()
        return MarkMessageReadPayload(message=InboxMessage.from_row(row))
