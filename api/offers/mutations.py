"""Offer mutations: a member activates (clips) an offer; admins make and change offers."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING

import strawberry
from strawberry import UNSET
from strawberry.types import Info

from api.core import ids
from api.core.context import Context
from api.core.errors import ApiError, UserError, user_errors
from api.core.permissions import require_member, require_scope
from api.offers.inputs import (
    ActivateOfferInput,
    CreateOfferInput,
    PauseOfferInput,
    UpdateOfferInput,
)
from api.offers.types import Offer, OfferDefinition
from loyalty.core.errors import DomainError
from loyalty.offers.catalogue import ARCHIVED, LIVE, PAUSED
from loyalty.offers.context import NO_CONTEXT

if TYPE_CHECKING:
    from loyalty.offers.models import Offer as OfferRow


@strawberry.type
class ActivateOfferPayload:
    offer: Offer | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class OfferMutations:
    @strawberry.mutation(
        description="Activate an offer for the signed-in member; it then applies at the till."
    )
    async def activate_offer(
        self, info: Info[Context, None], input: ActivateOfferInput
    ) -> ActivateOfferPayload:
        principal = require_member(info)
        offer_id = ids.decode(input.offer_id, "Offer", "offerId")
        try:
            context = input.context.to_domain() if input.context is not None else NO_CONTEXT
            view = await info.context.services.offers.activate(
                principal.member_id, offer_id, context
            )
        except DomainError as exc:
            return ActivateOfferPayload(user_errors=user_errors(exc))
        return ActivateOfferPayload(offer=Offer.of_view(view))


@strawberry.type
class OfferDefinitionPayload:
    offer: OfferDefinition | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


def _offer_id(value: strawberry.ID) -> int:
    """An offer's row id from either node id an admin may hold: the definition's or the
    member-facing offer's."""
    try:
        return ids.decode(value, "OfferDefinition", "offerId")
    except ApiError:
        return ids.decode(value, "Offer", "offerId")


async def _changed(change: Awaitable[OfferRow]) -> OfferDefinitionPayload:
    try:
        return OfferDefinitionPayload(offer=OfferDefinition.of_row(await change))
    except DomainError as exc:
        return OfferDefinitionPayload(user_errors=user_errors(exc))


@strawberry.type
class OfferAdminMutations:
    @strawberry.mutation(
        description="Make an offer (admin); it is checked as the programme file's offers are."
    )
    async def create_offer(
        self, info: Info[Context, None], input: CreateOfferInput
    ) -> OfferDefinitionPayload:
        actor = require_scope(info, "admin").name
        admin = info.context.services.offer_admin
        return await _changed(admin.create(input.definition(), input.state.value, actor))

    @strawberry.mutation(
        description="Change an offer made through this API (admin): the fields given change, "
        "the rest stays; every change is a new version."
    )
    async def update_offer(
        self, info: Info[Context, None], input: UpdateOfferInput
    ) -> OfferDefinitionPayload:
        actor = require_scope(info, "admin").name
        state = None if input.state in (UNSET, None) else input.state.value
        version = None if input.expected_version is UNSET else input.expected_version
        change = info.context.services.offer_admin.update(
            _offer_id(input.offer_id), input.changes(), actor, state, version
        )
        return await _changed(change)

    @strawberry.mutation(description="Pause an offer (admin): members stop seeing it.")
    async def pause_offer(
        self, info: Info[Context, None], input: PauseOfferInput
    ) -> OfferDefinitionPayload:
        return await _set_state(info, input, PAUSED)

    @strawberry.mutation(description="Put a paused or draft offer live (admin).")
    async def resume_offer(
        self, info: Info[Context, None], input: PauseOfferInput
    ) -> OfferDefinitionPayload:
        return await _set_state(info, input, LIVE)

    @strawberry.mutation(
        description="Archive an offer (admin): it ends for good, and is kept for the record."
    )
    async def archive_offer(
        self, info: Info[Context, None], input: PauseOfferInput
    ) -> OfferDefinitionPayload:
        return await _set_state(info, input, ARCHIVED)


async def _set_state(
    info: Info[Context, None], input: PauseOfferInput, state: str
) -> OfferDefinitionPayload:
    actor = require_scope(info, "admin").name
    change = info.context.services.offer_admin.set_state(
        _offer_id(input.offer_id), state, actor, input.expected_version
    )
    return await _changed(change)
