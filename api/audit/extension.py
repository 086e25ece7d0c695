"""Recording admin and till mutations: one field extension on every mutation, attached by
`audit_mutations` when the schema is built, so none can be forgotten.

After the resolver ran, an entry is written (in a transaction of its own) with the key that
called, the mutation, its outcome ("ok", or the userErrors' codes, or the top-level error's
code), the objects it touched (ids in the input and the nodes in the payload, as `Type:rowid`),
a summary of the input without secrets or personal data (`policy.KEPT_TEXT`), the client's
address and user agent.

The mutations in `policy.IN_TRANSACTION` are recorded in their write's own transaction
instead (`loyalty.audit.service.armed`): the entry commits or rolls back with the change and
costs no transaction of its own. When their write did not commit (a refusal, a retry answered
from the first purchase, an error), the entry is written after the resolver as for the rest.
"""

from __future__ import annotations

import inspect
from contextlib import nullcontext
from dataclasses import replace
from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Any

from strawberry import relay
from strawberry.extensions import FieldExtension
from strawberry.types import Info
from strawberry.types.base import has_object_definition
from strawberry.utils.str_converters import to_camel_case

from api.audit.policy import IN_TRANSACTION, KEPT_TEXT, MEMBER_SELF_SERVICE
from api.core import ids
from api.core.context import Context
from loyalty.audit.service import Actor, AuditRecord, armed
from loyalty.auth.apikeys import Integration

_MAX_ITEMS = 20


def summarise(value: Any, name: str = "") -> Any:
    """An input as JSON, with only the text that is safe to keep."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, Decimal | date):
        return str(value) if not isinstance(value, date) else value.isoformat()
    if isinstance(value, str):
        opened = ids.parse(value) if name == "id" or name.endswith("Id") else None
        if opened is not None:
            return f"{opened.type_name}:{opened.node_id}"
        return value[:100] if name in KEPT_TEXT else f"<{len(value)} characters>"
    if isinstance(value, list):
        return [summarise(item, name) for item in value[:_MAX_ITEMS]]
    if isinstance(value, dict):
        return f"<JSON, {len(value)} keys>"
    if has_object_definition(value):
        return {
            key: summarise(inner, key)
            for field in value.__strawberry_definition__.fields
            if (inner := getattr(value, field.python_name, None)) is not None
            for key in [field.graphql_name or to_camel_case(field.python_name)]
        }
    return f"<{type(value).__name__}>"


def _targets(summary: Any, payload: Any) -> list[str]:
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for inner in value.values():
                walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)
        elif isinstance(value, str) and ":" in value and value.split(":", 1)[0].isalpha():
            kind, _, rest = value.partition(":")
            if kind[0].isupper() and rest.isdigit():
                found.append(value)

    walk(summary)
    for inner in vars(payload).values() if hasattr(payload, "__dict__") else ():
        if isinstance(inner, relay.Node):
            found.append(f"{type(inner).__name__}:{getattr(inner, 'id', '')}")
    return list(dict.fromkeys(found))


def _outcome(payload: Any) -> str:
    errors = getattr(payload, "user_errors", None) or []
    codes = sorted({str(e.code.value) for e in errors})
    return ",".join(codes) if codes else "ok"


class Audited(FieldExtension):
    def __init__(self, mutation: str) -> None:
        self.mutation = mutation

    async def resolve_async(
        self, next_: Any, source: Any, info: Info[Context, None], **kwargs: Any
    ) -> Any:
        principal = info.context.principal
        if not isinstance(principal, Integration):
            result = next_(source, info, **kwargs)
            return await result if inspect.isawaitable(result) else result
        summary = {to_camel_case(k): summarise(v, to_camel_case(k)) for k, v in kwargs.items()}
        record = self._entry(info, principal, summary)
        with armed(record) if self.mutation in IN_TRANSACTION else nullcontext() as waiting:
            try:
                result = next_(source, info, **kwargs)
                payload = await result if inspect.isawaitable(result) else result
            except Exception as exc:
                if waiting is None or not waiting.committed:
                    code = str(getattr(exc, "extensions", {}).get("code", "ERROR"))
                    await self._record(info, replace(record, outcome=code))
                raise
        if waiting is None or not waiting.committed:
            targets = _targets(summary, payload)
            await self._record(info, replace(record, outcome=_outcome(payload), targets=targets))
        return payload

    def _entry(
        self, info: Info[Context, None], key: Integration, summary: dict[str, Any]
    ) -> AuditRecord:
        """The entry as the input tells it: outcome "ok", the objects the input names."""
        context = info.context
        return AuditRecord(
            actor=Actor("api_key", key.name, str(key.api_key_id)),
            action=self.mutation,
            targets=_targets(summary, None),
            summary=summary,
            client_address=context.client_address,
            user_agent=context.user_agent,
        )

    async def _record(self, info: Info[Context, None], record: AuditRecord) -> None:
        await info.context.services.audit.record(record)


def audit_mutations(mutation: type) -> None:
    """Attach `Audited` to every mutation but the members' self-service ones; a name in
    `MEMBER_SELF_SERVICE` that no mutation has is a mistake, found here at start-up."""
    names = set()
    for field in mutation.__strawberry_definition__.fields:  # type: ignore[attr-defined]
        name = field.graphql_name or to_camel_case(field.python_name)
        names.add(name)
        if name not in MEMBER_SELF_SERVICE and not any(
            isinstance(e, Audited) for e in field.extensions
        ):
            # Last, so outermost: refusals by the input check are recorded too.
            field.extensions.append(Audited(name))
    stale = MEMBER_SELF_SERVICE - names
    if stale:
        raise RuntimeError(f"MEMBER_SELF_SERVICE names no mutation: {sorted(stale)}")


def audited(field_extensions: list[FieldExtension]) -> bool:
    return any(isinstance(e, Audited) for e in field_extensions)
