"""Reward queries: the catalogue, as the signed-in member (or anyone) sees it."""

from __future__ import annotations

import strawberry
from strawberry import relay
from strawberry.types import Info

from api.core.context import Context
from api.core.pagination import decode_id_cursor, encode_cursor, page_size
from api.rewards.types import Reward


@strawberry.type
class RewardQueries:
    @strawberry.field(description="The rewards catalogue, as the signed-in member sees it.")
    async def rewards(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> relay.Connection[Reward]:
        limit = page_size(first, info.context.services.settings.max_page_size)
        start = decode_id_cursor("rewards", after)
        start = start + 1 if start is not None else 0
        member_id = getattr(info.context.principal, "member_id", None)
        views = await info.context.services.reads.rewards.catalogue(member_id)
        page = views[start : start + limit]
        edges = [
            relay.Edge(cursor=encode_cursor("rewards", start + i), node=Reward.of_view(v))
            for i, v in enumerate(page)
        ]
        return relay.Connection(
            edges=edges,
            page_info=relay.PageInfo(
                has_next_page=start + limit < len(views),
                has_previous_page=start > 0,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )
