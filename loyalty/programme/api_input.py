"""What the admin API's definitions share before they are read as programme-file sections:
field names as the API spells them, pydantic's messages without their prefix, and the refusal
of control characters (YAML cannot carry them; JSON can, and no database should get them:
PostgreSQL refuses a NUL in text)."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Mapping
from typing import Any


def camel(name: str | int) -> str:
    """`delay_hours` as the API spells it: `delayHours`."""
    head, *rest = str(name).split("_")
    return head + "".join(part.title() for part in rest)


def message_of(error: Mapping[str, Any]) -> str:
    """A pydantic error's message, without the "Value error, " it puts before ours."""
    return str(error["msg"]).removeprefix("Value error, ")


def control_characters(
    value: object, loc: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """(location, message) for every text in `value` with control characters other than line
    breaks and tabs, keys included."""
    if isinstance(value, str):
        if any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in value):
            yield loc, "The text has control characters"
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from control_characters(key, loc)
            yield from control_characters(item, (*loc, str(key)))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from control_characters(item, (*loc, index))
