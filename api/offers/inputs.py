"""Inputs of offers: the app's context, and activating an offer."""

from __future__ import annotations

import strawberry

from loyalty.offers.context import AppContext, parse_context


@strawberry.input(description="Where and when the member is, as the app knows it.")
class OfferContextInput:
    latitude: float | None = None
    longitude: float | None = None
    weather: str | None = strawberry.field(
        default=None, description="sunny, cloudy, rain, snow, storm, fog, wind, heat or frost."
    )
    temperature: float | None = strawberry.field(default=None, description="In °C.")

    def to_domain(self, field: str = "context") -> AppContext:
        return parse_context(self.latitude, self.longitude, self.weather, self.temperature, field)


@strawberry.input
class ActivateOfferInput:
    offer_id: strawberry.ID
    context: OfferContextInput | None = None
