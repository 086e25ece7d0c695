"""Inputs of segments: making and changing a segment (admin)."""

from __future__ import annotations

import strawberry
from strawberry.scalars import JSON

RULES_HELP = (
    "The rules, as in the programme file's `segments:` section: one condition such as "
    '{"rfm": {"frequency": [5]}}, or {"all_of": [...]} / {"any_of": [...]}.'
)


@strawberry.input
class CreateSegmentInput:
    key: str
    name: str
    description: str | None = None
    rules: JSON = strawberry.field(description=RULES_HELP)


@strawberry.input
class UpdateSegmentInput:
    segment_id: strawberry.ID
    name: str | None = None
    description: str | None = None
    rules: JSON | None = strawberry.field(default=None, description=RULES_HELP)
