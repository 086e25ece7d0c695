"""Offer queries: `Member.offers` (see `member_offers`); offers have no root query."""

from __future__ import annotations

from strawberry import relay
from strawberry.types import Info

from api.core.context import Context
from api.core.errors import bad_input
from api.core.pagination import decode_id_cursor, encode_cursor, page_size
from api.offers.inputs import OfferContextInput
from api.offers.types import Offer
from loyalty.core.errors import DomainError
from loyalty.offers.context import NO_CONTEXT


async def member_offers(
    info: Info[Context, None],
    member_id: int,
    first: int | None,
    after: str | None,
    context: OfferContextInput | None,
) -> relay.Connection[Offer]:
    """The offers the member may have now, in a stable order, one page."""
    limit = page_size(first, info.context.services.settings.max_page_size)
    start = decode_id_cursor("offers", after)
    try:
        where = context.to_domain() if context is not None else NO_CONTEXT
    except DomainError as exc:
        raise bad_input(f"`context`: {exc.message}") from None
    views = await info.context.services.offers.offers(member_id, where, limit + 1, start)
    edges = [
        relay.Edge(cursor=encode_cursor("offers", v.offer.id), node=Offer.of_view(v))
        for v in views[:limit]
    ]
    return relay.Connection(
        edges=edges,
        page_info=relay.PageInfo(
            has_next_page=len(views) > limit,
            has_previous_page=start is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )
