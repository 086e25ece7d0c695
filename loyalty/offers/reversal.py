"""Returns and the offers' points: how much of each offer's points the purchase's returns
took back so far.

The offers' points are credits of the purchase (its `points_earned` includes them), so the
points area's return takes them back with the purchase's own: in proportion to the eligible
amount returned, rounded half up, once, never more than was given, a later return of the rest
taking the rest. Each application keeps its share of that in `points_reversed`, by the same
proportion, so that what an offer still gives is known.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.offers.models import OfferApplication
from loyalty.points.models import Purchase


def reversed_share(points: int, purchase: Purchase) -> int:
    """Of `points` given on the purchase, how many its returns so far take back."""
    if purchase.eligible_total <= 0:
        return 0
    share = min(purchase.returned_eligible / purchase.eligible_total, Decimal(1))
    return min(int((points * share).to_integral_value(ROUND_HALF_UP)), points)


async def count_return(s: AsyncSession, purchase: Purchase) -> None:
    for application in await s.scalars(
        select(OfferApplication).where(OfferApplication.purchase_id == purchase.id)
    ):
        application.points_reversed = max(
            application.points_reversed, reversed_share(application.points, purchase)
        )
    await s.flush()
