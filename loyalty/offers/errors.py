"""Error codes of the offers area (listing with a context, activating an offer)."""

from __future__ import annotations

from loyalty.core.errors import ErrorCode


class OffersError(ErrorCode):
    """Why an offer could not be activated, or why the app's context was refused."""

    OFFER_NOT_FOUND = "OFFER_NOT_FOUND"  # unknown, archived, or not an offer at all
    OFFER_NOT_STARTED = "OFFER_NOT_STARTED"
    OFFER_EXPIRED = "OFFER_EXPIRED"
    OFFER_PAUSED = "OFFER_PAUSED"
    MEMBER_NOT_ACTIVE = "MEMBER_NOT_ACTIVE"
    PERSONALISATION_REQUIRED = "PERSONALISATION_REQUIRED"  # a personalised offer, no consent
    NOT_ELIGIBLE = "NOT_ELIGIBLE"  # tier, interests, birthday, first purchase, days joined
    NOT_IN_CONTEXT = "NOT_IN_CONTEXT"  # too far from a store, outside its hours or weather
    ALREADY_ACTIVATED = "ALREADY_ACTIVATED"
    OFFER_USED_UP = "OFFER_USED_UP"  # the member's own limit of uses is reached
    NOT_ACTIVATED = "NOT_ACTIVATED"  # a clip offer the member has not activated
    COUPON_NOT_FOUND = "COUPON_NOT_FOUND"  # no offer has this coupon code (or not for them)
    COUPON_MEMBER_REQUIRED = "COUPON_MEMBER_REQUIRED"  # a shared code needs the member
    OFFER_LIMIT_REACHED = "OFFER_LIMIT_REACHED"  # the offer's global limit is reached
    BUDGET_SPENT = "BUDGET_SPENT"  # the offer's points budget is spent
    INVALID_OFFER = "INVALID_OFFER"  # a definition the offers section would refuse
    OFFER_KEY_TAKEN = "OFFER_KEY_TAKEN"
    OFFER_FROM_PROGRAMME = "OFFER_FROM_PROGRAMME"  # changed in the programme file, not here
    OFFER_ARCHIVED = "OFFER_ARCHIVED"  # an archived offer does not change any more
    VERSION_CONFLICT = "VERSION_CONFLICT"  # changed by someone else since that version
    INVALID_STATE = "INVALID_STATE"  # a state an offer cannot be put in this way
    INVALID_LATITUDE = "INVALID_LATITUDE"
    INVALID_LONGITUDE = "INVALID_LONGITUDE"
    INCOMPLETE_LOCATION = "INCOMPLETE_LOCATION"  # a latitude without a longitude, or back
    UNKNOWN_WEATHER = "UNKNOWN_WEATHER"
    INVALID_TEMPERATURE = "INVALID_TEMPERATURE"
