"""What the admin API's definitions share when the programme file's checks refuse them: field
names as the API spells them, and pydantic's messages without their prefix."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def camel(name: str | int) -> str:
    """`delay_hours` as the API spells it: `delayHours`."""
    head, *rest = str(name).split("_")
    return head + "".join(part.title() for part in rest)


def message_of(error: Mapping[str, Any]) -> str:
    """A pydantic error's message, without the "Value error, " it puts before ours."""
    return str(error["msg"]).removeprefix("Value error, ")
