"""Offers made and changed through the admin service: versions with their makers, and the
members holding an offer hearing when it is paused, resumed, archived or ends."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from loyalty.core.clock import FixedClock
from loyalty.core.events import OfferExpired, OfferGranted
from loyalty.core.models import OutboxEvent
from loyalty.jobs import end_offers
from loyalty.offers.admin import OfferAdmin
from loyalty.offers.catalogue import ARCHIVED, LIVE, PAUSED
from loyalty.offers.models import MemberOffer, OfferVersion
from loyalty.offers.service import OffersService
from loyalty.storage.database import Database
from tests.loyalty.offers.programme import at, install_text
from tests.loyalty.services import add_member

pytestmark = pytest.mark.asyncio
BONUS = {"key": "extra", "title": "Extra", "kind": "bonus_points", "points": 20}


async def _events(db: Database, topic: str, everyone: bool = False) -> list[dict[str, object]]:
    """The offer events of this topic for members (or, with `everyone`, those for all)."""
    async with db.unit_of_work(write=False) as uow:
        rows = await uow.session.scalars(
            select(OutboxEvent).where(OutboxEvent.topic == topic).order_by(OutboxEvent.id)
        )
        return [
            {"member": r.member_id, **r.payload} for r in rows if (r.member_id is None) == everyone
        ]


async def test_every_change_is_a_version_with_its_maker(db: Database, clock: FixedClock) -> None:
    clock.set(at("2026-03-02T10:00:00+01:00"))
    await install_text(db, clock)
    admin = OfferAdmin(db, clock)
    offer = await admin.create(BONUS, LIVE, "back office")
    await admin.update(offer.id, {"points": 30}, "marketing")
    await admin.update(offer.id, {"points": 30}, "marketing")  # no change, no version
    await admin.set_state(offer.id, PAUSED, "back office")
    async with db.unit_of_work(write=False) as uow:
        versions = list(
            await uow.session.scalars(
                select(OfferVersion)
                .where(OfferVersion.offer_id == offer.id)
                .order_by(OfferVersion.version)
            )
        )
    assert [(v.version, v.actor, v.snapshot["state"]) for v in versions] == [
        (1, "back office", "live"),
        (2, "marketing", "live"),
        (3, "back office", "paused"),
    ]
    assert versions[0].snapshot["definition"]["points"] == 20
    assert versions[1].snapshot["definition"]["points"] == 30


async def test_holders_hear_pause_resume_archive_and_the_end(
    db: Database, clock: FixedClock
) -> None:
    clock.set(at("2026-03-02T10:00:00+01:00"))
    await install_text(db, clock)
    admin, offers = OfferAdmin(db, clock), OffersService(db, clock)
    holder, other = await add_member(db, clock), await add_member(db, clock, "b@example.com")
    kept = await admin.create(BONUS, LIVE, "office")
    ending = await admin.create(
        {**BONUS, "key": "kort", "valid_until": "2026-03-03T00:00:00+01:00"}, LIVE, "office"
    )
    await offers.activate(holder.id, kept.id)
    await offers.activate(holder.id, ending.id)

    await admin.set_state(kept.id, PAUSED, "office")
    await admin.set_state(kept.id, LIVE, "office")
    paused = await _events(db, OfferExpired.name)
    assert [(e["member"], e["offer_id"], e["reason"]) for e in paused] == [
        (holder.id, kept.id, "paused")
    ]
    granted = await _events(db, OfferGranted.name)
    assert [(e["member"], e["reason"]) for e in granted] == [(holder.id, "resumed")]
    assert other.id not in {e["member"] for e in paused + granted}

    assert await end_offers(db, clock.now()) == 0  # nothing has ended yet
    clock.advance(timedelta(days=1))
    await admin.set_state(kept.id, ARCHIVED, "office")
    assert await end_offers(db, clock.now()) == 2
    assert await end_offers(db, clock.now()) == 0  # told once
    ended = {
        (e["offer_id"], e["reason"])
        for e in await _events(db, OfferExpired.name)
        if e["reason"] != "paused"
    }
    assert ended == {(kept.id, "archived"), (ending.id, "ended")}
    # Everyone heard the offers come, the pause, the resume and the archiving, once each.
    ours = {kept.id, ending.id}  # (installing the programme announced its own offers)
    came = [
        (e["offer_id"], e["reason"])
        for e in await _events(db, OfferGranted.name, True)
        if e["offer_id"] in ours
    ]
    went = [(e["offer_id"], e["reason"]) for e in await _events(db, OfferExpired.name, True)]
    assert came == [(kept.id, "new"), (ending.id, "new"), (kept.id, "resumed")]
    assert went == [(kept.id, "paused"), (kept.id, "archived")]
    async with db.unit_of_work(write=False) as uow:
        states = set(await uow.session.scalars(select(MemberOffer.state)))
    assert states == {"expired"}
