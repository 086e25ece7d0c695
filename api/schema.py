"""The GraphQL schema, assembled from each domain area's queries and mutations."""

from __future__ import annotations

import logging

import strawberry
from graphql import NoSchemaIntrospectionCustomRule
from strawberry import relay
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.printer import print_schema

from api.errors import should_mask
from api.members.mutations import MemberMutations
from api.members.queries import MemberQueries
from api.session.mutations import SessionMutations
from api.settings import Settings

log = logging.getLogger("trouw.api")


@strawberry.type
class Query(MemberQueries):
    node: relay.Node | None = relay.node(description="Fetch any object by its global id.")


@strawberry.type
class Mutation(SessionMutations, MemberMutations):
    pass


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    settings = settings or Settings()
    extensions: list[SchemaExtension] = [
        QueryDepthLimiter(max_depth=settings.max_query_depth),
        MaxAliasesLimiter(max_alias_count=settings.max_aliases),
        MaxTokensLimiter(max_token_count=settings.max_tokens),
        MaskErrors(should_mask_error=should_mask, error_message="Unexpected error."),
    ]
    if not settings.introspection:
        extensions.append(AddValidationRules([NoSchemaIntrospectionCustomRule]))
    return strawberry.Schema(query=Query, mutation=Mutation, extensions=extensions)


def schema_sdl() -> str:
    return print_schema(build_schema(Settings(_env_file=None))) + "\n"  # type: ignore[call-arg]
