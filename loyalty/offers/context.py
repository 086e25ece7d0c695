"""What the app reports about where and when the member is: checked before anything uses it.

Coordinates must be on the earth, a location comes whole (latitude and longitude), the
weather is one of the programme's fixed words, and a temperature is one the earth can have.
Every problem is reported at once (`ValidationFailed`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from loyalty.core.errors import DomainError, ValidationFailed
from loyalty.offers.errors import OffersError
from loyalty.programme.offers_spec import MAX_TEMPERATURE, MIN_TEMPERATURE, WEATHER_WORDS

EARTH_RADIUS_M = 6_371_000.0


@dataclass(frozen=True)
class AppContext:
    """A checked context; every part may be unknown (None)."""

    latitude: float | None = None
    longitude: float | None = None
    weather: str | None = None
    temperature: float | None = None

    @property
    def located(self) -> bool:
        return self.latitude is not None and self.longitude is not None


NO_CONTEXT = AppContext()


def _finite(value: float | None) -> bool:
    return value is None or math.isfinite(value)


def parse_context(
    latitude: float | None = None,
    longitude: float | None = None,
    weather: str | None = None,
    temperature: float | None = None,
    field: str = "context",
) -> AppContext:
    """The app's context, checked; raises `ValidationFailed` with every problem found."""
    problems: list[DomainError] = []
    if latitude is not None and not (_finite(latitude) and -90 <= latitude <= 90):
        problems.append(
            DomainError(
                OffersError.INVALID_LATITUDE,
                "latitude must be between -90 and 90",
                f"{field}.latitude",
            )
        )
    if longitude is not None and not (_finite(longitude) and -180 <= longitude <= 180):
        problems.append(
            DomainError(
                OffersError.INVALID_LONGITUDE,
                "longitude must be between -180 and 180",
                f"{field}.longitude",
            )
        )
    if (latitude is None) != (longitude is None):
        problems.append(
            DomainError(
                OffersError.INCOMPLETE_LOCATION,
                "give both latitude and longitude, or neither",
                f"{field}.{'longitude' if longitude is None else 'latitude'}",
            )
        )
    word = weather.strip().lower() if weather is not None else None
    if word is not None and word not in WEATHER_WORDS:
        problems.append(
            DomainError(
                OffersError.UNKNOWN_WEATHER,
                f"weather must be one of: {', '.join(WEATHER_WORDS)}",
                f"{field}.weather",
            )
        )
    if temperature is not None and not (
        _finite(temperature) and MIN_TEMPERATURE <= temperature <= MAX_TEMPERATURE
    ):
        problems.append(
            DomainError(
                OffersError.INVALID_TEMPERATURE,
                f"temperature must be between {MIN_TEMPERATURE} and {MAX_TEMPERATURE} °C",
                f"{field}.temperature",
            )
        )
    if problems:
        raise ValidationFailed(problems)
    return AppContext(latitude, longitude, word, temperature)


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))
