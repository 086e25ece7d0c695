"""Keeping the `offers` table in step with the programme file.

New offers are added; an offer whose definition changed gets the next version, with a
snapshot of it in `offer_versions`; offers no longer in the file are archived (never deleted:
activations reference them). Run after `apply_programme`, in the same unit of work.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.core.errors import DomainError
from loyalty.offers import announce
from loyalty.offers.errors import OffersError
from loyalty.offers.models import Offer, OfferVersion
from loyalty.programme.offers_spec import OfferSpec
from loyalty.programme.store import current_settings

PROGRAMME, ADMIN = "programme", "admin"
DRAFT, LIVE, PAUSED, ARCHIVED = "draft", "live", "paused", "archived"


def _aware(value: datetime | None, zone: ZoneInfo) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=zone)


def columns(spec: OfferSpec, zone: ZoneInfo) -> dict[str, Any]:
    """An offer's columns as the programme file sets them."""
    return {
        "state": PAUSED if spec.paused else LIVE,
        "kind": spec.kind,
        "title": spec.title,
        "description": spec.description,
        "terms": spec.terms,
        "image_url": spec.image_url,
        "definition": spec.model_dump(mode="json"),
        "valid_from": _aware(spec.valid_from, zone),
        "valid_until": _aware(spec.valid_until, zone),
        "activation": spec.activation,
        "per_member_limit": spec.per_member_limit,
        "global_limit": spec.global_limit,
        "points_budget": spec.points_budget,
    }


def record_version(s: AsyncSession, offer: Offer, now: datetime, actor: str) -> None:
    """Keep the offer as it is now under its current version (flush first: it needs the id)."""
    s.add(
        OfferVersion(
            offer_id=offer.id,
            version=offer.version,
            snapshot=_snapshot(offer),
            changed_at=now,
            actor=actor,
        )
    )


def _snapshot(offer: Offer) -> dict[str, Any]:
    return {
        "state": offer.state,
        "valid_from": offer.valid_from.isoformat() if offer.valid_from else None,
        "valid_until": offer.valid_until.isoformat() if offer.valid_until else None,
        "definition": offer.definition,
    }


async def _refuse_admin_keys(s: AsyncSession, keys: list[str]) -> None:
    if not keys:
        return
    taken = await s.scalar(
        select(Offer.key).where(Offer.key.in_(keys), Offer.source != PROGRAMME).limit(1)
    )
    if taken is not None:
        raise DomainError(
            OffersError.OFFER_KEY_TAKEN,
            f"offer key {taken} is already used by an offer made through the admin API",
            "offers",
        )


def _changed(offer: Offer, values: dict[str, Any]) -> bool:
    return any(getattr(offer, name) != value for name, value in values.items())


async def sync_offers(s: AsyncSession, specs: Sequence[OfferSpec], now: datetime) -> None:
    zone = (await current_settings(s)).zone
    existing = {o.key: o for o in await s.scalars(select(Offer).where(Offer.source == PROGRAMME))}
    await _refuse_admin_keys(s, [spec.key for spec in specs if spec.key not in existing])
    for spec in specs:
        values = columns(spec, zone)
        offer = existing.pop(spec.key, None)
        before = offer.state if offer is not None else None
        if offer is None:
            offer = Offer(key=spec.key, version=1, source=PROGRAMME, created_at=now, **values)
            offer.updated_at = now
            offer.activated_count = offer.redeemed_count = offer.points_budget_spent = 0
            s.add(offer)
        elif _changed(offer, values):
            for name, value in values.items():
                setattr(offer, name, value)
            offer.version += 1
            offer.updated_at = now
        else:
            continue
        await s.flush()
        record_version(s, offer, now, PROGRAMME)
        announce_state(s, offer, before, now)
    for offer in existing.values():
        if offer.state != ARCHIVED:
            before, offer.state = offer.state, ARCHIVED
            offer.version += 1
            offer.updated_at = now
            await s.flush()
            record_version(s, offer, now, PROGRAMME)
            announce_state(s, offer, before, now)
    await s.flush()


def announce_state(s: AsyncSession, offer: Offer, before: str | None, now: datetime) -> None:
    """Tell everyone an offer came (new, resumed, or changed while live) or went (paused or
    archived); `before` is its state before the change (None: it is new)."""
    if offer.state == LIVE:
        reason = {None: announce.NEW, DRAFT: announce.NEW, PAUSED: announce.RESUMED}.get(
            before, announce.CHANGED
        )
        announce.offer_came(s, offer, reason, now)
    elif before == LIVE:
        gone = announce.ARCHIVED if offer.state == ARCHIVED else announce.PAUSED
        announce.offer_went(s, offer, gone, now)
