"""RFM quintiles across the programme's buyers: recency (the time of the last purchase: the
later, the better), frequency (purchases in the last year) and monetary value (net spend in
the last year).

The cut points are worked out set-based, in the database: one aggregate per member, ranked
into five tiles with `NTILE(5)`; the highest value of each tile but the last is a cut point.
A member's quintile is then 1 + the number of cut points their value exceeds, so members
with equal values share a quintile and one member can be scored without looking at anyone
else. The rebuild stores the cut
points; between rebuilds, a member's own events re-score them against the stored ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.points.models import Purchase
from loyalty.segments.models import RfmState

YEAR = timedelta(days=365)
STATE_ID = 1


@dataclass(frozen=True)
class Cuts:
    """Four cut points per measure: recency as instants of the last purchase, frequency as
    counts, monetary as amounts."""

    recency: tuple[datetime, ...] = ()
    frequency: tuple[int, ...] = ()
    monetary: tuple[Decimal, ...] = ()

    def scores(
        self, last_purchase_at: datetime | None, frequency: int, monetary: Decimal
    ) -> tuple[int | None, int | None, int | None]:
        """(recency, frequency, monetary) quintiles; None for a member who never bought or
        before the first rebuild."""
        if last_purchase_at is None or not self.recency:
            return None, None, None
        return (
            1 + sum(last_purchase_at > c for c in self.recency),
            1 + sum(frequency > c for c in self.frequency),
            1 + sum(monetary > c for c in self.monetary),
        )


def net_amount() -> Any:
    return Purchase.total - Purchase.returned_total


def _aggregate(now: datetime) -> Any:
    in_year = Purchase.occurred_at >= now - YEAR
    return (
        select(
            Purchase.member_id.label("member_id"),
            func.max(Purchase.occurred_at).label("last_at"),
            func.sum(case((in_year, 1), else_=0)).label("frequency"),
            func.sum(case((in_year, net_amount()), else_=0)).label("monetary"),
        )
        .group_by(Purchase.member_id)
        .subquery()
    )


async def _tile_tops(s: AsyncSession, value: Any) -> list[Any]:
    """The highest value of each tile but the last: four cut points. With fewer than five
    buyers there are fewer tiles; the lowest cut point is repeated, so the best buyer still
    scores 5 (one buyer alone: no cut points, no scores)."""
    tiled = select(value.label("value"), func.ntile(5).over(order_by=value).label("tile"))
    sub = tiled.subquery()
    rows = await s.execute(
        select(sub.c.tile, func.max(sub.c.value)).group_by(sub.c.tile).order_by(sub.c.tile)
    )
    tops = [top for _, top in rows][:-1]
    return tops[:1] * (4 - len(tops)) + tops if tops else []


async def compute_cuts(s: AsyncSession, now: datetime) -> Cuts:
    """The cut points across every member who ever bought, as of `now` (three statements)."""
    agg = _aggregate(now)
    return Cuts(
        recency=tuple(_instant(v) for v in await _tile_tops(s, agg.c.last_at)),
        frequency=tuple(int(v) for v in await _tile_tops(s, agg.c.frequency)),
        monetary=tuple(Decimal(str(v)) for v in await _tile_tops(s, agg.c.monetary)),
    )


def _instant(value: Any) -> datetime:
    if isinstance(value, str):  # SQLite hands back text when the type is lost
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def to_row(cuts: Cuts) -> dict[str, list[str]]:
    return {
        "recency_cuts": [c.isoformat() for c in cuts.recency],
        "frequency_cuts": [str(c) for c in cuts.frequency],
        "monetary_cuts": [str(c) for c in cuts.monetary],
    }


def of_row(row: RfmState | None) -> Cuts:
    if row is None:
        return Cuts()
    return Cuts(
        recency=tuple(datetime.fromisoformat(c) for c in row.recency_cuts),
        frequency=tuple(int(c) for c in row.frequency_cuts),
        monetary=tuple(Decimal(c) for c in row.monetary_cuts),
    )


async def stored_cuts(s: AsyncSession) -> Cuts:
    return of_row(await s.get(RfmState, STATE_ID))
