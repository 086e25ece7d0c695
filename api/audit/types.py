"""The audit log as admins read it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, cast

import strawberry
from strawberry import relay
from strawberry.scalars import JSON
from strawberry.types import Info

from api.core import ids
from api.core.context import Context
from api.core.permissions import require_scope

if TYPE_CHECKING:
    from loyalty.audit.models import AuditEntry as AuditRow


def _sealed(target: str) -> str:
    type_name, _, node_id = target.partition(":")
    return ids.current().encode(relay.GlobalID(type_name, node_id))


@strawberry.type(description="One recorded change: who, what, when, from where (admin).")
class AuditEntry(relay.Node):
    id: relay.NodeID[int]
    at: datetime
    actor: str = strawberry.field(description="The API key's name, or the operator's.")
    actor_kind: str = strawberry.field(description="`api_key`, `operator` or `system`.")
    actor_key_id: str | None = strawberry.field(description="The API key's number, if any.")
    action: str = strawberry.field(description="The mutation, or e.g. `apiKey.created`.")
    outcome: str = strawberry.field(description="`ok`, or the codes of what was refused.")
    targets: list[strawberry.ID] = strawberry.field(description="Ids of what it touched.")
    summary: JSON = strawberry.field(
        description="The input, with the text of personal data and secrets left out."
    )
    client_address: str | None
    user_agent: str | None

    @strawberry.field(description="The first id it touched, if any.")
    def subject(self) -> strawberry.ID | None:
        return self.targets[0] if self.targets else None

    @classmethod
    def from_row(cls, row: AuditRow) -> AuditEntry:
        return cls(
            id=row.id,
            at=row.at,
            actor=row.actor_name,
            actor_kind=row.actor_kind,
            actor_key_id=row.actor_id if row.actor_kind == "api_key" else None,
            action=row.action,
            outcome=row.outcome,
            targets=[strawberry.ID(_sealed(t)) for t in row.targets],
            summary=cast(JSON, row.summary),
            client_address=row.client_address,
            user_agent=row.user_agent,
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info[Context, None], node_ids: Iterable[str], required: bool = False
    ) -> list[AuditEntry | None]:
        require_scope(info, "admin")
        rows = await info.context.services.audit.by_ids([ids.row_id(i) for i in node_ids])
        return [cls.from_row(rows[i]) if i in rows else None for i in map(ids.row_id, node_ids)]
