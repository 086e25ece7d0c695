"""The demo programme shows segments: `make run` has members in them, with reasons, and an
offer by segment for the member who stayed away."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from loyalty.core.clock import FixedClock
from loyalty.demo.data import demo_member, load_demo
from loyalty.offers.service import OffersService
from loyalty.segments.models import Segment, SegmentMembership
from loyalty.storage.database import Database
from tests.loyalty.services import cheap_hasher


@pytest.mark.asyncio
async def test_the_demo_has_members_in_segments_and_an_offer_by_segment(
    db: Database, clock: FixedClock
) -> None:
    await load_demo(db, clock, cheap_hasher())
    anna = await demo_member(db, "anna@example.com")
    bram = await demo_member(db, "bram@example.com")
    assert anna is not None and bram is not None
    async with db.unit_of_work(write=False) as uow:
        rows = await uow.session.execute(
            select(SegmentMembership.member_id, Segment.key).join(
                Segment, Segment.id == SegmentMembership.segment_id
            )
        )
        held = {(member_id, key) for member_id, key in rows}
    assert {(anna.id, "vaste-gasten"), (anna.id, "koffie-in-utrecht")} <= held
    assert (bram.id, "dreigen-weg-te-blijven") in held
    offers = OffersService(db, clock)
    assert "we-missen-je" in {v.offer.key for v in await offers.offers(bram.id)}
    assert "we-missen-je" not in {v.offer.key for v in await offers.offers(anna.id)}
