"""The areas of the domain, in one list: adding an area is one line here.

Each area is a package under `loyalty/` that may hold `models.py` (its tables), `errors.py`
(its `ErrorCode` enum) and `reactions.py` (a `register(reactions)` that adds what the area
does when other areas' events happen). The composition root (`api/wiring.py`) registers the
reactions; migrations and the API's error-code enum take the tables and codes from here.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from types import ModuleType

from sqlalchemy import MetaData

from loyalty.core.errors import ErrorCode
from loyalty.core.personal_data import PersonalDataRegistry
from loyalty.core.reactions import Reactions
from loyalty.storage.base import Base

AREAS = (
    "core",
    "programme",
    "members",
    "auth",
    "points",
    "segments",
    # Before tiers: a purchase's offer points are credited before tiers count the purchase.
    "offers",
    "surveys",
    # After points: a friend's purchase is recorded before it qualifies a referral.
    "referrals",
    "tiers",
    "rewards",
    "messaging",
    "campaigns",
    "reports",
    "wallet",
    "privacy",
    "audit",
)


@dataclass(frozen=True)
class Area:
    name: str
    models: ModuleType | None
    errors: tuple[type[ErrorCode], ...]
    register: Callable[[Reactions], None] | None
    # `personal_data.register(registry)`: what the area holds about a member.
    personal_data: Callable[[PersonalDataRegistry], None] | None = None


def _part(area: str, part: str) -> ModuleType | None:
    name = f"loyalty.{area}.{part}"
    if importlib.util.find_spec(name) is None:
        return None
    return importlib.import_module(name)


@cache
def areas() -> tuple[Area, ...]:
    found = []
    for name in AREAS:
        errors = _part(name, "errors")
        reactions = _part(name, "reactions")
        holdings = _part(name, "personal_data")
        codes = (
            tuple(
                value
                for value in vars(errors).values()
                if isinstance(value, type)
                and issubclass(value, ErrorCode)
                and value is not ErrorCode
            )
            if errors
            else ()
        )
        found.append(
            Area(
                name,
                _part(name, "models"),
                codes,
                getattr(reactions, "register", None) if reactions else None,
                getattr(holdings, "register", None) if holdings else None,
            )
        )
    return tuple(found)


def metadata() -> MetaData:
    """Every area's tables (migrations compare against this)."""
    areas()
    return Base.metadata


def register_reactions(reactions: Reactions) -> Reactions:
    for area in areas():
        if area.register is not None:
            area.register(reactions)
    return reactions


def register_personal_data(registry: PersonalDataRegistry) -> PersonalDataRegistry:
    """Every area's holdings of personal data (exports, erasure, the verifier)."""
    for area in areas():
        if area.personal_data is not None:
            area.personal_data(registry)
    return registry
