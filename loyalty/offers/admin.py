"""Offers that programme managers make and change through the admin API.

An admin offer is checked exactly as the programme file's `offers:` section is checked (the
same `OfferSpec`, and the whole file's reference checks with the offer added to it), so the
API cannot make an offer the file would refuse. Every change gets the next version and a
snapshot in `offer_versions` naming who made it. Offers from the programme file change only
through the file; here they can be read, not edited.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.clock import Clock
from loyalty.core.errors import DomainError, ValidationFailed
from loyalty.core.events import OfferExpired, OfferGranted
from loyalty.core.outbox import emit
from loyalty.offers.catalogue import (
    ADMIN,
    ARCHIVED,
    DRAFT,
    LIVE,
    PAUSED,
    PROGRAMME,
    announce_state,
    columns,
    record_version,
)
from loyalty.offers.eligibility import spec_of
from loyalty.offers.errors import OffersError
from loyalty.offers.models import MemberOffer, Offer
from loyalty.offers.service import ACTIVATED
from loyalty.programme.api_input import camel, message_of
from loyalty.programme.offers_spec import OfferSpec
from loyalty.programme.spec import ProgrammeFile
from loyalty.programme.store import current_file
from loyalty.storage.database import Database

CREATE_STATES = (DRAFT, LIVE, PAUSED)
# Which state may follow which: an archived offer is kept as it was.
NEXT_STATES = {
    DRAFT: {DRAFT, LIVE, PAUSED, ARCHIVED},
    LIVE: {LIVE, PAUSED, ARCHIVED},
    PAUSED: {PAUSED, LIVE, ARCHIVED},
}


def _problem(error: Mapping[str, Any], index: int) -> DomainError:
    loc = tuple(error["loc"])
    inside = loc[2:] if loc[:2] == ("offers", index) else ()
    field = ".".join(camel(part) for part in inside if not isinstance(part, int)) or None
    return DomainError(OffersError.INVALID_OFFER, message_of(error), field)


def _validated(definition: Mapping[str, Any]) -> OfferSpec:
    try:
        return OfferSpec.model_validate(dict(definition))
    except ValidationError as exc:
        raise ValidationFailed(
            [_problem({**e, "loc": ("offers", 0, *e["loc"])}, 0) for e in exc.errors()]
        ) from None


async def _check_in_programme(
    s: AsyncSession, spec: OfferSpec, file: ProgrammeFile, offer_id: int | None
) -> None:
    """Refuse what the programme file would refuse with this offer in it: unknown stores,
    tiers or segments, a key or a shared code used twice."""
    others = await s.scalars(select(Offer).where(Offer.source == ADMIN, Offer.state != ARCHIVED))
    offers = [*file.offers, *(spec_of(o) for o in others if o.id != offer_id), spec]
    data = file.model_dump(mode="json", exclude={"offers"})
    try:
        ProgrammeFile.model_validate(
            {**data, "offers": [o.model_dump(mode="json") for o in offers]}
        )
    except ValidationError as exc:
        index = len(offers) - 1
        raise ValidationFailed([_problem(e, index) for e in exc.errors()]) from None


class OfferAdmin:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def create(self, definition: Mapping[str, Any], state: str, actor: str) -> Offer:
        """A new offer from its definition (the programme file's fields), in `state`."""
        spec = _validated(definition)
        if state not in CREATE_STATES:
            raise DomainError(
                OffersError.INVALID_STATE, "A new offer is a draft, live or paused", "state"
            )
        now = self.clock.now()
        try:
            async with self.db.unit_of_work() as uow:
                s = uow.session
                file = await current_file(s)
                if await s.scalar(select(Offer.id).where(Offer.key == spec.key)) is not None:
                    raise _key_taken(spec.key)
                await _check_in_programme(s, spec, file, None)
                values = {**columns(spec, file.programme.zone), "state": state}
                offer = Offer(key=spec.key, version=1, source=ADMIN, **values)
                offer.created_at = offer.updated_at = now
                offer.activated_count = offer.redeemed_count = offer.points_budget_spent = 0
                s.add(offer)
                await s.flush()
                record_version(s, offer, now, actor)
                announce_state(s, offer, None, now)
                await uow.commit()
        except IntegrityError:
            raise _key_taken(spec.key) from None  # made at the same moment by another request
        return offer

    async def update(
        self,
        offer_id: int,
        changes: Mapping[str, Any],
        actor: str,
        state: str | None = None,
        expected_version: int | None = None,
    ) -> Offer:
        """Change the given fields (and the state); the rest stays as it was."""
        now = self.clock.now()
        async with self.db.unit_of_work() as uow:
            s = uow.session
            offer = await _editable(s, offer_id, expected_version)
            if "key" in changes and changes["key"] != offer.key:
                raise DomainError(OffersError.INVALID_OFFER, "An offer's key stays", "key")
            spec = _validated({**offer.definition, **changes})
            new_state = offer.state if state is None else state
            _require_state(new_state, offer.state)
            file = await current_file(s)
            await _check_in_programme(s, spec, file, offer.id)
            values = {**columns(spec, file.programme.zone), "state": new_state}
            if any(getattr(offer, name) != value for name, value in values.items()):
                before = offer.state
                for name, value in values.items():
                    setattr(offer, name, value)
                await _bump(s, offer, now, actor)
                announce_state(s, offer, before, now)
            await uow.commit()
        return offer

    async def set_state(
        self, offer_id: int, state: str, actor: str, expected_version: int | None = None
    ) -> Offer:
        """Pause, resume (live) or archive an offer; the same state again changes nothing."""
        now = self.clock.now()
        async with self.db.unit_of_work() as uow:
            s = uow.session
            offer = await _editable(s, offer_id, expected_version)
            _require_state(state, offer.state)
            if offer.state != state:
                before, offer.state = offer.state, state
                await _bump(s, offer, now, actor)
                await _tell_holders(s, offer, before, now)
                announce_state(s, offer, before, now)
            await uow.commit()
        return offer

    async def definition(self, offer_id: int) -> Offer | None:
        async with self.db.unit_of_work(write=False) as uow:
            return await uow.session.get(Offer, offer_id)


async def _bump(s: AsyncSession, offer: Offer, now: datetime, actor: str) -> None:
    offer.version += 1
    offer.updated_at = now
    await s.flush()
    record_version(s, offer, now, actor)


async def _editable(s: AsyncSession, offer_id: int, expected_version: int | None) -> Offer:
    offer = await s.get(Offer, offer_id, with_for_update=True, populate_existing=True)
    if offer is None:
        raise DomainError(OffersError.OFFER_NOT_FOUND, "There is no such offer", "offerId")
    if offer.source == PROGRAMME:
        raise DomainError(
            OffersError.OFFER_FROM_PROGRAMME,
            "This offer comes from the programme file: change it there",
            "offerId",
        )
    if offer.state == ARCHIVED:
        raise DomainError(OffersError.OFFER_ARCHIVED, "This offer is archived", "offerId")
    if expected_version is not None and expected_version != offer.version:
        raise DomainError(
            OffersError.VERSION_CONFLICT,
            f"The offer is at version {offer.version} now, not {expected_version}",
            "expectedVersion",
        )
    return offer


async def _tell_holders(s: AsyncSession, offer: Offer, before: str, now: datetime) -> None:
    """Members holding an activation hear that a pause took the offer away or a resume gave
    it back (offers that end or are archived are ended for them by the `offers` job)."""
    if before == LIVE and offer.state == PAUSED:
        made: type[OfferExpired] | type[OfferGranted] = OfferExpired
    elif before == PAUSED and offer.state == LIVE:
        made = OfferGranted
    else:
        return
    holders = await s.scalars(
        select(MemberOffer.member_id).where(
            MemberOffer.offer_id == offer.id, MemberOffer.state == ACTIVATED
        )
    )
    reason = "paused" if made is OfferExpired else "resumed"
    for member_id in holders:
        emit(
            s, made(member_id=member_id, offer_id=offer.id, offer_key=offer.key, reason=reason), now
        )


def _require_state(state: str, current: str) -> None:
    if state not in NEXT_STATES.get(current, set()):
        raise DomainError(
            OffersError.INVALID_STATE, f"An offer that is {current} cannot become {state}", "state"
        )


def _key_taken(key: str) -> DomainError:
    return DomainError(OffersError.OFFER_KEY_TAKEN, f"The key {key} is taken", "key")
