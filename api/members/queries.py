"""Member queries: the signed-in member, card lookup at the till, the admin member list."""

from __future__ import annotations

import strawberry
from sqlalchemy import select
from strawberry import relay
from strawberry.types import Info

from api.context import Context
from api.members.types import Member
from api.pagination import connection, decode_id_cursor, page_size
from api.permissions import require_member, require_scope
from loyalty.members import service as members
from loyalty.members.models import Member as MemberRow


@strawberry.type
class MemberQueries:
    @strawberry.field(description="The signed-in member.")
    async def me(self, info: Info[Context, None]) -> Member | None:
        principal = require_member(info)
        row = await info.context.loaders.member.load(principal.member_id)
        return Member.from_row(row) if row else None

    @strawberry.field(description="Find a member by the message in their card's barcode (pos).")
    async def member_by_card(
        self, info: Info[Context, None], barcode_message: str
    ) -> Member | None:
        require_scope(info, "pos")
        async with info.context.services.db.unit_of_work(write=False) as uow:
            row = await members.member_by_card(uow.session, barcode_message)
        if row is None:
            return None
        info.context.loaders.member.prime(row.id, row)
        return Member.from_row(row)

    @strawberry.field(description="Every member, oldest first (admin).")
    async def members(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> relay.Connection[Member]:
        require_scope(info, "admin")
        limit = page_size(first, info.context.services.settings.max_page_size)
        after_id = decode_id_cursor("members", after)
        query = select(MemberRow).order_by(MemberRow.id).limit(limit + 1)
        if after_id is not None:
            query = query.where(MemberRow.id > after_id)
        async with info.context.services.db.unit_of_work(write=False) as uow:
            rows = list(await uow.session.scalars(query))
        for row in rows[:limit]:
            info.context.loaders.member.prime(row.id, row)
        return connection(rows, limit, after_id is not None, "members", Member.from_row)
