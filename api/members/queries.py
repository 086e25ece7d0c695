"""Member queries: the signed-in member, card lookup at the till, the admin member list."""

from __future__ import annotations

import strawberry
from strawberry import relay
from strawberry.types import Info

from api.core.context import Context
from api.core.pagination import connection, decode_id_cursor, page_size
from api.core.permissions import require_member, require_scope
from api.members.types import Member


@strawberry.type
class MemberQueries:
    @strawberry.field(description="The signed-in member.")
    async def me(self, info: Info[Context, None]) -> Member | None:
        principal = require_member(info)
        row = await info.context.loaders.members.member.load(principal.member_id)
        return Member.from_row(row) if row else None

    @strawberry.field(description="Find a member by the message in their card's barcode (pos).")
    async def member_by_card(
        self, info: Info[Context, None], barcode_message: str
    ) -> Member | None:
        require_scope(info, "pos")
        row = await info.context.services.reads.members.by_card(barcode_message)
        if row is None:
            return None
        info.context.loaders.members.member.prime(row.id, row)
        return Member.from_row(row)

    @strawberry.field(description="Every member, oldest first (admin).")
    async def members(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> relay.Connection[Member]:
        require_scope(info, "admin")
        limit = page_size(first, info.context.services.settings.max_page_size)
        after_id = decode_id_cursor("members", after)
        rows = await info.context.services.reads.members.oldest_first(limit + 1, after_id)
        for row in rows[:limit]:
            info.context.loaders.members.member.prime(row.id, row)
        return connection(rows, limit, after_id is not None, "members", Member.from_row)
