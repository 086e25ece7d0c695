"""The GraphQL schema, assembled from each domain area's queries and mutations."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

import strawberry
from graphql import GraphQLError
from strawberry import relay
from strawberry.extensions import MaskErrors, ParserCache, SchemaExtension, ValidationCache
from strawberry.printer import print_schema
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext, Info

from api.audit.extension import audit_mutations
from api.audit.queries import AuditQueries
from api.campaigns.mutations import CampaignMutations
from api.campaigns.queries import CampaignQueries
from api.core import ids
from api.core.context import Context
from api.core.errors import ApiErrorCode, bad_input, should_mask
from api.core.input_check import guard_inputs
from api.core.limits import introspection_rules, limit_rules
from api.live.subscriptions import LiveSubscriptions
from api.members.mutations import MemberMutations
from api.members.queries import MemberQueries
from api.notifications.mutations import NotificationMutations
from api.notifications.queries import NotificationQueries
from api.offers.mutations import OfferAdminMutations, OfferMutations
from api.points.mutations import PointsMutations
from api.points.queries import PointsQueries
from api.privacy.mutations import PrivacyMutations
from api.privacy.queries import PrivacyQueries
from api.referrals.mutations import ReferralMutations
from api.referrals.queries import ReferralQueries
from api.rewards.mutations import RewardMutations
from api.rewards.queries import RewardQueries
from api.segments.mutations import SegmentMutations
from api.segments.queries import SegmentQueries
from api.session.mutations import SessionMutations
from api.settings import Settings
from api.surveys.mutations import SurveyAdminMutations, SurveyMutations
from api.wallet.queries import WalletQueries

log = logging.getLogger("trouw.api")
_SUGGESTION = re.compile(r" ?Did you mean [^?]*\?")


@strawberry.type
class Query(
    MemberQueries,
    PointsQueries,
    RewardQueries,
    NotificationQueries,
    SegmentQueries,
    PrivacyQueries,
    ReferralQueries,
    CampaignQueries,
    WalletQueries,
    AuditQueries,
):
    @strawberry.field(description="Fetch any object you may see by its global id.")
    async def node(self, info: Info[Context, None], id: strawberry.ID) -> relay.Node | None:
        # Parsed here rather than as a `GlobalID` argument, so that an id that is not ours is
        # the client's mistake (BAD_USER_INPUT), not an unexpected error.
        global_id = ids.parse(id)
        try:
            if global_id is None:
                raise relay.GlobalIDValueError(id)
            global_id.resolve_type(info)
        except relay.GlobalIDValueError:
            raise bad_input("`id` is not an id from this API") from None
        return await global_id.resolve_node(info, required=False)


@strawberry.type
class Mutation(
    SessionMutations,
    MemberMutations,
    PointsMutations,
    RewardMutations,
    OfferMutations,
    OfferAdminMutations,
    SegmentMutations,
    SurveyMutations,
    SurveyAdminMutations,
    NotificationMutations,
    PrivacyMutations,
    ReferralMutations,
    CampaignMutations,
):
    pass


@strawberry.type
class Subscription(LiveSubscriptions):
    pass


# Every argument is checked (text, dates, sizes) before any resolver sees it; every node's id
# leaves sealed with the installation's key.
guard_inputs(Query, Mutation, Subscription)
audit_mutations(Mutation)
ids.seal_node_ids()


class TrouwSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Expected errors (bad queries, auth) are the client's business; log only the rest.
        for error in errors:
            if self.config.disable_field_suggestions:
                # Strawberry strips field suggestions only; names of arguments, input fields,
                # types and enum values would still reveal the schema.
                error.message = _SUGGESTION.sub("", error.message)
            if should_mask(error):
                log.error("unexpected error in %s", error.path, exc_info=error.original_error)


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    settings = settings or Settings()
    extensions: list[Callable[[], SchemaExtension]] = [
        *limit_rules(settings),
        lambda: MaskErrors(should_mask_error=should_mask, error_message="Unexpected error."),
        # Apps send the same few operations over and over: parse and validate each once.
        lambda: ParserCache(maxsize=256),
        lambda: ValidationCache(maxsize=256),
        *introspection_rules(settings),
    ]
    return TrouwSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        # Not the type of any field (it is in `extensions.code`), but clients generate it.
        types=[ApiErrorCode],
        extensions=extensions,
        config=StrawberryConfig(disable_field_suggestions=not settings.introspection),
    )


def schema_sdl() -> str:
    return print_schema(build_schema(Settings(_env_file=None))) + "\n"
