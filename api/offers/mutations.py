"""Offer mutations: a member activates (clips) an offer."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.core import ids
from api.core.context import Context
from api.core.errors import UserError, user_errors
from api.core.permissions import require_member
from api.offers.inputs import ActivateOfferInput
from api.offers.types import Offer
from loyalty.core.errors import DomainError
from loyalty.offers.context import NO_CONTEXT


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
