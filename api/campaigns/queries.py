"""Campaign queries (admin): the campaigns, one page at a time, and a campaign's dry run.
A campaign's report is a field of `Campaign`; a member's journeys a field of `Member`."""

from __future__ import annotations

import strawberry
from strawberry import relay
from strawberry.types import Info

from api.campaigns.types import Campaign, CampaignDryRun
from api.core import ids
from api.core.context import Context
from api.core.errors import bad_input
from api.core.ids import row_id
from api.core.pagination import connection, decode_id_cursor, page_size
from api.core.permissions import require_scope
from loyalty.core.errors import DomainError


def campaign_row_id(raw: str) -> int:
    """The row id of a `Campaign` global id, or 0 for anything else."""
    global_id = ids.parse(raw)
    if global_id is None or global_id.type_name != "Campaign":
        return 0
    return row_id(global_id.node_id)


@strawberry.type
class CampaignQueries:
    @strawberry.field(description="The campaigns, oldest first (admin).")
    async def campaigns(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> relay.Connection[Campaign]:
        require_scope(info, "admin")
        limit = page_size(first, info.context.services.settings.max_page_size)
        after_id = decode_id_cursor("campaigns", after)
        rows = await info.context.services.reads.campaigns.page(limit + 1, after_id)
        return connection(rows, limit, after_id is not None, "campaigns", Campaign.from_row)

    @strawberry.field(
        description="Who would enter the campaign now, who would be held out, and who would "
        "be stopped and why (entry rules, consent, quiet hours, the contact cap). Changes "
        "nothing (admin)."
    )
    async def campaign_dry_run(
        self, info: Info[Context, None], campaign_id: strawberry.ID
    ) -> CampaignDryRun:
        require_scope(info, "admin")
        try:
            found = await info.context.services.campaigns.dry_run(campaign_row_id(campaign_id))
        except DomainError as exc:
            raise bad_input(exc.message) from None
        return CampaignDryRun.of(found)
