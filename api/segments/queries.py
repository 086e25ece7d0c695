"""Segment queries (admin): the segments, one page at a time. A segment's members and a
member's insight are fields of `Segment` and `Member`."""

from __future__ import annotations

import strawberry
from strawberry import relay
from strawberry.types import Info

from api.core.context import Context
from api.core.pagination import connection, decode_id_cursor, page_size
from api.core.permissions import require_scope
from api.segments.types import Segment


@strawberry.type
class SegmentQueries:
    @strawberry.field(description="The segments in force, oldest first (admin).")
    async def segments(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> relay.Connection[Segment]:
        require_scope(info, "admin")
        limit = page_size(first, info.context.services.settings.max_page_size)
        after_id = decode_id_cursor("segments", after)
        rows = await info.context.services.reads.segments.page(limit + 1, after_id)
        for row in rows[:limit]:
            info.context.loaders.segments.segment.prime(row.id, row)
        return connection(rows, limit, after_id is not None, "segments", Segment.from_row)
