"""Offer queries: `Member.offers` (see `member_offers`); offers have no root query."""

from __future__ import annotations

import math

from strawberry import relay
from strawberry.types import Info

from api.core.context import Context
from api.core.errors import bad_input
from api.core.pagination import decode_cursor, encode_cursor, page_size
from api.offers.inputs import OfferContextInput
from api.offers.types import Offer
from loyalty.core.errors import DomainError
from loyalty.offers.context import NO_CONTEXT
from loyalty.offers.service import MemberOfferView, Rank

CURSOR = "offers"


def _cursor(view: MemberOfferView) -> str:
    total = view.score.total if view.score is not None else 0.0
    return encode_cursor(CURSOR, repr(total), view.offer.id)


def _rank(after: str | None) -> Rank | None:
    """The place a cursor of this list points at; a forged one is the client's mistake."""
    keys = decode_cursor(CURSOR, after)
    if keys is None:
        return None
    try:
        total, offer_id = float(keys[0]), int(keys[1])
    except (ValueError, IndexError):
        total, offer_id = math.nan, 0
    if not math.isfinite(total):
        raise bad_input("`after` is not a cursor from this list")
    return Rank(total, offer_id)


async def member_offers(
    info: Info[Context, None],
    member_id: int,
    first: int | None,
    after: str | None,
    context: OfferContextInput | None,
) -> relay.Connection[Offer]:
    """The offers the member may have now, best first (ties by id), one page; the cursor
    carries the place in that order."""
    limit = page_size(first, info.context.services.settings.max_page_size)
    start = _rank(after)
    try:
        where = context.to_domain() if context is not None else NO_CONTEXT
    except DomainError as exc:
        raise bad_input(f"`context`: {exc.message}") from None
    views = await info.context.services.offers.offers(member_id, where, limit + 1, start)
    edges = [relay.Edge(cursor=_cursor(v), node=Offer.of_view(v)) for v in views[:limit]]
    return relay.Connection(
        edges=edges,
        page_info=relay.PageInfo(
            has_next_page=len(views) > limit,
            has_previous_page=start is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )
