"""Notification queries: the unread badge (the inbox itself is `Member.inbox`)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.core.context import Context
from api.core.permissions import require_member


@strawberry.type
class NotificationQueries:
    @strawberry.field(description="Unread messages in the signed-in member's inbox (a badge).")
    async def unread_message_count(self, info: Info[Context, None]) -> int:
        principal = require_member(info)
        counts = await info.context.loaders.notifications.inbox_counts.load(principal.member_id)
        return counts.unread
