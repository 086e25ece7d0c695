"""The payload of every event as Markdown: docs/webhooks.md holds this text between its
markers, and a test fails when the two differ."""

from __future__ import annotations

import typing
from datetime import datetime
from decimal import Decimal
from typing import Any

from loyalty.core.events import EVENT_TYPES, fields_of


def payload_reference() -> str:
    """The payload of every event as Markdown (docs/webhooks.md holds this text; a test
    compares them)."""
    out: list[str] = []
    for cls in EVENT_TYPES:
        out += [f"### `{cls.name}` (version {cls.version})", "", cls.description, ""]
        rows = [(w, _type_name(k)) for f, w, k in fields_of(cls) if f.name != "member_id"]
        if rows:
            out += ["| key | type |", "| --- | --- |"]
            out += [f"| `{w}` | {t} |" for w, t in rows]
        else:
            out.append("No payload keys.")
        out.append("")
    return "\n".join(out)


def _type_name(kind: Any) -> str:
    args = typing.get_args(kind)
    optional = type(None) in args
    if optional:
        kind = next(a for a in args if a is not type(None))
    base = {
        int: "integer",
        str: "string",
        bool: "boolean",
        datetime: "ISO 8601 time",
        Decimal: "decimal string",
    }.get(kind, "object")
    return f"{base} or null" if optional else base
