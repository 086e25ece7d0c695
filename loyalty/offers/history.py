"""What a member has been buying: the input of the ranking's affinity and value parts.

Read from the member's most recent purchases of the last year (at most `RECENT` of them), so
the cost of ranking does not grow with a member's age.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.points.models import Purchase
from loyalty.storage import direct

RECENT = 200
LOOK_BACK = timedelta(days=365)


@dataclass(frozen=True)
class BuyingHistory:
    purchases: int = 0
    # Each category's share (0..1) of what the member spent on lines with a category.
    category_share: Mapping[str, float] = field(default_factory=dict)
    average_basket: Decimal = Decimal(0)
    average_points: float = 0.0


NO_HISTORY = BuyingHistory()
# Built once: every offer list reads it.
_RECENT = (
    select(Purchase.lines, Purchase.total, Purchase.points_earned)
    .where(Purchase.member_id == bindparam("member"), Purchase.occurred_at >= bindparam("since"))
    .order_by(Purchase.occurred_at.desc(), Purchase.id.desc())
    .limit(RECENT)
)


def _amount(line: Mapping[str, object]) -> Decimal:
    try:
        return Decimal(str(line.get("quantity", 0))) * Decimal(str(line.get("unit_price", 0)))
    except InvalidOperation:
        return Decimal(0)


async def buying_history(s: AsyncSession, member_id: int, now: datetime) -> BuyingHistory:
    rows = await direct.rows(s, _RECENT, {"member": member_id, "since": now - LOOK_BACK})
    if not rows:
        return NO_HISTORY
    spent: dict[str, Decimal] = {}
    for lines, _, _ in rows:
        for line in lines or []:
            category = line.get("category")
            if category:
                spent[category] = spent.get(category, Decimal(0)) + _amount(line)
    total_spent = sum(spent.values(), Decimal(0))
    share = (
        {name: float(amount / total_spent) for name, amount in spent.items()}
        if total_spent > 0
        else {}
    )
    return BuyingHistory(
        purchases=len(rows),
        category_share=share,
        average_basket=sum((total for _, total, _ in rows), Decimal(0)) / len(rows),
        average_points=sum(points for _, _, points in rows) / len(rows),
    )
