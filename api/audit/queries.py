"""The audit log, newest first (admin)."""

from __future__ import annotations

import strawberry
from strawberry import relay
from strawberry.types import Info

from api.audit.inputs import AuditLogFilter
from api.audit.types import AuditEntry
from api.core.context import Context
from api.core.pagination import connection, decode_id_cursor, page_size
from api.core.permissions import require_scope
from loyalty.audit.service import AuditFilter


@strawberry.type
class AuditQueries:
    @strawberry.field(description="Every recorded admin and till change, newest first (admin).")
    async def audit_log(
        self,
        info: Info[Context, None],
        first: int | None = None,
        after: str | None = None,
        filter: AuditLogFilter | None = None,
    ) -> relay.Connection[AuditEntry]:
        require_scope(info, "admin")
        limit = page_size(first, info.context.services.settings.max_page_size)
        before_id = decode_id_cursor("audit", after)
        filters = filter.to_domain() if filter else AuditFilter()
        rows = await info.context.services.audit.entries(filters, limit + 1, before_id)
        return connection(rows, limit, before_id is not None, "audit", AuditEntry.from_row)
