"""GraphQL types of push devices and the in-app inbox."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING

import strawberry
from strawberry import relay
from strawberry.types import Info

from api.core.context import Context
from api.core.errors import forbidden
from api.core.ids import row_id
from api.core.pagination import decode_id_cursor, encode_cursor, page_size
from api.core.permissions import require_member
from api.offers.types import Offer
from loyalty.auth.service import MemberPrincipal
from loyalty.messaging.read import InboxPage

if TYPE_CHECKING:
    from loyalty.messaging.inbox import MessageRow
    from loyalty.messaging.models import Device as DeviceRow

INBOX_CURSOR = "inbox"


@strawberry.enum(description="Which push service reaches the device.")
class DevicePlatform(Enum):
    IOS = "ios"
    ANDROID = "android"


@strawberry.type(description="A phone that receives the member's app pushes.")
class Device(relay.Node):
    id: relay.NodeID[int]
    platform: DevicePlatform
    created_at: datetime
    last_seen_at: datetime

    @classmethod
    def from_row(cls, row: DeviceRow) -> Device:
        return cls(
            id=row.id,
            platform=DevicePlatform(row.platform),
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info[Context, None], node_ids: Iterable[str], required: bool = False
    ) -> list[Device | None]:
        principal = info.context.principal
        if not isinstance(principal, MemberPrincipal):
            return [None for _ in node_ids]
        devices = await info.context.services.reads.messaging.devices_of(principal.member_id)
        mine = {d.id: d for d in devices}
        return [cls.from_row(mine[row_id(i)]) if row_id(i) in mine else None for i in node_ids]


@strawberry.type(description="A message in the member's in-app inbox.")
class InboxMessage(relay.Node):
    id: relay.NodeID[int]
    title: str
    body: str
    created_at: datetime
    read_at: datetime | None = strawberry.field(description="Null while unread.")
    offer_id: strawberry.Private[int | None]

    @strawberry.field(description="The offer the message is about, if any.")
    def offer(self) -> Offer | None:
        # Offers are not stored yet: no message links one.
        return None

    @classmethod
    def from_row(cls, row: MessageRow) -> InboxMessage:
        return cls(
            id=row.id,
            title=row.title,
            body=row.body,
            created_at=row.created_at,
            read_at=row.read_at,
            offer_id=row.offer_id,
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info[Context, None], node_ids: Iterable[str], required: bool = False
    ) -> list[InboxMessage | None]:
        principal = info.context.principal
        member_id = principal.member_id if isinstance(principal, MemberPrincipal) else None
        rows = await info.context.loaders.notifications.message.load_many(
            [row_id(i) for i in node_ids]
        )
        return [
            cls.from_row(r) if r is not None and r.member_id == member_id else None for r in rows
        ]


@strawberry.type(name="InboxConnection", description="Inbox messages, newest first.")
class InboxConnection(relay.Connection[InboxMessage]):
    member_id: strawberry.Private[int]
    unread_only: strawberry.Private[bool]

    @strawberry.field(description="How many messages the list has in all (over every page).")
    async def total_count(self, info: Info[Context, None]) -> int:
        counts = await info.context.loaders.notifications.inbox_counts.load(self.member_id)
        return counts.unread if self.unread_only else counts.total


async def inbox_connection(
    info: Info[Context, None],
    member_id: int,
    first: int | None,
    after: str | None,
    unread_only: bool,
) -> InboxConnection:
    """A page of the member's inbox. Only the member may read it: an integration that may
    see the member (a till) still may not read their messages."""
    principal = require_member(info)
    if principal.member_id != member_id:
        raise forbidden("Only the member can read their inbox")
    limit = page_size(first, info.context.services.settings.max_page_size)
    before = decode_id_cursor(INBOX_CURSOR, after)
    rows = await info.context.loaders.notifications.inbox_page.load(
        InboxPage(member_id, limit + 1, before, unread_only)
    )
    edges = [
        relay.Edge(cursor=encode_cursor(INBOX_CURSOR, r.id), node=InboxMessage.from_row(r))
        for r in rows[:limit]
    ]
    return InboxConnection(
        edges=edges,
        page_info=relay.PageInfo(
            has_next_page=len(rows) > limit,
            has_previous_page=before is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        member_id=member_id,
        unread_only=unread_only,
    )
