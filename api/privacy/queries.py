"""The member's scheduled erasure, if any."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.core.context import Context
from api.core.permissions import require_member
from api.privacy.types import Erasure


@strawberry.type
class PrivacyQueries:
    @strawberry.field(description="Your account's erasures (scheduled, cancelled).")
    async def my_erasures(self, info: Info[Context, None]) -> list[Erasure]:
        principal = require_member(info)
        privacy = info.context.services.privacy
        if privacy is None:
            return []
        return [Erasure.from_row(r) for r in await privacy.erasures_of(principal.member_id)]
