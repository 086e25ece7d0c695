"""Filters of the audit log."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.core import ids
from api.core.errors import bad_input
from loyalty.audit.service import AuditFilter


@strawberry.input(description="Entries that match every filter given.")
class AuditLogFilter:
    action: str | None = None
    actor: str | None = strawberry.field(default=None, description="The API key's name.")
    target: strawberry.ID | None = strawberry.field(
        default=None, description="Entries that touched this object (any id from this API)."
    )
    since: datetime | None = None
    until: datetime | None = None

    def to_domain(self) -> AuditFilter:
        target = None
        if self.target is not None:
            opened = ids.parse(self.target)
            if opened is None:
                raise bad_input("`filter.target` is not an id from this API")
            target = f"{opened.type_name}:{opened.node_id}"
        return AuditFilter(self.action, self.actor, target, self.since, self.until)
