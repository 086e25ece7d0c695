"""Bounds on what one operation may ask for: query depth, aliases and tokens (page sizes are
bounded in `api.core.pagination`), and introspection switched off for production."""

from __future__ import annotations

from collections.abc import Callable

from graphql import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)

from api.settings import Settings


def limit_rules(settings: Settings) -> list[Callable[[], SchemaExtension]]:
    """The schema extensions that refuse operations over the configured limits.

    The depth and alias limiters make a new rule class each time they are built, and the
    validation cache is keyed by the rules: built per request, they made every request validate
    anew. Their rules are made once here, so a document is validated once."""
    rules = [
        *QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
    ]
    return [
        lambda: AddValidationRules(rules),
        lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
    ]


def introspection_rules(settings: Settings) -> list[Callable[[], SchemaExtension]]:
    """Nothing, or the rule that refuses introspection when it is switched off."""
    if settings.introspection:
        return []
    return [lambda: AddValidationRules([NoSchemaIntrospectionCustomRule])]
